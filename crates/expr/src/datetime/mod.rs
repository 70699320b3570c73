//! Dates as Kestra's date filters handle them: Java `DateTimeFormatter` patterns
//! (`yyyy-MM-dd'T'HH:mm:ss`), Kestra's named formats (`iso`, `sql`, ...), time zones by
//! IANA name or offset, and the ISO strings `ZonedDateTime.parse` accepts.
//!
//! Without a `timeZone` argument Kestra uses the JVM's default zone; a server runs in UTC, and
//! so does Saker.

use std::fmt::Write as _;

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, Months, NaiveDateTime, Offset, TimeZone as _,
    Timelike, Utc,
};

use crate::print::write_offset;

mod parse;
mod pattern;

pub(crate) use parse::{parse_iso, parse_with};
pub(crate) use pattern::format_pattern;

/// A time zone: an IANA zone from the built-in database, or a fixed offset.
#[derive(Clone, Debug)]
pub(crate) struct Zone {
    tz: Option<jiff::tz::TimeZone>,
    fixed: FixedOffset,
    id: String,
}

pub(super) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
pub(super) const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

impl Zone {
    pub fn utc() -> Zone {
        Zone {
            tz: None,
            fixed: Utc.fix(),
            id: "UTC".into(),
        }
    }

    /// `UTC`, `Z`, `+02:00`, `-0500`, `GMT+2`, `UTC+01:00`, or an IANA name.
    pub fn parse(name: &str) -> Result<Zone, String> {
        let n = name.trim();
        if n.eq_ignore_ascii_case("utc") || n == "Z" || n == "GMT" || n == "Etc/UTC" {
            return Ok(Zone::utc());
        }
        let offset_part = n
            .strip_prefix("UTC")
            .or_else(|| n.strip_prefix("GMT"))
            .or_else(|| n.strip_prefix("UT"))
            .unwrap_or(n);
        if offset_part.starts_with(['+', '-'])
            && let Some((secs, rest)) = parse_offset_text(offset_part)
            && rest.is_empty()
        {
            let fixed = FixedOffset::east_opt(secs).ok_or_else(|| bad_zone(name))?;
            let mut id = String::new();
            write_offset(&mut id, secs, true);
            return Ok(Zone {
                tz: None,
                fixed,
                id,
            });
        }
        let tz = jiff::tz::TimeZone::get(n).map_err(|_| bad_zone(name))?;
        Ok(Zone {
            tz: Some(tz),
            fixed: Utc.fix(),
            id: n.to_string(),
        })
    }

    /// The offset in force at an instant.
    pub fn offset_at(&self, utc: &DateTime<Utc>) -> FixedOffset {
        match &self.tz {
            None => self.fixed,
            Some(tz) => {
                let ts =
                    jiff::Timestamp::new(utc.timestamp(), 0).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
                FixedOffset::east_opt(tz.to_offset(ts).seconds()).unwrap_or(self.fixed)
            }
        }
    }

    /// A wall-clock time in this zone (the earlier one when a DST change makes it ambiguous).
    pub fn localize(&self, local: &NaiveDateTime) -> Result<DateTime<FixedOffset>, String> {
        let offset = match &self.tz {
            None => self.fixed,
            Some(tz) => {
                let civil = jiff::civil::DateTime::new(
                    i16::try_from(local.year()).map_err(|_| "year out of range".to_string())?,
                    local.month() as i8,
                    local.day() as i8,
                    local.hour() as i8,
                    local.minute() as i8,
                    local.second() as i8,
                    0,
                )
                .map_err(|e| e.to_string())?;
                let zoned = civil.to_zoned(tz.clone()).map_err(|e| e.to_string())?;
                FixedOffset::east_opt(zoned.offset().seconds()).unwrap_or(self.fixed)
            }
        };
        offset
            .from_local_datetime(local)
            .earliest()
            .ok_or_else(|| "date out of range".to_string())
    }

    /// `d` moved to this zone, same instant.
    pub fn convert(&self, d: &DateTime<FixedOffset>) -> DateTime<FixedOffset> {
        let utc = d.with_timezone(&Utc);
        utc.with_timezone(&self.offset_at(&utc))
    }

    fn abbreviation(&self, d: &DateTime<FixedOffset>) -> String {
        match &self.tz {
            Some(tz) => {
                let ts =
                    jiff::Timestamp::new(d.timestamp(), 0).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
                tz.to_offset_info(ts).abbreviation().to_string()
            }
            None => self.id.clone(),
        }
    }
}

fn bad_zone(name: &str) -> String {
    format!("unknown time zone '{name}'")
}

/// Parses `+HH`, `+HHMM`, `+HH:MM`, `+HH:MM:SS`; returns seconds east and the rest.
pub(super) fn parse_offset_text(s: &str) -> Option<(i32, &str)> {
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let b = s.as_bytes();
    let digits = |i: usize, n: usize| -> Option<i32> {
        let t = s.get(i..i + n)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let mut i = 1;
    let hh = if b.get(2).is_some_and(u8::is_ascii_digit) {
        i += 2;
        digits(1, 2)?
    } else {
        i += 1;
        digits(1, 1)?
    };
    let mut secs = hh * 3600;
    for unit in [60, 1] {
        let colon = b.get(i) == Some(&b':');
        let j = i + usize::from(colon);
        match digits(j, 2) {
            Some(v) => {
                secs += v * unit;
                i = j + 2;
            }
            None => break,
        }
    }
    (hh <= 18).then_some((sign * secs, &s[i..]))
}

/// Kestra's named formats, as Java patterns (the few that patterns cannot express are handled
/// by [`format`] directly).
pub(super) fn named_format(name: &str) -> Option<&'static str> {
    Some(match name {
        "iso" => "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
        "iso_sec" => "yyyy-MM-dd'T'HH:mm:ssXXX",
        "sql" => "yyyy-MM-dd HH:mm:ss.SSSSSS",
        "sql_seq" => "yyyy-MM-dd HH:mm:ss",
        "iso_local_date" => "yyyy-MM-dd",
        "iso_ordinal_date" => "yyyy-DDDXXX",
        "iso_week_date" => "YYYY-'W'ww-eXXX",
        "rfc_1123_date_time" => "EEE, d MMM yyyy HH:mm:ss 'GMT'",
        "full" => "EEEE, MMMM d, y 'at' h:mm:ss a zzzz",
        "long" => "MMMM d, y 'at' h:mm:ss a z",
        "medium" => "MMM d, y, h:mm:ss a",
        "short" => "M/d/yy, h:mm a",
        _ => return None,
    })
}

/// Formats `d` (already in `zone`) with a named format or a Java pattern.
pub(crate) fn format(
    d: &DateTime<FixedOffset>,
    format: &str,
    zone: &Zone,
) -> Result<String, String> {
    let mut out = String::new();
    let time = |out: &mut String| {
        let _ = write!(out, "{:02}:{:02}:{:02}", d.hour(), d.minute(), d.second());
        let nanos = d.nanosecond() % 1_000_000_000;
        if nanos != 0 {
            let frac = format!("{nanos:09}");
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
    };
    let offset = |out: &mut String| write_offset(out, d.offset().local_minus_utc(), true);
    let zone_suffix = |out: &mut String| {
        if zone.tz.is_some() || zone.id == "UTC" {
            let _ = write!(out, "[{}]", zone.id);
        }
    };
    match format {
        "iso_date_time" | "iso_zoned_date_time" => {
            let _ = write!(out, "{}T", d.format("%Y-%m-%d"));
            time(&mut out);
            offset(&mut out);
            zone_suffix(&mut out);
        }
        "iso_local_date_time" => {
            let _ = write!(out, "{}T", d.format("%Y-%m-%d"));
            time(&mut out);
        }
        "iso_offset_date_time" => {
            let _ = write!(out, "{}T", d.format("%Y-%m-%d"));
            time(&mut out);
            offset(&mut out);
        }
        "iso_date" => {
            let _ = write!(out, "{}", d.format("%Y-%m-%d"));
            offset(&mut out);
        }
        "iso_time" | "iso_offset_time" => {
            time(&mut out);
            offset(&mut out);
        }
        "iso_local_time" => time(&mut out),
        "iso_instant" => {
            crate::print::write_datetime(&mut out, &d.with_timezone(&Utc).fixed_offset())
        }
        "rfc_1123_date_time" if d.offset().local_minus_utc() != 0 => {
            out = format_pattern(d, "EEE, d MMM yyyy HH:mm:ss Z", zone)?;
        }
        other => out = format_pattern(d, named_format(other).unwrap_or(other), zone)?,
    }
    Ok(out)
}

/// `ChronoUnit` names, as `dateAdd` takes them.
pub(crate) fn add(
    d: &DateTime<FixedOffset>,
    amount: i64,
    unit: &str,
) -> Result<DateTime<FixedOffset>, String> {
    let overflow = || "date out of range".to_string();
    let months = |m: i64| -> Result<DateTime<FixedOffset>, String> {
        let n = Months::new(u32::try_from(m.unsigned_abs()).map_err(|_| overflow())?);
        if m >= 0 {
            d.checked_add_months(n)
        } else {
            d.checked_sub_months(n)
        }
        .ok_or_else(overflow)
    };
    let dur = |nanos_per: i64| -> Result<DateTime<FixedOffset>, String> {
        let secs_per = nanos_per / 1_000_000_000;
        let duration = if secs_per > 0 {
            Duration::try_seconds(amount.checked_mul(secs_per).ok_or_else(overflow)?)
        } else {
            Some(Duration::nanoseconds(
                amount.checked_mul(nanos_per).ok_or_else(overflow)?,
            ))
        };
        duration
            .and_then(|x| d.checked_add_signed(x))
            .ok_or_else(overflow)
    };
    match unit {
        "NANOS" => dur(1),
        "MICROS" => dur(1_000),
        "MILLIS" => dur(1_000_000),
        "SECONDS" => dur(1_000_000_000),
        "MINUTES" => dur(60_000_000_000),
        "HOURS" => dur(3_600_000_000_000),
        "HALF_DAYS" => dur(43_200_000_000_000),
        "DAYS" => dur(86_400_000_000_000),
        "WEEKS" => dur(604_800_000_000_000),
        "MONTHS" => months(amount),
        "YEARS" => months(amount.checked_mul(12).ok_or_else(overflow)?),
        "DECADES" => months(amount.checked_mul(120).ok_or_else(overflow)?),
        "CENTURIES" => months(amount.checked_mul(1200).ok_or_else(overflow)?),
        "MILLENNIA" => months(amount.checked_mul(12_000).ok_or_else(overflow)?),
        other => Err(format!(
            "unknown unit '{other}', expected one of NANOS, MICROS, MILLIS, SECONDS, MINUTES, HOURS, HALF_DAYS, DAYS, WEEKS, MONTHS, YEARS, DECADES, CENTURIES, MILLENNIA"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).expect("valid test date")
    }

    #[test]
    fn java_patterns_format() {
        let d = at("2026-11-22T09:05:03.123456Z");
        let utc = Zone::utc();
        let f = |p: &str| format_pattern(&d, p, &utc).expect("formats");
        assert_eq!(f("yyyy-MM-dd'T'HH:mm:ss"), "2026-11-22T09:05:03");
        assert_eq!(f("dd/MM/yy h:mm a"), "22/11/26 9:05 AM");
        assert_eq!(f("EEEE d MMMM"), "Sunday 22 November");
        assert_eq!(f("EEE, MMM"), "Sun, Nov");
        assert_eq!(f("SSS XXX"), "123 Z");
        assert_eq!(f("'it''s' HH"), "it's 09");
        assert!(format_pattern(&d, "yyyy-MM-dd 'x", &utc).is_err());
        assert!(format_pattern(&d, "bb", &utc).is_err());
    }

    #[test]
    fn named_formats_and_zones() {
        let d = at("2026-11-22T09:05:03.5Z");
        let paris = Zone::parse("Europe/Paris").expect("zone");
        let local = paris.convert(&d);
        assert_eq!(
            format(&local, "iso", &paris).unwrap(),
            "2026-11-22T10:05:03.500000+01:00"
        );
        assert_eq!(
            format(&d, "sql_seq", &Zone::utc()).unwrap(),
            "2026-11-22 09:05:03"
        );
        let plus2 = Zone::parse("+02:00").unwrap();
        assert_eq!(
            format(&plus2.convert(&d), "HH:mm XXX", &plus2).unwrap(),
            "11:05 +02:00"
        );
        assert!(Zone::parse("Mars/Olympus").is_err());
    }

    #[test]
    fn parsing_iso_and_patterns() {
        let utc = Zone::utc();
        assert_eq!(
            parse_iso("2026-11-22T10:00:00Z", &utc).unwrap(),
            at("2026-11-22T10:00:00Z")
        );
        assert_eq!(
            parse_iso("2026-11-22T10:00", &utc).unwrap(),
            at("2026-11-22T10:00:00Z")
        );
        assert_eq!(
            parse_iso("2026-11-22", &utc).unwrap(),
            at("2026-11-22T00:00:00Z")
        );
        assert_eq!(
            parse_iso("2026-11-22T10:00:00.5+01:00[Europe/Paris]", &utc).unwrap(),
            at("2026-11-22T09:00:00.5Z")
        );
        assert!(parse_iso("22/11/2026", &utc).is_err());
        assert_eq!(
            parse_with("22/11/2026 10:30", "dd/MM/yyyy HH:mm", &utc).unwrap(),
            at("2026-11-22T10:30:00Z")
        );
        assert!(parse_with("22-11-2026", "dd/MM/yyyy", &utc).is_err());
    }

    #[test]
    fn adding_units() {
        let d = at("2026-01-31T10:00:00Z");
        assert_eq!(add(&d, 1, "MONTHS").unwrap(), at("2026-02-28T10:00:00Z"));
        assert_eq!(add(&d, -1, "DAYS").unwrap(), at("2026-01-30T10:00:00Z"));
        assert_eq!(add(&d, 90, "MINUTES").unwrap(), at("2026-01-31T11:30:00Z"));
        assert!(add(&d, 1, "FORTNIGHTS").is_err());
        assert!(add(&d, i64::MAX, "YEARS").is_err());
    }
}
