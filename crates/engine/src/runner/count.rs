//! `io.kestra.plugin.core.execution.Count` (older name `io.kestra.core.tasks.executions.Counts`):
//! how many executions each flow had in a date range, optionally in some states, keeping the
//! flows for which `expression` (rendered with the variable `count`) is true. Kestra's way to
//! alert on a flow that stopped running (`{{ count == 0 }}`).
//!
//! A flow counts the executions of its own namespace and the namespaces below it only (as
//! the purge tasks purge only there): a `flows` entry or `namespaces` item outside them fails
//! the task, so no flow learns how often another team's flows run.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use saker_model::{Execution, StateType};
use saker_store::{ExecutionFilter, Store};
use serde_json::{Map, Value, json};

use super::purge::{names, optional_date, required_date, within};
use super::task_file_io::property;
use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

pub struct Count {
    pub(super) store: Arc<dyn Store>,
}

/// What to count: the `flows` entries, and the `namespaces` whose flows are all counted.
struct Query {
    tenant: String,
    own: String,
    flows: Vec<(String, String)>,
    namespaces: Vec<String>,
    states: Vec<StateType>,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
}

impl TaskRunner for Count {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let query = query(ctx)?;
            let expression = match ctx.property("expression") {
                Some(Value::String(s)) => s.clone(),
                _ => {
                    return Err(property(
                        "expression",
                        "is required: a condition on `count`, such as \"{{ count == 0 }}\"",
                    ));
                }
            };
            let store = self.store.clone();
            let counts = tokio::task::spawn_blocking(move || counts(store.as_ref(), &query))
                .await
                .map_err(|e| TaskError::Failed(format!("the count stopped: {e}")))?
                .map_err(|e| TaskError::Failed(format!("the count failed: {e}")))?;
            let mut results = Vec::new();
            let mut total = 0u64;
            for ((namespace, flow_id), count) in counts {
                let mut variables = Map::new();
                variables.insert("count".into(), count.into());
                let kept = ctx
                    .render_with(&expression, &variables)
                    .map_err(|e| property("expression", &e.to_string()))?;
                // Kestra keeps a flow only when the expression renders exactly `true`.
                if kept.text.trim() == "true" {
                    total += count;
                    results
                        .push(json!({"namespace": namespace, "flowId": flow_id, "count": count}));
                }
            }
            let mut outputs = Map::new();
            outputs.insert("results".into(), Value::Array(results));
            outputs.insert("total".into(), total.into());
            Ok(TaskOutcome::with_outputs(outputs))
        })
    }
}

fn query(ctx: &mut TaskContext) -> Result<Query, TaskError> {
    let tenant = ctx.render_template("{{ flow.tenantId }}")?;
    let own = ctx.render_template("{{ flow.namespace }}")?;
    let mut flows = Vec::new();
    match ctx.property("flows").cloned() {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let place = format!("flows[{i}]");
                let field = |name: &str| {
                    item.get(name)
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            property(&place, &format!("expected a map with '{name}' (a string)"))
                        })
                };
                let (namespace, flow_id) = (field("namespace")?, field("flowId")?);
                flows.push((
                    ctx.render_template(&namespace)?,
                    ctx.render_template(&flow_id)?,
                ));
            }
        }
        Some(_) => {
            return Err(property(
                "flows",
                "expected a list of {namespace, flowId} maps",
            ));
        }
    }
    let namespaces = ctx.render_string_or_list("namespaces")?;
    if flows.is_empty() && namespaces.is_empty() {
        return Err(TaskError::Failed(
            "provide the 'flows' or the 'namespaces' whose executions to count".into(),
        ));
    }
    for namespace in flows.iter().map(|(n, _)| n).chain(&namespaces) {
        if !within(namespace, &own) {
            return Err(TaskError::Failed(format!(
                "a flow of namespace '{own}' may only count the executions of '{own}' and the \
                 namespaces below it, not '{namespace}'"
            )));
        }
    }
    let states = names(
        ctx,
        "states",
        "CREATED, RUNNING, PAUSED, SUCCESS, WARNING, FAILED, KILLED, ...",
        |n| StateType::parse(&n.to_ascii_uppercase()),
    )?;
    Ok(Query {
        tenant,
        own,
        flows,
        namespaces,
        states,
        start: required_date(ctx, "startDate")?,
        end: optional_date(ctx, "endDate")?,
    })
}

/// The number of executions of each flow asked for (zero for a listed flow without any) and
/// of each flow of the `namespaces` that had some, by (namespace, flow).
fn counts(
    store: &dyn Store,
    query: &Query,
) -> saker_store::Result<BTreeMap<(String, String), u64>> {
    let in_range = |e: &Execution| {
        e.state
            .start_date()
            .is_some_and(|at| at >= query.start && query.end.is_none_or(|end| at <= end))
    };
    let list = |namespace: &str, flow_id: Option<&str>| {
        store.list_executions(&ExecutionFilter {
            namespace_prefix: Some(namespace.to_owned()),
            namespace_scopes: Some(vec![query.own.clone()]),
            flow_id: flow_id.map(str::to_owned),
            states: query.states.clone(),
            limit: None,
            ..ExecutionFilter::new(query.tenant.clone())
        })
    };
    let mut counts = BTreeMap::new();
    for (namespace, flow_id) in &query.flows {
        let n = list(namespace, Some(flow_id))?
            .iter()
            .filter(|e| e.namespace == *namespace && in_range(e))
            .count() as u64;
        counts.insert((namespace.clone(), flow_id.clone()), n);
    }
    for namespace in &query.namespaces {
        for e in list(namespace, None)? {
            if e.namespace == *namespace && in_range(&e) {
                *counts
                    .entry((e.namespace.clone(), e.flow_id.clone()))
                    .or_insert(0) += 1;
            }
        }
    }
    Ok(counts)
}
