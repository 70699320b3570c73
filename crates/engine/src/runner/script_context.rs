//! Kestra's execution context for script libraries: `.kestra-execution-context.json` in a
//! script task's working directory, which the `kestra` Python package reads as
//! `kestra.context` (`context.outputs.prev.value`, `context.labels`, ...).
//!
//! It holds the task's variables as its templates see them, minus everything a script must
//! not receive by this path: any value derived from a secret (tainted: SECRET inputs and
//! outputs once opened, outputs of tasks that held a secret) and any value still sealed.
//! A script that needs a secret is given it explicitly (`env`, the script's text), where the
//! task's masking and output sealing apply.

use saker_expr::Value;
use saker_model::execution::SEALED_KEY;
use serde_json::{Map, Value as Json};

/// The file name the `kestra` package looks for in its working directory.
pub(super) const FILE_NAME: &str = ".kestra-execution-context.json";

/// The variables that describe the execution. Others (`envs`, `globals`, flow `vars`) are
/// configuration, not execution context, and stay out.
const VARIABLES: &[&str] = &[
    "flow",
    "execution",
    "task",
    "taskrun",
    "parent",
    "parents",
    "inputs",
    "outputs",
    "labels",
    "trigger",
];

/// The execution context of the task whose variables `get` returns, as JSON.
pub(super) fn build<'a>(get: impl Fn(&str) -> Option<&'a Value>) -> Json {
    let mut context = Map::new();
    for name in VARIABLES {
        if let Some(value) = get(name).and_then(clean) {
            context.insert((*name).to_owned(), value);
        }
    }
    Json::Object(context)
}

/// `value` without its tainted and sealed parts; `None` when nothing of it may go.
fn clean(value: &Value) -> Option<Json> {
    if value.taint().is_secret() {
        return None;
    }
    match value {
        Value::List(items, _) => Some(items.iter().filter_map(clean).collect()),
        Value::Map(map, _) if map.contains_key(SEALED_KEY) => None,
        Value::Map(map, _) => Some(Json::Object(
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), clean(v)?)))
                .collect(),
        )),
        other => Some(other.to_json()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tainted_and_sealed_values_are_left_out() {
        let outputs = Value::map([
            ("plain", Value::map([("value", Value::string("ok"))])),
            (
                "held",
                Value::map([("value", Value::secret("s3cr3t-value"))]),
            ),
            (
                "sealed",
                Value::map([("value", Value::map([(SEALED_KEY, Value::string("AAAA"))]))]),
            ),
            (
                "list",
                Value::list([Value::string("a"), Value::secret("s3cr3t-item")]),
            ),
        ]);
        let inputs = Value::map([("password", Value::secret("s3cr3t-pw"))]);
        let envs = Value::map([("home", Value::string("/root"))]);
        let get = |name: &str| match name {
            "outputs" => Some(&outputs),
            "inputs" => Some(&inputs),
            "envs" => Some(&envs),
            _ => None,
        };
        assert_eq!(
            build(get),
            json!({
                "outputs": {"plain": {"value": "ok"}, "held": {}, "sealed": {}, "list": ["a"]},
                "inputs": {}
            })
        );
    }
}
