//! Kestra's date filters: `date`, `dateAdd`, and the `timestamp` family.

use chrono::{DateTime, FixedOffset, TimeZone as _, Utc};

use super::{Args, Filter};
use crate::datetime::{Zone, add, format, parse_iso, parse_with};
use crate::error::{ErrorKind, shown};
use crate::value::Value;

pub(super) fn apply(f: Filter, input: &Value, a: &Args<'_>) -> Result<Value, ErrorKind> {
    if input.is_null() {
        return Ok(Value::null());
    }
    // Messages quote patterns, zones and units: not when those come from a secret.
    if a.args.iter().any(Value::is_tainted) {
        return run(f, input, a).map_err(|_| {
            ErrorKind::Date(format!(
                "filter '{}' failed on a secret argument (details hidden)",
                a.name
            ))
        });
    }
    run(f, input, a)
}

fn run(f: Filter, input: &Value, a: &Args<'_>) -> Result<Value, ErrorKind> {
    let (zone_at, existing_at) = match f {
        Filter::Date => (1, 2),
        Filter::DateAdd => (3, 4),
        _ => (0, 1),
    };
    let zone = zone_arg(a, zone_at)?;
    let existing = a.str(existing_at, "existingFormat")?;
    let d = to_datetime(input, &zone, existing)
        .map_err(|m| ErrorKind::Date(format!("filter '{}': {m}", a.name)))?;
    let d = match f {
        Filter::DateAdd => {
            let amount = a.int(0, "amount")?.unwrap_or(0);
            let unit = a.str(1, "unit")?.unwrap_or("");
            add(&d, amount, unit).map_err(|m| ErrorKind::Date(format!("filter 'dateAdd': {m}")))?
        }
        _ => d,
    };
    let ts = d.with_timezone(&Utc);
    let out = match f {
        Filter::Timestamp => return Ok(Value::from(ts.timestamp())),
        Filter::TimestampMilli => return Ok(Value::from(ts.timestamp_millis())),
        Filter::TimestampMicro => return Ok(Value::from(ts.timestamp_micros())),
        Filter::TimestampNano => {
            return ts.timestamp_nanos_opt().map(Value::from).ok_or_else(|| {
                ErrorKind::Date("filter 'timestampNano': date out of range".into())
            });
        }
        _ => {
            let fmt_at = if f == Filter::Date { 0 } else { 2 };
            let fmt = a.str(fmt_at, "format")?.unwrap_or("iso");
            format(&zone.convert(&d), fmt, &zone)
                .map_err(|m| ErrorKind::Date(format!("filter '{}': {m}", a.name)))?
        }
    };
    Ok(Value::string(out))
}

pub(crate) fn zone_arg(a: &Args<'_>, i: usize) -> Result<Zone, ErrorKind> {
    match a.str(i, "timeZone")? {
        None => Ok(Zone::utc()),
        Some(z) => Zone::parse(z).map_err(|m| ErrorKind::Date(format!("filter '{}': {m}", a.name))),
    }
}

/// What Kestra's `AbstractDate.convert` accepts: a datetime, epoch seconds, or a string in ISO
/// form (or in `existing_format`).
pub(crate) fn to_datetime(
    v: &Value,
    zone: &Zone,
    existing_format: Option<&str>,
) -> Result<DateTime<FixedOffset>, String> {
    match v {
        Value::DateTime(d, _) => Ok(*d),
        Value::Int(secs, _) => Utc
            .timestamp_opt(*secs, 0)
            .single()
            .map(|d| zone.convert(&d.fixed_offset()))
            .ok_or_else(|| "epoch seconds out of range".to_string()),
        Value::String(s, _) => {
            let r = match existing_format {
                Some(f) => parse_with(s, f, zone),
                None => parse_iso(s, zone),
            };
            r.map_err(|m| format!("{} {m}", shown(v)))
        }
        other => Err(format!(
            "expects a date, got {}",
            super::article(other.type_name())
        )),
    }
}
