//! PostgreSQL values as Kestra's jdbc.postgresql tasks output them, decoded from the binary
//! form the server sends (tokio-postgres asks for it): numbers as JSON numbers (a `numeric`
//! that a JSON number cannot hold exactly stays a string), `date` as `2024-01-31`, `time` as
//! `13:45:00`, `timestamp` as `2024-01-31T13:45:00` and `timestamptz` as an ISO date with the
//! offset of `timeZoneId` (`Z` for UTC), `interval` as Kestra writes it (`P0Y1M2DT3H4M5S`),
//! `json`/`jsonb` as the JSON they hold, arrays as lists, `uuid` as text, `bytea` as base64
//! (Jackson's form of bytes), enums and domains as their values; NULL as null.
//!
//! A type none of these cover (a composite, a range, `tsvector`, `money`) is an error naming
//! the column and the type, and how to read it: cast it to text in the SQL.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat};
use postgres_protocol::types as wire;
use serde_json::{Number, Value as Json};
use tokio_postgres::types::{Kind, Type};

/// Why a value could not be read; the caller names the column.
pub(super) type CellError = String;

/// The JSON of one non-NULL value of type `ty`, sent as `raw`.
pub(super) fn cell(ty: &Type, raw: &[u8], zone: chrono_tz::Tz) -> Result<Json, CellError> {
    let bad = |err: Box<dyn std::error::Error + Sync + Send>| {
        format!(
            "a '{}' value the server sent does not decode: {err}",
            ty.name()
        )
    };
    match ty.kind() {
        Kind::Array(element) => return array(element, raw, zone),
        Kind::Domain(inner) => return cell(inner, raw, zone),
        Kind::Enum(_) => return Ok(Json::String(wire::text_from_sql(raw).map_err(bad)?.into())),
        _ => {}
    }
    Ok(match *ty {
        Type::BOOL => Json::Bool(wire::bool_from_sql(raw).map_err(bad)?),
        Type::INT2 => Json::from(wire::int2_from_sql(raw).map_err(bad)?),
        Type::INT4 => Json::from(wire::int4_from_sql(raw).map_err(bad)?),
        Type::INT8 => Json::from(wire::int8_from_sql(raw).map_err(bad)?),
        Type::OID => Json::from(wire::oid_from_sql(raw).map_err(bad)?),
        Type::FLOAT4 => float(f64::from(wire::float4_from_sql(raw).map_err(bad)?)),
        Type::FLOAT8 => float(wire::float8_from_sql(raw).map_err(bad)?),
        Type::NUMERIC => numeric_json(&numeric(raw)?),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::XML => {
            Json::String(wire::text_from_sql(raw).map_err(bad)?.into())
        }
        Type::CHAR => {
            let c = wire::char_from_sql(raw).map_err(bad)? as u8;
            Json::String(char::from(c).to_string())
        }
        Type::JSON => json(raw)?,
        // jsonb is its format version (1) followed by the JSON text.
        Type::JSONB => match raw.split_first() {
            Some((1, text)) => json(text)?,
            _ => return Err("a 'jsonb' value in an unknown format version".into()),
        },
        Type::UUID => {
            Json::String(uuid::Uuid::from_bytes(wire::uuid_from_sql(raw).map_err(bad)?).to_string())
        }
        Type::BYTEA => Json::String(STANDARD.encode(wire::bytea_from_sql(raw))),
        Type::DATE => date(wire::date_from_sql(raw).map_err(bad)?),
        Type::TIME => Json::String(time(wire::time_from_sql(raw).map_err(bad)?)?),
        Type::TIMETZ => time_tz(raw)?,
        Type::TIMESTAMP => match wire::timestamp_from_sql(raw).map_err(bad)? {
            i64::MAX => Json::String("infinity".into()),
            i64::MIN => Json::String("-infinity".into()),
            micros => Json::String(
                timestamp(micros)?
                    .format("%Y-%m-%dT%H:%M:%S%.f")
                    .to_string(),
            ),
        },
        Type::TIMESTAMPTZ => match wire::timestamp_from_sql(raw).map_err(bad)? {
            i64::MAX => Json::String("infinity".into()),
            i64::MIN => Json::String("-infinity".into()),
            micros => {
                let utc = DateTime::<chrono::Utc>::from_naive_utc_and_offset(
                    timestamp(micros)?,
                    chrono::Utc,
                );
                Json::String(
                    utc.with_timezone(&zone)
                        .to_rfc3339_opts(SecondsFormat::AutoSi, true),
                )
            }
        },
        Type::INTERVAL => interval(raw)?,
        Type::INET | Type::CIDR => {
            let inet = wire::inet_from_sql(raw).map_err(bad)?;
            let full = if inet.addr().is_ipv4() { 32 } else { 128 };
            Json::String(if *ty == Type::INET && inet.netmask() == full {
                inet.addr().to_string()
            } else {
                format!("{}/{}", inet.addr(), inet.netmask())
            })
        }
        _ if ty.name() == "citext" => Json::String(wire::text_from_sql(raw).map_err(bad)?.into()),
        _ => {
            return Err(format!(
                "its PostgreSQL type '{}' is one Saker cannot read yet: cast it in the SQL \
                 (column::text)",
                ty.name()
            ));
        }
    })
}

/// A float as JSON: NaN and the infinities, which JSON has no number for, as text.
fn float(value: f64) -> Json {
    Number::from_f64(value).map_or_else(
        || {
            Json::String(if value.is_nan() {
                "NaN".into()
            } else if value > 0.0 {
                "Infinity".into()
            } else {
                "-Infinity".into()
            })
        },
        Json::Number,
    )
}

fn json(text: &[u8]) -> Result<Json, CellError> {
    serde_json::from_slice(text).map_err(|e| format!("a JSON value does not parse: {e}"))
}

/// Big-endian integers at the front of `raw`.
fn take<const N: usize>(raw: &mut &[u8]) -> Result<[u8; N], CellError> {
    if raw.len() < N {
        return Err("a value the server sent is cut short".into());
    }
    let (head, rest) = raw.split_at(N);
    *raw = rest;
    Ok(head.try_into().expect("split at N"))
}

/// A `numeric` as its decimal text (`-12.340`), or `NaN`, `Infinity`, `-Infinity`.
fn numeric(mut raw: &[u8]) -> Result<String, CellError> {
    let ndigits = u16::from_be_bytes(take(&mut raw)?) as usize;
    let weight = i16::from_be_bytes(take(&mut raw)?) as i64;
    let sign = u16::from_be_bytes(take(&mut raw)?);
    let dscale = u16::from_be_bytes(take(&mut raw)?) as usize;
    let mut digits = Vec::with_capacity(ndigits);
    for _ in 0..ndigits {
        digits.push(u16::from_be_bytes(take(&mut raw)?));
    }
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    // Digit i is worth 10000^(weight - i).
    let digit = |i: i64| -> u16 {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let mut text = String::new();
    if sign == 0x4000 {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        for i in 0..=weight {
            if i == 0 {
                text.push_str(&digit(0).to_string());
            } else {
                text.push_str(&format!("{:04}", digit(i)));
            }
        }
    }
    if dscale > 0 {
        let mut fraction = String::new();
        let mut i = weight + 1;
        while fraction.len() < dscale {
            fraction.push_str(&format!("{:04}", digit(i)));
            i += 1;
        }
        fraction.truncate(dscale);
        text.push('.');
        text.push_str(&fraction);
    }
    Ok(text)
}

/// A decimal text as a JSON number when one holds it exactly (an integer of 64 bits, or a
/// float whose shortest form reads back the same), else as the text.
fn numeric_json(text: &str) -> Json {
    if let Ok(int) = text.parse::<i64>() {
        return Json::from(int);
    }
    if let Ok(value) = text.parse::<f64>()
        && value.is_finite()
        && same_decimal(&value.to_string(), text)
        && let Some(number) = Number::from_f64(value)
    {
        return Json::Number(number);
    }
    Json::String(text.to_owned())
}

/// True when two decimal texts name the same number (trailing fraction zeros aside).
fn same_decimal(a: &str, b: &str) -> bool {
    fn trim(s: &str) -> &str {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.')
        } else {
            s
        }
    }
    trim(a) == trim(b)
}

/// PostgreSQL's epoch for dates and times.
fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("2000-01-01 is a date")
}

fn timestamp(micros: i64) -> Result<NaiveDateTime, CellError> {
    epoch()
        .checked_add_signed(Duration::microseconds(micros))
        .ok_or_else(|| "a timestamp out of the range Saker can show".into())
}

fn date(days: i32) -> Json {
    match days {
        i32::MAX => Json::String("infinity".into()),
        i32::MIN => Json::String("-infinity".into()),
        days => epoch()
            .date()
            .checked_add_signed(Duration::days(days.into()))
            .map_or_else(
                || Json::String(days.to_string()),
                |d| Json::String(d.format("%Y-%m-%d").to_string()),
            ),
    }
}

fn time(micros: i64) -> Result<String, CellError> {
    let seconds = u32::try_from(micros.div_euclid(1_000_000)).ok();
    let nanos = (micros.rem_euclid(1_000_000) * 1000) as u32;
    seconds
        .and_then(|s| NaiveTime::from_num_seconds_from_midnight_opt(s, nanos))
        .map(|t| t.format("%H:%M:%S%.f").to_string())
        // 24:00:00 is a valid PostgreSQL time.
        .or_else(|| (micros == 86_400_000_000).then(|| "24:00:00".to_owned()))
        .ok_or_else(|| "a time of day out of range".into())
}

/// `timetz`: the time of day and its offset (`13:45:00+02:00`).
fn time_tz(mut raw: &[u8]) -> Result<Json, CellError> {
    let micros = i64::from_be_bytes(take(&mut raw)?);
    // PostgreSQL stores the offset in seconds west of UTC.
    let west = i32::from_be_bytes(take(&mut raw)?);
    let east = -west;
    let sign = if east < 0 { '-' } else { '+' };
    let east = east.unsigned_abs();
    Ok(Json::String(format!(
        "{}{sign}{:02}:{:02}",
        time(micros)?,
        east / 3600,
        east % 3600 / 60
    )))
}

/// `interval` as Kestra writes it: `P{years}Y{months}M{days}DT{hours}H{minutes}M{seconds}S`,
/// whole seconds.
fn interval(mut raw: &[u8]) -> Result<Json, CellError> {
    let micros = i64::from_be_bytes(take(&mut raw)?);
    let days = i32::from_be_bytes(take(&mut raw)?);
    let months = i32::from_be_bytes(take(&mut raw)?);
    let seconds = micros / 1_000_000;
    Ok(Json::String(format!(
        "P{}Y{}M{}DT{}H{}M{}S",
        months / 12,
        months % 12,
        days,
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )))
}

/// An array of `element`: a list (nested for several dimensions), empty for `{}`.
fn array(element: &Type, mut raw: &[u8], zone: chrono_tz::Tz) -> Result<Json, CellError> {
    let dimensions = i32::from_be_bytes(take(&mut raw)?);
    let _has_nulls = i32::from_be_bytes(take(&mut raw)?);
    let _element_oid = u32::from_be_bytes(take(&mut raw)?);
    let mut lengths = Vec::new();
    for _ in 0..dimensions.max(0) {
        let length = i32::from_be_bytes(take(&mut raw)?);
        let _lower_bound = i32::from_be_bytes(take(&mut raw)?);
        lengths.push(usize::try_from(length).map_err(|_| "a negative array length")?);
    }
    let total: usize = lengths.iter().product();
    if lengths.is_empty() {
        return Ok(Json::Array(Vec::new()));
    }
    let mut values = Vec::with_capacity(total.min(65_536));
    for _ in 0..total {
        let length = i32::from_be_bytes(take(&mut raw)?);
        if length < 0 {
            values.push(Json::Null);
            continue;
        }
        let length = length as usize;
        if raw.len() < length {
            return Err("an array the server sent is cut short".into());
        }
        let (value, rest) = raw.split_at(length);
        raw = rest;
        values.push(cell(element, value, zone)?);
    }
    Ok(nest(values, &lengths))
}

/// Flat values in row-major order as nested lists of these lengths.
fn nest(values: Vec<Json>, lengths: &[usize]) -> Json {
    match lengths {
        [] | [_] => Json::Array(values),
        [_, inner @ ..] => {
            let chunk: usize = inner.iter().product();
            let mut out = Vec::new();
            let mut values = values.into_iter();
            loop {
                let part: Vec<Json> = values.by_ref().take(chunk.max(1)).collect();
                if part.is_empty() {
                    break;
                }
                out.push(nest(part, inner));
            }
            Json::Array(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_bytes(weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend((digits.len() as u16).to_be_bytes());
        out.extend(weight.to_be_bytes());
        out.extend(sign.to_be_bytes());
        out.extend(dscale.to_be_bytes());
        for d in digits {
            out.extend(d.to_be_bytes());
        }
        out
    }

    #[test]
    fn numerics_read_as_their_decimal_text() {
        assert_eq!(
            numeric(&numeric_bytes(1, 0, 2, &[12, 3456, 7800])).unwrap(),
            "123456.78"
        );
        assert_eq!(
            numeric(&numeric_bytes(-2, 0x4000, 5, &[1000])).unwrap(),
            "-0.00001"
        );
        assert_eq!(numeric(&numeric_bytes(0, 0, 0, &[])).unwrap(), "0");
        assert_eq!(numeric(&numeric_bytes(0, 0xC000, 0, &[])).unwrap(), "NaN");
        assert_eq!(numeric_json("123456.78"), serde_json::json!(123456.78));
        assert_eq!(numeric_json("12.50"), serde_json::json!(12.5));
        assert_eq!(
            numeric_json("12345678901234567890.123"),
            Json::String("12345678901234567890.123".into())
        );
    }

    #[test]
    fn times_and_intervals_read_as_kestra_writes_them() {
        assert_eq!(
            time(13 * 3_600_000_000 + 1_500_000).unwrap(),
            "13:00:01.500"
        );
        let mut raw = 3_723_000_000i64.to_be_bytes().to_vec();
        raw.extend(2i32.to_be_bytes());
        raw.extend(14i32.to_be_bytes());
        assert_eq!(
            interval(&raw).unwrap(),
            Json::String("P1Y2M2DT1H2M3S".into())
        );
        assert_eq!(date(0), Json::String("2000-01-01".into()));
        assert_eq!(
            nest((1..=6).map(Json::from).collect(), &[2, 3]),
            serde_json::json!([[1, 2, 3], [4, 5, 6]])
        );
    }
}
