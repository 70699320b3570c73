//! Kestra's Schedule trigger (`io.kestra.plugin.core.trigger.Schedule`), typed: its cron
//! expression compiled, its time zone resolved, and the dates it fires at.
//!
//! Properties, as Kestra reads them:
//! - `cron` (required): a 5-field Unix cron (`minute hour day-of-month month day-of-week`) or a
//!   nickname (`@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`,
//!   `@hourly`). With `withSeconds: true` it has 6 fields, the first being seconds; a 6-field
//!   cron without it is refused. Day-of-week 0 and 7 are both Sunday; names (`MON-FRI`,
//!   `JAN`) are accepted. When both day-of-month and day-of-week are restricted, a day
//!   matching either fires (Vixie cron). Croner's extensions beyond Kestra's syntax (`L`, `W`,
//!   `#`, `?`, `0/15`) are accepted too. A cron that never fires (`0 0 30 2 *`) is refused.
//! - `withSeconds` (default false), `timezone` (an IANA id, default `Etc/UTC`), `inputs` (a
//!   map given to each execution, kept as JSON: its strings are templates),
//!   `recoverMissedSchedules` (`ALL`, the default, `LAST` or `NONE`, any case),
//!   `lateMaximumDelay` (an ISO-8601 duration: a date the scheduler reaches later than this
//!   is skipped).
//! - Not implemented yet, but checked for shape and recorded in [`Schedule::unsupported`] so
//!   that the scheduler can refuse or warn: `conditions`, `scheduleConditions` (lists),
//!   `stopAfter` (a list of state names), `backfill` (a map). Every other property (`description`, `interval`, `workerGroup`, `logLevel`,
//!   ...) is accepted and ignored.
//!
//! Dates are computed on the wall clock of the time zone (croner on chrono-tz dates), so a
//! daily `0 2 * * *` in Europe/Paris stays at 02:00 local across DST changes. When the clock
//! jumps forward over a fire time, a fixed-time cron (one second, minute and hour) fires once
//! at the first instant after the gap (03:00 local on the spring-forward day); an interval cron
//! (`*/15 * * * *`) skips the missing times. When the clock goes back, a fixed-time cron in
//! the repeated hour fires once, on its first pass; an interval cron fires on both passes.
//!
//! [`crate::parse_flow`] runs the same checks (`check`), so every mistake here is a
//! positioned diagnostic when the flow is validated.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::errors::CronError;
use croner::parser::{CronParser, Seconds, Year};
use indexmap::IndexMap;
use serde_json::{Map, Value};

mod error;

pub use error::ScheduleError;

use crate::condition::Condition;
use crate::diagnostic::{Diags, join};
use crate::duration;
use crate::flow::{Flow, TriggerDef};
use crate::suggest;
use crate::yaml::Node;

/// What the scheduler does with the dates it missed while it was not running
/// (`recoverMissedSchedules`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecoverMissed {
    /// Start one execution per missed date.
    #[default]
    All,
    /// Start one execution, for the last missed date.
    Last,
    /// Start none; resume from the next date.
    None,
}

impl RecoverMissed {
    /// The name as Kestra writes it: `ALL`, `LAST` or `NONE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "ALL",
            Self::Last => "LAST",
            Self::None => "NONE",
        }
    }

    /// Reads `ALL`, `LAST` or `NONE`, ignoring case.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "ALL" => Some(Self::All),
            "LAST" => Some(Self::Last),
            "NONE" => Some(Self::None),
            _ => None,
        }
    }
}

/// A typed Schedule trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub trigger_id: String,
    /// The cron text as written.
    pub expression: String,
    pub with_seconds: bool,
    /// `timezone`, `Etc/UTC` when absent.
    pub timezone: Tz,
    /// `inputs`, as written (strings are templates the engine renders).
    pub inputs: Map<String, Value>,
    pub recover: RecoverMissed,
    /// `stopAfter`: state names, as written (not implemented yet; see `unsupported`).
    pub stop_after: Vec<String>,
    /// `lateMaximumDelay`: a date not started within this delay is skipped.
    pub late_maximum_delay: Option<Duration>,
    /// Names of the properties present that Saker does not implement yet, as written (e.g.
    /// `["conditions", "stopAfter"]`), in the order of [`Schedule::UNSUPPORTED`]. An empty
    /// list or map counts as absent: it changes nothing.
    pub unsupported: Vec<&'static str>,
    /// `conditions` and `scheduleConditions`, typed (calendar rules and expressions): a date
    /// fires only when all hold. Copied from [`TriggerDef::conditions`]; "conditions" stays
    /// in `unsupported` until the scheduler evaluates them.
    pub conditions: Vec<Condition>,
    cron: Cron,
}

/// The nicknames Kestra accepts and the 5-field cron each stands for.
const NICKNAMES: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// The fields of a 6-field cron, with their ranges; a 5-field cron has all but the first.
const FIELDS: &[&str] = &[
    "second (0-59)",
    "minute (0-59)",
    "hour (0-23)",
    "day-of-month (1-31)",
    "month (1-12 or JAN-DEC)",
    "day-of-week (0-7 or SUN-SAT, 0 and 7 are Sunday)",
];

impl Schedule {
    /// The canonical Schedule type name (same as the catalog's).
    pub const TYPE: &'static str = "io.kestra.plugin.core.trigger.Schedule";

    /// The properties Saker accepts but does not implement yet, in the order
    /// [`Schedule::unsupported`] lists them.
    pub const UNSUPPORTED: [&'static str; 4] =
        ["conditions", "scheduleConditions", "stopAfter", "backfill"];

    /// Types a parsed trigger. Err when it is not a Schedule or its properties are invalid
    /// (the first problem; [`crate::parse_flow`] reports them all).
    pub fn from_trigger(def: &TriggerDef) -> Result<Schedule, ScheduleError> {
        let is_schedule =
            crate::catalog::trigger_type(&def.type_name).is_some_and(|t| t.name == Self::TYPE);
        if !is_schedule {
            return Err(ScheduleError::NotASchedule(def.type_name.clone()));
        }
        let mut schedule =
            build(&def.id, &def.properties).map_err(|mut errors| errors.remove(0))?;
        schedule.conditions = def.conditions.clone();
        Ok(schedule)
    }

    /// The first occurrence strictly after `t`, or `None` when there is none before croner's
    /// search limit, in the year 5000 (`0 0 1 1 *` still finds 5000-01-01, not 5001-01-01).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Occurrences fall on whole seconds, so one at `t`'s whole second is not after `t`.
        let start = whole_second(t).with_timezone(&self.timezone);
        let found = self.cron.find_next_occurrence(&start, false).ok()?;
        Some(found.with_timezone(&Utc))
    }

    /// The last occurrence strictly before `t`, or `None` if there is none after the year 1.
    pub fn previous_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let whole = whole_second(t);
        // With a fraction of a second, `t`'s whole second itself is before `t`.
        let inclusive = whole != t;
        let start = whole.with_timezone(&self.timezone);
        let found = self.cron.find_previous_occurrence(&start, inclusive).ok()?;
        Some(found.with_timezone(&Utc))
    }

    /// Occurrences in `(after, until]`, oldest first, at most `limit` (the caller bounds
    /// backfills).
    pub fn occurrences(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut cursor = after;
        while out.len() < limit {
            match self.next_after(cursor) {
                Some(next) if next <= until => {
                    out.push(next);
                    cursor = next;
                }
                _ => break,
            }
        }
        out
    }

    /// Text that changes when anything changing the schedule's dates changes: the cron (with
    /// its whitespace normalised), `withSeconds` and the time zone. Inputs and the other
    /// properties do not enter it. Two spellings of the same dates (`@daily` and `0 0 * * *`)
    /// give different fingerprints.
    pub fn fingerprint(&self) -> String {
        let cron = self
            .expression
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        format!(
            "cron={cron};withSeconds={};timezone={}",
            self.with_seconds,
            self.timezone.name()
        )
    }

    /// A date as Kestra shows `trigger.date`, `trigger.next` and `trigger.previous`: ISO-8601
    /// in the schedule's time zone, with seconds and without a fraction, and the offset as
    /// `+01:00`, or `Z` when it is zero (as Java prints a zero offset, so Europe/London in
    /// winter gives `Z` too): `2026-11-22T10:15:00+01:00` in Europe/Paris,
    /// `2026-11-22T09:15:00Z` in UTC.
    pub fn format_date(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.timezone)
            .to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// The time zone's IANA id, such as `Europe/Paris`.
    pub fn timezone_name(&self) -> &'static str {
        self.timezone.name()
    }
}

/// Every enabled Schedule trigger of a flow, typed, in the flow's order; triggers that fail to
/// type are returned as errors with their id (validation normally prevents this). Whether the
/// flow itself is disabled is left to the caller.
pub fn schedules(flow: &Flow) -> Vec<Result<Schedule, (String, ScheduleError)>> {
    flow.triggers
        .iter()
        .filter(|t| !t.disabled && t.type_name == Schedule::TYPE)
        .map(|t| Schedule::from_trigger(t).map_err(|e| (t.id.clone(), e)))
        .collect()
}

/// Validation: reports every problem of the Schedule trigger `id` (properties after plugin
/// defaults in `merged`) at the value at fault. A missing `cron` is left to the generic
/// required-property check. True when there was none.
pub(crate) fn check(d: &mut Diags, id: &str, merged: &Node, path: &str) -> bool {
    let properties: IndexMap<String, Value> = merged
        .as_map()
        .unwrap_or_default()
        .iter()
        .map(|e| (e.key.clone(), e.value.to_json()))
        .collect();
    let Err(errors) = build(id, &properties) else {
        return true;
    };
    for e in errors
        .iter()
        .filter(|e| !matches!(e, ScheduleError::MissingCron))
    {
        let property = e.property().unwrap_or_default();
        let pos = merged.get(property).map_or(merged.pos, |n| n.pos);
        d.error(pos, &join(path, property), format!("trigger '{id}': {e}"));
    }
    false
}

/// Reads every property, collecting every problem.
fn build(id: &str, properties: &IndexMap<String, Value>) -> Result<Schedule, Vec<ScheduleError>> {
    let get = |key: &str| properties.get(key).filter(|v| !v.is_null());
    let mut errors = Vec::new();
    let with_seconds = match get("withSeconds").map_or(Ok(false), read_bool) {
        Ok(b) => Some(b),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let mut keep = |result: Result<(), ScheduleError>| {
        if let Err(e) = result {
            errors.push(e);
        }
    };

    let mut timezone: Tz = chrono_tz::Etc::UTC;
    if let Some(v) = get("timezone") {
        keep(read_timezone(v).map(|tz| timezone = tz));
    }
    let mut inputs = Map::new();
    if let Some(v) = get("inputs") {
        keep(match v {
            Value::Object(map) => {
                inputs = map.clone();
                Ok(())
            }
            other => Err(wrong_type("inputs", "a map of input ids to values", other)),
        });
    }
    let mut recover = RecoverMissed::default();
    if let Some(v) = get("recoverMissedSchedules") {
        keep(match v {
            Value::String(s) => RecoverMissed::parse(s)
                .map(|r| recover = r)
                .ok_or_else(|| ScheduleError::RecoverMissed(s.clone())),
            other => Err(wrong_type(
                "recoverMissedSchedules",
                "ALL, LAST or NONE",
                other,
            )),
        });
    }
    let mut stop_after = Vec::new();
    if let Some(v) = get("stopAfter") {
        let names = v.as_array().and_then(|items| {
            items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
        });
        keep(match names {
            Some(names) => {
                stop_after = names;
                Ok(())
            }
            None => Err(wrong_type(
                "stopAfter",
                "a list of state names (such as [FAILED])",
                v,
            )),
        });
    }
    // `conditions` and `scheduleConditions` are checked and typed with the trigger
    // (`crate::condition`, into `TriggerDef::conditions`).
    if let Some(v) = get("backfill").filter(|v| !v.is_object()) {
        keep(Err(wrong_type("backfill", "a map", v)));
    }
    let mut late_maximum_delay = None;
    if let Some(v) = get("lateMaximumDelay") {
        keep(match v {
            Value::String(s) => duration::parse_iso8601(s)
                .map(|d| late_maximum_delay = Some(d))
                .map_err(ScheduleError::LateMaximumDelay),
            other => Err(wrong_type(
                "lateMaximumDelay",
                "an ISO-8601 duration such as PT1H",
                other,
            )),
        });
    }
    // Whether the cron is right depends on `withSeconds`: it is not judged when that is wrong.
    let cron = match (get("cron"), with_seconds) {
        (None, _) => Err(Some(ScheduleError::MissingCron)),
        (Some(Value::String(text)), Some(with_seconds)) => compile(text, with_seconds)
            .map(|c| (text.clone(), with_seconds, c))
            .map_err(Some),
        (Some(Value::String(_)), None) => Err(None),
        (Some(other), _) => Err(Some(wrong_type(
            "cron",
            "a string such as \"0 9 * * *\"",
            other,
        ))),
    };
    let cron = cron.map_err(|e| errors.extend(e)).ok();

    let unsupported = Schedule::UNSUPPORTED
        .into_iter()
        .filter(|key| get(key).is_some_and(|v| !is_empty(v)))
        .collect();
    match cron {
        Some((expression, with_seconds, cron)) if errors.is_empty() => Ok(Schedule {
            trigger_id: id.to_owned(),
            expression,
            with_seconds,
            timezone,
            inputs,
            recover,
            stop_after,
            late_maximum_delay,
            unsupported,
            conditions: Vec::new(),
            cron,
        }),
        _ => Err(errors),
    }
}

/// Compiles `cron` as Kestra reads it (see the module documentation).
fn compile(expression: &str, with_seconds: bool) -> Result<Cron, ScheduleError> {
    let invalid = |why: String| ScheduleError::InvalidCron {
        cron: expression.to_owned(),
        why,
    };
    let text = expression.trim();
    if text.is_empty() {
        return Err(invalid("it is empty".to_owned()));
    }
    let pattern = if text.starts_with('@') {
        let Some((_, fields)) = NICKNAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(text)) else {
            let known: Vec<&str> = NICKNAMES.iter().map(|(n, _)| *n).collect();
            return Err(invalid(format!(
                "unknown nickname (known: {})",
                known.join(", ")
            )));
        };
        if with_seconds {
            format!("0 {fields}")
        } else {
            (*fields).to_owned()
        }
    } else {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let expected = if with_seconds { 6 } else { 5 };
        if fields.len() == 6 && !with_seconds {
            return Err(ScheduleError::SecondsWithoutWithSeconds {
                cron: expression.to_owned(),
            });
        }
        if fields.len() != expected {
            let names = field_names(with_seconds);
            let seconds = if with_seconds {
                " (with 'withSeconds: true')"
            } else {
                ""
            };
            return Err(invalid(format!(
                "expected {expected} fields{seconds}: {names}; found {}",
                fields.len()
            )));
        }
        fields.join(" ")
    };
    let cron = parser(with_seconds)
        .parse(&pattern)
        .map_err(|e| invalid(explain(&pattern, with_seconds, &e)))?;
    // A cron without a year field fires within 28 years if it ever does; croner gives up at
    // the year 5000.
    let reference = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single();
    if reference.is_some_and(|r| cron.find_next_occurrence(&r, false).is_err()) {
        return Err(ScheduleError::NeverMatches {
            cron: expression.to_owned(),
        });
    }
    Ok(cron)
}

fn parser(with_seconds: bool) -> CronParser {
    CronParser::builder()
        .seconds(if with_seconds {
            Seconds::Required
        } else {
            Seconds::Disallowed
        })
        .year(Year::Disallowed)
        // `0/15` and `/15` (every 15 from 0), which Kestra's parser also reads.
        .sloppy_ranges(true)
        .build()
}

fn field_names(with_seconds: bool) -> String {
    let fields = if with_seconds { FIELDS } else { &FIELDS[1..] };
    fields
        .iter()
        .map(|f| f.split(' ').next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why croner refused `pattern`, naming the field at fault: each field is tried alone, the
/// others replaced by `*`.
fn explain(pattern: &str, with_seconds: bool, error: &CronError) -> String {
    let fields: Vec<&str> = pattern.split_whitespace().collect();
    let names = if with_seconds { FIELDS } else { &FIELDS[1..] };
    let parser = parser(with_seconds);
    for (i, field) in fields.iter().enumerate() {
        let alone: Vec<&str> = (0..fields.len())
            .map(|j| if i == j { *field } else { "*" })
            .collect();
        if let Err(e) = parser.parse(&alone.join(" ")) {
            let name = names.get(i).copied().unwrap_or("a");
            return format!("{name} field '{field}': {}", reason(&e, field));
        }
    }
    reason(error, pattern)
}

/// Croner's reason in lower case, without its prefixes.
fn reason(error: &CronError, part: &str) -> String {
    let text = match error {
        CronError::ComponentError(m) | CronError::InvalidPattern(m) => m.clone(),
        CronError::IllegalCharacters(m) => {
            // Croner upper-cases the text: name the character as written.
            let shown = m
                .split('\'')
                .nth(1)
                .and_then(|c| c.chars().next())
                .and_then(|c| part.chars().find(|p| p.to_ascii_uppercase() == c))
                .map(|c| format!(" '{c}'"))
                .unwrap_or_default();
            format!("illegal character{shown}")
        }
        other => other.to_string(),
    };
    let text = text.trim().trim_end_matches('.');
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "not understood".to_owned(),
    }
}

fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(0).unwrap_or(t)
}

fn read_bool(v: &Value) -> Result<bool, ScheduleError> {
    crate::read::json_bool(v).ok_or_else(|| wrong_type("withSeconds", "true or false", v))
}

fn read_timezone(v: &Value) -> Result<Tz, ScheduleError> {
    let Value::String(name) = v else {
        return Err(wrong_type(
            "timezone",
            "an IANA time zone id such as Europe/Paris",
            v,
        ));
    };
    name.trim().parse::<Tz>().map_err(|_| {
        let names = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
        ScheduleError::UnknownTimezone {
            name: name.clone(),
            hint: suggest::did_you_mean(&suggest::closest(name.trim(), names)),
        }
    })
}

fn wrong_type(property: &'static str, expected: &'static str, got: &Value) -> ScheduleError {
    let got = match got {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("'{b}'"),
        Value::Number(n) => format!("'{n}'"),
        Value::String(s) => format!("'{s}'"),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a map".to_owned(),
    };
    ScheduleError::WrongType {
        property,
        expected,
        got,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}
