//! The Flow trigger's `preconditions` (Kestra 0.19+): upstream flows that must all have
//! reached given states within a time window, and filters on the executions considered.

use indexmap::IndexMap;
use serde::Serialize;

use super::parse::read_time_window;
use super::{STATE_NAMES, TimeWindow};
use crate::diagnostic::{Diags, index};
use crate::read::{self, Fields};
use crate::yaml::Node;

/// Kestra's `Flow.Preconditions`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preconditions {
    /// Names the window's state; the trigger's id when absent.
    pub id: Option<String>,
    pub time_window: TimeWindow,
    pub reset_on_success: bool,
    /// Each upstream flow must have an execution matching it within the window.
    pub flows: Vec<UpstreamFlow>,
    /// Each filter group must be met by an execution within the window.
    pub filters: Vec<ExecutionFilter>,
}

/// One upstream flow of the preconditions.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpstreamFlow {
    pub namespace: String,
    /// Any flow of the namespace when absent.
    pub flow_id: Option<String>,
    /// Kestra's state names; any terminated state when empty.
    pub states: Vec<String>,
    /// Labels the upstream execution must carry.
    pub labels: IndexMap<String, String>,
}

/// One `where` entry: filters joined by `operand`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionFilter {
    pub id: String,
    pub operand: FilterOperand,
    pub filters: Vec<PreconditionFilter>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FilterOperand {
    And,
    Or,
}

/// One filter: `field` compared by `filter_type` with `value` or `values`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreconditionFilter {
    pub field: FilterField,
    pub filter_type: FilterType,
    pub value: Option<String>,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FilterField {
    FlowId,
    Namespace,
    State,
    /// `value` is an expression rendered against the upstream execution.
    Expression,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FilterType {
    EqualTo,
    NotEqualTo,
    In,
    NotIn,
    IsTrue,
    IsFalse,
    IsNull,
    IsNotNull,
    StartsWith,
    EndsWith,
    Regex,
    Contains,
}

const FIELDS: [&str; 4] = ["FLOW_ID", "NAMESPACE", "STATE", "EXPRESSION"];

const TYPES: [&str; 12] = [
    "EQUAL_TO",
    "NOT_EQUAL_TO",
    "IN",
    "NOT_IN",
    "IS_TRUE",
    "IS_FALSE",
    "IS_NULL",
    "IS_NOT_NULL",
    "STARTS_WITH",
    "ENDS_WITH",
    "REGEX",
    "CONTAINS",
];

fn field(name: &str) -> Option<FilterField> {
    Some(match name.to_ascii_uppercase().as_str() {
        "FLOW_ID" => FilterField::FlowId,
        "NAMESPACE" => FilterField::Namespace,
        "STATE" => FilterField::State,
        "EXPRESSION" => FilterField::Expression,
        _ => return None,
    })
}

fn filter_type(name: &str) -> Option<FilterType> {
    use FilterType::*;
    let all = [
        EqualTo, NotEqualTo, In, NotIn, IsTrue, IsFalse, IsNull, IsNotNull, StartsWith, EndsWith,
        Regex, Contains,
    ];
    let upper = name.to_ascii_uppercase();
    TYPES.iter().position(|t| *t == upper).map(|i| all[i])
}

/// Reads `preconditions`; `None` after reporting any mistake.
pub(crate) fn parse_preconditions(d: &mut Diags, node: &Node, path: &str) -> Option<Preconditions> {
    let allowed = &["id", "timeWindow", "resetOnSuccess", "flows", "where"];
    let mut f = Fields::new(d, node, path, "the preconditions".to_owned(), allowed);
    let id = f.text("id");
    let reset_on_success = f.boolean("resetOnSuccess").unwrap_or(true);
    let time_window = match f.get("timeWindow") {
        Some(n) => read_time_window(f.d, n, &f.key_path("timeWindow"), &mut f.ok),
        None => TimeWindow::default(),
    };
    let flows = list(&mut f, "flows", read_upstream);
    let filters = list(&mut f, "where", read_filter_group);
    f.ok.then_some(Preconditions {
        id,
        time_window,
        reset_on_success,
        flows,
        filters,
    })
}

/// The items of list `key`, each read by `item`.
fn list<T>(
    f: &mut Fields<'_, '_>,
    key: &str,
    item: fn(&mut Diags, &Node, &str) -> Option<T>,
) -> Vec<T> {
    let Some(node) = f.get(key) else {
        return Vec::new();
    };
    let path = f.key_path(key);
    let Some(items) = read::seq(f.d, node, &path) else {
        f.ok = false;
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, n) in items.iter().enumerate() {
        match item(f.d, n, &index(&path, i)) {
            Some(v) => out.push(v),
            None => f.ok = false,
        }
    }
    out
}

fn read_upstream(d: &mut Diags, node: &Node, path: &str) -> Option<UpstreamFlow> {
    let allowed = &["namespace", "flowId", "states", "labels"];
    let mut f = Fields::new(
        d,
        node,
        path,
        format!("the upstream flow at {path}"),
        allowed,
    );
    let namespace = f.required_text("namespace");
    let flow_id = f.text("flowId");
    let states = f.names("states", STATE_NAMES);
    let labels = match f.get("labels") {
        Some(n) => crate::flow::parse_labels(f.d, n, &f.key_path("labels")),
        None => IndexMap::new(),
    };
    let upstream = UpstreamFlow {
        namespace: namespace?,
        flow_id,
        states,
        labels,
    };
    f.ok.then_some(upstream)
}

fn read_filter_group(d: &mut Diags, node: &Node, path: &str) -> Option<ExecutionFilter> {
    let allowed = &["id", "operand", "filters"];
    let mut f = Fields::new(
        d,
        node,
        path,
        format!("the filter group at {path}"),
        allowed,
    );
    let id = f.required_text("id");
    let operand = f
        .choice("operand", &["AND", "OR"], |t| {
            match t.to_ascii_uppercase().as_str() {
                "AND" => Some(FilterOperand::And),
                "OR" => Some(FilterOperand::Or),
                _ => None,
            }
        })
        .unwrap_or(FilterOperand::And);
    if f.get("filters").is_none() {
        f.missing("filters");
    }
    let filters = list(&mut f, "filters", read_filter);
    let group = ExecutionFilter {
        id: id?,
        operand,
        filters,
    };
    f.ok.then_some(group)
}

fn read_filter(d: &mut Diags, node: &Node, path: &str) -> Option<PreconditionFilter> {
    let allowed = &["field", "type", "value", "values"];
    let mut f = Fields::new(d, node, path, format!("the filter at {path}"), allowed);
    for key in ["field", "type"] {
        if f.get(key).is_none() {
            f.missing(key);
        }
    }
    let field = f.choice("field", &FIELDS, field);
    let filter_type = f.choice("type", &TYPES, filter_type);
    let filter = PreconditionFilter {
        field: field?,
        filter_type: filter_type?,
        value: f.text("value"),
        values: f.texts("values"),
    };
    f.ok.then_some(filter)
}
