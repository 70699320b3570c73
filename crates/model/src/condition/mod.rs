//! Trigger and listener conditions (Kestra's `io.kestra.plugin.core.condition.*`), typed at
//! validation, and the Flow trigger's `preconditions`.
//!
//! What can be decided from the model alone is decided here, as pure functions: calendar
//! conditions on a date ([`CalendarCondition::holds_at`]), execution conditions on the facts
//! of an execution ([`Condition::holds_for`]), and any condition but MultipleCondition given a
//! renderer for its templates ([`Condition::test`], [`all_hold`]). MultipleCondition and
//! preconditions need the engine's memory of past executions within their time window; the
//! model gives them typed.

mod calendar;
mod evaluate;
mod parse;
mod preconditions;

use std::time::Duration;

use chrono::NaiveTime;
use indexmap::IndexMap;
use serde::Serialize;

pub use calendar::{
    BadDate, CalendarCondition, CalendarRule, DayInMonth, OffsetTime, WEEKDAY_NAMES,
    parse_date_time, parse_local_date, parse_weekday,
};
pub use evaluate::{ConditionError, all_hold, expression_holds};
pub(crate) use parse::{ConditionScope, parse_conditions};
pub(crate) use preconditions::parse_preconditions;
pub use preconditions::{
    ExecutionFilter, FilterField, FilterOperand, FilterType, PreconditionFilter, Preconditions,
    UpstreamFlow,
};

/// Kestra's execution and task run states, as conditions and the Flow trigger name them.
pub const STATE_NAMES: &[&str] = &[
    "CREATED",
    "RUNNING",
    "PAUSED",
    "RESTARTED",
    "KILLING",
    "SUCCESS",
    "WARNING",
    "FAILED",
    "KILLED",
    "CANCELLED",
    "QUEUED",
    "RETRYING",
    "RETRIED",
    "SKIPPED",
    "BREAKPOINT",
    "SUBMITTED",
    "RESUBMITTED",
];

/// The states a Flow trigger reacts to when it names none (Kestra's `terminatedTypes`).
pub const TERMINATED_STATES: &[&str] = &[
    "SUCCESS",
    "WARNING",
    "FAILED",
    "KILLED",
    "CANCELLED",
    "RETRIED",
    "SKIPPED",
];

/// One condition of a trigger or a listener.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Condition {
    /// The execution's state is in `in_states` (when given) and not in `not_in`.
    ExecutionStatus {
        #[serde(rename = "in")]
        in_states: Vec<String>,
        not_in: Vec<String>,
    },
    /// The execution is of this flow.
    ExecutionFlow { namespace: String, flow_id: String },
    /// The execution's namespace equals, starts with or ends with `namespace`.
    ExecutionNamespace {
        namespace: String,
        comparison: NamespaceComparison,
    },
    /// A template that must render to a true value (Kestra's Expression, formerly
    /// ExpressionCondition and VariableCondition).
    Expression { expression: String },
    /// Every condition of the map met by some execution within a time window.
    Multiple(MultipleCondition),
    /// A rule on a date.
    Calendar(CalendarCondition),
    /// Kestra's Not: none of the conditions holds.
    Not(Vec<Condition>),
    /// Kestra's Or: at least one of the conditions holds.
    Or(Vec<Condition>),
}

/// How ExecutionNamespace compares (Kestra's `Comparison`; `prefix: true` is PREFIX).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum NamespaceComparison {
    Equals,
    Prefix,
    Suffix,
}

/// Kestra's MultipleCondition: met once each named condition was met by an execution within
/// the window; then reset when `reset_on_success`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MultipleCondition {
    pub id: String,
    pub time_window: TimeWindow,
    pub reset_on_success: bool,
    pub conditions: IndexMap<String, Condition>,
}

/// A time window (Kestra's `TimeWindow`), with the deprecated `window`/`windowAdvance` of
/// MultipleCondition read into it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeWindow {
    pub window_type: TimeWindowType,
    pub window: Option<Duration>,
    pub window_advance: Option<Duration>,
    pub deadline: Option<NaiveTime>,
    pub start_time: Option<NaiveTime>,
    pub end_time: Option<NaiveTime>,
}

impl Default for TimeWindow {
    /// Kestra's default: a one-day duration window.
    fn default() -> Self {
        Self {
            window_type: TimeWindowType::DurationWindow,
            window: None,
            window_advance: None,
            deadline: None,
            start_time: None,
            end_time: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TimeWindowType {
    DailyTimeDeadline,
    DailyTimeWindow,
    DurationWindow,
    SlidingWindow,
}

impl TimeWindowType {
    pub const NAMES: [&'static str; 4] = [
        "DAILY_TIME_DEADLINE",
        "DAILY_TIME_WINDOW",
        "DURATION_WINDOW",
        "SLIDING_WINDOW",
    ];

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_uppercase().as_str() {
            "DAILY_TIME_DEADLINE" => Self::DailyTimeDeadline,
            "DAILY_TIME_WINDOW" => Self::DailyTimeWindow,
            "DURATION_WINDOW" => Self::DurationWindow,
            "SLIDING_WINDOW" => Self::SlidingWindow,
            _ => return None,
        })
    }
}

/// What an execution condition is tested against: the execution that changed state.
#[derive(Debug, Clone, Copy)]
pub struct ExecutionFacts<'a> {
    pub namespace: &'a str,
    pub flow_id: &'a str,
    /// Its state, by Kestra's name (`SUCCESS`).
    pub state: &'a str,
}

impl Condition {
    /// The answer for an execution, when the model alone can give it: ExecutionStatus,
    /// ExecutionFlow and ExecutionNamespace. `None` for the conditions that need the engine:
    /// an Expression (rendered), a Calendar rule (its date rendered, then
    /// [`CalendarCondition::holds_at`]), a MultipleCondition (a window over past executions).
    pub fn holds_for(&self, facts: &ExecutionFacts<'_>) -> Option<bool> {
        match self {
            Self::ExecutionStatus { in_states, not_in } => Some(
                (in_states.is_empty() || in_states.iter().any(|s| s == facts.state))
                    && !not_in.iter().any(|s| s == facts.state),
            ),
            Self::ExecutionFlow { namespace, flow_id } => {
                Some(namespace == facts.namespace && flow_id == facts.flow_id)
            }
            Self::ExecutionNamespace {
                namespace,
                comparison,
            } => Some(match comparison {
                NamespaceComparison::Equals => facts.namespace == namespace,
                NamespaceComparison::Prefix => facts.namespace.starts_with(namespace.as_str()),
                NamespaceComparison::Suffix => facts.namespace.ends_with(namespace.as_str()),
            }),
            Self::Expression { .. } | Self::Multiple(_) | Self::Calendar(_) => None,
            // Decided from facts alone only when every part is.
            Self::Not(conditions) => conditions
                .iter()
                .map(|c| c.holds_for(facts))
                .collect::<Option<Vec<bool>>>()
                .map(|held| !held.contains(&true)),
            Self::Or(conditions) => conditions
                .iter()
                .map(|c| c.holds_for(facts))
                .collect::<Option<Vec<bool>>>()
                .map(|held| held.contains(&true)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FACTS: ExecutionFacts<'static> = ExecutionFacts {
        namespace: "company.team.sales",
        flow_id: "orders",
        state: "FAILED",
    };

    #[test]
    fn execution_conditions_hold_on_the_facts() {
        let status = |in_states: &[&str], not_in: &[&str]| Condition::ExecutionStatus {
            in_states: in_states.iter().map(|s| (*s).to_owned()).collect(),
            not_in: not_in.iter().map(|s| (*s).to_owned()).collect(),
        };
        assert_eq!(
            status(&["FAILED", "WARNING"], &[]).holds_for(&FACTS),
            Some(true)
        );
        assert_eq!(status(&["SUCCESS"], &[]).holds_for(&FACTS), Some(false));
        assert_eq!(status(&[], &["FAILED"]).holds_for(&FACTS), Some(false));
        assert_eq!(status(&[], &["SUCCESS"]).holds_for(&FACTS), Some(true));

        let flow = |ns: &str, id: &str| Condition::ExecutionFlow {
            namespace: ns.to_owned(),
            flow_id: id.to_owned(),
        };
        assert_eq!(
            flow("company.team.sales", "orders").holds_for(&FACTS),
            Some(true)
        );
        assert_eq!(
            flow("company.team", "orders").holds_for(&FACTS),
            Some(false)
        );

        let ns = |namespace: &str, comparison| Condition::ExecutionNamespace {
            namespace: namespace.to_owned(),
            comparison,
        };
        assert_eq!(
            ns("company.team", NamespaceComparison::Equals).holds_for(&FACTS),
            Some(false)
        );
        assert_eq!(
            ns("company.team", NamespaceComparison::Prefix).holds_for(&FACTS),
            Some(true)
        );
        assert_eq!(
            ns("sales", NamespaceComparison::Suffix).holds_for(&FACTS),
            Some(true)
        );

        assert_eq!(
            serde_json::to_value(status(&["FAILED"], &[])).expect("json"),
            serde_json::json!({"executionStatus": {"in": ["FAILED"], "notIn": []}}),
            "Kestra's property names"
        );

        let expr = Condition::Expression {
            expression: "{{ true }}".to_owned(),
        };
        assert_eq!(expr.holds_for(&FACTS), None, "rendered by the engine");
    }
}
