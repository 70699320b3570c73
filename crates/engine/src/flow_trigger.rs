//! Flow triggers: when an execution ends, which listening flows start. The decision, as
//! Kestra makes it (`Flow` trigger, `ConditionService`): the ended state must be one of the
//! trigger's `states`; every condition that is not a MultipleCondition must hold for the
//! ended execution; then each MultipleCondition records which of its named conditions the
//! execution meets, and holds once all were met within its window; `preconditions` work the
//! same way over upstream flows and `where` filters. A window that fires starts over. A named
//! condition or `where` group that cannot be evaluated (its expression fails to render) is
//! not met and is logged; the others are still recorded, as Kestra evaluates each on its own.
//!
//! The windows live in the executor's memory: a restart forgets what was met so far (Kestra
//! keeps them in its database).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use saker_model::condition::{
    Condition, ExecutionFacts, ExecutionFilter, FilterField, FilterOperand, FilterType,
    PreconditionFilter, Preconditions, TimeWindow, TimeWindowType, UpstreamFlow,
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
    /// When a DURATION_WINDOW opened, or the day a daily window is for.
    start: DateTime<Utc>,
    /// Each condition met, with when.
    met: std::collections::BTreeMap<String, DateTime<Utc>>,
}

impl Windows {
    /// Records `names` as met now in the window `key`, as its type says (Kestra's
    /// `TimeWindow`, in UTC):
    /// - DURATION_WINDOW: a window of `window` (a day by default) opened by the first
    ///   condition met, then a new one;
    /// - SLIDING_WINDOW: what was met within the last `window`;
    /// - DAILY_TIME_DEADLINE: what was met today before `deadline`;
    /// - DAILY_TIME_WINDOW: what was met today between `startTime` and `endTime`.
    ///
    /// Answers whether every one of `all` is met; a complete window starts over when
    /// `reset` (Kestra's `resetOnSuccess`, true by default).
    fn record(
        &mut self,
        key: String,
        window: &TimeWindow,
        names: impl IntoIterator<Item = String>,
        all: &[String],
        reset: bool,
    ) -> bool {
        let now = Utc::now();
        let length = window.window.unwrap_or(DEFAULT_WINDOW);
        let within = |from: DateTime<Utc>| (now - from).to_std().unwrap_or_default() <= length;
        let entry = self.windows.entry(key.clone()).or_insert_with(|| Window {
            start: now,
            met: std::collections::BTreeMap::new(),
        });
        let today = now.date_naive();
        let counts_now = match window.window_type {
            TimeWindowType::DurationWindow => {
                if !within(entry.start) {
                    entry.start = now;
                    entry.met.clear();
                }
                true
            }
            TimeWindowType::SlidingWindow => {
                entry.met.retain(|_, at| within(*at));
                true
            }
            TimeWindowType::DailyTimeDeadline | TimeWindowType::DailyTimeWindow => {
                if entry.start.date_naive() != today {
                    entry.start = now;
                    entry.met.clear();
                }
                let time = now.time();
                match window.window_type {
                    TimeWindowType::DailyTimeDeadline => {
                        window.deadline.is_none_or(|deadline| time <= deadline)
                    }
                    _ => {
                        window.start_time.is_none_or(|start| time >= start)
                            && window.end_time.is_none_or(|end| time <= end)
                    }
                }
            }
        };
        if counts_now {
            for name in names {
                entry.met.insert(name, now);
            }
        }
        let complete = all.iter().all(|n| entry.met.contains_key(n));
        if complete && reset {
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
            let holds = sub.test(Some(&facts), render).map_err(|e| e.to_string());
            if met_or_warn(holds, listener, trigger, name) {
                met.push(name.clone());
            }
        }
        let all: Vec<String> = multiple.conditions.keys().cloned().collect();
        all_hold &= windows.record(
            key_of(&multiple.id),
            &multiple.time_window,
            met,
            &all,
            multiple.reset_on_success,
        );
    }
    if let Some(pre) = &trigger.preconditions {
        all_hold &= preconditions_hold(
            windows,
            pre,
            &key_of(pre.id.as_deref().unwrap_or(&trigger.id)),
            ended,
            render,
            &mut |group, holds| met_or_warn(holds, listener, trigger, group),
        );
    }
    Ok(all_hold)
}

/// Whether one named condition of a MultipleCondition or one `where` group of preconditions
/// is met. One that cannot be decided (an expression that fails to render, such as
/// `{{ labels.some == 'label' }}` for an execution without that label) is not met, and the
/// others are still recorded: Kestra's `ConditionService` evaluates each of them on its own
/// and logs the failure as a warning.
fn met_or_warn(
    holds: Result<bool, String>,
    listener: &Flow,
    trigger: &TriggerDef,
    condition: &str,
) -> bool {
    holds.unwrap_or_else(|e| {
        tracing::warn!(
            flow = %format!("{}.{}", listener.namespace, listener.id),
            trigger = %trigger.id,
            condition,
            error = %e,
            "a condition of a Flow trigger could not be evaluated; it is not met"
        );
        false
    })
}

/// Records which upstream flows and `where` groups `ended` meets, and says whether all of
/// them are met in the window. `decided` turns a group's evaluation into met or not.
fn preconditions_hold(
    windows: &mut Windows,
    pre: &Preconditions,
    key: &str,
    ended: &Execution,
    render: &mut Render<'_>,
    decided: &mut dyn FnMut(&str, Result<bool, String>) -> bool,
) -> bool {
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
        if decided(&group.id, group_holds(group, ended, render)) {
            met.push(name.clone());
        }
        all.push(name);
    }
    windows.record(
        key.to_owned(),
        &pre.time_window,
        met,
        &all,
        pre.reset_on_success,
    )
}

/// A `where` group, its filters evaluated in order and only as far as needed (AND stops at
/// the first that fails, OR at the first that holds), as Kestra's `allMatch`/`anyMatch` do: an
/// expression after a filter that already decided is never rendered.
fn group_holds(
    group: &ExecutionFilter,
    ended: &Execution,
    render: &mut Render<'_>,
) -> Result<bool, String> {
    let decisive = match group.operand {
        FilterOperand::And => false,
        FilterOperand::Or => true,
    };
    for filter in &group.filters {
        if filter_holds(filter, ended, render)? == decisive {
            return Ok(decisive);
        }
    }
    Ok(!decisive)
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
        FilterType::IsTrue => kestra_truthy(subject.as_deref()),
        FilterType::IsFalse => !kestra_truthy(subject.as_deref()),
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

/// Kestra's `TruthUtils.isTruthy`, which IS_TRUE and IS_FALSE use: anything but null, `false`,
/// `0`, `-0` and the empty string.
fn kestra_truthy(text: Option<&str>) -> bool {
    text.is_some_and(|t| !matches!(t, "false" | "0" | "-0" | ""))
}

/// REGEX filters: anchored like Java's `String.matches`, with the regex crate.
fn regex_lite_match(pattern: &str) -> impl Fn(&str) -> bool + '_ {
    move |text: &str| {
        regex::Regex::new(&format!("^(?:{pattern})$"))
            .map(|re| re.is_match(text))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use saker_model::StateType;

    use super::*;

    fn window(kind: TimeWindowType) -> TimeWindow {
        TimeWindow {
            window_type: kind,
            window: Some(Duration::from_secs(3600)),
            ..TimeWindow::default()
        }
    }

    #[test]
    fn windows_complete_once_every_name_is_met_and_start_over_only_when_told() {
        let all = ["a".to_owned(), "b".to_owned()];
        let mut w = Windows::default();
        let duration = window(TimeWindowType::DurationWindow);
        assert!(!w.record("k".into(), &duration, ["a".to_owned()], &all, true));
        assert!(w.record("k".into(), &duration, ["b".to_owned()], &all, true));
        // Reset: the next one needs both again.
        assert!(!w.record("k".into(), &duration, ["b".to_owned()], &all, true));

        let sliding = window(TimeWindowType::SlidingWindow);
        assert!(!w.record("s".into(), &sliding, ["a".to_owned()], &all, false));
        assert!(w.record("s".into(), &sliding, ["b".to_owned()], &all, false));
        // Not reset: still complete with the next execution.
        assert!(w.record("s".into(), &sliding, Vec::new(), &all, false));

        // A daily window that closed before now records nothing today.
        let closed = TimeWindow {
            window_type: TimeWindowType::DailyTimeWindow,
            start_time: Some(chrono::NaiveTime::MIN),
            end_time: Some(chrono::NaiveTime::MIN),
            ..TimeWindow::default()
        };
        let now = Utc::now().time();
        if now > chrono::NaiveTime::MIN {
            assert!(!w.record("d".into(), &closed, all.clone(), &all, true));
        }
    }

    const LISTENER: &str = r#"
id: listen
namespace: company.team
tasks:
  - id: only
    type: io.kestra.plugin.core.debug.Return
    format: it works
triggers:
  - id: flow
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: pre
      where:
        - id: labelled
          filters:
            - field: FLOW_ID
              type: EQUAL_TO
              value: a
            - field: EXPRESSION
              type: IS_TRUE
              value: "{{ labels.some == 'label' }}"
        - id: any-b
          operand: OR
          filters:
            - field: FLOW_ID
              type: EQUAL_TO
              value: b
            - field: EXPRESSION
              type: IS_TRUE
              value: "{{ broken }}"
"#;

    fn ended(flow_id: &str) -> Execution {
        let mut execution = Execution::new("main", "company.team", flow_id, 1);
        execution.state.transition(StateType::Success);
        execution
    }

    /// Offers `execution` to the listener: `{{ broken }}` fails to render, the label test
    /// renders `label_test`; `renders` collects what was rendered.
    fn offer(
        windows: &mut Windows,
        execution: &Execution,
        label_test: &str,
        renders: &mut Vec<String>,
    ) -> bool {
        let flow = saker_model::parse_flow(LISTENER).unwrap();
        let trigger = &flow.triggers[0];
        let mut render = |template: &str| {
            renders.push(template.to_owned());
            if template.contains("broken") {
                Err("'broken' is not defined".to_owned())
            } else {
                Ok(label_test.to_owned())
            }
        };
        fires(windows, &flow, trigger, execution, &mut render).unwrap()
    }

    #[test]
    fn a_where_group_that_cannot_be_evaluated_is_not_met_and_the_others_still_count() {
        let mut windows = Windows::default();
        let mut renders = Vec::new();
        // `a` meets `labelled`; for it, `any-b` renders `{{ broken }}`, which fails: not met,
        // and not an error of the whole trigger.
        let a = ended("a");
        assert!(!offer(&mut windows, &a, "false", &mut renders));
        assert_eq!(renders.len(), 2, "{renders:?}");
        assert!(!offer(&mut windows, &a, "true", &mut renders));
        // `b`: `labelled` stops at its FLOW_ID filter and `any-b` at its first, so nothing
        // renders; with `labelled` met before, the preconditions hold.
        renders.clear();
        assert!(offer(&mut windows, &ended("b"), "true", &mut renders));
        assert!(renders.is_empty(), "{renders:?}");
        // The window started over once it fired.
        assert!(!offer(&mut windows, &ended("b"), "true", &mut renders));
    }

    #[test]
    fn is_true_and_is_false_follow_kestra_truthiness() {
        for (text, truthy) in [
            ("true", true),
            ("yes", true),
            ("1", true),
            ("false", false),
            ("0", false),
            ("-0", false),
            ("", false),
        ] {
            assert_eq!(kestra_truthy(Some(text)), truthy, "{text:?}");
        }
        assert!(!kestra_truthy(None));
    }
}
