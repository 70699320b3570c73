//! Tests: `value is name` and `value is not name`.

use crate::error::ErrorKind;
use crate::filters::article;
use crate::value::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TestKind {
    Defined,
    Null,
    Empty,
    Even,
    Odd,
    Iterable,
    Map,
    Json,
}

pub(crate) static TESTS: &[(&str, TestKind)] = &[
    ("defined", TestKind::Defined),
    ("null", TestKind::Null),
    ("empty", TestKind::Empty),
    ("even", TestKind::Even),
    ("odd", TestKind::Odd),
    ("iterable", TestKind::Iterable),
    ("map", TestKind::Map),
    ("json", TestKind::Json),
];

pub(crate) fn lookup(name: &str) -> Option<TestKind> {
    TESTS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Runs a test. `defined` is decided by the evaluator (an undefined input never gets here):
/// Pebble counts a null value as not defined.
pub(crate) fn apply(test: TestKind, v: &Value) -> Result<bool, ErrorKind> {
    Ok(match test {
        TestKind::Defined => !v.is_null(),
        TestKind::Null => v.is_null(),
        TestKind::Empty => v.is_empty(),
        TestKind::Even | TestKind::Odd => {
            let n = match v {
                Value::Int(i, _) => *i,
                Value::Float(f, _) if f.fract() == 0.0 => *f as i64,
                other => {
                    return Err(ErrorKind::Type(format!(
                        "test '{}' expects an integer, got {}",
                        if test == TestKind::Even {
                            "even"
                        } else {
                            "odd"
                        },
                        article(other.type_name())
                    )));
                }
            };
            (n % 2 == 0) == (test == TestKind::Even)
        }
        TestKind::Iterable => matches!(v, Value::List(..) | Value::Map(..)),
        TestKind::Map => matches!(v, Value::Map(..)),
        TestKind::Json => match v {
            Value::String(s, _) => serde_json::from_str::<serde_json::Value>(s).is_ok(),
            _ => false,
        },
    })
}
