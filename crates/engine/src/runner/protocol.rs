//! Kestra's script output protocol: a line of a process's stdout or stderr of the form
//! `::{...}::` is a message to the orchestrator, not a log line. Its JSON object may hold:
//!
//! - `"outputs": {"k": v}`: output variables of the task (its `vars` output);
//! - `"logs": [{"level": "INFO", "message": "..."}]`: log lines at their own level;
//! - `"metrics": [{"name": "n", "type": "counter", "value": 1, "tags": {}}]`: metrics. Saker has
//!   no metric store yet, so each is logged at DEBUG, where a reader of the task's logs finds it.
//!
//! This is what the `kestra` Python package (`Kestra.outputs(...)`, `Kestra.counter(...)`,
//! `Kestra.logger()`) and Kestra's Node library print. A line that is not valid JSON or holds
//! none of the three keys is an ordinary log line.

use saker_model::Level;
use serde_json::{Map, Value};

/// What one protocol line says.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Message {
    pub outputs: Map<String, Value>,
    pub logs: Vec<(Level, String)>,
    /// Each metric as a line of text, for the DEBUG log.
    pub metrics: Vec<String>,
}

/// Parses `line` as a protocol message; `None` for an ordinary log line. A line may hold
/// several messages back to back (`::{...}::::{...}::`): the `kestra` package's logger ends
/// its lines with no newline.
pub(super) fn parse_line(line: &str) -> Option<Message> {
    let inner = line.trim().strip_prefix("::")?.strip_suffix("::")?;
    let mut message = Message::default();
    if read_object(inner, &mut message) {
        return Some(message);
    }
    let parts: Vec<&str> = inner.split("}::::{").collect();
    if parts.len() < 2 {
        return None;
    }
    let last = parts.len() - 1;
    for (i, part) in parts.iter().enumerate() {
        let open = if i == 0 { "" } else { "{" };
        let close = if i == last { "" } else { "}" };
        if !read_object(&format!("{open}{part}{close}"), &mut message) {
            return None;
        }
    }
    Some(message)
}

/// Adds what the JSON object `text` says to `message`; false when it is not one of the
/// protocol's objects.
fn read_object(text: &str, message: &mut Message) -> bool {
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    let mut known = false;
    if let Some(Value::Object(outputs)) = object.get("outputs") {
        message.outputs.extend(outputs.clone());
        known = true;
    }
    if let Some(Value::Array(logs)) = object.get("logs") {
        known = true;
        message.logs.extend(logs.iter().map(log_line));
    }
    if let Some(Value::Array(metrics)) = object.get("metrics") {
        known = true;
        message.metrics.extend(metrics.iter().map(metric_line));
    }
    known
}

/// One entry of `logs`: its level (INFO when absent or unknown) and message.
fn log_line(entry: &Value) -> (Level, String) {
    let level = entry
        .get("level")
        .and_then(Value::as_str)
        .and_then(Level::parse)
        .unwrap_or(Level::Info);
    let message = match entry.get("message") {
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None => entry.to_string(),
    };
    (level, message)
}

/// One entry of `metrics` as text: `metric NAME (TYPE) = VALUE {tags}`.
fn metric_line(entry: &Value) -> String {
    let text = |key| match entry.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "?".to_owned(),
        Some(other) => other.to_string(),
    };
    let mut line = format!(
        "metric {} ({}) = {}",
        text("name"),
        text("type"),
        text("value")
    );
    if let Some(Value::Object(tags)) = entry.get("tags")
        && !tags.is_empty()
    {
        line.push(' ');
        line.push_str(&Value::Object(tags.clone()).to_string());
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_logs_and_metrics_are_read() {
        let found = parse_line(r#"::{"outputs":{"a":1,"b":"x"}}::"#).unwrap();
        assert_eq!(found.outputs["a"], 1);
        assert_eq!(found.outputs["b"], "x");

        let found = parse_line(
            r#"  ::{"logs":[{"level":"WARN","message":"careful"},{"message":"plain"}]}::"#,
        )
        .unwrap();
        assert_eq!(
            found.logs,
            vec![
                (Level::Warn, "careful".to_owned()),
                (Level::Info, "plain".to_owned())
            ]
        );

        let found = parse_line(
            r#"::{"metrics":[{"name":"rows","type":"counter","value":3,"tags":{"t":"x"}}]}::"#,
        )
        .unwrap();
        assert_eq!(
            found.metrics,
            vec![r#"metric rows (counter) = 3 {"t":"x"}"#]
        );
    }

    #[test]
    fn messages_back_to_back_on_one_line_are_all_read() {
        let found = parse_line(
            r#"::{"logs": [{"level": "INFO", "message": "a"}]}::::{"logs": [{"level": "WARN", "message": "b"}]}::::{"outputs":{"k":1}}::"#,
        )
        .unwrap();
        assert_eq!(
            found.logs,
            vec![(Level::Info, "a".to_owned()), (Level::Warn, "b".to_owned())]
        );
        assert_eq!(found.outputs["k"], 1);
        assert_eq!(parse_line(r#"::{"outputs":{}}::::{"other":1}::"#), None);
    }

    #[test]
    fn other_lines_are_ordinary_log_lines() {
        for line in [
            "hello",
            "::not json::",
            r#"::{"other":1}::"#,
            r#"::[1,2]::"#,
            r#"{"outputs":{"a":1}}"#,
            r#"::{"outputs":[1]}::"#,
        ] {
            assert_eq!(parse_line(line), None, "{line}");
        }
    }
}
