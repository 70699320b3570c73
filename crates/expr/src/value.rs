//! Values that templates compute with, each carrying its taint.
//!
//! A value is tainted when it was derived from a secret. On a list or map the flag means the
//! container itself (its keys, its length, its order) derives from a secret, and every element
//! inherits it when read; [`Value::is_tainted`] also looks inside, so a map holding one secret
//! counts as tainted while its clean neighbours still print in clear.

use std::fmt;
use std::ops::BitOr;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use indexmap::IndexMap;

/// Whether a value derives from a secret.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Taint {
    /// Not derived from any secret.
    #[default]
    Clean,
    /// Derived from a secret: never printed in clear by the masker, never put in an error.
    Secret,
}

impl Taint {
    /// True for [`Taint::Secret`].
    pub fn is_secret(self) -> bool {
        self == Taint::Secret
    }

    pub(crate) fn of(secret: bool) -> Taint {
        if secret { Taint::Secret } else { Taint::Clean }
    }
}

impl BitOr for Taint {
    type Output = Taint;
    fn bitor(self, rhs: Taint) -> Taint {
        Taint::of(self.is_secret() || rhs.is_secret())
    }
}

/// Insertion-ordered map, as Kestra's (Jackson's) maps are.
pub type Map = IndexMap<String, Value>;

/// A template value. Cloning is cheap: strings and containers are shared.
#[derive(Clone)]
pub enum Value {
    Null(Taint),
    Bool(bool, Taint),
    Int(i64, Taint),
    Float(f64, Taint),
    String(Arc<str>, Taint),
    List(Arc<Vec<Value>>, Taint),
    Map(Arc<Map>, Taint),
    /// A point in time with its offset (Java's `Instant`/`ZonedDateTime` in Kestra).
    DateTime(DateTime<FixedOffset>, Taint),
}

pub(crate) static NULL: Value = Value::Null(Taint::Clean);

impl Default for Value {
    fn default() -> Self {
        Value::Null(Taint::Clean)
    }
}

impl Value {
    /// A clean null.
    pub fn null() -> Value {
        Value::Null(Taint::Clean)
    }

    /// A clean string.
    pub fn string(s: impl Into<Arc<str>>) -> Value {
        Value::String(s.into(), Taint::Clean)
    }

    /// A clean list (its elements keep their own taint).
    pub fn list(items: impl IntoIterator<Item = Value>) -> Value {
        Value::List(Arc::new(items.into_iter().collect()), Taint::Clean)
    }

    /// A clean map (its values keep their own taint).
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(
            Arc::new(entries.into_iter().map(|(k, v)| (k.into(), v)).collect()),
            Taint::Clean,
        )
    }

    /// A secret string: what `secret()` returns.
    pub fn secret(s: impl Into<Arc<str>>) -> Value {
        Value::String(s.into(), Taint::Secret)
    }

    /// The flag of this value itself (not of its elements).
    pub fn taint(&self) -> Taint {
        match self {
            Value::Null(t)
            | Value::Bool(_, t)
            | Value::Int(_, t)
            | Value::Float(_, t)
            | Value::String(_, t)
            | Value::List(_, t)
            | Value::Map(_, t)
            | Value::DateTime(_, t) => *t,
        }
    }

    fn taint_mut(&mut self) -> &mut Taint {
        match self {
            Value::Null(t)
            | Value::Bool(_, t)
            | Value::Int(_, t)
            | Value::Float(_, t)
            | Value::String(_, t)
            | Value::List(_, t)
            | Value::Map(_, t)
            | Value::DateTime(_, t) => t,
        }
    }

    /// True when this value or any part of it derives from a secret.
    pub fn is_tainted(&self) -> bool {
        if self.taint().is_secret() {
            return true;
        }
        match self {
            Value::List(items, _) => items.iter().any(Value::is_tainted),
            Value::Map(map, _) => map.values().any(Value::is_tainted),
            _ => false,
        }
    }

    /// This value marked as secret, with every part of it.
    pub fn tainted(mut self) -> Value {
        self.taint_deep();
        self
    }

    fn taint_deep(&mut self) {
        match self {
            Value::List(items, t) => {
                if !t.is_secret() || items.iter().any(|v| !v.taint().is_secret()) {
                    Arc::make_mut(items).iter_mut().for_each(Value::taint_deep);
                }
                *t = Taint::Secret;
            }
            Value::Map(map, t) => {
                if !t.is_secret() || map.values().any(|v| !v.taint().is_secret()) {
                    Arc::make_mut(map).values_mut().for_each(Value::taint_deep);
                }
                *t = Taint::Secret;
            }
            other => *other.taint_mut() = Taint::Secret,
        }
    }

    /// This value, tainted (deeply) when `taint` is secret; unchanged otherwise.
    pub fn with_taint(self, taint: Taint) -> Value {
        if taint.is_secret() {
            self.tainted()
        } else {
            self
        }
    }

    /// A Kestra-ish name of the type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null(_) => "null",
            Value::Bool(..) => "boolean",
            Value::Int(..) => "integer",
            Value::Float(..) => "float",
            Value::String(..) => "string",
            Value::List(..) => "list",
            Value::Map(..) => "map",
            Value::DateTime(..) => "datetime",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null(_))
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s, _) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b, _) => Some(*b),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i, _) => Some(*i),
            _ => None,
        }
    }

    /// Integers and floats as `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i, _) => Some(*i as f64),
            Value::Float(f, _) => Some(*f),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items, _) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(map, _) => Some(map),
            _ => None,
        }
    }

    /// Pebble's emptiness (the `empty` test and `default`): null, a blank string, an empty list
    /// or map.
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Null(_) => true,
            Value::String(s, _) => s.trim().is_empty(),
            Value::List(items, _) => items.is_empty(),
            Value::Map(map, _) => map.is_empty(),
            _ => false,
        }
    }

    /// Converts a JSON document. Integers that fit `i64` stay integers, other numbers are
    /// floats. The result is clean.
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::null(),
            serde_json::Value::Bool(b) => Value::Bool(*b, Taint::Clean),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i, Taint::Clean),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN), Taint::Clean),
            },
            serde_json::Value::String(s) => Value::string(s.as_str()),
            serde_json::Value::Array(items) => Value::list(items.iter().map(Value::from_json)),
            serde_json::Value::Object(map) => {
                Value::map(map.iter().map(|(k, v)| (k.clone(), Value::from_json(v))))
            }
        }
    }

    /// Converts to JSON (taint is dropped: the caller must check [`Value::is_tainted`]).
    /// Datetimes become ISO-8601 strings; non-finite floats become null, as in JSON.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null(_) => serde_json::Value::Null,
            Value::Bool(b, _) => serde_json::Value::Bool(*b),
            Value::Int(i, _) => serde_json::Value::from(*i),
            Value::Float(f, _) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::String(s, _) => serde_json::Value::String(s.to_string()),
            Value::List(items, _) => items.iter().map(Value::to_json).collect(),
            Value::Map(map, _) => serde_json::Value::Object(
                map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect(),
            ),
            Value::DateTime(d, _) => {
                let mut s = String::new();
                crate::print::write_datetime(&mut s, d);
                serde_json::Value::String(s)
            }
        }
    }
}

impl PartialEq for Value {
    /// Equality of content, as Pebble's `==`: taint is ignored and numbers compare by value.
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null(_), Value::Null(_)) => true,
            (Value::Bool(a, _), Value::Bool(b, _)) => a == b,
            (Value::Int(a, _), Value::Int(b, _)) => a == b,
            (Value::Int(..) | Value::Float(..), Value::Int(..) | Value::Float(..)) => {
                self.as_f64() == other.as_f64()
            }
            (Value::String(a, _), Value::String(b, _)) => a == b,
            (Value::List(a, _), Value::List(b, _)) => a == b,
            (Value::Map(a, _), Value::Map(b, _)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(k) == Some(v))
            }
            (Value::DateTime(a, _), Value::DateTime(b, _)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Debug for Value {
    /// Tainted parts print as `[REDACTED]`, so a stray `{:?}` cannot leak a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.taint().is_secret() {
            return f.write_str("[REDACTED]");
        }
        match self {
            Value::Null(_) => f.write_str("null"),
            Value::Bool(b, _) => write!(f, "{b}"),
            Value::Int(i, _) => write!(f, "{i}"),
            Value::Float(x, _) => write!(f, "{x:?}"),
            Value::String(s, _) => write!(f, "{s:?}"),
            Value::List(items, _) => f.debug_list().entries(items.iter()).finish(),
            Value::Map(map, _) => f.debug_map().entries(map.iter()).finish(),
            Value::DateTime(d, _) => write!(f, "{}", d.to_rfc3339()),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::string(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::string(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i, Taint::Clean)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Value {
        Value::Int(i64::from(i), Taint::Clean)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f, Taint::Clean)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b, Taint::Clean)
    }
}

impl From<DateTime<FixedOffset>> for Value {
    fn from(d: DateTime<FixedOffset>) -> Value {
        Value::DateTime(d, Taint::Clean)
    }
}

impl From<DateTime<chrono::Utc>> for Value {
    fn from(d: DateTime<chrono::Utc>) -> Value {
        Value::DateTime(d.fixed_offset(), Taint::Clean)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::List(Arc::new(items), Taint::Clean)
    }
}

impl From<Map> for Value {
    fn from(map: Map) -> Value {
        Value::Map(Arc::new(map), Taint::Clean)
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Value {
        Value::from_json(&v)
    }
}

impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Value {
        Value::from_json(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tainting_is_deep_and_detected_inside() {
        let v = Value::map([("a", Value::list([Value::from(1)]))]);
        assert!(!v.is_tainted());
        let t = v.clone().tainted();
        let inner = &t.as_map().unwrap()["a"].as_list().unwrap()[0];
        assert!(inner.taint().is_secret());
        let mixed = Value::map([("a", Value::from(1)), ("b", Value::secret("s"))]);
        assert!(mixed.is_tainted());
        assert!(!mixed.taint().is_secret());
    }

    #[test]
    fn debug_redacts_secrets() {
        let v = Value::map([
            ("user", Value::from("bob")),
            ("pw", Value::secret("hunter2")),
        ]);
        let dbg = format!("{v:?}");
        assert!(dbg.contains("bob") && dbg.contains("[REDACTED]") && !dbg.contains("hunter2"));
    }

    #[test]
    fn json_round_trip_keeps_types_and_order() {
        let j: serde_json::Value =
            serde_json::from_str(r#"{"z":1,"a":[1.5,"x",null,true]}"#).expect("valid json");
        let v = Value::from_json(&j);
        assert_eq!(v.to_json(), j);
        assert_eq!(
            v.as_map().unwrap().keys().next().map(String::as_str),
            Some("z")
        );
    }

    #[test]
    fn equality_ignores_taint_and_number_kind() {
        assert_eq!(Value::from(1), Value::from(1.0));
        assert_eq!(Value::from("a"), Value::secret("a"));
        assert_ne!(Value::from("1"), Value::from(1));
    }
}
