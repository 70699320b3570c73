//! Plain scalars resolved by the YAML 1.2 core schema (what Kestra's Jackson parser applies):
//! `true`/`false` (any case of the first letter or all caps), `null`/`~`/empty, decimal, octal
//! (`0o`) and hexadecimal (`0x`) integers, decimal floats. `yes`/`no`/`on`/`off` stay strings.

use serde_json::{Number, Value};
use yaml_rust2::parser::Tag;
use yaml_rust2::scanner::TScalarStyle;

use super::Scalar;

/// Resolves a scalar's value from its text, style and tag.
pub(super) fn resolve(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Scalar {
    let quoted = style != TScalarStyle::Plain;
    let core_tag = tag
        .filter(|t| t.handle == "tag:yaml.org,2002:" || t.handle == "!!")
        .map(|t| t.suffix.as_str());
    let value = match core_tag {
        Some("str") => Value::String(text.clone()),
        Some("null") => Value::Null,
        Some("bool") => {
            resolve_bool(&text).map_or_else(|| Value::String(text.clone()), Value::Bool)
        }
        Some("int") | Some("float") => {
            resolve_number(&text).map_or_else(|| Value::String(text.clone()), Value::Number)
        }
        _ if quoted => Value::String(text.clone()),
        _ => resolve_plain(&text),
    };
    Scalar {
        text,
        value,
        quoted,
    }
}

fn resolve_plain(text: &str) -> Value {
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Value::Null;
    }
    if let Some(b) = resolve_bool(text) {
        return Value::Bool(b);
    }
    resolve_number(text).map_or_else(|| Value::String(text.to_owned()), Value::Number)
}

fn resolve_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// A YAML 1.2 core-schema number. Integers too large for 64 bits and the special floats
/// (`.inf`, `.nan`), which JSON cannot hold, stay strings.
fn resolve_number(text: &str) -> Option<Number> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if let Some(oct) = digits.strip_prefix("0o") {
        return int_from(i64::from_str_radix(oct, 8).ok()?, negative);
    }
    if let Some(hex) = digits.strip_prefix("0x") {
        return int_from(i64::from_str_radix(hex, 16).ok()?, negative);
    }
    if digits.is_empty() {
        return None;
    }
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return Some(Number::from(i));
        }
        return text.parse::<u64>().ok().map(Number::from);
    }
    if is_core_float(digits) {
        return text.parse::<f64>().ok().and_then(Number::from_f64);
    }
    None
}

fn int_from(value: i64, negative: bool) -> Option<Number> {
    Some(Number::from(if negative {
        value.checked_neg()?
    } else {
        value
    }))
}

/// `( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?` without the sign.
fn is_core_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac_part {
        Some(f) => all_digits(int_part) && all_digits(f) && !(int_part.is_empty() && f.is_empty()),
        None => !int_part.is_empty() && all_digits(int_part),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok
}
