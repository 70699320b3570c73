//! `LoopUntil` (Kestra's `WaitFor`), the executor's half: after an iteration of its tasks
//! ends well the planner asks for a check; the worker renders the `condition` with that
//! iteration's outputs; here the loop ends (condition true, or a maximum reached) or goes
//! round again once `checkFrequency.interval` has passed. Each iteration's task runs carry
//! their `iteration` and are kept (Kestra deletes the earlier ones; Saker keeps the
//! history), and `outputs.<loop>.iterationCount` is the current iteration, from 0.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use saker_model::{Level, StateType, TaskDef};
use serde_json::Value;

use super::{Event, ExecutionKey, Executor, Live, Outbox, system_log};

/// Kestra's `checkFrequency` defaults.
const DEFAULT_MAX_ITERATIONS: u64 = 100;
const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(3600);
const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

impl Executor {
    /// A loop's condition came back from the worker.
    pub(super) fn on_loop_checked(
        &self,
        live: &mut HashMap<String, Live>,
        outbox: &mut Outbox,
        execution_id: &str,
        task_run_id: &str,
        condition: Option<bool>,
        logs: Vec<saker_model::LogEntry>,
    ) {
        let Some(l) = live.get_mut(execution_id) else {
            return;
        };
        let key = ExecutionKey::from(&l.execution);
        let task = l.flow.clone();
        let Some(run) = l
            .execution
            .task_run_list
            .iter_mut()
            .find(|r| r.id == task_run_id)
        else {
            return;
        };
        let Some(def) = task.find_task(&run.task_id) else {
            return;
        };
        let frequency = Frequency::of(def);
        let iteration = run.resolved.as_ref().and_then(|r| r.iteration).unwrap_or(0);
        let done = u64::from(iteration) + 1;
        let elapsed = run
            .state
            .start_date()
            .and_then(|s| (Utc::now() - s).to_std().ok())
            .unwrap_or_default();
        let mut logs = logs;
        let end = match condition {
            // The condition failed to render: the worker logged why.
            None => Some(StateType::Failed),
            Some(true) => Some(StateType::Success),
            Some(false)
                if done >= frequency.max_iterations || elapsed >= frequency.max_duration =>
            {
                let fail = def
                    .properties
                    .get("failOnMaxReached")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                logs.push(system_log(
                    key.clone(),
                    Some(run),
                    if fail { Level::Error } else { Level::Warn },
                    format!(
                        "the loop reached its maximum ({done} iteration(s), {:.1}s) before its condition held",
                        elapsed.as_secs_f64()
                    ),
                ));
                Some(if fail {
                    StateType::Failed
                } else {
                    StateType::Success
                })
            }
            Some(false) => None,
        };
        let changed = match end {
            Some(state) => {
                run.state.transition(state);
                vec![run.clone()]
            }
            None => {
                outbox
                    .loops
                    .push((key.id.clone(), run.id.clone(), frequency.interval));
                Vec::new()
            }
        };
        let id = execution_id.to_owned();
        self.advance(live, outbox, &id, logs, changed);
    }

    /// The interval after a check is over: the next iteration starts.
    pub(super) fn on_loop_due(
        &self,
        live: &mut HashMap<String, Live>,
        outbox: &mut Outbox,
        execution_id: &str,
        task_run_id: &str,
    ) {
        let Some(l) = live.get_mut(execution_id) else {
            return;
        };
        let Some(run) = l
            .execution
            .task_run_list
            .iter_mut()
            .find(|r| r.id == task_run_id && r.state.current == StateType::Running)
        else {
            return;
        };
        let Some(resolved) = run.resolved.as_mut() else {
            return;
        };
        let next = resolved.iteration.unwrap_or(0) + 1;
        resolved.iteration = Some(next);
        resolved.between_iterations = false;
        resolved.condition = None;
        run.outputs
            .insert("iterationCount".into(), Value::from(next));
        let changed = vec![run.clone()];
        let id = execution_id.to_owned();
        self.advance(live, outbox, &id, Vec::new(), changed);
    }

    /// Sends `LoopDue` once `delay` has passed.
    pub(super) fn schedule_loop(&self, execution_id: String, task_run_id: String, delay: Duration) {
        let events = self.events.clone();
        self.runtime.spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = events.send(Event::LoopDue {
                execution_id,
                task_run_id,
            });
        });
    }
}

/// A loop's `checkFrequency`.
struct Frequency {
    max_iterations: u64,
    max_duration: Duration,
    interval: Duration,
}

impl Frequency {
    fn of(task: &TaskDef) -> Self {
        let check = task.properties.get("checkFrequency");
        let field = |name: &str| check.and_then(|c| c.get(name));
        let duration = |name: &str| {
            field(name)
                .and_then(Value::as_str)
                .and_then(|text| saker_model::duration::parse(text).ok())
        };
        Frequency {
            max_iterations: field("maxIterations")
                .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
                .unwrap_or(DEFAULT_MAX_ITERATIONS),
            max_duration: duration("maxDuration").unwrap_or(DEFAULT_MAX_DURATION),
            interval: duration("interval").unwrap_or(DEFAULT_INTERVAL),
        }
    }
}
