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

use super::storage_tasks::{Cut, cut_rows, parse_size};
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
            let cut = batch_rule(ctx.property("batch"))?;
            let batches = cut_rows(&opened.bytes, b"\n", cut);
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

/// How the `batch` property cuts the items file: whole lines, as Split cuts a file
/// (`storage_tasks::cut_rows`): `partitions`, else `bytes`, else `rows` (1 by default).
fn batch_rule(batch: Option<&Value>) -> Result<Cut, TaskError> {
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
        return Ok(Cut::Partitions(partitions));
    }
    if let Some(bytes) = field("bytes") {
        let text = bytes
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| bytes.to_string());
        return parse_size(&text).map(Cut::Bytes).ok_or_else(|| {
            property(
                "batch",
                format!("'bytes' {text} is not a size such as 10MB"),
            )
        });
    }
    Ok(Cut::Rows(count("rows")?.unwrap_or(1)))
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
    fn the_batch_property_picks_partitions_then_bytes_then_rows() {
        let rule = |batch: Value| batch_rule(Some(&batch)).ok();
        assert_eq!(
            rule(serde_json::json!({"partitions": 2, "rows": 5})),
            Some(Cut::Partitions(2))
        );
        assert_eq!(
            rule(serde_json::json!({"bytes": "10KB"})),
            Some(Cut::Bytes(10 * 1024))
        );
        assert_eq!(rule(serde_json::json!({"rows": "3"})), Some(Cut::Rows(3)));
        assert_eq!(batch_rule(None).ok(), Some(Cut::Rows(1)));
        assert_eq!(rule(serde_json::json!({"rows": 0})), None);
        assert_eq!(rule(serde_json::json!({"bytes": "lots"})), None);
    }
}
