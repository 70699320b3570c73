//! Durations as flows and configuration write them.
//!
//! Flows use ISO-8601 (`PT15S`, `PT1H30M`, `P7D`), parsed the way Kestra's `Duration.parse`
//! does: case-insensitive (Kestra's own tests write `PT0.25s`), days as the largest unit,
//! a fraction on any unit, `,` or `.` as the decimal mark. Years, months and weeks are refused
//! because they have no fixed length. Configuration uses the short form (`60s`, `5m`, `7d`,
//! `500ms`, also `1h30m`). Negative durations are refused: nothing in a flow waits for less than
//! zero.

use std::time::Duration;

const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("invalid duration '{input}': {reason}")]
    Invalid { input: String, reason: String },
}

fn invalid(input: &str, reason: impl Into<String>) -> DurationError {
    DurationError::Invalid {
        input: input.to_owned(),
        reason: reason.into(),
    }
}

/// Parses either form: ISO-8601 when the text starts with `P` (after an optional sign),
/// the short form otherwise.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let t = text.trim();
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if unsigned.starts_with(['P', 'p']) {
        parse_iso8601(text)
    } else {
        parse_short(text)
    }
}

/// Parses an ISO-8601 duration such as `PT15S`, `PT0.25s`, `P7D` or `P1DT2H`.
pub fn parse_iso8601(text: &str) -> Result<Duration, DurationError> {
    let input = text.trim();
    if input.is_empty() {
        return Err(DurationError::Empty);
    }
    let rest = match input.as_bytes()[0] {
        b'-' => return Err(invalid(input, "negative durations are not allowed")),
        b'+' => &input[1..],
        _ => input,
    };
    let Some(rest) = rest.strip_prefix(['P', 'p']) else {
        return Err(invalid(
            input,
            "an ISO-8601 duration starts with 'P', as in PT15S",
        ));
    };
    let (date, time) = match rest.find(['T', 't']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let mut nanos: u128 = 0;
    for (number, unit) in components(input, date)? {
        let per_unit = match unit.to_ascii_uppercase() {
            'D' => 86_400 * NANOS_PER_SECOND,
            'Y' | 'M' | 'W' => {
                return Err(invalid(
                    input,
                    "years, months and weeks have no fixed length; use days (P30D) or hours",
                ));
            }
            _ => return Err(invalid(input, format!("unknown unit '{unit}' before 'T'"))),
        };
        nanos = add(input, nanos, amount(input, number, per_unit)?)?;
    }
    if let Some(time) = time {
        if time.is_empty() {
            return Err(invalid(input, "nothing after 'T'"));
        }
        let mut last_rank = 0;
        for (number, unit) in components(input, time)? {
            let (rank, per_unit) = match unit.to_ascii_uppercase() {
                'H' => (1, 3_600 * NANOS_PER_SECOND),
                'M' => (2, 60 * NANOS_PER_SECOND),
                'S' => (3, NANOS_PER_SECOND),
                _ => return Err(invalid(input, format!("unknown unit '{unit}' after 'T'"))),
            };
            if rank <= last_rank {
                return Err(invalid(
                    input,
                    "units must appear once each, in the order H, M, S",
                ));
            }
            last_rank = rank;
            nanos = add(input, nanos, amount(input, number, per_unit)?)?;
        }
    } else if date.is_empty() {
        return Err(invalid(input, "no amount after 'P'"));
    }
    to_duration(input, nanos)
}

/// Parses the short form used in configuration: `60s`, `5m`, `7d`, `500ms`, `1h30m`, `1.5s`.
pub fn parse_short(text: &str) -> Result<Duration, DurationError> {
    let input = text.trim();
    if input.is_empty() {
        return Err(DurationError::Empty);
    }
    if input.starts_with('-') {
        return Err(invalid(input, "negative durations are not allowed"));
    }
    let mut rest = input;
    let mut nanos: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return Err(invalid(
                input,
                "expected a number followed by a unit (ms, s, m, h, d), as in 60s or 5m",
            ));
        }
        let (number, tail) = rest.split_at(number_len);
        let unit_len = tail
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let per_unit = match unit {
            "ms" => NANOS_PER_SECOND / 1_000,
            "s" => NANOS_PER_SECOND,
            "m" => 60 * NANOS_PER_SECOND,
            "h" => 3_600 * NANOS_PER_SECOND,
            "d" => 86_400 * NANOS_PER_SECOND,
            "" => {
                return Err(invalid(
                    input,
                    format!("'{number}' has no unit (ms, s, m, h, d)"),
                ));
            }
            other => {
                return Err(invalid(
                    input,
                    format!("unknown unit '{other}' (use ms, s, m, h or d)"),
                ));
            }
        };
        nanos = add(input, nanos, amount(input, number, per_unit)?)?;
        rest = tail;
    }
    to_duration(input, nanos)
}

/// Writes a duration the way Java's `Duration.toString` does (`PT8H6M12.345S`, `PT0S`), so
/// that a DURATION input renders in templates as it would in Kestra.
pub fn format_iso8601(duration: Duration) -> String {
    if duration.is_zero() {
        return "PT0S".to_owned();
    }
    let total = duration.as_secs();
    let (hours, minutes, seconds) = (total / 3_600, (total % 3_600) / 60, total % 60);
    let nanos = duration.subsec_nanos();
    let mut out = String::from("PT");
    if hours > 0 {
        out.push_str(&format!("{hours}H"));
    }
    if minutes > 0 {
        out.push_str(&format!("{minutes}M"));
    }
    if seconds > 0 || nanos > 0 {
        out.push_str(&seconds.to_string());
        if nanos > 0 {
            let fraction = format!("{nanos:09}");
            out.push('.');
            out.push_str(fraction.trim_end_matches('0'));
        }
        out.push('S');
    }
    out
}

/// Splits `12D` / `1H30M0.5S` into (number, unit) pairs.
fn components<'a>(input: &str, mut part: &'a str) -> Result<Vec<(&'a str, char)>, DurationError> {
    let mut out = Vec::new();
    while !part.is_empty() {
        let Some(unit_at) = part.find(|c: char| c.is_ascii_alphabetic()) else {
            return Err(invalid(input, format!("'{part}' has no unit")));
        };
        let number = &part[..unit_at];
        if number.is_empty() {
            return Err(invalid(input, "a unit without an amount"));
        }
        if number.starts_with('-') {
            return Err(invalid(input, "negative durations are not allowed"));
        }
        let unit = part[unit_at..].chars().next().unwrap_or('?');
        out.push((number.strip_prefix('+').unwrap_or(number), unit));
        part = &part[unit_at + unit.len_utf8()..];
    }
    Ok(out)
}

/// `number` (digits with an optional fraction after `.` or `,`) times `per_unit` nanoseconds.
fn amount(input: &str, number: &str, per_unit: u128) -> Result<u128, DurationError> {
    let (whole, fraction) = match number.split_once(['.', ',']) {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return Err(invalid(input, format!("'{number}' is not a number")));
    }
    if fraction.len() > 9 {
        return Err(invalid(input, "at most 9 decimal places"));
    }
    let too_long = || invalid(input, "too long");
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_long())?
    };
    let mut nanos = whole.checked_mul(per_unit).ok_or_else(too_long)?;
    if !fraction.is_empty() {
        let scale = 10u128.pow(fraction.len() as u32);
        let value: u128 = fraction.parse().map_err(|_| too_long())?;
        nanos = add(input, nanos, value * per_unit / scale)?;
    }
    Ok(nanos)
}

fn add(input: &str, a: u128, b: u128) -> Result<u128, DurationError> {
    a.checked_add(b).ok_or_else(|| invalid(input, "too long"))
}

fn to_duration(input: &str, nanos: u128) -> Result<Duration, DurationError> {
    let secs = u64::try_from(nanos / NANOS_PER_SECOND).map_err(|_| invalid(input, "too long"))?;
    // The remainder is below 10^9, so it fits in u32.
    let sub = (nanos % NANOS_PER_SECOND) as u32;
    Ok(Duration::new(secs, sub))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn iso_forms_kestra_uses() {
        assert_eq!(parse_iso8601("PT15S"), Ok(ms(15_000)));
        assert_eq!(parse_iso8601("PT0.25s"), Ok(ms(250)));
        assert_eq!(parse_iso8601("PT0.100S"), Ok(ms(100)));
        assert_eq!(parse_iso8601("P7D"), Ok(ms(7 * 86_400_000)));
        assert_eq!(parse_iso8601("PT1H30M"), Ok(ms(5_400_000)));
        assert_eq!(parse_iso8601("P1DT2H"), Ok(ms(93_600_000)));
        assert_eq!(parse_iso8601("pt5m"), Ok(ms(300_000)));
        assert_eq!(parse_iso8601("PT0,5S"), Ok(ms(500)));
        assert_eq!(parse_iso8601("+PT1S"), Ok(ms(1_000)));
        assert_eq!(parse_iso8601("PT0.000000001S"), Ok(Duration::from_nanos(1)));
    }

    #[test]
    fn iso_errors_explain_themselves() {
        for (text, fragment) in [
            ("15S", "starts with 'P'"),
            ("P", "no amount"),
            ("PT", "nothing after 'T'"),
            ("P1M", "no fixed length"),
            ("P2W", "no fixed length"),
            ("PT5X", "unknown unit 'X'"),
            ("PT1S1M", "order"),
            ("PTS", "without an amount"),
            ("-PT1S", "negative"),
            ("PT-1S", "negative"),
            ("PT1.2.3S", "not a number"),
            ("PT0.0000000001S", "9 decimal"),
            ("PT99999999999999999999999999999999999999999H", "too long"),
        ] {
            let err = parse_iso8601(text).unwrap_err().to_string();
            assert!(err.contains(fragment), "{text}: {err}");
        }
        assert_eq!(parse_iso8601("  "), Err(DurationError::Empty));
    }

    #[test]
    fn short_forms() {
        assert_eq!(parse_short("60s"), Ok(ms(60_000)));
        assert_eq!(parse_short("5m"), Ok(ms(300_000)));
        assert_eq!(parse_short("7d"), Ok(ms(7 * 86_400_000)));
        assert_eq!(parse_short("500ms"), Ok(ms(500)));
        assert_eq!(parse_short("1h30m"), Ok(ms(5_400_000)));
        assert_eq!(parse_short("1.5s"), Ok(ms(1_500)));
        for (text, fragment) in [
            ("60", "no unit"),
            ("5x", "unknown unit 'x'"),
            ("s", "expected a number"),
            ("-5s", "negative"),
        ] {
            let err = parse_short(text).unwrap_err().to_string();
            assert!(err.contains(fragment), "{text}: {err}");
        }
    }

    #[test]
    fn either_form() {
        assert_eq!(parse("PT2S"), Ok(ms(2_000)));
        assert_eq!(parse("2s"), Ok(ms(2_000)));
        assert!(parse("-PT2S").is_err());
    }

    #[test]
    fn formats_like_java() {
        assert_eq!(format_iso8601(Duration::ZERO), "PT0S");
        assert_eq!(format_iso8601(ms(250)), "PT0.25S");
        assert_eq!(format_iso8601(ms(5_400_000)), "PT1H30M");
        assert_eq!(format_iso8601(ms(7 * 86_400_000)), "PT168H");
        assert_eq!(format_iso8601(ms(29_172_345)), "PT8H6M12.345S");
        for d in [ms(1), ms(61_001), Duration::from_nanos(123)] {
            assert_eq!(parse_iso8601(&format_iso8601(d)), Ok(d));
        }
    }
}
