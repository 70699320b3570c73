//! `toJson` (also `json`, `jsonEncode`) and `jq`.

use super::{Args, Filter};
use crate::budget::Budget;
use crate::error::ErrorKind;
use crate::jq::{JqError, run_program};
use crate::print::write_json;
use crate::value::Value;

pub(super) fn apply(
    f: Filter,
    input: &Value,
    a: &Args<'_>,
    budget: &mut Budget<'_>,
) -> Result<Value, ErrorKind> {
    match f {
        Filter::ToJson => {
            let include_nulls = a.bool(0, "includeNulls")?.unwrap_or(false);
            let mut out = String::new();
            write_json(&mut out, input, include_nulls, &mut Vec::new());
            Ok(Value::string(out))
        }
        _ => jq(input, a, budget),
    }
}

/// Kestra's `jq(expression)`: a string input is parsed as JSON first; the result is the list
/// of every value the program outputs. Messages from jaq may quote the data, so they are kept
/// only when neither the data nor the program is tainted.
fn jq(input: &Value, a: &Args<'_>, budget: &mut Budget<'_>) -> Result<Value, ErrorKind> {
    if input.is_null() {
        return Ok(Value::null());
    }
    let program = a.str(0, "expression")?.unwrap_or(".");
    let secret = input.is_tainted() || a.get(0).is_some_and(Value::is_tainted);
    let parsed;
    let data = match input {
        Value::String(s, _) => {
            parsed = parse_json(s).map_err(|m| {
                let detail = if secret {
                    String::new()
                } else {
                    format!(" ({m})")
                };
                ErrorKind::Jq(format!(
                    "filter 'jq': the input string is not valid JSON{detail}"
                ))
            })?;
            &parsed
        }
        other => other,
    };
    run_program(program, data, budget)
        .map(Value::list)
        .map_err(|e| {
            let what = match e {
                JqError::Budget(kind) => return kind,
                JqError::Compile(m) if !secret => format!("cannot compile '{program}': {m}"),
                JqError::Compile(_) => "cannot compile the program".to_string(),
                JqError::Run(m) if !secret => format!("'{program}' failed: {m}"),
                JqError::Run(_) => {
                    "the program failed on a secret value (details hidden)".to_string()
                }
                JqError::TooManyResults => "the program produced too many results".to_string(),
            };
            ErrorKind::Jq(format!("filter 'jq': {what}"))
        })
}

/// Parses JSON text into a clean value; the error message holds positions only.
pub(crate) fn parse_json(s: &str) -> Result<Value, String> {
    serde_json::from_str::<serde_json::Value>(s)
        .map(|j| Value::from_json(&j))
        .map_err(|e| format!("line {}, column {}", e.line(), e.column()))
}
