//! The expected shape of a task property, how a YAML value is checked against it, and the
//! JSON the engine receives for it.
//!
//! Task properties are Kestra "dynamic" properties: a string holding an expression (`{{ ... }}`
//! or `{% ... %}`) is rendered at run time and may produce any shape, so such a string is
//! accepted wherever a number, boolean, level, duration, list or map is expected. Strings are
//! kept raw: rendering is the engine's job.

use serde::Serialize;
use serde_json::{Number, Value};

use crate::catalog::PropSpec;
use crate::duration;
use crate::execution::Level;
use crate::suggest;
use crate::yaml::{Entry, Node, NodeKind};

/// What a property may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Shape {
    /// Any scalar, taken as its text (`format: 42` is the string "42", as Jackson does).
    String,
    /// A string or a list of strings (Log's `message`).
    StringOrList,
    /// A list of strings (`commands`).
    StringList,
    /// A mapping (`env`, `values`).
    Map,
    /// Anything.
    Any,
    /// An integer, or a string holding one.
    Int,
    /// An integer of at least this (`concurrent`, `concurrencyLimit`, `maxIterations`), or a
    /// string holding one, or a template.
    AtLeast(i64),
    /// A number, or a string holding one.
    Number,
    /// A boolean, or the string `true`/`false`.
    Bool,
    /// An ISO-8601 duration (`PT15S`), or a number of seconds.
    Duration,
    /// A log level: TRACE, DEBUG, INFO, WARN, ERROR.
    Level,
    /// One of these names, ignoring case.
    OneOf(&'static [&'static str]),
    /// A list of tasks (flowable tasks' children), validated as tasks.
    Tasks,
    /// One task (Pause's `onPause`), validated as a task.
    Task,
    /// A map of case value to a list of tasks (Switch's `cases`).
    TaskCases,
    /// Dag's list of `{task, dependsOn}` wrappers.
    DagTasks,
    /// A list of input declarations, read like the flow's `inputs` (Pause's `onResume`).
    Inputs,
    /// A map with these keys (`checkFrequency`, `cache`, `batch`).
    Struct(&'static [PropSpec]),
    /// The values a loop runs over (ForEach's `values`, EachSequential's `value`): a list, or
    /// a string holding a JSON array or a template rendering to one (kept as written).
    ValueList,
    /// Labels: a map of name to value, or Kestra's list of `{key, value}`, given to the engine
    /// as a map; or a string (a template, or JSON text) rendered at run time.
    Labels,
}

/// True for strings the engine renders: they may turn into any shape.
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

fn template(node: &Node) -> Option<&str> {
    node.as_str().filter(|s| is_template(s))
}

impl Shape {
    /// What this shape expects, for messages: "expected {describe}, got a map".
    pub fn describe(self) -> String {
        match self {
            Self::String => "a string".to_owned(),
            Self::StringOrList => "a string or a list of strings".to_owned(),
            Self::StringList => "a list of strings".to_owned(),
            Self::Map => "a map".to_owned(),
            Self::Any => "any value".to_owned(),
            Self::Int => "an integer".to_owned(),
            Self::AtLeast(min) => format!("a whole number of at least {min}"),
            Self::Number => "a number".to_owned(),
            Self::Bool => "a boolean (true or false)".to_owned(),
            Self::Duration => "an ISO-8601 duration such as PT15S".to_owned(),
            Self::Level => "a log level (TRACE, DEBUG, INFO, WARN or ERROR)".to_owned(),
            Self::OneOf(names) => format!("one of {}", names.join(", ")),
            Self::Tasks => "a list of tasks".to_owned(),
            Self::Task => "a task (a map with 'id' and 'type')".to_owned(),
            Self::TaskCases => "a map of case values to lists of tasks".to_owned(),
            Self::DagTasks => "a list of {task, dependsOn} entries".to_owned(),
            Self::Inputs => "a list of input declarations".to_owned(),
            Self::Labels => "a map of labels or a list of {key, value}".to_owned(),
            Self::ValueList => "a list, or a JSON array as text".to_owned(),
            Self::Struct(props) => {
                let names: Vec<&str> = props.iter().map(|p| p.name).collect();
                format!("a map with the keys {}", names.join(", "))
            }
        }
    }

    /// True for the shapes whose values are tasks or declarations read by their own reader
    /// (see `crate::children`), not converted to JSON here.
    pub fn holds_children(self) -> bool {
        matches!(
            self,
            Self::Tasks | Self::Task | Self::TaskCases | Self::DagTasks | Self::Inputs
        )
    }

    /// Checks `node` (not null) and returns the JSON the engine gets, or a message saying
    /// what is wrong. `Tasks` returns the raw JSON; the caller validates each task.
    pub fn convert(self, node: &Node) -> Result<Value, String> {
        let mismatch = || {
            Err(format!(
                "expected {}, got {}",
                self.describe(),
                node.describe()
            ))
        };
        match self {
            Self::Any => Ok(node.to_json()),
            Self::Tasks | Self::DagTasks | Self::Inputs => match &node.kind {
                NodeKind::Seq(_) => Ok(node.to_json()),
                _ => mismatch(),
            },
            Self::Task | Self::TaskCases => match &node.kind {
                NodeKind::Map(_) => Ok(node.to_json()),
                _ => mismatch(),
            },
            Self::ValueList => match &node.kind {
                NodeKind::Seq(_) => Ok(node.to_json()),
                _ => match node.as_str() {
                    Some(t) if is_template(t) => Ok(Value::String(t.to_owned())),
                    Some(t) => match serde_json::from_str::<Value>(t) {
                        Ok(Value::Array(_)) => Ok(Value::String(t.to_owned())),
                        _ => Err(format!(
                            "'{}' is not a JSON array (write a YAML list, or a JSON array such as '[\"a\", \"b\"]')",
                            t.trim()
                        )),
                    },
                    None => mismatch(),
                },
            },
            Self::Labels => match &node.kind {
                NodeKind::Map(entries) => labels(
                    entries
                        .iter()
                        .map(|e| (Some(e.key.as_str()), Some(&e.value))),
                ),
                NodeKind::Seq(items) => labels(
                    items
                        .iter()
                        .map(|item| (item.get("key").and_then(Node::as_text), item.get("value"))),
                ),
                NodeKind::Scalar(_) => node
                    .as_str()
                    .map(|t| Value::String(t.to_owned()))
                    .map_or_else(mismatch, Ok),
            },
            Self::Struct(props) => match &node.kind {
                NodeKind::Map(entries) => convert_struct(props, entries),
                _ => template(node)
                    .map(|t| Value::String(t.to_owned()))
                    .map_or_else(mismatch, Ok),
            },
            Self::String => scalar_text(node)
                .map(Value::String)
                .map_or_else(mismatch, Ok),
            Self::StringOrList => match &node.kind {
                NodeKind::Seq(items) => string_list(items).map_or_else(mismatch, Ok),
                _ => scalar_text(node)
                    .map(Value::String)
                    .map_or_else(mismatch, Ok),
            },
            Self::StringList => match &node.kind {
                NodeKind::Seq(items) => string_list(items).map_or_else(mismatch, Ok),
                _ => template(node)
                    .map(|t| Value::String(t.to_owned()))
                    .map_or_else(mismatch, Ok),
            },
            Self::Map => match &node.kind {
                NodeKind::Map(_) => Ok(node.to_json()),
                _ => template(node)
                    .map(|t| Value::String(t.to_owned()))
                    .map_or_else(mismatch, Ok),
            },
            Self::Int => match node.to_json() {
                Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Value::Number(n)),
                Value::String(s) if is_template(&s) => Ok(Value::String(s)),
                Value::String(s) => s
                    .trim()
                    .parse::<i64>()
                    .map(Value::from)
                    .or_else(|_| mismatch()),
                _ => mismatch(),
            },
            Self::AtLeast(min) => match Self::Int.convert(node) {
                Ok(Value::Number(n)) if n.as_i64().is_some_and(|n| n < min) => {
                    Err(format!("expected {}, got {n}", self.describe()))
                }
                Ok(value) => Ok(value),
                Err(_) => mismatch(),
            },
            Self::Number => match node.to_json() {
                Value::Number(n) => Ok(Value::Number(n)),
                Value::String(s) if is_template(&s) => Ok(Value::String(s)),
                Value::String(s) => s
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .map(Value::Number)
                    .map_or_else(mismatch, Ok),
                _ => mismatch(),
            },
            Self::Bool => match node.to_json() {
                Value::Bool(b) => Ok(Value::Bool(b)),
                Value::String(s) if is_template(&s) => Ok(Value::String(s)),
                Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
                Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
                _ => mismatch(),
            },
            Self::Duration => duration_value(node).unwrap_or_else(mismatch),
            Self::Level => match node.as_text() {
                Some(t) if is_template(t) => Ok(Value::String(t.to_owned())),
                Some(t) => match Level::parse(t) {
                    Some(level) => Ok(Value::String(level.as_str().to_owned())),
                    None => Err(format!(
                        "invalid log level '{t}' (expected TRACE, DEBUG, INFO, WARN or ERROR)"
                    )),
                },
                _ => mismatch(),
            },
            Self::OneOf(names) => match node.as_text() {
                Some(t) if is_template(t) => Ok(Value::String(t.to_owned())),
                Some(t) => names
                    .iter()
                    .find(|n| n.eq_ignore_ascii_case(t))
                    .map(|n| Value::String((*n).to_owned()))
                    .ok_or_else(|| format!("'{t}' is not {}", self.describe())),
                None => mismatch(),
            },
        }
    }
}

/// A map checked key by key against `props`: unknown keys, missing required ones and values
/// of the wrong shape are refused with the name of the key.
fn convert_struct(props: &[PropSpec], entries: &[Entry]) -> Result<Value, String> {
    let names = || props.iter().map(|p| p.name).collect::<Vec<_>>().join(", ");
    let mut out = serde_json::Map::new();
    for entry in entries {
        let Some(spec) = props.iter().find(|p| p.name == entry.key) else {
            let hint =
                suggest::did_you_mean(&suggest::closest(&entry.key, props.iter().map(|p| p.name)));
            return Err(format!(
                "unknown key '{}'{hint} (expected {})",
                entry.key,
                names()
            ));
        };
        if entry.value.is_null() {
            continue;
        }
        let value = spec
            .shape
            .convert(&entry.value)
            .map_err(|message| format!("'{}': {message}", entry.key))?;
        out.insert(entry.key.clone(), value);
    }
    if let Some(missing) = props
        .iter()
        .find(|p| p.required && !out.contains_key(p.name))
    {
        return Err(format!("missing required key '{}'", missing.name));
    }
    Ok(Value::Object(out))
}

/// Labels as a map of name to text, from (name, value) pairs; a missing name or value, a
/// value that is not a scalar, or a name given twice is refused.
fn labels<'a>(
    pairs: impl Iterator<Item = (Option<&'a str>, Option<&'a Node>)>,
) -> Result<Value, String> {
    let mut out = serde_json::Map::new();
    for (key, value) in pairs {
        let Some(key) = key else {
            return Err("a label in list form needs 'key' and 'value'".to_owned());
        };
        let Some(text) = value.and_then(scalar_text) else {
            return Err(format!("label '{key}' needs a text value"));
        };
        if out.insert(key.to_owned(), Value::String(text)).is_some() {
            return Err(format!("duplicate label '{key}'"));
        }
    }
    Ok(Value::Object(out))
}

/// The text of a non-null scalar.
fn scalar_text(node: &Node) -> Option<String> {
    node.as_text().map(str::to_owned)
}

fn string_list(items: &[Node]) -> Option<Value> {
    items
        .iter()
        .map(|item| scalar_text(item).map(Value::String))
        .collect::<Option<Vec<_>>>()
        .map(Value::Array)
}

/// `None` when the node is not a string or a number at all; otherwise the checked value.
/// A duration is kept as written (ISO-8601 text); a number of seconds becomes `PT<n>S`.
fn duration_value(node: &Node) -> Option<Result<Value, String>> {
    match node.to_json() {
        Value::String(s) if is_template(&s) => Some(Ok(Value::String(s))),
        Value::String(s) => Some(
            duration::parse_iso8601(&s)
                .map(|_| Value::String(s.trim().to_owned()))
                .map_err(|e| e.to_string()),
        ),
        Value::Number(n) => Some(match n.as_f64() {
            Some(secs) if secs >= 0.0 && secs.is_finite() => {
                // Nine decimals at most, as ISO-8601 parsing accepts; no exponent notation.
                let text = format!("{secs:.9}");
                let text = text.trim_end_matches('0').trim_end_matches('.');
                Ok(Value::String(format!("PT{text}S")))
            }
            _ => Err(format!(
                "invalid duration '{n}': negative durations are not allowed"
            )),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;
    use serde_json::json;

    fn convert(shape: Shape, text: &str) -> Result<Value, String> {
        let doc = yaml::parse(&format!("v: {text}\n")).expect("test YAML");
        shape.convert(doc.get("v").expect("v"))
    }

    #[test]
    fn strings_keep_the_text_of_scalars() {
        assert_eq!(convert(Shape::String, "1.10"), Ok(json!("1.10")));
        assert_eq!(convert(Shape::String, "true"), Ok(json!("true")));
        assert!(
            convert(Shape::String, "[a]")
                .unwrap_err()
                .contains("got a list")
        );
    }

    #[test]
    fn string_or_list() {
        assert_eq!(convert(Shape::StringOrList, "hi"), Ok(json!("hi")));
        assert_eq!(
            convert(Shape::StringOrList, "[a, 2]"),
            Ok(json!(["a", "2"]))
        );
        assert!(convert(Shape::StringOrList, "{a: 1}").is_err());
        assert!(convert(Shape::StringOrList, "[[a]]").is_err());
    }

    #[test]
    fn templates_stand_for_any_shape() {
        for shape in [
            Shape::StringList,
            Shape::Map,
            Shape::Int,
            Shape::Bool,
            Shape::Level,
            Shape::Duration,
        ] {
            assert_eq!(
                convert(shape, "'{{ x }}'"),
                Ok(json!("{{ x }}")),
                "{shape:?}"
            );
        }
        assert!(
            convert(Shape::StringList, "echo")
                .unwrap_err()
                .contains("list of strings")
        );
    }

    #[test]
    fn numbers_and_booleans() {
        assert_eq!(convert(Shape::Int, "'42'"), Ok(json!(42)));
        assert!(convert(Shape::Int, "4.5").is_err());
        assert_eq!(convert(Shape::Number, "'4.5'"), Ok(json!(4.5)));
        assert_eq!(convert(Shape::Bool, "'TRUE'"), Ok(json!(true)));
        assert!(convert(Shape::Bool, "yes").unwrap_err().contains("boolean"));
    }

    #[test]
    fn levels_durations_and_choices() {
        assert_eq!(convert(Shape::Level, "warn"), Ok(json!("WARN")));
        assert!(
            convert(Shape::Level, "VERBOSE")
                .unwrap_err()
                .contains("invalid log level 'VERBOSE'")
        );
        assert_eq!(convert(Shape::Duration, "PT0.25s"), Ok(json!("PT0.25s")));
        assert_eq!(convert(Shape::Duration, "30"), Ok(json!("PT30S")));
        assert_eq!(convert(Shape::Duration, "1e3"), Ok(json!("PT1000S")));
        assert_eq!(convert(Shape::Duration, "0.25"), Ok(json!("PT0.25S")));
        assert!(
            convert(Shape::Duration, "5 minutes")
                .unwrap_err()
                .contains("invalid duration")
        );
        assert_eq!(
            convert(Shape::OneOf(&["LINUX", "WINDOWS"]), "linux"),
            Ok(json!("LINUX"))
        );
        assert!(convert(Shape::OneOf(&["LINUX"]), "mac").is_err());
    }

    #[test]
    fn bounded_integers() {
        assert_eq!(convert(Shape::AtLeast(0), "0"), Ok(json!(0)));
        assert_eq!(convert(Shape::AtLeast(1), "'3'"), Ok(json!(3)));
        assert_eq!(
            convert(Shape::AtLeast(1), "'{{ n }}'"),
            Ok(json!("{{ n }}"))
        );
        assert_eq!(
            convert(Shape::AtLeast(0), "-1"),
            Err("expected a whole number of at least 0, got -1".to_owned())
        );
        assert!(convert(Shape::AtLeast(1), "x").is_err());
    }

    #[test]
    fn value_lists() {
        assert_eq!(convert(Shape::ValueList, "[1, a]"), Ok(json!([1, "a"])));
        assert_eq!(
            convert(Shape::ValueList, "'[\"a\", {\"k\": 1}]'"),
            Ok(json!("[\"a\", {\"k\": 1}]"))
        );
        assert_eq!(
            convert(Shape::ValueList, "'{{ outputs.x.values }}'"),
            Ok(json!("{{ outputs.x.values }}"))
        );
        assert!(
            convert(Shape::ValueList, "'{\"a\": 1}'")
                .unwrap_err()
                .contains("is not a JSON array")
        );
        assert!(convert(Shape::ValueList, "abc").is_err());
        assert!(convert(Shape::ValueList, "{a: 1}").is_err());
    }

    #[test]
    fn labels_and_structs() {
        assert_eq!(
            convert(Shape::Labels, "{a: 1, b: x}"),
            Ok(json!({"a": "1", "b": "x"}))
        );
        assert_eq!(
            convert(Shape::Labels, "[{key: a, value: '{{ x }}'}]"),
            Ok(json!({"a": "{{ x }}"}))
        );
        assert!(
            convert(Shape::Labels, "[{key: a, value: 1}, {key: a, value: 2}]")
                .unwrap_err()
                .contains("duplicate label 'a'")
        );
        assert!(convert(Shape::Labels, "[{value: 1}]").is_err());
        const PROPS: &[PropSpec] = &[crate::catalog::required("rows", Shape::Int)];
        assert_eq!(
            convert(Shape::Struct(PROPS), "{rows: '4'}"),
            Ok(json!({"rows": 4}))
        );
        assert!(
            convert(Shape::Struct(PROPS), "{row: 4}")
                .unwrap_err()
                .contains("unknown key 'row', did you mean 'rows'?")
        );
        assert!(
            convert(Shape::Struct(PROPS), "{}")
                .unwrap_err()
                .contains("missing required key 'rows'")
        );
    }

    #[test]
    fn tasks_and_maps() {
        assert!(convert(Shape::Tasks, "[{id: a}]").is_ok());
        assert!(convert(Shape::Tasks, "x").is_err());
        assert_eq!(convert(Shape::Map, "{a: 1}"), Ok(json!({"a": 1})));
        assert_eq!(convert(Shape::Any, "{a: [1]}"), Ok(json!({"a": [1]})));
    }
}
