//! Java `DateTimeFormatter` patterns, formatting side.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, FixedOffset, Timelike};

use super::{DAYS, MONTHS, Zone};
use crate::print::write_offset;

/// A run of one pattern letter, or literal text.
pub(super) enum Seg<'p> {
    Field(char, usize),
    Lit(std::borrow::Cow<'p, str>),
}

pub(super) fn segments(pattern: &str) -> Result<Vec<Seg<'_>>, String> {
    let mut segs = Vec::new();
    let chars: Vec<(usize, char)> = pattern.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        if c == '\'' {
            let mut text = String::new();
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None => return Err(format!("unclosed quote in date pattern '{pattern}'")),
                    Some((_, '\'')) if chars.get(j + 1).map(|x| x.1) == Some('\'') => {
                        text.push('\'');
                        j += 2;
                    }
                    Some((_, '\'')) => break,
                    Some((_, ch)) => {
                        text.push(*ch);
                        j += 1;
                    }
                }
            }
            if j == i + 1 {
                text.push('\''); // '' is a quote
            }
            segs.push(Seg::Lit(text.into()));
            i = j + 1;
        } else if c.is_ascii_alphabetic() {
            let mut n = 1;
            while chars.get(i + n).map(|x| x.1) == Some(c) {
                n += 1;
            }
            segs.push(Seg::Field(c, n));
            i += n;
        } else if matches!(c, '#' | '{' | '}') {
            return Err(format!(
                "reserved character '{c}' in date pattern '{pattern}'"
            ));
        } else if matches!(c, '[' | ']') {
            // Optional sections: when formatting, everything is printed.
            i += 1;
        } else {
            segs.push(Seg::Lit(pattern[at..at + c.len_utf8()].into()));
            i += 1;
        }
    }
    Ok(segs)
}

fn pad(out: &mut String, v: i64, width: usize) {
    if v < 0 {
        let _ = write!(out, "-{:0width$}", -v);
    } else {
        let _ = write!(out, "{v:0width$}");
    }
}

fn text_form(out: &mut String, full: &str, n: usize) {
    match n {
        1..=3 => out.push_str(&full[..3.min(full.len())]),
        4 => out.push_str(full),
        _ => out.push_str(&full[..1]),
    }
}

pub(crate) fn format_pattern(
    d: &DateTime<FixedOffset>,
    pattern: &str,
    zone: &Zone,
) -> Result<String, String> {
    let mut out = String::new();
    let off = d.offset().local_minus_utc();
    for seg in segments(pattern)? {
        let (c, n) = match seg {
            Seg::Lit(t) => {
                out.push_str(&t);
                continue;
            }
            Seg::Field(c, n) => (c, n),
        };
        match c {
            'G' => out.push_str(match n {
                1..=3 => "AD",
                4 => "Anno Domini",
                _ => "A",
            }),
            'y' | 'u' | 'Y' => {
                let year = if c == 'Y' {
                    i64::from(d.iso_week().year())
                } else {
                    i64::from(d.year())
                };
                if n == 2 {
                    pad(&mut out, year.rem_euclid(100), 2);
                } else {
                    pad(&mut out, year, n);
                }
            }
            'M' | 'L' => match n {
                1 | 2 => pad(&mut out, i64::from(d.month()), n),
                _ => text_form(&mut out, MONTHS[d.month0() as usize], n),
            },
            'd' => pad(&mut out, i64::from(d.day()), n),
            'D' => pad(&mut out, i64::from(d.ordinal()), n),
            'Q' | 'q' => {
                let q = i64::from(d.month0() / 3 + 1);
                match n {
                    1 | 2 => pad(&mut out, q, n),
                    3 => {
                        let _ = write!(out, "Q{q}");
                    }
                    _ => {
                        let ord = ["1st", "2nd", "3rd", "4th"][(q - 1) as usize];
                        let _ = write!(out, "{ord} quarter");
                    }
                }
            }
            'w' => pad(&mut out, i64::from(d.iso_week().week()), n),
            'E' => text_form(
                &mut out,
                DAYS[d.weekday().num_days_from_monday() as usize],
                n,
            ),
            'e' | 'c' => match n {
                1 | 2 => pad(&mut out, i64::from(d.weekday().number_from_monday()), n),
                _ => text_form(
                    &mut out,
                    DAYS[d.weekday().num_days_from_monday() as usize],
                    n,
                ),
            },
            'a' => out.push_str(if d.hour() < 12 { "AM" } else { "PM" }),
            'H' => pad(&mut out, i64::from(d.hour()), n),
            'k' => pad(
                &mut out,
                i64::from(if d.hour() == 0 { 24 } else { d.hour() }),
                n,
            ),
            'K' => pad(&mut out, i64::from(d.hour() % 12), n),
            'h' => pad(&mut out, i64::from(d.hour12().1), n),
            'm' => pad(&mut out, i64::from(d.minute()), n),
            's' => pad(&mut out, i64::from(d.second()), n),
            'S' => {
                let frac = format!("{:09}", d.nanosecond() % 1_000_000_000);
                let digits = n.min(9);
                out.push_str(&frac[..digits]);
                out.extend(std::iter::repeat_n('0', n - digits));
            }
            'n' => pad(&mut out, i64::from(d.nanosecond() % 1_000_000_000), n),
            'A' => {
                let ms = i64::from(d.num_seconds_from_midnight()) * 1000
                    + i64::from(d.nanosecond() % 1_000_000_000 / 1_000_000);
                pad(&mut out, ms, n);
            }
            'N' => {
                let ns = i64::from(d.num_seconds_from_midnight()) * 1_000_000_000
                    + i64::from(d.nanosecond() % 1_000_000_000);
                pad(&mut out, ns, n);
            }
            'V' if n == 2 => out.push_str(&zone.id),
            'z' => out.push_str(&zone.abbreviation(d)),
            'O' => {
                out.push_str("GMT");
                if off != 0 {
                    let sign = if off < 0 { '-' } else { '+' };
                    let a = off.unsigned_abs();
                    if n == 4 {
                        let _ = write!(out, "{sign}{:02}:{:02}", a / 3600, a / 60 % 60);
                    } else {
                        let _ = write!(out, "{sign}{}", a / 3600);
                        if !(a / 60).is_multiple_of(60) {
                            let _ = write!(out, ":{:02}", a / 60 % 60);
                        }
                    }
                }
            }
            'X' | 'x' | 'Z' => write_pattern_offset(&mut out, c, n, off),
            other => {
                return Err(format!(
                    "unsupported letter '{other}' in date pattern '{pattern}'"
                ));
            }
        }
    }
    Ok(out)
}

fn write_pattern_offset(out: &mut String, c: char, n: usize, off: i32) {
    if off == 0 && (c == 'X' || (c == 'Z' && n == 5)) {
        out.push('Z');
        return;
    }
    if c == 'Z' && n == 4 {
        out.push_str("GMT");
        if off != 0 {
            write_offset(out, off, false);
        }
        return;
    }
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.unsigned_abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    let colon = matches!((c, n), ('X' | 'x', 3 | 5) | ('Z', 5));
    let sep = if colon { ":" } else { "" };
    let _ = write!(out, "{sign}{h:02}");
    let with_minutes = !matches!((c, n), ('X' | 'x', 1)) || m != 0;
    if with_minutes {
        let _ = write!(out, "{sep}{m:02}");
    }
    if s != 0 && matches!((c, n), ('X' | 'x', 4 | 5)) {
        let _ = write!(out, "{sep}{s:02}");
    }
}
