//! Flow triggers: when an execution ends, which listening flows start. The decision, as
//! Kestra makes it (`Flow` trigger, `ConditionService`): the ended state must be one of the
//! trigger's `states`; every condition that is not a MultipleCondition must hold for the
//! ended execution; then each MultipleCondition records which of its named conditions the
//! execution meets, and holds once all were met within its window; `preconditions` work the
//! same way over upstream flows and `where` filters. A window that fires starts over.
//!
//! The windows live in the executor's memory: a restart forgets what was met so far (Kestra
//! keeps them in its database).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use saker_model::condition::{
    Condition, ExecutionFacts, FilterField, FilterOperand, FilterType, PreconditionFilter,
    Preconditions, TimeWindow, UpstreamFlow,
};
use saker_model::{Execution, Flow, TriggerDef};
use saker_store::Store;

/// How long the list of listening flows is trusted without a deploy through this engine
/// (flows written to the store by another process show up after at most this long).
const REFRESH: Duration = Duration::from_secs(5);

/// Kestra's default window: one day.
const DEFAULT_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// A flow that listens, as last read from the store.
pub(crate) struct Listener {
    pub flow: Arc<Flow>,
    pub revision: u32,
}

/// The flows with a Flow trigger, per tenant, re-read when a flow is deployed.
#[derive(Default)]
pub(crate) struct Listeners {
    by_tenant: HashMap<String, (u64, Instant, Vec<Listener>)>,
}

impl Listeners {
    /// The listening flows of `tenant`. `generation` changes on every deploy.
    pub fn of(&mut self, store: &dyn Store, tenant: &str, generation: &AtomicU64) -> &[Listener] {
        let now_generation = generation.load(Ordering::Acquire);
        let fresh = self
            .by_tenant
            .get(tenant)
            .is_some_and(|(g, at, _)| *g == now_generation && at.elapsed() < REFRESH);
        if !fresh {
            let listeners = match store.list_flows(tenant, None) {
                Ok(records) => records
                    .into_iter()
                    // Cheap before parsing: only a flow naming the Flow trigger can listen.
                    .filter(|r| {
                        r.source.contains("trigger.Flow") || r.source.contains("types.Flow")
                    })
                    .filter_map(|r| {
                        let flow = saker_model::parse_flow(&r.source).ok()?;
                        let listens = !flow.disabled
                            && flow
                                .triggers
                                .iter()
                                .any(|t| t.type_name == TriggerDef::FLOW_TYPE && !t.disabled);
                        listens.then(|| Listener {
                            flow: Arc::new(flow),
                            revision: r.revision,
                        })
                    })
                    .collect(),
                Err(e) => {
                    tracing::warn!(tenant, error = %e, "cannot list the flows that listen to executions");
                    Vec::new()
                }
            };
            self.by_tenant.insert(
                tenant.to_owned(),
                (now_generation, Instant::now(), listeners),
            );
        }
        self.by_tenant
            .get(tenant)
            .map(|(_, _, l)| l.as_slice())
            .unwrap_or_default()
    }
}

/// What MultipleConditions and preconditions have seen: met names per window.
#[derive(Default)]
pub(crate) struct Windows {
    windows: HashMap<String, Window>,
}

struct Window {
    start: DateTime<Utc>,
    met: BTreeSet<String>,
}

impl Windows {
    /// Records `names` as met in the window `key` (opening or renewing it as `window` says)
    /// and answers whether every one of `all` is met now; a complete window starts over.
    fn record(
        &mut self,
        key: String,
        window: &TimeWindow,
        names: impl IntoIterator<Item = String>,
        all: &[String],
    ) -> bool {
        let now = Utc::now();
        let length = window.window.unwrap_or(DEFAULT_WINDOW);
        let entry = self.windows.entry(key.clone()).or_insert_with(|| Window {
            start: now,
            met: BTreeSet::new(),
        });
        if (now - entry.start).to_std().unwrap_or_default() > length {
            entry.start = now;
            entry.met.clear();
        }
        entry.met.extend(names);
        let complete = all.iter().all(|n| entry.met.contains(n));
        if complete {
            self.windows.remove(&key);
        }
        complete
    }
}

/// Renders a template against the ended execution (conditions and filters that hold an
/// expression); `Err` is the render's message.
pub(crate) type Render<'a> = dyn FnMut(&str) -> Result<String, String> + 'a;

/// Whether `trigger` of `listener` fires for `ended` (of flow `upstream`).
pub(crate) fn fires(
    windows: &mut Windows,
    listener: &Flow,
    trigger: &TriggerDef,
    ended: &Execution,
    render: &mut Render<'_>,
) -> Result<bool, String> {
    let state = ended.state.current.as_str();
    if !trigger.flow_states().iter().any(|s| s == state) {
        return Ok(false);
    }
    let facts = ExecutionFacts {
        namespace: &ended.namespace,
        flow_id: &ended.flow_id,
        state,
    };
    for condition in &trigger.conditions {
        if matches!(condition, Condition::Multiple(_)) {
            continue;
        }
        if !condition
            .test(Some(&facts), render)
            .map_err(|e| e.to_string())?
        {
            return Ok(false);
        }
    }
    let key_of = |id: &str| {
        format!(
            "{}/{}/{}/{}/{id}",
            ended.tenant_id, listener.namespace, listener.id, trigger.id
        )
    };
    let mut all_hold = true;
    for condition in &trigger.conditions {
        let Condition::Multiple(multiple) = condition else {
            continue;
        };
        let mut met = Vec::new();
        for (name, sub) in &multiple.conditions {
            if sub.test(Some(&facts), render).map_err(|e| e.to_string())? {
                met.push(name.clone());
            }
        }
        let all: Vec<String> = multiple.conditions.keys().cloned().collect();
        all_hold &= windows.record(key_of(&multiple.id), &multiple.time_window, met, &all);
    }
    if let Some(pre) = &trigger.preconditions {
        all_hold &= preconditions_hold(
            windows,
            pre,
            &key_of(pre.id.as_deref().unwrap_or(&trigger.id)),
            ended,
            render,
        )?;
    }
    Ok(all_hold)
}

fn preconditions_hold(
    windows: &mut Windows,
    pre: &Preconditions,
    key: &str,
    ended: &Execution,
    render: &mut Render<'_>,
) -> Result<bool, String> {
    let mut met = Vec::new();
    let mut all = Vec::new();
    for (i, upstream) in pre.flows.iter().enumerate() {
        let name = format!("flow:{i}");
        if upstream_matches(upstream, ended) {
            met.push(name.clone());
        }
        all.push(name);
    }
    for group in &pre.filters {
        let name = format!("where:{}", group.id);
        let mut results = Vec::with_capacity(group.filters.len());
        for filter in &group.filters {
            results.push(filter_holds(filter, ended, render)?);
        }
        let holds = match group.operand {
            FilterOperand::And => results.iter().all(|r| *r),
            FilterOperand::Or => results.iter().any(|r| *r),
        };
        if holds {
            met.push(name.clone());
        }
        all.push(name);
    }
    Ok(windows.record(key.to_owned(), &pre.time_window, met, &all))
}

fn upstream_matches(upstream: &UpstreamFlow, ended: &Execution) -> bool {
    let state = ended.state.current.as_str();
    upstream.namespace == ended.namespace
        && upstream
            .flow_id
            .as_deref()
            .is_none_or(|f| f == ended.flow_id)
        && (if upstream.states.is_empty() {
            ended.state.current.is_terminated()
        } else {
            upstream.states.iter().any(|s| s == state)
        })
        && upstream.labels.iter().all(|(k, v)| {
            ended
                .labels
                .get(k)
                .and_then(|l| l.as_str())
                .is_some_and(|l| l == v)
        })
}

fn filter_holds(
    filter: &PreconditionFilter,
    ended: &Execution,
    render: &mut Render<'_>,
) -> Result<bool, String> {
    let subject: Option<String> = match filter.field {
        FilterField::FlowId => Some(ended.flow_id.clone()),
        FilterField::Namespace => Some(ended.namespace.clone()),
        FilterField::State => Some(ended.state.current.as_str().to_owned()),
        FilterField::Expression => match &filter.value {
            Some(expression) => Some(render(expression)?),
            None => None,
        },
    };
    // For an EXPRESSION, the rendered expression is the subject and `value` was the template.
    let value = match filter.field {
        FilterField::Expression => None,
        _ => filter.value.as_deref(),
    };
    let text = subject.as_deref().unwrap_or_default();
    Ok(match filter.filter_type {
        FilterType::EqualTo => value.is_some_and(|v| v == text),
        FilterType::NotEqualTo => value.is_none_or(|v| v != text),
        FilterType::In => filter.values.iter().any(|v| v == text),
        FilterType::NotIn => !filter.values.iter().any(|v| v == text),
        FilterType::IsTrue => text.trim() == "true",
        FilterType::IsFalse => text.trim() == "false",
        FilterType::IsNull => subject.is_none() || text.is_empty(),
        FilterType::IsNotNull => subject.is_some() && !text.is_empty(),
        FilterType::StartsWith => value.is_some_and(|v| text.starts_with(v)),
        FilterType::EndsWith => value.is_some_and(|v| text.ends_with(v)),
        FilterType::Contains => value.is_some_and(|v| text.contains(v)),
        FilterType::Regex => match value.map(regex_lite_match) {
            Some(matcher) => matcher(text),
            None => false,
        },
    })
}

/// REGEX filters: anchored like Java's `String.matches`, with the regex crate.
fn regex_lite_match(pattern: &str) -> impl Fn(&str) -> bool + '_ {
    move |text: &str| {
        regex::Regex::new(&format!("^(?:{pattern})$"))
            .map(|re| re.is_match(text))
            .unwrap_or(false)
    }
}
