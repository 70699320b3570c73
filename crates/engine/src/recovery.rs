//! Resuming what a previous process left unfinished, after a crash or a restart.

use chrono::Utc;
use saker_model::{Level, StateType};
use saker_store::Write;

use crate::engine::{Engine, EngineError};
use crate::executor::{Event, system_log};

/// What became of an attempt that was running when the executor that started it stopped,
/// as the job queue tells (distributed mode; see [`Engine::recover_with`]).
pub enum AttemptFate {
    /// Its job is still queued or held by a living worker: its result will come.
    Pending,
    /// Its worker finished it: this result is applied (again, if it already was).
    Finished(Box<crate::queue::WorkerResult>),
    /// Nothing holds it (the executor stopped before queueing it, or the process that ran it
    /// is gone with it): closed FAILED, and a new attempt starts.
    Lost,
}

impl Engine {
    /// Resumes the executions a previous process left unfinished. The rule: an attempt
    /// that was running when the process died is closed as FAILED (with a log line saying
    /// why) and the task run starts a new attempt; executions that were CREATED start;
    /// executions that were being killed end KILLED. The working directories of the
    /// interrupted attempts are removed first (their processes died with the old worker).
    /// Returns how many were resumed.
    pub fn recover(&self) -> Result<usize, EngineError> {
        self.recover_executions(None)
    }

    /// [`Engine::recover`] for an executor taking over from another one while the workers
    /// run on (distributed mode): `fate` says, for each attempt that was running, whether
    /// its job is still on its way ([`AttemptFate::Pending`]: left alone), finished (its
    /// result applied) or lost (a new attempt, as [`Engine::recover`] does). Working
    /// directories belong to the workers and are left to them.
    pub fn recover_with(
        &self,
        fate: &dyn Fn(&saker_model::TaskRun) -> AttemptFate,
    ) -> Result<usize, EngineError> {
        self.recover_executions(Some(fate))
    }

    fn recover_executions(
        &self,
        fate: Option<&dyn Fn(&saker_model::TaskRun) -> AttemptFate>,
    ) -> Result<usize, EngineError> {
        let ids = self.store.executions_in_states(&[
            StateType::Created,
            StateType::Running,
            StateType::Killing,
            StateType::Paused,
            StateType::Queued,
        ])?;
        let mut resumed = 0;
        for id in ids {
            if fate.is_none()
                && let Err(e) = self.confinement.remove_execution_dirs(&id)
            {
                tracing::warn!(execution = %id, error = %e, "cannot remove the working directories of interrupted attempts");
            }
            let Some(mut execution) = self.store.get_execution(&id)? else {
                continue;
            };
            let flow = match self.load_flow(
                &execution.tenant_id,
                &execution.namespace,
                &execution.flow_id,
                Some(execution.flow_revision),
            ) {
                Ok((flow, _)) => flow,
                Err(e) => {
                    tracing::error!(execution = %id, error = %e, "cannot resume execution");
                    execution.state.transition(StateType::Failed);
                    let log = system_log(
                        &execution,
                        None,
                        Level::Error,
                        format!("cannot resume after a restart: {e}"),
                    );
                    self.store
                        .write(&[Write::AppendLogs(&[log]), Write::SaveExecution(&execution)])?;
                    continue;
                }
            };
            let killing = execution.state.current == StateType::Killing;
            let mut retry = Vec::new();
            let mut logs = Vec::new();
            let now = Utc::now();
            let mut pauses = Vec::new();
            let mut finished = Vec::new();
            for run in execution.task_run_list.iter_mut() {
                if run.state.current.is_terminated() {
                    continue;
                }
                // A flowable that has decided waits on its children, not on a worker; a
                // pause waits for its date or a resume.
                if run.state.current == StateType::Paused && !killing {
                    if let Some(until) = run.resolved.as_ref().and_then(|r| r.pause_until) {
                        pauses.push((run.id.clone(), until));
                    }
                    continue;
                }
                if run.state.current == StateType::Running
                    && let Some(resolved) = run.resolved.as_mut()
                {
                    // A loop between iterations (or a WorkingDirectory's end step) lost its
                    // check job or its timer with the old process: the planner asks again.
                    if resolved.between_iterations {
                        resolved.between_iterations = false;
                        resolved.condition = None;
                    }
                    continue;
                }
                if run.state.current == StateType::Running
                    && let Some(fate) = fate
                {
                    match fate(run) {
                        AttemptFate::Pending => continue,
                        AttemptFate::Finished(result) => {
                            finished.push(*result);
                            continue;
                        }
                        AttemptFate::Lost => {}
                    }
                }
                if let Some(attempt) = run.attempts.last_mut()
                    && !attempt.state.current.is_terminated()
                {
                    attempt.state.transition_at(StateType::Failed, now);
                }
                let next = if killing {
                    StateType::Killed
                } else {
                    StateType::Retrying
                };
                run.state.transition_at(next, now);
                if !killing {
                    retry.push(run.id.clone());
                }
            }
            for run in &execution.task_run_list {
                if retry.contains(&run.id) {
                    logs.push(system_log(
                        &execution,
                        Some(run),
                        Level::Warn,
                        "the process running this attempt stopped; starting a new attempt".into(),
                    ));
                }
            }
            let mut writes: Vec<Write> = vec![Write::AppendLogs(&logs)];
            for run in &execution.task_run_list {
                writes.push(Write::SaveTaskRun(run));
            }
            self.store.write(&writes)?;
            let execution_id = execution.id.clone();
            self.events.send(Event::Start {
                flow,
                execution: Box::new(execution),
            })?;
            for result in finished {
                self.events.send(Event::Result(result))?;
            }
            if killing {
                self.kill(&execution_id)?;
            }
            for (task_run_id, until) in pauses {
                let delay = (until - Utc::now()).to_std().unwrap_or_default();
                let events = self.events.clone();
                let execution_id = execution_id.clone();
                // Recovery runs inside the runtime (Engine::start requires one).
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = events.send(Event::PauseDue {
                        execution_id,
                        task_run_id,
                    });
                });
            }
            for task_run_id in retry {
                self.events.send(Event::RetryDue {
                    execution_id: execution_id.clone(),
                    task_run_id,
                })?;
            }
            resumed += 1;
        }
        Ok(resumed)
    }
}
