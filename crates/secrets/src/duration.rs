//! Durations as Kestra configuration writes them: `60s`, `5m`, `500ms`, `1h`, `7d`, and
//! ISO-8601 (`PT1M`, `P30D`, `PT1H30M`, `PT0.5S`).

use std::time::Duration;

/// A duration string that could not be read. Deliberately carries no copy of the input:
/// the caller names the configuration key, which is enough to find it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a duration: write it like 60s, 5m, 1h, 7d or PT1M")]
pub struct DurationError;

/// Parses `<integer><unit>` (units `ms`, `s`, `m`, `h`, `d`) or an ISO-8601 duration
/// (`P[nD][T[nH][nM][n[.n]S]]`, weeks as `PnW`). A bare number is refused because its unit
/// would be a guess. Surrounding whitespace is ignored.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.starts_with(['P', 'p']) {
        parse_iso(&text[1..])
    } else {
        parse_simple(text)
    }
}

/// Writes a duration in the simple form [`parse_duration`] reads back: the largest unit that
/// divides it exactly (`90s`, `5m`, `7d`, `1500ms`).
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if !millis.is_multiple_of(1000) || millis == 0 {
        return format!("{millis}ms");
    }
    let secs = millis / 1000;
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs.is_multiple_of(size) {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

/// Writes a duration as ISO-8601 (`P90D`, `PT1H30M`, `P1DT2H`, `PT0.5S`, `PT0S`), the form
/// Kestra's API uses; [`parse_duration`] reads it back. Millisecond precision, like the parser:
/// anything finer is dropped.
pub fn format_iso_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    let (days, rest) = (millis / 86_400_000, millis % 86_400_000);
    let (hours, rest) = (rest / 3_600_000, rest % 3_600_000);
    let (minutes, rest) = (rest / 60_000, rest % 60_000);
    let (seconds, fraction) = (rest / 1_000, rest % 1_000);
    let mut text = String::from("P");
    if days > 0 {
        text.push_str(&format!("{days}D"));
    }
    if hours > 0 || minutes > 0 || seconds > 0 || fraction > 0 || days == 0 {
        text.push('T');
        if hours > 0 {
            text.push_str(&format!("{hours}H"));
        }
        if minutes > 0 {
            text.push_str(&format!("{minutes}M"));
        }
        if fraction > 0 {
            let fraction = format!("{fraction:03}");
            text.push_str(&format!("{seconds}.{}S", fraction.trim_end_matches('0')));
        } else if seconds > 0 || (days == 0 && hours == 0 && minutes == 0) {
            text.push_str(&format!("{seconds}S"));
        }
    }
    text
}

fn parse_simple(text: &str) -> Result<Duration, DurationError> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or(DurationError)?;
    let (number, unit) = text.split_at(digits_end);
    let number: u64 = number.parse().map_err(|_| DurationError)?;
    let millis_per_unit: u64 = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(DurationError),
    };
    number
        .checked_mul(millis_per_unit)
        .map(Duration::from_millis)
        .ok_or(DurationError)
}

/// The part of an ISO-8601 duration after `P`.
fn parse_iso(rest: &str) -> Result<Duration, DurationError> {
    let rest = rest.to_ascii_uppercase();
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return Err(DurationError),
        None => (rest.as_str(), None),
    };
    if date.is_empty() && time.is_none() {
        return Err(DurationError);
    }
    let mut total = Duration::ZERO;
    for (number, unit) in iso_components(date)? {
        let days = match unit {
            'W' => 7,
            'D' => 1,
            _ => return Err(DurationError),
        };
        let whole: u64 = number.parse().map_err(|_| DurationError)?;
        let secs = whole.checked_mul(days * 86_400).ok_or(DurationError)?;
        total = total
            .checked_add(Duration::from_secs(secs))
            .ok_or(DurationError)?;
    }
    for (number, unit) in iso_components(time.unwrap_or(""))? {
        let part = match unit {
            'H' | 'M' => {
                let whole: u64 = number.parse().map_err(|_| DurationError)?;
                let size = if unit == 'H' { 3_600 } else { 60 };
                Duration::from_secs(whole.checked_mul(size).ok_or(DurationError)?)
            }
            'S' => parse_seconds(number)?,
            _ => return Err(DurationError),
        };
        total = total.checked_add(part).ok_or(DurationError)?;
    }
    Ok(total)
}

/// Splits `1H30M` into `[("1", 'H'), ("30", 'M')]`, rejecting repeated or misordered units
/// only as far as needed: each number must be followed by a unit letter.
fn iso_components(text: &str) -> Result<Vec<(&str, char)>, DurationError> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut seen = String::new();
    for (index, c) in text.char_indices() {
        if c.is_ascii_digit() || c == '.' {
            continue;
        }
        let number = &text[start..index];
        if number.is_empty() || seen.contains(c) {
            return Err(DurationError);
        }
        seen.push(c);
        parts.push((number, c));
        start = index + c.len_utf8();
    }
    if start != text.len() {
        return Err(DurationError);
    }
    Ok(parts)
}

/// `30`, `0.5`, `1.250` seconds, to millisecond precision.
fn parse_seconds(text: &str) -> Result<Duration, DurationError> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DurationError);
    }
    let secs: u64 = whole.parse().map_err(|_| DurationError)?;
    let millis: u64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<3}")
            .parse()
            .map_err(|_| DurationError)?
    };
    Ok(Duration::from_secs(secs) + Duration::from_millis(millis))
}

/// Serde helpers for `Option<Duration>` fields written as duration strings.
pub mod option_serde {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    /// Serializes as [`format_duration`](super::format_duration) text.
    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(duration) => s.serialize_some(&super::format_duration(*duration)),
            None => s.serialize_none(),
        }
    }

    /// Deserializes from [`parse_duration`](super::parse_duration) text.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| super::parse_duration(&text).map_err(D::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_forms() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration(" 7d "), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn iso_forms() {
        assert_eq!(parse_duration("PT1M"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("P30D"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("PT1H30M"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("PT0.5S"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("pt45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("P1W"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(
            parse_duration("P1DT2H"),
            Ok(Duration::from_secs(86_400 + 7_200))
        );
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "60",
            "s",
            "60 seconds",
            "1.5s",
            "-1s",
            "5M5",
            "P",
            "PT",
            "PT1",
            "P1H",
            "PT1D",
            "PT1M1M",
            "PT1.2345S",
            "PTxS",
            "99999999999999999999s",
            "1y",
        ] {
            assert_eq!(parse_duration(bad), Err(DurationError), "{bad:?}");
        }
    }

    #[test]
    fn format_round_trips() {
        for secs in [1, 59, 60, 90, 3600, 5400, 86_400, 7 * 86_400] {
            let duration = Duration::from_secs(secs);
            assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
        }
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(format_duration(Duration::from_secs(300)), "5m");
    }

    #[test]
    fn iso_format_round_trips() {
        let cases = [
            (Duration::ZERO, "PT0S"),
            (Duration::from_millis(500), "PT0.5S"),
            (Duration::from_millis(1_250), "PT1.25S"),
            (Duration::from_secs(45), "PT45S"),
            (Duration::from_secs(60), "PT1M"),
            (Duration::from_secs(5_400), "PT1H30M"),
            (Duration::from_secs(3_601), "PT1H1S"),
            (Duration::from_secs(86_400), "P1D"),
            (Duration::from_secs(90 * 86_400), "P90D"),
            (Duration::from_secs(86_400 + 7_200), "P1DT2H"),
            (Duration::from_millis(86_400_000 + 1), "P1DT0.001S"),
        ];
        for (duration, text) in cases {
            assert_eq!(format_iso_duration(duration), text);
            assert_eq!(parse_duration(text), Ok(duration), "{text}");
        }
        // Finer than a millisecond is dropped, as the parser cannot write it.
        assert_eq!(
            format_iso_duration(Duration::from_micros(1_500)),
            "PT0.001S"
        );
    }
}
