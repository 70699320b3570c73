//! Operators, with Pebble's rules: `+` concatenates when either side is a string, integer
//! arithmetic stays integer (wrapping like Java's `long`), `/` between integers truncates,
//! comparisons between numbers of either kind compare values, and Kestra's override lets `<`
//! and friends compare strings.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::ast::BinOp;
use crate::error::ErrorKind;
use crate::filters::article;
use crate::print::to_text;
use crate::value::{Taint, Value};

/// Ordering of two values of comparable kinds (numbers, strings, datetimes, booleans).
pub(crate) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x, _), Value::Int(y, _)) => Some(x.cmp(y)),
        (Value::Int(..) | Value::Float(..), Value::Int(..) | Value::Float(..)) => {
            a.as_f64()?.partial_cmp(&b.as_f64()?)
        }
        (Value::String(x, _), Value::String(y, _)) => Some(x.cmp(y)),
        (Value::DateTime(x, _), Value::DateTime(y, _)) => Some(x.cmp(y)),
        (Value::Bool(x, _), Value::Bool(y, _)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Pebble's boolean coercion (`TypeUtils.compatibleCast` to `Boolean`): numbers are true when
/// non-zero, strings when non-empty. Null has no truth value (the caller decides). Lists and
/// maps, which Pebble refuses, are true when non-empty.
pub(crate) fn truth(v: &Value) -> Option<bool> {
    match v {
        Value::Null(_) => None,
        Value::Bool(b, _) => Some(*b),
        Value::Int(i, _) => Some(*i != 0),
        Value::Float(f, _) => Some(!f.is_nan() && *f != 0.0),
        Value::String(s, _) => Some(!s.is_empty()),
        Value::List(items, _) => Some(!items.is_empty()),
        Value::Map(map, _) => Some(!map.is_empty()),
        Value::DateTime(..) => Some(true),
    }
}

fn invalid(op: BinOp, a: &Value, b: &Value) -> ErrorKind {
    ErrorKind::Type(format!(
        "operator '{}' cannot be applied to {} and {}",
        op.symbol(),
        article(a.type_name()),
        article(b.type_name())
    ))
}

/// Everything but `and`, `or` (short-circuit, in the evaluator) and `..`. The result is
/// clean; the evaluator adds the operands' taint.
pub(crate) fn binary(op: BinOp, a: &Value, b: &Value) -> Result<Value, ErrorKind> {
    match op {
        BinOp::Eq => Ok(Value::from(a == b)),
        BinOp::Ne => Ok(Value::from(a != b)),
        BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge => {
            // Pebble: a comparison with null is false, not an error.
            if a.is_null() || b.is_null() {
                return Ok(Value::from(false));
            }
            let ord = compare(a, b).ok_or_else(|| invalid(op, a, b))?;
            Ok(Value::from(match op {
                BinOp::Lt => ord == Ordering::Less,
                BinOp::Gt => ord == Ordering::Greater,
                BinOp::Le => ord != Ordering::Greater,
                _ => ord != Ordering::Less,
            }))
        }
        BinOp::Concat => {
            let mut s = concat_text(a);
            s.push_str(&concat_text(b));
            Ok(Value::string(s))
        }
        BinOp::Contains => Ok(Value::from(contains(a, b))),
        BinOp::In => Ok(Value::from(contains(b, a))),
        BinOp::NotIn => Ok(Value::from(!contains(b, a))),
        BinOp::Add => add(a, b),
        BinOp::Sub => match a {
            Value::List(items, t) => {
                let kept = items.iter().filter(|x| match b {
                    Value::List(remove, _) => !remove.contains(x),
                    other => *x != other,
                });
                Ok(Value::List(Arc::new(kept.cloned().collect()), *t))
            }
            _ => arith(op, a, b),
        },
        BinOp::Mul | BinOp::Div | BinOp::Rem => arith(op, a, b),
        BinOp::And | BinOp::Or | BinOp::Range => Err(invalid(op, a, b)),
    }
}

/// `~` treats null as empty (Pebble's `ConcatenateExpression`).
fn concat_text(v: &Value) -> String {
    match v {
        Value::Null(_) => String::new(),
        other => to_text(other),
    }
}

/// `+`: string concatenation if either side is a string (`String.valueOf`, so null is
/// "null"), list append, or arithmetic.
fn add(a: &Value, b: &Value) -> Result<Value, ErrorKind> {
    let as_java = |v: &Value| match v {
        Value::Null(_) => "null".to_string(),
        other => to_text(other),
    };
    match (a, b) {
        (Value::String(..), _) | (_, Value::String(..)) => {
            let mut s = as_java(a);
            s.push_str(&as_java(b));
            Ok(Value::string(s))
        }
        (Value::List(x, t), Value::List(y, _)) => Ok(Value::List(
            Arc::new(x.iter().chain(y.iter()).cloned().collect()),
            *t,
        )),
        (Value::List(x, t), other) => {
            let mut items = x.as_ref().clone();
            items.push(other.clone());
            Ok(Value::List(Arc::new(items), *t))
        }
        _ => arith(BinOp::Add, a, b),
    }
}

fn arith(op: BinOp, a: &Value, b: &Value) -> Result<Value, ErrorKind> {
    match (a, b) {
        (Value::Int(x, _), Value::Int(y, _)) => {
            let (x, y) = (*x, *y);
            let r = match op {
                BinOp::Add => x.wrapping_add(y),
                BinOp::Sub => x.wrapping_sub(y),
                BinOp::Mul => x.wrapping_mul(y),
                BinOp::Div if y == 0 => return Err(ErrorKind::DivisionByZero),
                BinOp::Div => x.wrapping_div(y),
                BinOp::Rem if y == 0 => return Err(ErrorKind::DivisionByZero),
                BinOp::Rem => x.wrapping_rem(y),
                _ => return Err(invalid(op, a, b)),
            };
            Ok(Value::Int(r, Taint::Clean))
        }
        (Value::Int(..) | Value::Float(..), Value::Int(..) | Value::Float(..)) => {
            let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            let r = match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => x / y,
                BinOp::Rem => x % y,
                _ => return Err(invalid(op, a, b)),
            };
            Ok(Value::Float(r, Taint::Clean))
        }
        _ => Err(invalid(op, a, b)),
    }
}

/// Pebble's `contains`: element of a list (or all elements of a list argument), key of a map,
/// substring of a string. Null contains nothing.
pub(crate) fn contains(haystack: &Value, needle: &Value) -> bool {
    match haystack {
        Value::List(items, _) => match needle {
            Value::List(all, _) => all.iter().all(|n| items.contains(n)),
            single => items.contains(single),
        },
        Value::Map(map, _) => match needle {
            Value::String(k, _) => map.contains_key(k.as_ref()),
            Value::List(keys, _) => keys.iter().all(|k| map.contains_key(to_text(k).as_str())),
            other => map.contains_key(to_text(other).as_str()),
        },
        Value::String(s, _) => match needle {
            Value::Null(_) => false,
            other => s.contains(to_text(other).as_str()),
        },
        _ => false,
    }
}

/// Unary minus or plus: Pebble multiplies by -1 or 1.
pub(crate) fn negate(v: &Value, negative: bool) -> Result<Value, ErrorKind> {
    match v {
        Value::Int(i, _) => Ok(Value::from(if negative { i.wrapping_neg() } else { *i })),
        Value::Float(f, _) => Ok(Value::from(if negative { -f } else { *f })),
        other => Err(ErrorKind::Type(format!(
            "unary '{}' cannot be applied to {}",
            if negative { "-" } else { "+" },
            article(other.type_name())
        ))),
    }
}

/// `a..b`: the integers from `a` to `b` inclusive (descending when `b < a`), or the
/// characters from one single-character string to another.
pub(crate) fn range(a: &Value, b: &Value, step: i64, max_len: usize) -> Result<Value, ErrorKind> {
    if step == 0 {
        return Err(ErrorKind::Argument("range step must not be zero".into()));
    }
    let too_big = || ErrorKind::Limit(format!("range is longer than {max_len} elements"));
    let ints = |x: i64, y: i64| -> Result<Vec<i64>, ErrorKind> {
        let span = (i128::from(y) - i128::from(x)).abs() / i128::from(step).abs() + 1;
        if span > max_len as i128 {
            return Err(too_big());
        }
        let mut out = Vec::new();
        let mut cur = i128::from(x);
        let (y, step) = (i128::from(y), i128::from(step));
        while (step > 0 && cur <= y) || (step < 0 && cur >= y) {
            out.push(cur as i64);
            cur += step;
        }
        Ok(out)
    };
    match (a, b) {
        (Value::Int(x, _), Value::Int(y, _)) => {
            Ok(Value::list(ints(*x, *y)?.into_iter().map(Value::from)))
        }
        (Value::String(x, _), Value::String(y, _))
            if x.chars().count() == 1 && y.chars().count() == 1 =>
        {
            let (cx, cy) = (
                x.chars().next().unwrap_or('a'),
                y.chars().next().unwrap_or('a'),
            );
            let chars = ints(i64::from(u32::from(cx)), i64::from(u32::from(cy)))?;
            Ok(Value::list(
                chars
                    .into_iter()
                    .filter_map(|c| u32::try_from(c).ok().and_then(char::from_u32))
                    .map(|c| Value::string(c.to_string())),
            ))
        }
        (x, y) if x.as_f64().is_some() && y.as_f64().is_some() => {
            let (fx, fy) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            if fx.abs() > 9e18 || fy.abs() > 9e18 {
                return Err(too_big());
            }
            Ok(Value::list(
                ints(fx as i64, fy as i64)?.into_iter().map(Value::from),
            ))
        }
        (x, y) => Err(ErrorKind::Type(format!(
            "a range needs two integers or two characters, got {} and {}",
            article(x.type_name()),
            article(y.type_name())
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_follows_java() {
        assert_eq!(
            binary(BinOp::Div, &7.into(), &2.into()).unwrap(),
            Value::from(3)
        );
        assert_eq!(
            binary(BinOp::Div, &7.into(), &2.0.into()).unwrap(),
            Value::from(3.5)
        );
        assert_eq!(
            binary(BinOp::Rem, &(-7).into(), &2.into()).unwrap(),
            Value::from(-1)
        );
        assert_eq!(
            binary(BinOp::Add, &i64::MAX.into(), &1.into()).unwrap(),
            Value::from(i64::MIN)
        );
        assert!(binary(BinOp::Div, &1.into(), &0.into()).is_err());
        assert_eq!(
            binary(BinOp::Add, &"a".into(), &Value::null()).unwrap(),
            Value::from("anull")
        );
    }

    #[test]
    fn ranges_are_inclusive_and_bounded() {
        assert_eq!(
            range(&1.into(), &3.into(), 1, 10).unwrap().to_json(),
            serde_json::json!([1, 2, 3])
        );
        assert_eq!(
            range(&3.into(), &1.into(), -1, 10).unwrap().to_json(),
            serde_json::json!([3, 2, 1])
        );
        assert!(range(&0.into(), &i64::MAX.into(), 1, 10).is_err());
        assert!(range(&0.into(), &1.into(), 0, 10).is_err());
    }
}
