//! What bounds an execution from outside its tasks: the flow's `concurrency` (how many of its
//! executions run at once, and what happens to one more: QUEUE, CANCEL or FAIL) and its
//! `sla` (a maximum duration, or an assertion on the ended execution; violated, the
//! execution FAILs, is CANCELled, or only gets the SLA's labels).

use std::collections::HashMap;

use chrono::Utc;
use serde_json::Value as Json;

use saker_model::sla::{SlaBehavior, SlaKind};
use saker_model::{ConcurrencyBehavior, Execution, Level, StateType};

use super::{Event, ExecutionKey, Executor, Live, Outbox, system_log};

impl Executor {
    /// Lets a new execution (already in `live`) start, queue, or end at once as its flow's
    /// concurrency says, and arms its SLA timers.
    pub(super) fn admit(&self, live: &mut HashMap<String, Live>, outbox: &mut Outbox, id: &str) {
        let Some(l) = live.get(id) else {
            return;
        };
        // Only a new (or, after a restart, a still queued) execution waits for a slot: one that
        // already ran before a restart goes on.
        let waiting = matches!(
            l.execution.state.current,
            StateType::Created | StateType::Queued
        );
        if let Some(concurrency) = l.flow.concurrency.as_ref().filter(|_| waiting) {
            let running = live
                .values()
                .filter(|o| o.execution.id != id && same_flow(&o.execution, &l.execution))
                .filter(|o| !matches!(o.execution.state.current, StateType::Queued))
                .count();
            if running >= concurrency.limit as usize {
                let behavior = concurrency.behavior;
                let limit = concurrency.limit;
                self.over_limit(live, outbox, id, behavior, limit);
                return;
            }
        }
        self.arm_slas(live, id);
        self.advance(live, outbox, id, Vec::new(), Vec::new());
    }

    /// One execution too many: QUEUE waits for a running one to end, CANCEL and FAIL end it
    /// before any task runs.
    fn over_limit(
        &self,
        live: &mut HashMap<String, Live>,
        outbox: &mut Outbox,
        id: &str,
        behavior: ConcurrencyBehavior,
        limit: u32,
    ) {
        let Some(l) = live.get_mut(id) else {
            return;
        };
        if behavior == ConcurrencyBehavior::Queue && l.execution.state.current == StateType::Queued
        {
            // Still queued after a restart.
            return;
        }
        let state = match behavior {
            ConcurrencyBehavior::Queue => StateType::Queued,
            ConcurrencyBehavior::Cancel => StateType::Cancelled,
            ConcurrencyBehavior::Fail => StateType::Failed,
        };
        l.execution.state.transition(state);
        let log = system_log(
            ExecutionKey::from(&l.execution),
            None,
            if state == StateType::Queued {
                Level::Info
            } else {
                Level::Warn
            },
            format!(
                "the flow's concurrency limit ({limit}) is reached: the execution is {}",
                state.as_str().to_ascii_lowercase()
            ),
        );
        if state == StateType::Queued {
            outbox.writes.push(super::Owned::Logs(vec![log]));
            outbox
                .writes
                .push(super::Owned::Execution(super::execution_header(
                    &l.execution,
                )));
            return;
        }
        // Ended before it began: recorded, answered and gone, like any end.
        let l = live.remove(id).expect("just looked up");
        outbox.writes.push(super::Owned::Logs(vec![log]));
        outbox
            .writes
            .push(super::Owned::Execution(super::execution_header(
                &l.execution,
            )));
        self.metrics.execution_ended(l.execution.state.current);
        self.masks.remove(id);
        let execution = l.execution.into_inner();
        for w in l.watchers {
            outbox.replies.push((w, execution.clone()));
        }
        outbox.ended.push((l.flow, execution));
    }

    /// An execution of a flow with a concurrency limit ended: the oldest queued execution of
    /// that flow starts.
    pub(super) fn dequeue(
        &self,
        live: &mut HashMap<String, Live>,
        outbox: &mut Outbox,
        ended: &Execution,
    ) {
        let next = live
            .values()
            .filter(|o| same_flow(&o.execution, ended))
            .filter(|o| o.execution.state.current == StateType::Queued)
            // Ids are time-ordered: the smallest was created first.
            .map(|o| o.execution.id.clone())
            .min();
        let Some(next) = next else {
            return;
        };
        if let Some(l) = live.get_mut(&next) {
            l.execution.state.transition(StateType::Running);
        }
        // Recorded by the advance below (it writes the execution's header).
        self.arm_slas(live, &next);
        self.advance(live, outbox, &next, Vec::new(), Vec::new());
    }

    /// Sends `SlaDue` when each MAX_DURATION SLA of the execution's flow would be exceeded.
    fn arm_slas(&self, live: &HashMap<String, Live>, id: &str) {
        let Some(l) = live.get(id) else {
            return;
        };
        // From when it started running: time spent QUEUED is not the flow's.
        let started = l
            .execution
            .state
            .histories
            .iter()
            .find(|h| h.state == StateType::Running)
            .map(|h| h.date)
            .unwrap_or_else(Utc::now);
        for (index, sla) in l.flow.sla.iter().enumerate() {
            let SlaKind::MaxDuration(limit) = sla.kind else {
                continue;
            };
            let elapsed = (Utc::now() - started).to_std().unwrap_or_default();
            let delay = limit.saturating_sub(elapsed);
            let events = self.events.clone();
            let execution_id = id.to_owned();
            self.runtime.spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = events.send(Event::SlaDue {
                    execution_id,
                    index,
                });
            });
        }
    }

    /// A MAX_DURATION SLA ran out on an execution still running.
    pub(super) fn on_sla_due(
        &self,
        live: &mut HashMap<String, Live>,
        outbox: &mut Outbox,
        execution_id: &str,
        index: usize,
    ) {
        let Some(l) = live.get_mut(execution_id) else {
            return;
        };
        if l.execution.state.current == StateType::Queued {
            return;
        }
        let Some(sla) = l.flow.sla.get(index).cloned() else {
            return;
        };
        let SlaKind::MaxDuration(limit) = sla.kind else {
            return;
        };
        let log = system_log(
            ExecutionKey::from(&l.execution),
            None,
            Level::Warn,
            format!(
                "SLA '{}' violated: the execution ran longer than {}",
                sla.id,
                saker_model::duration::format_iso8601(limit)
            ),
        );
        for (k, v) in &sla.labels {
            l.execution
                .labels
                .insert(k.clone(), Json::String(v.clone()));
        }
        if let Some(state) = violation_state(sla.behavior) {
            l.exit = Some(state);
            l.killing = true;
            self.cancel_running(&l.execution);
        }
        let id = execution_id.to_owned();
        self.advance(live, outbox, &id, vec![log], Vec::new());
    }

    /// EXECUTION_ASSERTION SLAs of an execution about to end in `state`: the state it ends in
    /// once they are checked, with a log line per violation.
    pub(super) fn check_assertions(
        &self,
        l: &mut Live,
        state: StateType,
        logs: &mut Vec<saker_model::LogEntry>,
    ) -> StateType {
        let mut state = state;
        for sla in l.flow.sla.clone() {
            let SlaKind::ExecutionAssertion(assertion) = &sla.kind else {
                continue;
            };
            let holds = self
                .outputs
                .render_value(&l.flow, &l.execution, &Json::String(assertion.clone()))
                .map(|(v, _)| {
                    saker_model::condition::expression_holds(v.as_str().unwrap_or_default())
                });
            let violated = match holds {
                Ok(holds) => !holds,
                Err(e) => {
                    logs.push(system_log(
                        ExecutionKey::from(&l.execution),
                        None,
                        Level::Error,
                        format!("SLA '{}': the assertion could not be rendered: {e}", sla.id),
                    ));
                    true
                }
            };
            if !violated {
                continue;
            }
            logs.push(system_log(
                ExecutionKey::from(&l.execution),
                None,
                Level::Warn,
                format!("SLA '{}' violated: its assertion does not hold", sla.id),
            ));
            for (k, v) in &sla.labels {
                l.execution
                    .labels
                    .insert(k.clone(), Json::String(v.clone()));
            }
            if let Some(violation) = violation_state(sla.behavior) {
                state = violation;
            }
        }
        state
    }
}

/// What a violated SLA makes of the execution (NONE: nothing but its labels).
fn violation_state(behavior: SlaBehavior) -> Option<StateType> {
    match behavior {
        SlaBehavior::Fail => Some(StateType::Failed),
        SlaBehavior::Cancel => Some(StateType::Cancelled),
        SlaBehavior::None => None,
    }
}

fn same_flow(a: &Execution, b: &Execution) -> bool {
    a.tenant_id == b.tenant_id && a.namespace == b.namespace && a.flow_id == b.flow_id
}
