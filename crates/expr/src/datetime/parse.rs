//! Reading dates: with a Java pattern, or in the ISO forms `ZonedDateTime.parse` and its
//! fallbacks accept.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone as _};

use super::pattern::{Seg, segments};
use super::{DAYS, MONTHS, Zone, named_format, parse_offset_text};

/// Fields read from a string by a pattern.
#[derive(Default)]
struct Parsed {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    hour: Option<u32>,
    minute: u32,
    second: u32,
    nano: u32,
    pm: Option<bool>,
    offset: Option<i32>,
    zone: Option<Zone>,
}

/// Parses `text` with a Java pattern (or named format) into a datetime. Missing zone: `zone`;
/// missing time: start of day.
pub(crate) fn parse_with(
    text: &str,
    pattern: &str,
    zone: &Zone,
) -> Result<DateTime<FixedOffset>, String> {
    let pattern = named_format(pattern).unwrap_or(pattern);
    let mut p = Parsed::default();
    let mut rest = text;
    let fail = || format!("does not match the pattern '{pattern}'");
    for seg in segments(pattern)? {
        match seg {
            Seg::Lit(t) => rest = rest.strip_prefix(t.as_ref()).ok_or_else(fail)?,
            Seg::Field(c, n) => rest = parse_field(&mut p, rest, c, n).ok_or_else(fail)?,
        }
    }
    if !rest.is_empty() {
        return Err(fail());
    }
    build(p, zone).ok_or_else(|| format!("is incomplete or invalid for the pattern '{pattern}'"))
}

fn take_digits(s: &str, n: usize, greedy: bool) -> Option<(i64, &str)> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) if greedy => (true, b),
        _ => (false, s),
    };
    let avail = body.bytes().take_while(u8::is_ascii_digit).count();
    let len = if greedy { avail.min(10) } else { n };
    if len == 0 || avail < len {
        return None;
    }
    let v: i64 = body[..len].parse().ok()?;
    Some((if neg { -v } else { v }, &body[len..]))
}

fn take_name<'s>(s: &'s str, names: &[&str]) -> Option<(usize, &'s str)> {
    for (i, name) in names.iter().enumerate() {
        for cand in [*name, &name[..3]] {
            if let Some(head) = s.get(..cand.len())
                && head.eq_ignore_ascii_case(cand)
            {
                return Some((i, &s[cand.len()..]));
            }
        }
    }
    None
}

fn parse_field<'s>(p: &mut Parsed, s: &'s str, c: char, n: usize) -> Option<&'s str> {
    let num = |s: &'s str| take_digits(s, n, n == 1);
    Some(match c {
        'y' | 'u' | 'Y' => {
            let (v, r) = if n == 2 {
                take_digits(s, 2, false)?
            } else {
                take_digits(s, n, n != 4)?
            };
            p.year = Some(i32::try_from(if n == 2 { 2000 + v } else { v }).ok()?);
            r
        }
        'M' | 'L' if n >= 3 => {
            let (i, r) = take_name(s, &MONTHS)?;
            p.month = Some(i as u32 + 1);
            r
        }
        'M' | 'L' => {
            let (v, r) = num(s)?;
            p.month = Some(u32::try_from(v).ok()?);
            r
        }
        'd' => {
            let (v, r) = num(s)?;
            p.day = Some(u32::try_from(v).ok()?);
            r
        }
        'E' => take_name(s, &DAYS)?.1,
        'H' | 'k' => {
            let (v, r) = num(s)?;
            p.hour = Some(u32::try_from(v % 24).ok()?);
            r
        }
        'h' | 'K' => {
            let (v, r) = num(s)?;
            p.hour = Some(u32::try_from(v % 12).ok()?);
            p.pm.get_or_insert(false);
            r
        }
        'a' => {
            let up = s.get(..2)?.to_ascii_uppercase();
            p.pm = Some(match up.as_str() {
                "AM" => false,
                "PM" => true,
                _ => return None,
            });
            &s[2..]
        }
        'm' => {
            let (v, r) = num(s)?;
            p.minute = u32::try_from(v).ok()?;
            r
        }
        's' => {
            let (v, r) = num(s)?;
            p.second = u32::try_from(v).ok()?;
            r
        }
        'S' => {
            let digits = s.get(..n)?;
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let padded = format!("{digits:0<9}");
            p.nano = padded.get(..9)?.parse().ok()?;
            &s[n..]
        }
        'X' | 'x' | 'Z' => {
            if let Some(r) = s.strip_prefix('Z') {
                p.offset = Some(0);
                r
            } else {
                let body = s.strip_prefix("GMT").unwrap_or(s);
                let (secs, r) = parse_offset_text(body)?;
                p.offset = Some(secs);
                r
            }
        }
        'V' | 'z' => {
            let len = s
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || "/_+-".contains(ch)))
                .unwrap_or(s.len());
            p.zone = Some(Zone::parse(&s[..len]).ok()?);
            &s[len..]
        }
        _ => return None,
    })
}

fn build(p: Parsed, zone: &Zone) -> Option<DateTime<FixedOffset>> {
    let date = NaiveDate::from_ymd_opt(p.year?, p.month?, p.day?)?;
    let hour = match (p.hour, p.pm) {
        (Some(h), Some(true)) => h + 12,
        (Some(h), _) => h,
        (None, _) => 0,
    };
    let time = NaiveTime::from_hms_nano_opt(hour, p.minute, p.second, p.nano)?;
    let local = date.and_time(time);
    match (p.offset, p.zone) {
        (Some(secs), _) => FixedOffset::east_opt(secs)?
            .from_local_datetime(&local)
            .single(),
        (None, Some(z)) => z.localize(&local).ok(),
        (None, None) => zone.localize(&local).ok(),
    }
}

/// `ZonedDateTime.parse`, then `LocalDateTime.parse`, then `LocalDate.parse`, as Kestra's
/// date filters try them.
pub(crate) fn parse_iso(text: &str, zone: &Zone) -> Result<DateTime<FixedOffset>, String> {
    let fail = || "is not an ISO-8601 date".to_string();
    let s = text.trim();
    // A trailing `[Europe/Paris]` names the zone; the offset before it fixes the instant.
    let (s, bracket_zone) = match s.strip_suffix(']').and_then(|x| x.rsplit_once('[')) {
        Some((head, z)) => (head, Some(Zone::parse(z)?)),
        None => (s, None),
    };
    let date_len = if s.len() >= 10 {
        10
    } else {
        return Err(fail());
    };
    let date = NaiveDate::parse_from_str(s.get(..date_len).ok_or_else(fail)?, "%Y-%m-%d")
        .map_err(|_| fail())?;
    let rest = &s[date_len..];
    if rest.is_empty() {
        return zone.localize(&date.and_time(NaiveTime::MIN));
    }
    let rest = rest.strip_prefix(['T', 't', ' ']).ok_or_else(fail)?;
    let tz_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (time_text, offset_text) = rest.split_at(tz_at);
    let time = ["%H:%M:%S%.f", "%H:%M"]
        .iter()
        .find_map(|f| NaiveTime::parse_from_str(time_text, f).ok())
        .ok_or_else(fail)?;
    let local = date.and_time(time);
    if offset_text.is_empty() {
        return bracket_zone.as_ref().unwrap_or(zone).localize(&local);
    }
    let secs = if offset_text.eq_ignore_ascii_case("z") {
        0
    } else {
        match parse_offset_text(offset_text) {
            Some((secs, "")) => secs,
            _ => return Err(fail()),
        }
    };
    FixedOffset::east_opt(secs)
        .and_then(|o| o.from_local_datetime(&local).single())
        .ok_or_else(fail)
}
