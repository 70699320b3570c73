//! Turning the values given for inputs (CLI `--input k=v` strings, API JSON) and the rendered
//! values of flow outputs into the types the flow declares.
//!
//! Strings are parsed into the declared type (`"42"` for an INT gives 42); values that already
//! have the type pass through. DATETIME becomes RFC 3339 in UTC, DATE `YYYY-MM-DD`, TIME
//! `HH:MM:SS`, DURATION ISO-8601 as Java writes it, so templates render them as Kestra would.
//! Error messages never quote the value of a SECRET. Not enforced yet: STRING `validator`
//! patterns and DATETIME `after`/`before` (they are kept in `extras`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use indexmap::IndexMap;
use serde_json::{Map, Number, Value};

use crate::duration;
use crate::input::{InputDef, InputType, OutputDef};
use crate::shape::is_template;
use crate::suggest;
use crate::yaml;

/// Why a value cannot be used for an input. Each message starts with the input it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("input '{id}' is required")]
    Required { id: String },
    #[error("input '{id}': expected {expected}, got {got}")]
    Type {
        id: String,
        expected: String,
        got: String,
    },
    #[error("input '{id}': {got} is not one of the allowed values ({allowed})")]
    NotAllowed {
        id: String,
        got: String,
        allowed: String,
    },
    #[error("input '{id}': {message}")]
    Invalid { id: String, message: String },
    #[error(
        "input '{id}' is of type FILE: give a file (`--input {id}=@path`, or a multipart part with a \
         file name) or the kestra:/// URI of one of the execution's files"
    )]
    FileUnsupported { id: String },
    #[error("unknown input '{id}'{hint}")]
    Unknown { id: String, hint: String },
}

impl InputError {
    /// The input the error is about.
    pub fn input_id(&self) -> &str {
        match self {
            Self::Required { id }
            | Self::Type { id, .. }
            | Self::NotAllowed { id, .. }
            | Self::Invalid { id, .. }
            | Self::FileUnsupported { id }
            | Self::Unknown { id, .. } => id,
        }
    }

    fn new(id: &str, problem: Problem) -> Self {
        let id = id.to_owned();
        match problem {
            Problem::Type { expected, got } => Self::Type { id, expected, got },
            Problem::NotAllowed { got, allowed } => Self::NotAllowed { id, got, allowed },
            Problem::Invalid(message) => Self::Invalid { id, message },
            Problem::File => Self::FileUnsupported { id },
        }
    }
}

/// Why a rendered value cannot be a flow output of the declared type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("output '{id}': {message}")]
pub struct OutputError {
    pub id: String,
    pub message: String,
}

/// What went wrong, before it is said which input or output it concerns.
enum Problem {
    Type { expected: String, got: String },
    NotAllowed { got: String, allowed: String },
    Invalid(String),
    File,
}

/// The parts of a declaration that coercion reads.
struct Spec<'a> {
    ty: InputType,
    values: Option<&'a [String]>,
    allow_custom_value: bool,
    item_type: Option<InputType>,
    extras: Option<&'a IndexMap<String, Value>>,
    /// Outputs: a STRING or SECRET may be rendered from a list or a map; it becomes JSON text.
    lenient_strings: bool,
}

/// Longest part of a value quoted back in an error message.
const QUOTE_MAX: usize = 60;

impl InputDef {
    /// Coerces one provided value to this input's type. Null stands for "not given".
    pub fn coerce(&self, raw: &Value) -> Result<Value, InputError> {
        if raw.is_null() {
            return if self.required {
                Err(InputError::Required {
                    id: self.id.clone(),
                })
            } else {
                Ok(Value::Null)
            };
        }
        let spec = Spec {
            ty: self.input_type,
            values: self.values.as_deref(),
            allow_custom_value: self.allow_custom_value,
            item_type: self.item_type,
            extras: Some(&self.extras),
            lenient_strings: false,
        };
        coerce_value(&spec, raw).map_err(|p| InputError::new(&self.id, p))
    }

    /// True for SECRET inputs, which the engine encrypts at once.
    pub fn is_secret(&self) -> bool {
        self.input_type == InputType::Secret
    }
}

impl OutputDef {
    /// Coerces the rendered value of this output to its declared type.
    pub fn coerce_rendered(&self, value: Value) -> Result<Value, OutputError> {
        let spec = Spec {
            ty: self.output_type,
            values: None,
            allow_custom_value: true,
            item_type: None,
            extras: None,
            lenient_strings: true,
        };
        coerce_value(&spec, &value).map_err(|p| OutputError {
            id: self.id.clone(),
            message: match p {
                Problem::Type { expected, got } => format!("expected {expected}, got {got}"),
                Problem::NotAllowed { got, allowed } => format!("{got} is not one of {allowed}"),
                Problem::Invalid(message) => message,
                Problem::File => {
                    "expected a file of the execution (a kestra:/// URI, such as a task's \
                     outputFiles entry or a FILE input)"
                        .to_owned()
                }
            },
        })
    }

    /// True for SECRET outputs, which the engine stores encrypted.
    pub fn is_secret(&self) -> bool {
        self.output_type == InputType::Secret
    }
}

fn coerce_value(spec: &Spec<'_>, raw: &Value) -> Result<Value, Problem> {
    let ty = spec.ty;
    let mismatch = |expected: &str| Problem::Type {
        expected: expected.to_owned(),
        got: quote(spec, raw),
    };
    let text = scalar_text(raw);
    match ty {
        InputType::String | InputType::Secret => match (text, raw) {
            (Some(t), _) => Ok(Value::String(t)),
            (None, Value::Array(_) | Value::Object(_)) if spec.lenient_strings => {
                Ok(Value::String(raw.to_string()))
            }
            _ => Err(mismatch(ty.as_str())),
        },
        InputType::Int => {
            let n = match raw {
                Value::Number(n) => n.as_i64().or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                        .map(|f| f as i64)
                }),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            let n = n.ok_or_else(|| mismatch("INT"))?;
            check_range(spec, n as f64, raw)?;
            Ok(Value::from(n))
        }
        InputType::Float => {
            let f = match raw {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
                _ => None,
            };
            let f = f.ok_or_else(|| mismatch("FLOAT"))?;
            check_range(spec, f, raw)?;
            Number::from_f64(f)
                .map(Value::Number)
                .ok_or_else(|| mismatch("FLOAT"))
        }
        InputType::Boolean | InputType::Bool => match raw {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(mismatch("BOOLEAN (true or false)")),
        },
        InputType::Datetime => raw
            .as_str()
            .and_then(parse_datetime)
            .map(|dt| Value::String(dt.to_rfc3339_opts(SecondsFormat::AutoSi, true)))
            .ok_or_else(|| mismatch("DATETIME (ISO-8601, such as 2026-11-22T10:00:00Z)")),
        InputType::Date => raw
            .as_str()
            .and_then(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok())
            .map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
            .ok_or_else(|| mismatch("DATE (YYYY-MM-DD)")),
        InputType::Time => raw
            .as_str()
            .and_then(parse_time)
            .map(|t| Value::String(t.format("%H:%M:%S%.f").to_string()))
            .ok_or_else(|| mismatch("TIME (HH:MM:SS)")),
        InputType::Duration => raw
            .as_str()
            .and_then(|s| duration::parse_iso8601(s).ok())
            .map(|d| Value::String(duration::format_iso8601(d)))
            .ok_or_else(|| mismatch("DURATION (ISO-8601, such as PT15M)")),
        InputType::Json => match raw {
            Value::String(s) => serde_json::from_str(s)
                .map_err(|e| Problem::Invalid(format!("expected JSON, got invalid JSON ({e})"))),
            other => Ok(other.clone()),
        },
        InputType::Yaml => match raw {
            Value::String(s) => yaml::parse(s)
                .map(|node| node.to_json())
                .map_err(|e| Problem::Invalid(format!("expected YAML, got invalid YAML ({e})"))),
            other => Ok(other.clone()),
        },
        InputType::Enum | InputType::Select => {
            let choice = text.ok_or_else(|| mismatch(&format!("{ty} (a string)")))?;
            check_allowed(spec, &choice)?;
            Ok(Value::String(choice))
        }
        InputType::Multiselect => {
            let items = list(raw).ok_or_else(|| mismatch("MULTISELECT (a list of strings)"))?;
            let mut out = Vec::with_capacity(items.len());
            for item in &items {
                let choice =
                    scalar_text(item).ok_or_else(|| mismatch("MULTISELECT (a list of strings)"))?;
                check_allowed(spec, &choice)?;
                out.push(Value::String(choice));
            }
            Ok(Value::Array(out))
        }
        InputType::Array => {
            let items = list(raw).ok_or_else(|| mismatch("ARRAY (a list)"))?;
            let Some(item_type) = spec.item_type else {
                return Ok(Value::Array(items));
            };
            let item_spec = Spec {
                ty: item_type,
                item_type: None,
                ..*spec
            };
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    coerce_value(&item_spec, item).map_err(|p| match p {
                        Problem::Type { expected, got } => Problem::Type {
                            expected: format!("items of type {expected} (item {i})"),
                            got,
                        },
                        other => other,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        InputType::Uri => text
            .filter(|s| is_uri(s))
            .map(Value::String)
            .ok_or_else(|| mismatch("URI (such as https://example.com/path)")),
        InputType::Email => text
            .filter(|s| is_email(s))
            .map(Value::String)
            .ok_or_else(|| mismatch("EMAIL (such as name@example.com)")),
        // A file is named by its internal-storage URI; whose file it may be is the engine's
        // to check (an execution's own files, or its parent's).
        InputType::File => text
            .filter(|s| {
                s.get(..10)
                    .is_some_and(|p| p.eq_ignore_ascii_case("kestra:///"))
                    && s.len() > 10
            })
            .map(Value::String)
            .ok_or(Problem::File),
    }
}

/// The value as a message may show it: never for SECRETs, and shortened.
fn quote(spec: &Spec<'_>, raw: &Value) -> String {
    match raw {
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
        _ if spec.ty == InputType::Secret => "a value of another type".to_owned(),
        Value::String(s) => {
            let short: String = s.chars().take(QUOTE_MAX).collect();
            let more = if s.chars().count() > QUOTE_MAX {
                "..."
            } else {
                ""
            };
            format!("'{short}{more}'")
        }
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_owned(),
    }
}

/// A list, or a string holding a JSON list (how a CLI or form passes one).
fn list(raw: &Value) -> Option<Vec<Value>> {
    match raw {
        Value::Array(items) => Some(items.clone()),
        Value::String(s) => match serde_json::from_str(s) {
            Ok(Value::Array(items)) => Some(items),
            _ => None,
        },
        _ => None,
    }
}

fn check_allowed(spec: &Spec<'_>, choice: &str) -> Result<(), Problem> {
    let Some(values) = spec.values else {
        return Ok(());
    };
    if spec.allow_custom_value || values.iter().any(|v| v == choice) {
        return Ok(());
    }
    Err(Problem::NotAllowed {
        got: quote(spec, &Value::String(choice.to_owned())),
        allowed: values.join(", "),
    })
}

/// `min` and `max` of INT and FLOAT inputs.
fn check_range(spec: &Spec<'_>, value: f64, raw: &Value) -> Result<(), Problem> {
    let bound = |key: &str| {
        spec.extras?
            .get(key)
            .and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok()))
    };
    if let Some(min) = bound("min")
        && value < min
    {
        return Err(Problem::Invalid(format!(
            "{} is less than the minimum {min}",
            quote(spec, raw)
        )));
    }
    if let Some(max) = bound("max")
        && value > max
    {
        return Err(Problem::Invalid(format!(
            "{} is more than the maximum {max}",
            quote(spec, raw)
        )));
    }
    Ok(())
}

/// The text of a string, number or boolean.
fn scalar_text(raw: &Value) -> Option<String> {
    match raw {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// RFC 3339 with any offset, or a date-time without offset taken as UTC.
fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .map(|naive| naive.and_utc())
}

fn parse_time(text: &str) -> Option<NaiveTime> {
    let text = text.trim();
    ["%H:%M:%S%.f", "%H:%M"]
        .iter()
        .find_map(|f| NaiveTime::parse_from_str(text, f).ok())
}

/// A scheme (`[A-Za-z][A-Za-z0-9+.-]*`), a colon, then something, and no white space.
fn is_uri(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
        && !rest.is_empty()
        && !text.chars().any(char::is_whitespace)
}

/// One `@` between a non-empty local part and a dotted domain, no white space.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.split('.').count() >= 2
        && domain.split('.').all(|part| !part.is_empty())
        && !text.chars().any(char::is_whitespace)
}

/// Coerces the values given for a flow's inputs: unknown names are refused, missing ones take
/// their default, required ones without a default are reported, optional ones become null.
/// A default that is an expression is passed through for the engine to render (and coerce).
/// Every problem is returned, not only the first.
pub fn coerce_inputs(
    defs: &[InputDef],
    provided: Map<String, Value>,
) -> Result<Map<String, Value>, Vec<InputError>> {
    let mut errors = Vec::new();
    for name in provided.keys() {
        if !defs.iter().any(|d| &d.id == name) {
            let hint =
                suggest::did_you_mean(&suggest::closest(name, defs.iter().map(|d| d.id.as_str())));
            errors.push(InputError::Unknown {
                id: name.clone(),
                hint,
            });
        }
    }
    let mut out = Map::new();
    for def in defs {
        let given = provided.get(&def.id).filter(|v| !v.is_null());
        let result = match (given, &def.defaults) {
            (Some(value), _) => def.coerce(value),
            (None, Some(Value::String(s))) if is_template(s) => Ok(Value::String(s.clone())),
            (None, Some(default)) => def.coerce(default),
            (None, None) if def.required && def.input_type == InputType::File => {
                Err(InputError::FileUnsupported { id: def.id.clone() })
            }
            (None, None) => def.coerce(&Value::Null),
        };
        match result {
            Ok(value) => {
                out.insert(def.id.clone(), value);
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
