//! Flow-level service level agreements (Kestra's `sla`): a maximum duration, or an assertion
//! checked when the execution ends, and what happens when one is violated.

use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

use crate::diagnostic::{Diags, index};
use crate::read::{self, Fields};
use crate::yaml::Node;

/// One SLA of a flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sla {
    pub id: String,
    pub kind: SlaKind,
    pub behavior: SlaBehavior,
    /// Labels added to the execution when the SLA is violated.
    pub labels: IndexMap<String, String>,
}

/// What an SLA checks (Kestra's `type` with its own property).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SlaKind {
    /// Violated when the execution runs longer than this.
    MaxDuration(Duration),
    /// An expression (Kestra's `assert`) rendered against the ended execution: violated when
    /// it is false.
    ExecutionAssertion(String),
}

/// What a violation does to the execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SlaBehavior {
    Fail,
    Cancel,
    /// Only the labels are added.
    None,
}

const KEYS: &[&str] = &["id", "type", "behavior", "labels", "duration", "assert"];

/// Reads the `sla` list. Ids need not be unique: Kestra's own test flows repeat one.
pub(crate) fn parse_slas(d: &mut Diags, node: &Node, path: &str) -> Vec<Sla> {
    let Some(items) = read::seq(d, node, path) else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| parse_sla(d, item, &index(path, i)))
        .collect()
}

fn parse_sla(d: &mut Diags, node: &Node, path: &str) -> Option<Sla> {
    let mut f = Fields::new(d, node, path, format!("the SLA at {path}"), KEYS);
    let id = f.required_text("id");
    if f.get("type").is_none() {
        f.missing("type");
    }
    let kind_name = f.choice("type", &["MAX_DURATION", "EXECUTION_ASSERTION"], |t| {
        Some(t.to_ascii_uppercase()).filter(|t| t == "MAX_DURATION" || t == "EXECUTION_ASSERTION")
    });
    if f.get("behavior").is_none() {
        f.missing("behavior");
    }
    let behavior = f.choice("behavior", &["FAIL", "CANCEL", "NONE"], |t| {
        match t.to_ascii_uppercase().as_str() {
            "FAIL" => Some(SlaBehavior::Fail),
            "CANCEL" => Some(SlaBehavior::Cancel),
            "NONE" => Some(SlaBehavior::None),
            _ => None,
        }
    });
    let labels = match f.get("labels") {
        Some(n) => crate::flow::parse_labels(f.d, n, &f.key_path("labels")),
        None => IndexMap::new(),
    };
    let kind = match kind_name.as_deref() {
        Some("MAX_DURATION") => {
            if f.get("duration").is_none() {
                f.missing("duration");
            }
            f.duration("duration").map(SlaKind::MaxDuration)
        }
        Some(_) => {
            if f.get("assert").is_none() {
                f.missing("assert");
            }
            f.text("assert").map(SlaKind::ExecutionAssertion)
        }
        None => None,
    };
    let sla = Sla {
        id: id?,
        kind: kind?,
        behavior: behavior?,
        labels,
    };
    f.ok.then_some(sla)
}
