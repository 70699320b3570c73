//! `ForEachItem`, the worker's half: reads the `items` file, splits it into batches (`batch`:
//! `rows` per batch, 1 by default, or at most `bytes` per batch, or a number of `partitions`),
//! stores each batch as a file of this task run, and renders one subflow call per batch with
//! `taskrun.items` set to that batch's `kestra:///` URI. The executor starts the calls and
//! records Kestra's `<id>_split`, `<id>_items` and `<id>_merge` task runs
//! (`executor/for_each_item.rs`).
//!
//! A sealed items file (it holds a secret) gives sealed batches.

use saker_model::{Resolved, SubflowCall};
use serde_json::{Map, Value};

use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

/// Most batches one ForEachItem starts.
pub const MAX_BATCHES: usize = 10_000;

pub struct ForEachItem;

impl TaskRunner for ForEachItem {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let items = ctx.render_string("items")?.unwrap_or_default();
            let files = ctx.task_files()?.clone();
            let uri = files
                .resolve(items.trim(), None)
                .map_err(|e| property("items", e.to_string()))?;
            let opened = files
                .open(&uri)
                .map_err(|e| property("items", e.to_string()))?;
            let rule = BatchRule::of(ctx.property("batch"))?;
            let batches = rule.split(&opened.bytes);
            if batches.len() > MAX_BATCHES {
                return Err(property(
                    "batch",
                    format!(
                        "makes {} batches, more than the {MAX_BATCHES} one ForEachItem starts; use bigger batches",
                        batches.len()
                    ),
                ));
            }
            let folder = files
                .task_run_folder()
                .map_err(|e| TaskError::Failed(e.to_string()))?;
            let mut uris = Vec::with_capacity(batches.len());
            for (i, batch) in batches.iter().enumerate() {
                let batch_uri = folder
                    .join(&format!("batch-{i}.txt"))
                    .map_err(|e| TaskError::Failed(e.to_string()))?;
                files
                    .put(&batch_uri, batch, opened.sealed)
                    .map_err(|e| TaskError::Failed(e.to_string()))?;
                uris.push(batch_uri.to_string());
            }
            let namespace = ctx.render_string("namespace")?.unwrap_or_default();
            let flow_id = ctx.render_string("flowId")?.unwrap_or_default();
            let revision = match ctx.render_string("revision")? {
                None => None,
                Some(text) => Some(text.trim().parse::<u32>().map_err(|_| {
                    property("revision", format!("'{text}' is not a revision number"))
                })?),
            };
            let labels = super::labels::render_labels(ctx, "labels")?.unwrap_or_default();
            let wait = flag(ctx, "wait", true);
            let transmit_failed = flag(ctx, "transmitFailed", true);
            let inherit_labels = flag(ctx, "inheritLabels", false);
            let mut calls = Vec::with_capacity(uris.len());
            for uri in &uris {
                ctx.set_taskrun_field("items", saker_expr::Value::from(uri.as_str()));
                let inputs = match ctx.render_output_value("inputs")? {
                    None | Some(Value::Null) => Map::new(),
                    Some(Value::Object(map)) => map,
                    Some(_) => return Err(property("inputs", "must be a map".into())),
                };
                calls.push(SubflowCall {
                    namespace: namespace.trim().to_owned(),
                    flow_id: flow_id.trim().to_owned(),
                    revision,
                    inputs,
                    labels: labels.clone(),
                    wait,
                    transmit_failed,
                    inherit_labels,
                });
            }
            Ok(TaskOutcome {
                resolved: Some(Resolved {
                    values: Some(uris.into_iter().map(Value::String).collect()),
                    subflows: Some(calls),
                    ..Resolved::default()
                }),
                ..TaskOutcome::default()
            })
        })
    }
}

/// How the items are cut.
enum BatchRule {
    Rows(usize),
    Bytes(usize),
    Partitions(usize),
}

impl BatchRule {
    fn of(batch: Option<&Value>) -> Result<Self, TaskError> {
        let field = |name: &str| batch.and_then(|b| b.get(name)).filter(|v| !v.is_null());
        let count = |name: &str| -> Result<Option<usize>, TaskError> {
            match field(name) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                    .filter(|n| *n > 0)
                    .map(|n| Some(n as usize))
                    .ok_or_else(|| {
                        property("batch", format!("'{name}' must be a whole number above 0"))
                    }),
            }
        };
        if let Some(partitions) = count("partitions")? {
            return Ok(Self::Partitions(partitions));
        }
        if let Some(bytes) = field("bytes") {
            let text = bytes
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| bytes.to_string());
            return parse_size(&text).map(Self::Bytes).ok_or_else(|| {
                property(
                    "batch",
                    format!("'bytes' {text} is not a size such as 10MB"),
                )
            });
        }
        Ok(Self::Rows(count("rows")?.unwrap_or(1)))
    }

    /// The batches, each a run of whole lines (the separator kept).
    fn split(&self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let lines: Vec<&[u8]> = bytes
            .split_inclusive(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        match *self {
            Self::Rows(rows) => lines.chunks(rows).map(|c| c.concat()).collect(),
            Self::Partitions(parts) => {
                let per = lines.len().div_ceil(parts).max(1);
                lines.chunks(per).map(|c| c.concat()).collect()
            }
            Self::Bytes(limit) => {
                let mut out: Vec<Vec<u8>> = Vec::new();
                let mut current = Vec::new();
                for line in lines {
                    if !current.is_empty() && current.len() + line.len() > limit {
                        out.push(std::mem::take(&mut current));
                    }
                    current.extend_from_slice(line);
                }
                if !current.is_empty() {
                    out.push(current);
                }
                out
            }
        }
    }
}

/// `10MB`, `512KB`, `1GB`, `100` (bytes).
fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim().to_ascii_uppercase();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text.as_str(), ""),
    };
    let n: usize = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1024,
        "MB" => 1024 * 1024,
        "GB" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(factor).filter(|n| *n > 0)
}

fn flag(ctx: &TaskContext, name: &str, default: bool) -> bool {
    match ctx.property(name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim() == "true" || (s.trim() != "false" && default),
        _ => default,
    }
}

fn property(name: &str, message: String) -> TaskError {
    TaskError::Property {
        property: name.into(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cut_whole_lines_by_rows_bytes_or_partitions() {
        let text = b"a\nb\nc\nd\ne\n";
        let rows = BatchRule::Rows(2).split(text);
        assert_eq!(
            rows,
            vec![b"a\nb\n".to_vec(), b"c\nd\n".to_vec(), b"e\n".to_vec()]
        );
        let parts = BatchRule::Partitions(2).split(text);
        assert_eq!(parts.len(), 2);
        let bytes = BatchRule::Bytes(4).split(text);
        assert_eq!(bytes[0], b"a\nb\n".to_vec());
        assert_eq!(bytes.len(), 3);
        assert_eq!(parse_size("10MB"), Some(10 * 1024 * 1024));
        assert_eq!(parse_size("zero"), None);
        assert!(BatchRule::Rows(3).split(b"").is_empty());
    }
}
