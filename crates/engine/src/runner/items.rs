//! Kestra's item tasks on Ion files (one row per line): `core.storage.FilterItems` keeps or
//! drops each row by a condition, `core.storage.DeduplicateItems` keeps the last row of each
//! key. Both render an expression once per row with the row's fields as variables
//! ([`TaskContext::render_with`]) and write the kept lines unchanged, so a row comes out
//! byte for byte as it went in (Ion timestamps and decimals included).
//!
//! The result is sealed as its source was (`task_file_io`). The rendered conditions and keys
//! never leave the task; a row of a sealed file is never quoted in an error (its number is).

use std::collections::HashMap;

use saker_ion::{Limits, read_rows_with};
use serde_json::{Map, Value};

use super::task_file_io::{InputFile, max_file_bytes, property, read_property_file, store_output};
use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};
use crate::task_context::is_truthy;

/// io.kestra.plugin.core.storage.FilterItems.
pub struct FilterItems;

/// io.kestra.plugin.core.storage.DeduplicateItems.
pub struct DeduplicateItems;

/// What FilterItems does with a row (`filterType`, and `errorOrNullBehavior`'s INCLUDE and
/// EXCLUDE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Include,
    Exclude,
}

/// `errorOrNullBehavior`: what a row whose condition fails to render gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnError {
    Fail,
    Then(Action),
}

impl TaskRunner for FilterItems {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let action = match choice(ctx, "filterType", &["INCLUDE", "EXCLUDE"])? {
                Some("EXCLUDE") => Action::Exclude,
                _ => Action::Include,
            };
            let on_error =
                match choice(ctx, "errorOrNullBehavior", &["FAIL", "INCLUDE", "EXCLUDE"])? {
                    Some("INCLUDE") => OnError::Then(Action::Include),
                    Some("EXCLUDE") => OnError::Then(Action::Exclude),
                    _ => OnError::Fail,
                };
            let condition = raw_string(ctx, "filterCondition")?;
            let input = read_property_file(ctx, "from")?;
            let rows = Rows::of(ctx, &input)?;
            let mut kept = Vec::with_capacity(input.bytes.len());
            let (mut processed, mut dropped) = (0u64, 0u64);
            for (number, line, row) in rows.iter() {
                let row = row?;
                let decision = match ctx.render_with(&condition, &row) {
                    Ok(rendered) if is_truthy(&rendered.text) => action,
                    Ok(_) => action.reverse(),
                    Err(e) => match on_error {
                        OnError::Fail => {
                            return Err(row_error(&input, "filterCondition", number, &e));
                        }
                        OnError::Then(action) => action,
                    },
                };
                processed += 1;
                match decision {
                    Action::Include => {
                        kept.extend_from_slice(line);
                        kept.push(b'\n');
                    }
                    Action::Exclude => dropped += 1,
                }
            }
            let uri = store_output(ctx, &rows.file_name, &kept, input.secret)?;
            let mut outputs = Map::new();
            outputs.insert("uri".into(), Value::String(uri.to_string()));
            outputs.insert("processedItemsTotal".into(), processed.into());
            outputs.insert("droppedItemsTotal".into(), dropped.into());
            Ok(TaskOutcome::with_outputs(outputs))
        })
    }
}

impl Action {
    fn reverse(self) -> Self {
        match self {
            Self::Include => Self::Exclude,
            Self::Exclude => Self::Include,
        }
    }
}

impl TaskRunner for DeduplicateItems {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let expr = raw_string(ctx, "expr")?;
            let input = read_property_file(ctx, "from")?;
            let rows = Rows::of(ctx, &input)?;
            // Kestra keeps the last row of each key, in the file's order: the keys are
            // rendered once, then the rows whose number is their key's last are written.
            let mut keys = Vec::new();
            let mut last: HashMap<String, u64> = HashMap::new();
            for (number, line, row) in rows.iter() {
                let row = row?;
                let key = ctx
                    .render_with(&expr, &row)
                    .map_err(|e| row_error(&input, "expr", number, &e))?
                    .text;
                last.insert(key.clone(), number);
                keys.push((number, line, key));
            }
            let mut kept = Vec::with_capacity(input.bytes.len());
            let mut dropped = 0u64;
            for (number, line, key) in &keys {
                if last.get(key) == Some(number) {
                    kept.extend_from_slice(line);
                    kept.push(b'\n');
                } else {
                    dropped += 1;
                }
            }
            let uri = store_output(ctx, &rows.file_name, &kept, input.secret)?;
            let mut outputs = Map::new();
            outputs.insert("uri".into(), Value::String(uri.to_string()));
            outputs.insert("numKeys".into(), (last.len() as u64).into());
            outputs.insert("processedItemsTotal".into(), (keys.len() as u64).into());
            outputs.insert("droppedItemsTotal".into(), dropped.into());
            Ok(TaskOutcome::with_outputs(outputs))
        })
    }
}

/// One row: its number (from 1), its line as written, and its fields.
type Row<'a> = (u64, &'a [u8], Result<Map<String, Value>, TaskError>);

/// The rows of an Ion file, one per non-empty line.
struct Rows<'a> {
    bytes: &'a [u8],
    limits: Limits,
    /// The name the result is stored under: the input's.
    file_name: String,
}

impl<'a> Rows<'a> {
    fn of(ctx: &TaskContext, input: &'a InputFile) -> Result<Self, TaskError> {
        let path = input.uri.path();
        Ok(Rows {
            bytes: input.bytes.as_slice(),
            limits: Limits {
                max_bytes: max_file_bytes(ctx)?,
                ..Limits::DEFAULT
            },
            file_name: path.rsplit('/').next().unwrap_or(path).to_owned(),
        })
    }

    /// Each row's number (from 1), its line as written, and its fields as variables.
    fn iter(&self) -> impl Iterator<Item = Row<'a>> + '_ {
        self.bytes
            .split(|b| *b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
            .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
            .zip(1u64..)
            .map(|(line, number)| (number, line, self.row(number, line)))
    }

    fn row(&self, number: u64, line: &[u8]) -> Result<Map<String, Value>, TaskError> {
        let mut values = read_rows_with(line, self.limits);
        let row = match (values.next(), values.next()) {
            (Some(Ok(row)), None) => row,
            (Some(Err(e)), _) => {
                return Err(TaskError::Failed(format!(
                    "property 'from': row {number}: {e}"
                )));
            }
            _ => {
                return Err(TaskError::Failed(format!(
                    "property 'from': line {number} is not one Ion value; Kestra's Ion files \
                     hold one row per line (as the serdes conversions write them)"
                )));
            }
        };
        match row {
            Value::Object(fields) => Ok(fields),
            _ => Err(TaskError::Failed(format!(
                "property 'from': row {number} is not a struct; the expression reads a row's \
                 fields by name, so each row must be an Ion struct"
            ))),
        }
    }
}

/// A property kept as written: it is rendered once per row, not once for the task.
fn raw_string(ctx: &TaskContext, name: &str) -> Result<String, TaskError> {
    match ctx.property(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Null) | None => Err(property(name, "is required")),
        Some(_) => Err(property(
            name,
            "expected an expression such as \"{{ field }}\"",
        )),
    }
}

/// An enumerated property rendered and checked against Kestra's values; `None` when absent.
fn choice(
    ctx: &mut TaskContext,
    name: &str,
    allowed: &'static [&'static str],
) -> Result<Option<&'static str>, TaskError> {
    let Some(text) = ctx.render_string(name)? else {
        return Ok(None);
    };
    let text = text.trim();
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(text))
        .map(|a| Some(*a))
        .ok_or_else(|| property(name, &format!("'{text}' is none of {}", allowed.join(", "))))
}

/// The expression failed on row `number`. The cause may quote the row, so it is left out
/// when the file is sealed.
fn row_error(input: &InputFile, name: &str, number: u64, e: &TaskError) -> TaskError {
    if input.secret {
        TaskError::Failed(format!(
            "property '{name}': failed on row {number} (the file is secret, so the cause, which \
             may quote the row, is not shown)"
        ))
    } else {
        TaskError::Failed(format!("property '{name}': failed on row {number}: {e}"))
    }
}
