//! `io.kestra.plugin.core.execution.Labels`: sets labels on the running execution. `labels`
//! is a map of name to value, Kestra's list of `{key, value}`, or a template rendering to
//! either as JSON; names and values are rendered. The executor merges them into the
//! execution (`TaskOutcome::labels`).
//!
//! Labels are stored, listed and shown in clear (the API, the UI, `{{ labels.x }}`), so a
//! name or value derived from a secret is refused, naming the label: by taint (the render
//! says which bytes came from a secret) and by value (a known secret that reached the task
//! untainted). `system.` labels belong to Saker and are refused as Kestra refuses them.

use saker_expr::Rendered;
use serde_json::{Map, Value};

use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

pub struct Labels;

/// The names Saker sets itself (`system.correlationId`, ...).
const SYSTEM_PREFIX: &str = "system.";

impl TaskRunner for Labels {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let labels =
                render_labels(ctx, "labels")?.ok_or_else(|| property_error("is required"))?;
            Ok(TaskOutcome {
                labels,
                ..TaskOutcome::default()
            })
        })
    }
}

/// The labels of property `property` (Labels' `labels`, a Subflow's `labels`), rendered and
/// checked: `None` when absent. A name or value derived from a secret is refused.
pub(crate) fn render_labels(
    ctx: &mut TaskContext,
    property: &str,
) -> Result<Option<Map<String, Value>>, TaskError> {
    let labels = match ctx.property(property).cloned() {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(source)) => from_template(ctx, &source)?,
        Some(written) => {
            let mut labels = Map::new();
            for (name, value) in pairs(&written)? {
                let name = ctx.render_template_rendered(&name)?;
                let value = ctx.render_template_rendered(&value)?;
                refuse_tainted(&name.text, &name, &value)?;
                labels.insert(name.text, Value::String(value.text));
            }
            labels
        }
    };
    let known = ctx.mask_set();
    for (name, value) in &labels {
        let text = value.as_str().unwrap_or_default();
        if known.mask(name) != name.as_str() {
            return Err(secret_name());
        }
        check_name(name)?;
        if known.mask(text) != text {
            return Err(secret_label(name));
        }
    }
    Ok(Some(labels))
}

/// `labels: "{{ ... }}"`: one render whose text is a JSON map or list of `{key, value}`.
fn from_template(ctx: &mut TaskContext, source: &str) -> Result<Map<String, Value>, TaskError> {
    let rendered = ctx.render_template_rendered(source)?;
    let json: Value = serde_json::from_str(&rendered.text).map_err(|_| {
        property_error(
            "rendered to text that is not a JSON map of labels or a JSON list of {key, value}",
        )
    })?;
    let mut labels = Map::new();
    for (name, value) in pairs(&json)? {
        labels.insert(name, Value::String(value));
    }
    if rendered.is_tainted() {
        // The render does not say which label a tainted byte fell in once parsed: name the
        // labels holding a tainted piece, else every label.
        let pieces: Vec<&str> = rendered
            .tainted
            .iter()
            .filter_map(|r| rendered.text.get(r.clone()))
            .filter(|piece| !piece.is_empty())
            .collect();
        let holds = |text: &str| pieces.iter().any(|piece| text.contains(piece));
        if labels.keys().any(|name| holds(name)) {
            return Err(secret_name());
        }
        return Err(
            match labels
                .iter()
                .find(|(_, value)| holds(value.as_str().unwrap_or_default()))
            {
                Some((name, _)) => secret_label(name),
                None => property_error(
                    "the labels template is derived from a secret; labels are stored and \
                     shown in clear, so a secret cannot be one",
                ),
            },
        );
    }
    Ok(labels)
}

/// (name, value) pairs of a map, or of a list of `{key, value}`; values that are numbers or
/// booleans are taken as their text. A name given twice is refused.
fn pairs(labels: &Value) -> Result<Vec<(String, String)>, TaskError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut push = |name: &str, value: &Value| {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return Err(property_error(&format!(
                    "label '{name}' needs a text value"
                )));
            }
        };
        if out.iter().any(|(seen, _)| seen == name) {
            return Err(property_error(&format!("label '{name}' is given twice")));
        }
        out.push((name.to_owned(), text));
        Ok(())
    };
    match labels {
        Value::Object(map) => {
            for (name, value) in map {
                push(name, value)?;
            }
        }
        Value::Array(items) => {
            for item in items {
                match (item.get("key").and_then(Value::as_str), item.get("value")) {
                    (Some(name), Some(value)) => push(name, value)?,
                    _ => {
                        return Err(property_error(
                            "each label of a list needs a 'key' and a 'value'",
                        ));
                    }
                }
            }
        }
        _ => {
            return Err(property_error(
                "expected a map of labels or a list of {key, value}",
            ));
        }
    }
    Ok(out)
}

fn refuse_tainted(label: &str, name: &Rendered, value: &Rendered) -> Result<(), TaskError> {
    if name.is_tainted() {
        return Err(secret_name());
    }
    if value.is_tainted() {
        return Err(secret_label(label));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), TaskError> {
    if name.trim().is_empty() {
        return Err(property_error("a label name is empty"));
    }
    if name.starts_with(SYSTEM_PREFIX) {
        return Err(property_error(&format!(
            "label '{name}' is a system label, which only Saker sets: choose a name that does \
             not start with '{SYSTEM_PREFIX}'"
        )));
    }
    Ok(())
}

fn secret_label(name: &str) -> TaskError {
    property_error(&format!(
        "label '{name}' is derived from a secret; labels are stored and shown in clear, so a \
         secret cannot be one: keep it in an output (outputs are sealed) or label with a value \
         that is not secret"
    ))
}

/// A name derived from a secret: the error cannot show it.
fn secret_name() -> TaskError {
    property_error(
        "a label name is derived from a secret; labels are stored and shown in clear, so a \
         secret cannot be one",
    )
}

fn property_error(message: &str) -> TaskError {
    TaskError::Property {
        property: "labels".into(),
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_are_a_map_or_a_list_of_key_value() {
        let from_map = pairs(&json!({"team": "data", "n": 3, "on": true})).unwrap();
        assert_eq!(
            from_map,
            [
                ("team".to_owned(), "data".to_owned()),
                ("n".to_owned(), "3".to_owned()),
                ("on".to_owned(), "true".to_owned())
            ]
        );
        let from_list = pairs(&json!([{"key": "team", "value": "data"}])).unwrap();
        assert_eq!(from_list, [("team".to_owned(), "data".to_owned())]);
    }

    #[test]
    fn bad_labels_are_refused_saying_why() {
        let twice = pairs(&json!([{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]));
        assert!(
            twice
                .unwrap_err()
                .to_string()
                .contains("'a' is given twice")
        );
        let nested = pairs(&json!({"a": {"b": 1}}));
        assert!(
            nested
                .unwrap_err()
                .to_string()
                .contains("'a' needs a text value")
        );
        assert!(pairs(&json!([{"key": "a"}])).is_err());
        assert!(pairs(&json!("text")).is_err());
        assert!(check_name("system.correlationId").is_err());
        assert!(check_name(" ").is_err());
        assert!(check_name("systematic").is_ok());
    }
}
