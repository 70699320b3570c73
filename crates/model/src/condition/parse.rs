//! Reading conditions from a flow, with Kestra's type names and aliases, into
//! [`Condition`]s; every mistake becomes a diagnostic at its place.

use chrono::NaiveTime;
use indexmap::IndexMap;

use super::{
    CalendarCondition, CalendarRule, Condition, DayInMonth, MultipleCondition, NamespaceComparison,
    OffsetTime, STATE_NAMES, TimeWindow, TimeWindowType, WEEKDAY_NAMES, parse_date_time,
    parse_weekday,
};
use crate::diagnostic::{Diags, index, join};
use crate::read::{self, Fields};
use crate::suggest;
use crate::yaml::Node;

/// Where conditions are used, which decides the types allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConditionScope {
    /// A Schedule trigger: only conditions on the date and expressions (Kestra's
    /// `ScheduleCondition`s).
    Schedule,
    /// A Flow or Webhook trigger, a listener, a MultipleCondition.
    Any,
}

/// The kinds of condition, for the type table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ExecutionStatus,
    ExecutionFlow,
    ExecutionNamespace,
    Expression,
    Multiple,
    DayWeek,
    DayWeekInMonth,
    DateTimeBetween,
    TimeBetween,
    Weekend,
    /// Not and Or: a list of conditions, combined.
    Not,
    Or,
    /// Kestra has it; Saker cannot evaluate it yet. The text says why.
    Unavailable(&'static str),
}

/// Kestra's condition classes: canonical name, the aliases it declares, and the kind.
const TYPES: &[(&str, &[&str], Kind)] = &[
    (
        "io.kestra.plugin.core.condition.ExecutionStatus",
        &[
            "io.kestra.core.models.conditions.types.ExecutionStatusCondition",
            "io.kestra.plugin.core.condition.ExecutionStatusCondition",
        ],
        Kind::ExecutionStatus,
    ),
    (
        "io.kestra.plugin.core.condition.ExecutionFlow",
        &[
            "io.kestra.core.models.conditions.types.ExecutionFlowCondition",
            "io.kestra.plugin.core.condition.ExecutionFlowCondition",
        ],
        Kind::ExecutionFlow,
    ),
    (
        "io.kestra.plugin.core.condition.ExecutionNamespace",
        &[
            "io.kestra.core.models.conditions.types.ExecutionNamespaceCondition",
            "io.kestra.plugin.core.condition.ExecutionNamespaceCondition",
        ],
        Kind::ExecutionNamespace,
    ),
    (
        "io.kestra.plugin.core.condition.Expression",
        &[
            "io.kestra.core.models.conditions.types.VariableCondition",
            "io.kestra.plugin.core.condition.ExpressionCondition",
        ],
        Kind::Expression,
    ),
    (
        "io.kestra.plugin.core.condition.MultipleCondition",
        &["io.kestra.core.models.conditions.types.MultipleCondition"],
        Kind::Multiple,
    ),
    (
        "io.kestra.plugin.core.condition.DayWeek",
        &[
            "io.kestra.core.models.conditions.types.DayWeekCondition",
            "io.kestra.plugin.core.condition.DayWeekCondition",
        ],
        Kind::DayWeek,
    ),
    (
        "io.kestra.plugin.core.condition.DayWeekInMonth",
        &[
            "io.kestra.core.models.conditions.types.DayWeekInMonthCondition",
            "io.kestra.plugin.core.condition.DayWeekInMonthCondition",
        ],
        Kind::DayWeekInMonth,
    ),
    (
        "io.kestra.plugin.core.condition.DateTimeBetween",
        &[
            "io.kestra.core.models.conditions.types.DateTimeBetweenCondition",
            "io.kestra.plugin.core.condition.DateTimeBetweenCondition",
        ],
        Kind::DateTimeBetween,
    ),
    (
        "io.kestra.plugin.core.condition.Weekend",
        &[
            "io.kestra.core.models.conditions.types.WeekendCondition",
            "io.kestra.plugin.core.condition.WeekendCondition",
        ],
        Kind::Weekend,
    ),
    (
        "io.kestra.plugin.core.condition.PublicHoliday",
        &[
            "io.kestra.core.models.conditions.types.PublicHolidayCondition",
            "io.kestra.plugin.core.condition.PublicHolidayCondition",
        ],
        Kind::Unavailable(
            "there is no maintained public-holiday calendar for Rust (by country and \
             subdivision, as Kestra's Jollyday gives) to build it on",
        ),
    ),
    (
        "io.kestra.plugin.core.condition.TimeBetween",
        &["io.kestra.plugin.core.condition.TimeBetweenCondition"],
        Kind::TimeBetween,
    ),
    (
        "io.kestra.plugin.core.condition.ExecutionLabels",
        &["io.kestra.plugin.core.condition.ExecutionLabelsCondition"],
        Kind::Unavailable("use an Expression on the execution's labels"),
    ),
    (
        "io.kestra.plugin.core.condition.ExecutionOutputs",
        &["io.kestra.plugin.core.condition.ExecutionOutputsCondition"],
        Kind::Unavailable("use an Expression on the outputs"),
    ),
    (
        "io.kestra.plugin.core.condition.Not",
        &["io.kestra.plugin.core.condition.NotCondition"],
        Kind::Not,
    ),
    (
        "io.kestra.plugin.core.condition.Or",
        &["io.kestra.plugin.core.condition.OrCondition"],
        Kind::Or,
    ),
];

/// The condition type named `name` (canonical or alias): its canonical name and kind.
fn find(name: &str) -> Option<(&'static str, Kind)> {
    TYPES
        .iter()
        .find(|(n, aliases, _)| *n == name || aliases.contains(&name))
        .map(|(n, _, kind)| (*n, *kind))
}

/// Reads a list of conditions at `path`.
pub(crate) fn parse_conditions(
    d: &mut Diags,
    node: &Node,
    path: &str,
    scope: ConditionScope,
) -> Vec<Condition> {
    let Some(items) = read::seq(d, node, path) else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| parse_condition(d, item, &index(path, i), scope))
        .collect()
}

fn parse_condition(
    d: &mut Diags,
    node: &Node,
    path: &str,
    scope: ConditionScope,
) -> Option<Condition> {
    read::map(d, node, path)?;
    let type_path = join(path, "type");
    let Some(type_node) = node.get("type").filter(|n| !n.is_null()) else {
        d.error(
            node.pos,
            &type_path,
            format!("the condition at {path} is missing required property 'type'"),
        );
        return None;
    };
    let name = read::string(d, type_node, &type_path)?;
    let Some((canonical, kind)) = find(&name) else {
        let names = TYPES
            .iter()
            .flat_map(|(n, aliases, _)| std::iter::once(*n).chain(aliases.iter().copied()));
        let hint = suggest::did_you_mean(&suggest::closest_type(&name, names));
        d.error(
            type_node.pos,
            &type_path,
            format!("unknown condition type '{name}'{hint}"),
        );
        return None;
    };
    if let Kind::Unavailable(instead) = kind {
        d.error(
            type_node.pos,
            &type_path,
            format!("condition type '{name}' is not yet available in Saker: {instead}"),
        );
        return None;
    }
    let calendar = matches!(
        kind,
        Kind::DayWeek
            | Kind::DayWeekInMonth
            | Kind::DateTimeBetween
            | Kind::TimeBetween
            | Kind::Weekend
    );
    let combinator = matches!(kind, Kind::Not | Kind::Or);
    if scope == ConditionScope::Schedule && !calendar && !combinator && kind != Kind::Expression {
        d.error(
            type_node.pos,
            &type_path,
            format!(
                "condition '{canonical}' cannot be used on a Schedule trigger: it tests an \
                 execution, and a schedule has none (use DayWeek, DayWeekInMonth, \
                 DateTimeBetween, Weekend or Expression)"
            ),
        );
        return None;
    }
    let short = canonical.rsplit('.').next().unwrap_or(canonical);
    let owner = format!("the {short} condition at {path}");
    let allowed: &[&str] = match kind {
        Kind::ExecutionStatus => &["type", "in", "notIn"],
        Kind::ExecutionFlow => &["type", "namespace", "flowId"],
        Kind::ExecutionNamespace => &["type", "namespace", "comparison", "prefix"],
        Kind::Expression => &["type", "expression"],
        Kind::Multiple => &[
            "type",
            "id",
            "conditions",
            "timeWindow",
            "window",
            "windowAdvance",
            "resetOnSuccess",
        ],
        Kind::DayWeek => &["type", "date", "dayOfWeek"],
        Kind::DayWeekInMonth => &["type", "date", "dayOfWeek", "dayInMonth"],
        Kind::DateTimeBetween | Kind::TimeBetween => &["type", "date", "after", "before"],
        Kind::Not | Kind::Or => &["type", "conditions"],
        Kind::Weekend | Kind::Unavailable(_) => &["type", "date"],
    };
    let mut f = Fields::new(d, node, path, owner, allowed);
    let condition = match kind {
        Kind::ExecutionStatus => Some(Condition::ExecutionStatus {
            in_states: f.names("in", STATE_NAMES),
            not_in: f.names("notIn", STATE_NAMES),
        }),
        Kind::ExecutionFlow => {
            let namespace = f.required_text("namespace");
            let flow_id = f.required_text("flowId");
            Some(Condition::ExecutionFlow {
                namespace: namespace?,
                flow_id: flow_id?,
            })
        }
        Kind::ExecutionNamespace => {
            let namespace = f.required_text("namespace");
            let prefix = f.boolean("prefix").unwrap_or(false);
            let comparison = f
                .choice("comparison", &["EQUALS", "PREFIX", "SUFFIX"], |t| {
                    match t.to_ascii_uppercase().as_str() {
                        "EQUALS" => Some(NamespaceComparison::Equals),
                        "PREFIX" => Some(NamespaceComparison::Prefix),
                        "SUFFIX" => Some(NamespaceComparison::Suffix),
                        _ => None,
                    }
                })
                .unwrap_or(if prefix {
                    NamespaceComparison::Prefix
                } else {
                    NamespaceComparison::Equals
                });
            Some(Condition::ExecutionNamespace {
                namespace: namespace?,
                comparison,
            })
        }
        Kind::Expression => f
            .required_text("expression")
            .map(|expression| Condition::Expression { expression }),
        Kind::Multiple => read_multiple(&mut f).map(Condition::Multiple),
        Kind::Not => read_combined(&mut f, scope).map(Condition::Not),
        Kind::Or => read_combined(&mut f, scope).map(Condition::Or),
        _ => read_calendar(&mut f, kind).map(Condition::Calendar),
    };
    if f.ok { condition } else { None }
}

/// The `conditions` list of a Not or an Or: each read in the same scope (so a Schedule's Not
/// holds only date rules and expressions). A MultipleCondition, decided over past executions,
/// cannot be negated or combined this way.
fn read_combined(f: &mut Fields<'_, '_>, scope: ConditionScope) -> Option<Vec<Condition>> {
    let Some(node) = f.get("conditions") else {
        f.missing("conditions");
        return None;
    };
    let path = f.key_path("conditions");
    let Some(items) = read::seq(f.d, node, &path) else {
        f.ok = false;
        return None;
    };
    if items.is_empty() {
        f.d.error(
            node.pos,
            &path,
            "'conditions' must hold at least one condition",
        );
        f.ok = false;
        return None;
    }
    let mut conditions = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = index(&path, i);
        match parse_condition(f.d, item, &at, scope) {
            Some(Condition::Multiple(_)) => {
                f.d.error(
                    item.pos,
                    &at,
                    "a MultipleCondition cannot be inside a Not or an Or: it is decided over \
                     past executions; put it directly in the trigger's conditions",
                );
                f.ok = false;
            }
            Some(c) => conditions.push(c),
            None => f.ok = false,
        }
    }
    Some(conditions)
}

fn read_multiple(f: &mut Fields<'_, '_>) -> Option<MultipleCondition> {
    let id = f.required_text("id");
    let reset_on_success = f.boolean("resetOnSuccess").unwrap_or(true);
    let mut time_window = match f.get("timeWindow") {
        Some(node) => read_time_window(f.d, node, &f.key_path("timeWindow"), &mut f.ok),
        None => TimeWindow::default(),
    };
    // The deprecated `window` and `windowAdvance` of MultipleCondition.
    if let Some(window) = f.duration("window") {
        time_window.window = Some(window);
    }
    if let Some(advance) = f.duration("windowAdvance") {
        time_window.window_advance = Some(advance);
    }
    let mut conditions = IndexMap::new();
    match f.get("conditions") {
        None => f.missing("conditions"),
        Some(node) => {
            let path = f.key_path("conditions");
            match read::map(f.d, node, &path) {
                Some([]) => {
                    f.d.error(
                        node.pos,
                        &path,
                        "'conditions' must name at least one condition",
                    );
                    f.ok = false;
                }
                Some(entries) => {
                    for e in entries {
                        let at = join(&path, &e.key);
                        match parse_condition(f.d, &e.value, &at, ConditionScope::Any) {
                            Some(c) => {
                                conditions.insert(e.key.clone(), c);
                            }
                            None => f.ok = false,
                        }
                    }
                }
                None => f.ok = false,
            }
        }
    }
    Some(MultipleCondition {
        id: id?,
        time_window,
        reset_on_success,
        conditions,
    })
}

/// Reads a `timeWindow` map (Kestra's `TimeWindow`).
pub(crate) fn read_time_window(
    d: &mut Diags,
    node: &Node,
    path: &str,
    ok: &mut bool,
) -> TimeWindow {
    let allowed = &[
        "type",
        "window",
        "windowAdvance",
        "deadline",
        "startTime",
        "endTime",
    ];
    let mut f = Fields::new(d, node, path, format!("the time window at {path}"), allowed);
    let window_type = f
        .choice("type", &TimeWindowType::NAMES, TimeWindowType::parse)
        .unwrap_or(TimeWindowType::DurationWindow);
    let window = TimeWindow {
        window_type,
        window: f.duration("window"),
        window_advance: f.duration("windowAdvance"),
        deadline: time(&mut f, "deadline"),
        start_time: time(&mut f, "startTime"),
        end_time: time(&mut f, "endTime"),
    };
    *ok &= f.ok;
    window
}

/// A local time such as `09:00` or `09:00:00`.
fn time(f: &mut Fields<'_, '_>, key: &str) -> Option<NaiveTime> {
    let text = f.text(key)?;
    let parsed = NaiveTime::parse_from_str(&text, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(&text, "%H:%M"))
        .ok();
    if parsed.is_none() {
        let pos = f.get(key).map_or(f.node.pos, |n| n.pos);
        let path = f.key_path(key);
        f.d.error(
            pos,
            &path,
            format!("'{path}': '{text}' is not a time such as 09:00:00"),
        );
        f.ok = false;
    }
    parsed
}

fn read_calendar(f: &mut Fields<'_, '_>, kind: Kind) -> Option<CalendarCondition> {
    let date = f
        .text("date")
        .unwrap_or_else(|| "{{ trigger.date }}".to_owned());
    let rule = match kind {
        Kind::DayWeek => CalendarRule::DayWeek(day_of_week(f)?),
        Kind::DayWeekInMonth => {
            let day = day_of_week(f);
            if f.get("dayInMonth").is_none() {
                f.missing("dayInMonth");
            }
            let which = f.choice("dayInMonth", &DayInMonth::NAMES, DayInMonth::parse);
            CalendarRule::DayWeekInMonth {
                day_of_week: day?,
                day_in_month: which?,
            }
        }
        Kind::DateTimeBetween => {
            let after = instant(f, "after");
            let before = instant(f, "before");
            if f.get("after").is_none() && f.get("before").is_none() {
                let message = format!("{} needs 'after', 'before' or both", f.owner);
                f.d.error(f.node.pos, &f.path, message);
                f.ok = false;
            }
            CalendarRule::DateTimeBetween { after, before }
        }
        Kind::TimeBetween => {
            let after = time_of_day(f, "after");
            let before = time_of_day(f, "before");
            if f.get("after").is_none() && f.get("before").is_none() {
                let message = format!("{} needs 'after', 'before' or both", f.owner);
                f.d.error(f.node.pos, &f.path, message);
                f.ok = false;
            }
            CalendarRule::TimeBetween { after, before }
        }
        _ => CalendarRule::Weekend,
    };
    Some(CalendarCondition { date, rule })
}

fn day_of_week(f: &mut Fields<'_, '_>) -> Option<chrono::Weekday> {
    if f.get("dayOfWeek").is_none() {
        f.missing("dayOfWeek");
        return None;
    }
    f.choice("dayOfWeek", &WEEKDAY_NAMES, parse_weekday)
}

fn time_of_day(f: &mut Fields<'_, '_>, key: &str) -> Option<OffsetTime> {
    let text = f.text(key)?;
    let parsed = OffsetTime::parse(&text);
    if parsed.is_none() {
        let pos = f.get(key).map_or(f.node.pos, |n| n.pos);
        let path = f.key_path(key);
        f.d.error(
            pos,
            &path,
            format!("'{path}': '{text}' is not a time with an offset such as 08:00:00+02:00"),
        );
        f.ok = false;
    }
    parsed
}

fn instant(f: &mut Fields<'_, '_>, key: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let text = f.text(key)?;
    let parsed = parse_date_time(&text);
    if parsed.is_none() {
        let pos = f.get(key).map_or(f.node.pos, |n| n.pos);
        let path = f.key_path(key);
        f.d.error(
            pos,
            &path,
            format!(
                "'{path}': '{text}' is not a date-time with an offset such as 2024-05-01T00:00:00Z"
            ),
        );
        f.ok = false;
    }
    parsed
}
