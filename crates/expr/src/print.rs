//! How values become text, the way Kestra's `JsonWriter` prints them: null as nothing,
//! numbers as Java prints them, datetimes as ISO-8601 instants, lists and maps as compact JSON
//! (map entries whose value is null left out, as Kestra's Jackson mapper does).

use std::fmt::Write as _;
use std::ops::Range;

use chrono::{DateTime, Datelike, FixedOffset, Timelike};

use crate::value::Value;

/// Writes `v` as a template prints it, without taint bookkeeping.
pub(crate) fn write_plain(out: &mut String, v: &Value) {
    let mut ranges = Vec::new();
    write_value(out, v, &mut ranges);
}

/// Writes `v` as a template prints it and pushes the byte ranges of `out` that hold tainted
/// text. A clean map holding one secret yields one range, around that secret's JSON.
pub(crate) fn write_value(out: &mut String, v: &Value, ranges: &mut Vec<Range<usize>>) {
    let start = out.len();
    match v {
        Value::Null(_) => {}
        Value::Bool(b, _) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i, _) => out.push_str(itoa::Buffer::new().format(*i)),
        Value::Float(f, _) => write_java_double(out, *f),
        Value::String(s, _) => out.push_str(s),
        Value::DateTime(d, _) => write_datetime(out, d),
        Value::List(..) | Value::Map(..) => {
            write_json(out, v, false, ranges);
            return;
        }
    }
    // Even when empty: that a secret printed as nothing is itself secret, and the masked
    // text must not depend on it.
    if v.taint().is_secret() {
        push_range(ranges, start..out.len());
    }
}

/// Adds a range (empty ones included), merging it with the previous one when they touch.
pub(crate) fn push_range(ranges: &mut Vec<Range<usize>>, r: Range<usize>) {
    if let Some(last) = ranges.last_mut()
        && last.end >= r.start
        && r.end >= last.start
    {
        last.start = last.start.min(r.start);
        last.end = last.end.max(r.end);
        return;
    }
    ranges.push(r);
}

/// Compact JSON as Jackson writes it. `include_nulls` keeps map entries whose value is null.
pub(crate) fn write_json(
    out: &mut String,
    v: &Value,
    include_nulls: bool,
    ranges: &mut Vec<Range<usize>>,
) {
    let start = out.len();
    if v.taint().is_secret() {
        // The whole thing (keys and shape included) is secret: one range, no need to look in.
        let mut inner = Vec::new();
        write_json_inner(out, v, include_nulls, &mut inner);
        push_range(ranges, start..out.len());
    } else {
        write_json_inner(out, v, include_nulls, ranges);
    }
}

fn write_json_inner(
    out: &mut String,
    v: &Value,
    include_nulls: bool,
    ranges: &mut Vec<Range<usize>>,
) {
    match v {
        Value::Null(_) => out.push_str("null"),
        Value::Bool(b, _) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i, _) => out.push_str(itoa::Buffer::new().format(*i)),
        Value::Float(f, _) => {
            if f.is_finite() {
                write_java_double(out, *f);
            } else {
                // Jackson quotes non-numeric numbers by default.
                out.push('"');
                write_java_double(out, *f);
                out.push('"');
            }
        }
        Value::String(s, _) => write_json_string(out, s),
        Value::DateTime(d, _) => {
            out.push('"');
            write_datetime(out, d);
            out.push('"');
        }
        Value::List(items, _) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item, include_nulls, ranges);
            }
            out.push(']');
        }
        Value::Map(map, _) => {
            out.push('{');
            let mut first = true;
            for (k, item) in map.iter() {
                if item.is_null() && !include_nulls {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                write_json_string(out, k);
                out.push(':');
                write_json(out, item, include_nulls, ranges);
            }
            out.push('}');
        }
    }
}

pub(crate) fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    let mut rest = s;
    while let Some(i) = rest.find(|c: char| c == '"' || c == '\\' || (c as u32) < 0x20) {
        out.push_str(&rest[..i]);
        let c = rest[i..].chars().next().unwrap_or('\0');
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            other => {
                let _ = write!(out, "\\u{:04X}", other as u32);
            }
        }
        rest = &rest[i + c.len_utf8()..];
    }
    out.push_str(rest);
    out.push('"');
}

/// Java's `Double.toString`: plain between 10^-3 and 10^7, computerized scientific notation
/// outside, always with a fractional part ("1.0", "1.0E10").
pub(crate) fn write_java_double(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    } else if f == 0.0 || (1e-3..1e7).contains(&f.abs()) {
        let start = out.len();
        let _ = write!(out, "{f}");
        if !out[start..].contains('.') {
            out.push_str(".0");
        }
    } else {
        // Rust's `{:e}` gives the shortest digits, as JDK 19+ does: "1.5e-5" → "1.5E-5".
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        out.push_str(mantissa);
        if !mantissa.contains('.') {
            out.push_str(".0");
        }
        out.push('E');
        out.push_str(exp);
    }
}

/// Java's `Instant.toString` (or `OffsetDateTime` with seconds always shown):
/// `2026-11-22T10:00:00.123Z`, fraction in groups of three digits, left out when zero.
pub(crate) fn write_datetime(out: &mut String, d: &DateTime<FixedOffset>) {
    let year = d.year();
    if year > 9999 {
        out.push('+');
    }
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        year,
        d.month(),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    );
    let nanos = d.nanosecond() % 1_000_000_000;
    if nanos != 0 {
        if nanos.is_multiple_of(1_000_000) {
            let _ = write!(out, ".{:03}", nanos / 1_000_000);
        } else if nanos.is_multiple_of(1000) {
            let _ = write!(out, ".{:06}", nanos / 1000);
        } else {
            let _ = write!(out, ".{nanos:09}");
        }
    }
    write_offset(out, d.offset().local_minus_utc(), true);
}

/// `Z` (when `z_for_zero`) or `+HH:MM[:SS]`.
pub(crate) fn write_offset(out: &mut String, secs: i32, z_for_zero: bool) {
    if secs == 0 && z_for_zero {
        out.push('Z');
        return;
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    let _ = write!(out, "{sign}{:02}:{:02}", a / 3600, (a / 60) % 60);
    if !a.is_multiple_of(60) {
        let _ = write!(out, ":{:02}", a % 60);
    }
}

/// The printed text of a value, for filters that work on strings.
pub(crate) fn to_text(v: &Value) -> String {
    match v {
        Value::String(s, _) => s.to_string(),
        other => {
            let mut s = String::new();
            write_plain(&mut s, other);
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Taint;

    fn java(f: f64) -> String {
        let mut s = String::new();
        write_java_double(&mut s, f);
        s
    }

    #[test]
    fn doubles_print_as_java_does() {
        assert_eq!(java(1.0), "1.0");
        assert_eq!(java(2.5), "2.5");
        assert_eq!(java(0.1), "0.1");
        assert_eq!(java(-3.0), "-3.0");
        assert_eq!(java(1e7), "1.0E7");
        assert_eq!(java(1.5e-5), "1.5E-5");
        assert_eq!(java(123456.789), "123456.789");
        assert_eq!(java(0.001), "0.001");
        assert_eq!(java(f64::NAN), "NaN");
    }

    #[test]
    fn json_ranges_cover_only_secret_parts() {
        let v = Value::map([
            ("user", Value::from("bob")),
            ("pw", Value::secret("x\"y")),
            ("gone", Value::null()),
        ]);
        let mut out = String::new();
        let mut ranges = Vec::new();
        write_value(&mut out, &v, &mut ranges);
        assert_eq!(out, r#"{"user":"bob","pw":"x\"y"}"#);
        assert_eq!(ranges.len(), 1);
        assert_eq!(&out[ranges[0].clone()], r#""x\"y""#);
        let whole = v.with_taint(Taint::Secret);
        let mut out = String::new();
        let mut ranges = Vec::new();
        write_value(&mut out, &whole, &mut ranges);
        assert_eq!(ranges, vec![0..out.len()]);
    }

    #[test]
    fn datetimes_print_as_instants() {
        let d = DateTime::parse_from_rfc3339("2026-11-22T10:00:00.123Z").unwrap();
        let mut s = String::new();
        write_datetime(&mut s, &d);
        assert_eq!(s, "2026-11-22T10:00:00.123Z");
        let d = DateTime::parse_from_rfc3339("2026-11-22T10:00:00+01:00").unwrap();
        let mut s = String::new();
        write_datetime(&mut s, &d);
        assert_eq!(s, "2026-11-22T10:00:00+01:00");
    }
}
