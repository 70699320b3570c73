//! Calendar conditions (Kestra's `ScheduleCondition`s on dates): DayWeek, DayWeekInMonth,
//! DateTimeBetween and Weekend, and whether they hold on a date. Pure functions of the date:
//! the engine renders the condition's `date` template (`{{ trigger.date }}` by default) and
//! asks [`CalendarCondition::holds_at`].

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Timelike, Weekday};
use serde::Serialize;

/// A calendar condition: the date it is tested on (a template) and its rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CalendarCondition {
    /// Rendered by the engine; Kestra's default is `{{ trigger.date }}`.
    pub date: String,
    pub rule: CalendarRule,
}

/// Which dates a calendar condition accepts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum CalendarRule {
    /// The date falls on this day of the week.
    DayWeek(#[serde(serialize_with = "weekday_name")] Weekday),
    /// The date is the first, second, third, fourth or last such weekday of its month.
    DayWeekInMonth {
        #[serde(serialize_with = "weekday_name")]
        day_of_week: Weekday,
        day_in_month: DayInMonth,
    },
    /// The date is strictly after `after` and strictly before `before` (either may be absent,
    /// not both).
    DateTimeBetween {
        after: Option<DateTime<FixedOffset>>,
        before: Option<DateTime<FixedOffset>>,
    },
    /// The time of day is after `after` and before `before` (Kestra's TimeBetween: times
    /// with an offset, compared as instants on the same day; either bound may be left out).
    TimeBetween {
        after: Option<OffsetTime>,
        before: Option<OffsetTime>,
    },
    /// Saturday or Sunday.
    Weekend,
}

/// A time of day with its offset (Java's `OffsetTime`), as `08:00:00+02:00` or `17:30Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OffsetTime {
    /// Seconds since midnight, in the time's own offset.
    pub seconds: u32,
    /// The offset east of UTC, in seconds.
    pub offset: i32,
}

impl OffsetTime {
    /// Parses `HH:MM[:SS[.fraction]]` followed by `Z` or `±HH:MM` (the offset is required,
    /// as Kestra's OffsetTime requires it).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let split = text.rfind(['+', '-', 'Z', 'z'])?;
        let (time, zone) = text.split_at(split);
        let offset = if zone.eq_ignore_ascii_case("z") {
            0
        } else {
            parse_offset(zone)?
        };
        let time = chrono::NaiveTime::parse_from_str(time, "%H:%M:%S%.f")
            .or_else(|_| chrono::NaiveTime::parse_from_str(time, "%H:%M"))
            .ok()?;
        Some(Self {
            seconds: time.num_seconds_from_midnight(),
            offset,
        })
    }

    /// The instant on a common day (Java's `OffsetTime` comparison): seconds since midnight
    /// UTC, not wrapped.
    fn instant(self) -> i64 {
        i64::from(self.seconds) - i64::from(self.offset)
    }
}

/// `±HH:MM` or `±HHMM` as seconds east of UTC.
fn parse_offset(text: &str) -> Option<i32> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    (hours <= 18 && minutes < 60).then_some(sign * (hours * 3600 + minutes * 60))
}

/// Which occurrence of a weekday in its month (Kestra's `DayWeekInMonth.DayInMonth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DayInMonth {
    First,
    Second,
    Third,
    Fourth,
    Last,
}

impl DayInMonth {
    pub const NAMES: [&'static str; 5] = ["FIRST", "SECOND", "THIRD", "FOURTH", "LAST"];

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_uppercase().as_str() {
            "FIRST" => Self::First,
            "SECOND" => Self::Second,
            "THIRD" => Self::Third,
            "FOURTH" => Self::Fourth,
            "LAST" => Self::Last,
            _ => return None,
        })
    }
}

/// Java's `DayOfWeek` names, as Kestra's flows write them.
pub const WEEKDAY_NAMES: [&str; 7] = [
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
    "SUNDAY",
];

/// A weekday from its Java name (`MONDAY`), in any case.
pub fn parse_weekday(name: &str) -> Option<Weekday> {
    let upper = name.to_ascii_uppercase();
    let i = WEEKDAY_NAMES.iter().position(|n| *n == upper)?;
    Weekday::try_from(u8::try_from(i).ok()?).ok()
}

fn weekday_name<S: serde::Serializer>(day: &Weekday, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(WEEKDAY_NAMES[day.num_days_from_monday() as usize])
}

/// A rendered `date` that is not a date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the condition's date '{0}' is not a date (expected ISO-8601, such as 2024-05-01 or \
     2024-05-01T10:00:00+02:00)"
)]
pub struct BadDate(pub String);

impl CalendarCondition {
    /// Whether the condition holds on `rendered`, the condition's `date` once rendered.
    pub fn holds_at(&self, rendered: &str) -> Result<bool, BadDate> {
        match &self.rule {
            CalendarRule::DateTimeBetween { .. } | CalendarRule::TimeBetween { .. } => {
                let at = parse_date_time(rendered).ok_or_else(|| BadDate(rendered.to_owned()))?;
                Ok(self.rule.holds(at))
            }
            _ => {
                let day = parse_local_date(rendered).ok_or_else(|| BadDate(rendered.to_owned()))?;
                Ok(self.rule.holds_on_day(day))
            }
        }
    }
}

impl CalendarRule {
    /// Kestra's short name of the condition type (`DayWeek`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::DayWeek(_) => "DayWeek",
            Self::DayWeekInMonth { .. } => "DayWeekInMonth",
            Self::DateTimeBetween { .. } => "DateTimeBetween",
            Self::TimeBetween { .. } => "TimeBetween",
            Self::Weekend => "Weekend",
        }
    }

    /// Whether the rule holds at `at` (days are taken in `at`'s own offset, as Kestra takes
    /// the local date of the rendered date).
    pub fn holds(&self, at: DateTime<FixedOffset>) -> bool {
        match self {
            Self::DateTimeBetween { after, before } => {
                after.is_none_or(|a| at > a) && before.is_none_or(|b| at < b)
            }
            Self::TimeBetween { after, before } => {
                let time = OffsetTime {
                    seconds: at.time().num_seconds_from_midnight(),
                    offset: at.offset().local_minus_utc(),
                }
                .instant();
                after.is_none_or(|a| time > a.instant())
                    && before.is_none_or(|b| time < b.instant())
            }
            _ => self.holds_on_day(at.date_naive()),
        }
    }

    /// Whether a day rule holds on `day`. DateTimeBetween compares instants: on a bare day it
    /// is tested at midnight UTC.
    pub fn holds_on_day(&self, day: NaiveDate) -> bool {
        match self {
            Self::DayWeek(weekday) => day.weekday() == *weekday,
            Self::Weekend => matches!(day.weekday(), Weekday::Sat | Weekday::Sun),
            Self::DayWeekInMonth {
                day_of_week,
                day_in_month,
            } => occurrence(day, *day_of_week, *day_in_month) == Some(day),
            Self::DateTimeBetween { .. } | Self::TimeBetween { .. } => {
                let midnight = day.and_hms_opt(0, 0, 0).map(|t| t.and_utc().fixed_offset());
                midnight.is_some_and(|at| self.holds(at))
            }
        }
    }
}

/// The day of `day`'s month that is the `which` occurrence of `weekday`.
fn occurrence(day: NaiveDate, weekday: Weekday, which: DayInMonth) -> Option<NaiveDate> {
    let first_of_month = day.with_day(1)?;
    let shift =
        (7 + weekday.num_days_from_monday() - first_of_month.weekday().num_days_from_monday()) % 7;
    let first = first_of_month + Duration::days(i64::from(shift));
    let weeks = match which {
        DayInMonth::First => 0,
        DayInMonth::Second => 1,
        DayInMonth::Third => 2,
        DayInMonth::Fourth => 3,
        DayInMonth::Last => {
            let mut last = first;
            while let Some(next) = last.checked_add_signed(Duration::days(7)) {
                if next.month() != first.month() {
                    break;
                }
                last = next;
            }
            return Some(last);
        }
    };
    Some(first + Duration::days(7 * weeks))
}

/// A date-time with an offset, as Java's `ZonedDateTime.parse` reads it: RFC 3339, seconds
/// optional, an optional `[Zone/Id]` suffix (the offset before it is what counts).
pub fn parse_date_time(text: &str) -> Option<DateTime<FixedOffset>> {
    let text = text.trim();
    let text = match text.find('[') {
        Some(i) if text.ends_with(']') => &text[..i],
        _ => text,
    };
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M%:z"))
        .or_else(|_| DateTime::parse_from_str(&text.replace('Z', "+00:00"), "%Y-%m-%dT%H:%M%:z"))
        .ok()
}

/// A day as Kestra's `DateUtils.parseLocalDate` reads it: `2024-05-01`, or the local date of
/// a date-time.
pub fn parse_local_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .or_else(|| parse_date_time(text).map(|t| t.date_naive()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        parse_local_date(text).expect("test date")
    }

    fn calendar(rule: CalendarRule) -> CalendarCondition {
        CalendarCondition {
            date: "{{ trigger.date }}".to_owned(),
            rule,
        }
    }

    #[test]
    fn day_of_week_and_weekend() {
        // 2024-05-04 is a Saturday.
        assert!(CalendarRule::DayWeek(Weekday::Sat).holds_on_day(day("2024-05-04")));
        assert!(!CalendarRule::DayWeek(Weekday::Mon).holds_on_day(day("2024-05-04")));
        assert!(CalendarRule::Weekend.holds_on_day(day("2024-05-05")));
        assert!(!CalendarRule::Weekend.holds_on_day(day("2024-05-06")));
        assert_eq!(parse_weekday("saturday"), Some(Weekday::Sat));
        assert_eq!(parse_weekday("Sat"), None);
    }

    #[test]
    fn day_of_week_in_month() {
        let rule = |which| CalendarRule::DayWeekInMonth {
            day_of_week: Weekday::Mon,
            day_in_month: which,
        };
        // Mondays of May 2024: 6, 13, 20, 27.
        assert!(rule(DayInMonth::First).holds_on_day(day("2024-05-06")));
        assert!(!rule(DayInMonth::First).holds_on_day(day("2024-05-13")));
        assert!(rule(DayInMonth::Second).holds_on_day(day("2024-05-13")));
        assert!(rule(DayInMonth::Third).holds_on_day(day("2024-05-20")));
        assert!(rule(DayInMonth::Fourth).holds_on_day(day("2024-05-27")));
        assert!(rule(DayInMonth::Last).holds_on_day(day("2024-05-27")));
        assert!(!rule(DayInMonth::Last).holds_on_day(day("2024-05-20")));
        // Mondays of April 2024: 1, 8, 15, 22, 29: the last is the fifth.
        assert!(rule(DayInMonth::Last).holds_on_day(day("2024-04-29")));
        assert!(!rule(DayInMonth::Fourth).holds_on_day(day("2024-04-29")));
        assert!(rule(DayInMonth::First).holds_on_day(day("2024-04-01")));
    }

    #[test]
    fn between_two_instants_is_strict() {
        let at = |t: &str| parse_date_time(t).expect("test instant");
        let rule = CalendarRule::DateTimeBetween {
            after: Some(at("2024-05-01T00:00:00Z")),
            before: Some(at("2024-05-02T00:00:00+02:00")),
        };
        assert!(rule.holds(at("2024-05-01T12:00:00Z")));
        assert!(
            !rule.holds(at("2024-05-01T00:00:00Z")),
            "after is exclusive"
        );
        assert!(
            !rule.holds(at("2024-05-01T22:00:00Z")),
            "before is 22:00 UTC"
        );
        let open = CalendarRule::DateTimeBetween {
            after: None,
            before: Some(at("2024-05-01T00:00:00Z")),
        };
        assert!(open.holds(at("2023-01-01T00:00:00Z")));
    }

    #[test]
    fn rendered_dates_in_kestra_forms() {
        let weekend = calendar(CalendarRule::Weekend);
        assert_eq!(weekend.holds_at("2024-05-04"), Ok(true));
        assert_eq!(weekend.holds_at("2024-05-04T23:30:00.123+02:00"), Ok(true));
        assert_eq!(
            weekend.holds_at("2024-05-04T23:30+02:00[Europe/Paris]"),
            Ok(true)
        );
        assert_eq!(weekend.holds_at("2024-05-06T00:30:00Z"), Ok(false));
        assert_eq!(
            weekend.holds_at("tomorrow"),
            Err(BadDate("tomorrow".to_owned()))
        );
    }

    #[test]
    fn time_between_compares_times_of_day_as_instants() {
        let business_hours = CalendarCondition {
            date: "{{ trigger.date }}".to_owned(),
            rule: CalendarRule::TimeBetween {
                after: OffsetTime::parse("08:00:00+02:00"),
                before: OffsetTime::parse("17:00:00+02:00"),
            },
        };
        let at = |date: &str| business_hours.holds_at(date).expect("a date");
        assert!(at("2026-12-07T10:00:00+02:00"));
        assert!(at("2026-12-07T08:30:00Z"), "10:30 at +02:00");
        assert!(!at("2026-12-07T07:00:00+02:00"));
        assert!(!at("2026-12-07T15:30:00Z"), "17:30 at +02:00");
        assert!(!at("2026-12-07T17:00:00+02:00"), "bounds are excluded");
        let after_only = CalendarRule::TimeBetween {
            after: OffsetTime::parse("12:00Z"),
            before: None,
        };
        assert!(after_only.holds(parse_date_time("2026-12-07T12:00:01Z").unwrap()));
        for bad in ["08:00", "25:00:00Z", "08:00:00+19:00", "8am+02:00", ""] {
            assert_eq!(OffsetTime::parse(bad), None, "{bad}");
        }
        assert_eq!(
            OffsetTime::parse("23:59:59.5-05:30"),
            Some(OffsetTime {
                seconds: 86_399,
                offset: -19_800
            })
        );
    }
}
