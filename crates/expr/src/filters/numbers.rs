//! Number filters: `number` (parse), `abs`, `round`.

use super::{Args, Filter, text};
use crate::error::{ErrorKind, shown};
use crate::value::Value;

pub(super) fn apply(f: Filter, input: &Value, a: &Args<'_>) -> Result<Value, ErrorKind> {
    if input.is_null() {
        return Ok(Value::null());
    }
    match f {
        Filter::Number => number(input, a),
        Filter::Abs => match input {
            Value::Int(i, _) => Ok(Value::from(i.wrapping_abs())),
            Value::Float(x, _) => Ok(Value::from(x.abs())),
            other => Err(a.bad_input("a number", other)),
        },
        _ => round(input, a),
    }
}

/// Kestra's `number(type)`: parses a string as Apache's `NumberUtils.createNumber` does
/// (decimal, `0x` hexadecimal, exponent), or as the given type (`INT`, `LONG`, `FLOAT`,
/// `DOUBLE`, `BIGDECIMAL`, `BIGINTEGER`).
fn number(input: &Value, a: &Args<'_>) -> Result<Value, ErrorKind> {
    let kind = a.str(0, "type")?.unwrap_or("").to_ascii_uppercase();
    let parsed = match input {
        Value::Int(..) | Value::Float(..) => input.clone(),
        Value::String(..) | Value::Bool(..) => {
            let s = text(input);
            parse_number(&s)
                .ok_or_else(|| a.fail(format!("cannot parse {} as a number", shown(input))))?
        }
        other => return Err(a.bad_input("a string", other)),
    };
    Ok(match kind.as_str() {
        "INT" | "LONG" | "BIGINTEGER" => match parsed {
            Value::Float(x, _) if x.fract() == 0.0 && x.abs() < 9.2e18 => Value::from(x as i64),
            Value::Float(..) => {
                return Err(a.fail(format!("{} is not an integer", shown(input))));
            }
            other => other,
        },
        "FLOAT" | "DOUBLE" | "BIGDECIMAL" => Value::from(parsed.as_f64().unwrap_or(f64::NAN)),
        "" => parsed,
        other => {
            return Err(a.fail(format!(
                "unknown type '{other}', expected INT, LONG, FLOAT, DOUBLE, BIGDECIMAL or BIGINTEGER"
            )));
        }
    })
}

pub(crate) fn parse_number(s: &str) -> Option<Value> {
    if s.is_empty() || s != s.trim() {
        return None;
    }
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let hex = body
        .strip_prefix("0x")
        .or_else(|| body.strip_prefix("0X"))
        .or_else(|| body.strip_prefix('#'));
    if let Some(h) = hex {
        let v = i64::from_str_radix(h, 16).ok()?;
        return Some(Value::from(if neg { -v } else { v }));
    }
    let body = body.trim_end_matches(['L', 'l']);
    if body.bytes().all(|b| b.is_ascii_digit()) && !body.is_empty() {
        let v: i64 = body.parse().ok()?;
        return Some(Value::from(if neg { -v } else { v }));
    }
    let body = body.trim_end_matches(['f', 'F', 'd', 'D']);
    if !body.bytes().any(|b| b.is_ascii_digit())
        || !body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
    {
        return None;
    }
    let v: f64 = body.parse().ok()?;
    Some(Value::from(if neg { -v } else { v }))
}

/// `round(precision=0, method='common'|'ceil'|'floor')`, as Twig has it: a whole number when
/// the precision is zero, a float otherwise.
fn round(input: &Value, a: &Args<'_>) -> Result<Value, ErrorKind> {
    let precision = a.int(0, "precision")?.unwrap_or(0).clamp(-15, 15);
    let method = a.str(1, "method")?.unwrap_or("common").to_ascii_lowercase();
    let x = match input {
        Value::Int(i, _) if precision >= 0 => return Ok(Value::from(*i)),
        Value::Int(..) | Value::Float(..) => input.as_f64().unwrap_or(0.0),
        other => return Err(a.bad_input("a number", other)),
    };
    let scale = 10f64.powi(precision as i32);
    let scaled = x * scale;
    let r = match method.as_str() {
        "common" | "half_up" => scaled.round(),
        "ceil" => scaled.ceil(),
        "floor" => scaled.floor(),
        other => {
            return Err(a.fail(format!(
                "unknown method '{other}', expected common, ceil or floor"
            )));
        }
    } / scale;
    if precision <= 0 && r.is_finite() && r.abs() < 9.2e18 {
        Ok(Value::from(r as i64))
    } else {
        Ok(Value::from(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbers_like_commons_lang() {
        assert_eq!(parse_number("12"), Some(Value::from(12)));
        assert_eq!(parse_number("-12.5"), Some(Value::from(-12.5)));
        assert_eq!(parse_number("0x1F"), Some(Value::from(31)));
        assert_eq!(parse_number("1e3"), Some(Value::from(1000.0)));
        assert_eq!(parse_number("12L"), Some(Value::from(12)));
        assert_eq!(parse_number(" 12"), None);
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number("."), None);
    }
}
