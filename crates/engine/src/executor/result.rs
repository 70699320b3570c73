//! A worker's result: the attempt recorded, retries (of the task run, or of the whole flow:
//! CREATE_NEW_EXECUTION), a flowable's decision taken in, labels and Exit applied, then the
//! execution moved on.

use std::collections::HashMap;

use chrono::Utc;
use saker_model::{Execution, Flow, Level, StateType, TaskKind};

use super::{ExecutionKey, Executor, Live, Outbox, Owned, retry_execution, system_log};
use crate::plan::waits_on_children;
use crate::queue::WorkerResult;

impl Executor {
    pub(super) fn on_result(
        &self,
        live: &mut HashMap<String, Live>,
        outbox: &mut Outbox,
        mut result: WorkerResult,
    ) {
        // A Resume task: resume first, and fail the task when that cannot be done.
        if let Some(request) = result.resume.take()
            && let Err(message) =
                self.resume_from_task(live, outbox, &result.execution_id, *request)
        {
            result.state = StateType::Failed;
            if let Some(l) = live.get(&result.execution_id) {
                let run = l.execution.task_run_by_id(&result.task_run_id);
                result.logs.push(system_log(
                    ExecutionKey::from(&l.execution),
                    run,
                    Level::Error,
                    message,
                ));
            }
        }
        let Some(l) = live.get_mut(&result.execution_id) else {
            tracing::warn!(execution = %result.execution_id, "result for an execution that is not running here");
            return;
        };
        let key = ExecutionKey::from(&l.execution);
        let retry = effective_retry(&l.flow, &l.execution, &result.task_run_id);
        let execution_attempt = retry_execution::execution_attempt(&l.execution);
        let execution_started = l.execution.state.start_date();
        // One copy-on-write access for the whole handler: its task run and labels are
        // changed together.
        let execution = &mut *l.execution;
        let Some(task_run) = execution
            .task_run_list
            .iter_mut()
            .find(|t| t.id == result.task_run_id)
        else {
            return;
        };
        // Delivery is at least once between processes: a result for an attempt that is not
        // the one running now (a copy delivered twice, a result re-read after a takeover) has
        // been applied already.
        if task_run.state.current != StateType::Running
            || (result.attempt != 0 && result.attempt as usize != task_run.attempts.len())
        {
            tracing::debug!(
                execution = %result.execution_id,
                task_run = %result.task_run_id,
                "a result for an attempt that is no longer running is ignored"
            );
            return;
        }
        if task_run
            .resolved
            .as_ref()
            .is_some_and(|r| r.between_iterations)
            && task_run.state.current == StateType::Running
        {
            if l.flow.find_task(&task_run.task_id).map(|t| t.kind)
                == Some(TaskKind::WorkingDirectory)
            {
                // The end step of a WorkingDirectory (outputFiles, cache).
                task_run.outputs.extend(result.outputs);
                if let Some(resolved) = task_run.resolved.as_mut() {
                    resolved.between_iterations = false;
                    resolved.condition = Some(!result.state.is_failed());
                }
                let changed = vec![task_run.clone()];
                let id = result.execution_id;
                self.advance(live, outbox, &id, result.logs, changed);
                return;
            }
            // Not an attempt: the check of a loop's condition.
            let condition = result.resolved.as_ref().and_then(|r| r.condition);
            let (execution_id, task_run_id) = (result.execution_id, result.task_run_id);
            self.on_loop_checked(
                live,
                outbox,
                &execution_id,
                &task_run_id,
                condition,
                result.logs,
            );
            return;
        }
        let task = l.flow.find_task(&task_run.task_id).cloned();
        let now = Utc::now();
        if let Some(attempt) = task_run.attempts.last_mut() {
            attempt.state = saker_model::State::starting_at(StateType::Running, result.started_at);
            attempt.state.transition_at(result.state, result.ended_at);
        }
        let mut logs = result.logs;
        let mut state = result.state;
        let attempts = task_run.attempts.len() as u32;
        let exit = result.exit;
        for (key, value) in result.labels {
            if !key.starts_with("system.") {
                execution.labels.insert(key, value);
            }
        }
        if let Some(update) = &result.variables {
            update.apply(
                execution
                    .variables
                    .get_or_insert_with(|| l.flow.variables_json()),
            );
        }
        if let Some(exit) = exit {
            // The Exit task's own run ends in the state it names, the execution with it.
            state = exit;
        }

        if state == StateType::Failed && !l.killing && exit.is_none() {
            let declared = retry.as_ref();
            let new_execution = declared
                .is_some_and(|r| r.behavior == saker_model::RetryBehavior::CreateNewExecution);
            if new_execution {
                // Not this task run again: the whole flow again, in a new execution.
                let attempt = execution_attempt;
                let elapsed = execution_started
                    .map(|s| (now - s).to_std().unwrap_or_default())
                    .unwrap_or_default();
                let delay = retry
                    .as_ref()
                    .and_then(crate::retry::RetryPolicy::from_model)
                    .and_then(|p| p.next_delay(attempt, elapsed));
                if let Some(delay) = delay {
                    logs.push(system_log(
                        key.clone(),
                        Some(task_run),
                        Level::Warn,
                        format!(
                            "execution attempt {attempt} failed; a new execution starts in {:.3}s once this one ends",
                            delay.as_secs_f64()
                        ),
                    ));
                    l.retry_new = Some(delay);
                }
            }
            if let Some(policy) = retry
                .as_ref()
                .filter(|_| !new_execution)
                .and_then(crate::retry::RetryPolicy::from_model)
            {
                let elapsed = task_run
                    .state
                    .start_date()
                    .map(|s| (now - s).to_std().unwrap_or_default())
                    .unwrap_or_default();
                if let Some(delay) = policy.next_delay(attempts, elapsed) {
                    task_run.state.transition_at(StateType::Retrying, now);
                    logs.push(system_log(
                        key.clone(),
                        Some(task_run),
                        Level::Warn,
                        format!(
                            "attempt {attempts} failed; retrying in {:.3}s",
                            delay.as_secs_f64()
                        ),
                    ));
                    outbox.writes.push(Owned::Logs(logs));
                    outbox.writes.push(Owned::TaskRun(task_run.clone()));
                    outbox
                        .retries
                        .push((key.id.clone(), task_run.id.clone(), delay));
                    return;
                }
            }
        }

        if let Some(task) = &task
            && matches!(state, StateType::Success | StateType::Warning)
            && let Some(resolved) = result.resolved
        {
            // A flowable's decision: it stays RUNNING while the planner opens its children;
            // a Pause waits (PAUSED) for its duration or a resume.
            task_run.outputs = self
                .outputs
                .protect(&key.id, &task_run.task_id, result.outputs);
            let pausing = task.kind == TaskKind::Pause && !l.killing;
            if pausing {
                if let Some(until) = resolved.pause_until {
                    let delay = (until - now).to_std().unwrap_or_default();
                    outbox
                        .pauses
                        .push((key.id.clone(), task_run.id.clone(), delay));
                }
                task_run.state.transition_at(StateType::Paused, now);
            } else if !waits_on_children(task.kind)
                && !matches!(task.kind, TaskKind::Subflow | TaskKind::ForEachItem)
            {
                task_run.state.transition_at(state, now);
            }
            let starts_child = task.kind == TaskKind::Subflow && !l.killing;
            let starts_items = task.kind == TaskKind::ForEachItem && !l.killing;
            let run_id = task_run.id.clone();
            task_run.resolved = Some(resolved);
            let changed = vec![task_run.clone()];
            if pausing {
                l.execution.state.transition_at(StateType::Paused, now);
            }
            self.advance(live, outbox, &key.id, logs, changed);
            if starts_child {
                self.start_subflow(live, outbox, &key.id, &run_id);
            }
            if starts_items {
                self.start_for_each_item(live, outbox, &key.id, &run_id);
            }
            return;
        }

        if let Some(task) = &task {
            if state == StateType::Success
                && attempts > 1
                && retry
                    .as_ref()
                    .and_then(crate::retry::RetryPolicy::from_model)
                    .is_some_and(|p| p.warning_on_retry)
            {
                state = StateType::Warning;
            }
            if state == StateType::Failed && task.allow_failure {
                state = StateType::Warning;
            }
            if state == StateType::Warning && task.allow_warning {
                state = StateType::Success;
            }
        }
        task_run.outputs = self
            .outputs
            .protect(&key.id, &task_run.task_id, result.outputs);
        task_run.state.transition_at(state, now);
        let changed = vec![task_run.clone()];
        if let Some(exit) = exit {
            // Exit: nothing new starts, what runs is killed, and the execution ends in
            // the state the task named.
            l.exit = Some(exit);
            l.killing = true;
            self.cancel_running(&l.execution);
        }
        self.advance(live, outbox, &key.id, logs, changed);
    }
}

impl Executor {
    /// Resumes the paused execution a Resume task of `caller` names, with its `onResume`
    /// inputs checked and sealed as [`crate::resume`] does.
    fn resume_from_task(
        &self,
        live: &mut HashMap<String, Live>,
        outbox: &mut Outbox,
        caller: &str,
        request: crate::queue::ResumeRequest,
    ) -> Result<(), String> {
        let caller_namespace = live
            .get(caller)
            .map(|l| l.execution.namespace.clone())
            .unwrap_or_default();
        let Some(target) = live.get(&request.execution_id) else {
            return Err(format!(
                "execution {} is not running here: only a paused execution can be resumed",
                request.execution_id
            ));
        };
        let execution = &target.execution;
        let visible = execution.namespace == caller_namespace
            || execution
                .namespace
                .strip_prefix(&caller_namespace)
                .is_some_and(|rest| rest.starts_with('.'));
        let matches = request
            .namespace
            .as_deref()
            .is_none_or(|ns| ns == execution.namespace)
            && request
                .flow_id
                .as_deref()
                .is_none_or(|f| f == execution.flow_id);
        if !visible || !matches {
            return Err(format!(
                "execution {} is not an execution of this namespace (or the flow given)",
                request.execution_id
            ));
        }
        if execution.state.current != StateType::Paused {
            return Err(format!(
                "execution {} is {}, not PAUSED: only a paused execution can be resumed",
                execution.id, execution.state.current
            ));
        }
        let outputs = crate::resume::resume_outputs(
            &self.outputs.protector,
            &target.flow,
            execution,
            request.inputs,
        )
        .map_err(|e| e.to_string())?;
        self.on_resume(live, outbox, &request.execution_id, outputs);
        Ok(())
    }
}

/// The retry that applies to task run `run_id`: its task's own, else the nearest flowable
/// around it that declares one (Kestra retries a flowable's failed children), else the
/// flow's.
pub(crate) fn effective_retry(
    flow: &Flow,
    execution: &Execution,
    run_id: &str,
) -> Option<saker_model::Retry> {
    let run = execution.task_run_by_id(run_id)?;
    std::iter::once(run)
        .chain(execution.parents_of(run))
        .find_map(|r| flow.find_task(&r.task_id)?.retry.clone())
        .or_else(|| flow.retry.clone())
}
