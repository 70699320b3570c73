//! What the liveness coordinator decided about the job of a worker that died (distributed
//! mode, `server.worker-task-restart-strategy`): resubmitted to another worker, recorded in
//! the task run's history; or abandoned (NEVER), failing the attempt.

use std::collections::HashMap;

use chrono::Utc;
use saker_model::{Level, StateType};

use super::{Executor, Live, Outbox, Owned, system_log};
use crate::queue::WorkerResult;

/// A dead worker's job the coordinator gave up.
pub(super) struct GivenUp {
    pub task_run_id: String,
    pub attempt: u32,
    pub holder: String,
    /// Its execution ended or is being killed (else: restart strategy NEVER).
    pub cancelled: bool,
}

impl Executor {
    pub(super) fn on_resubmitted(
        &self,
        live: &mut HashMap<String, Live>,
        outbox: &mut Outbox,
        execution_id: &str,
        task_run_id: &str,
        attempt: u32,
        holder: &str,
    ) {
        let Some(l) = live.get_mut(execution_id) else {
            return;
        };
        let Some(run) = l
            .execution
            .task_run_list
            .iter_mut()
            .find(|r| r.id == task_run_id)
        else {
            return;
        };
        if run.state.current != StateType::Running || run.attempts.len() != attempt as usize {
            return;
        }
        let now = Utc::now();
        run.state.transition_at(StateType::Resubmitted, now);
        run.state.transition_at(StateType::Running, now);
        let run = run.clone();
        let log = system_log(
            &l.execution,
            Some(&run),
            Level::Warn,
            format!(
                "the worker running attempt {attempt} stopped (service instance {holder}); \
                 the task was resubmitted to another worker"
            ),
        );
        outbox.writes.push(Owned::Logs(vec![log]));
        outbox.writes.push(Owned::TaskRun(run));
    }

    pub(super) fn on_abandoned(
        &self,
        live: &mut HashMap<String, Live>,
        outbox: &mut Outbox,
        execution_id: String,
        job: GivenUp,
    ) {
        let GivenUp {
            task_run_id,
            attempt,
            holder,
            cancelled,
        } = job;
        let Some(l) = live.get(&execution_id) else {
            return;
        };
        let Some(run) = l.execution.task_run_by_id(&task_run_id) else {
            return;
        };
        let (state, level, message) = if cancelled {
            (
                StateType::Killed,
                Level::Warn,
                format!(
                    "the worker running attempt {attempt} stopped (service instance {holder}) \
                     while the execution was being killed: the attempt ends KILLED"
                ),
            )
        } else {
            (
                StateType::Failed,
                Level::Error,
                format!(
                    "the worker running attempt {attempt} stopped (service instance {holder}) and \
                     server.worker-task-restart-strategy is NEVER: the attempt is not run again"
                ),
            )
        };
        let log = system_log(&l.execution, Some(run), level, message);
        let now = Utc::now();
        let started_at = run
            .attempts
            .last()
            .and_then(|a| a.state.start_date())
            .unwrap_or(now);
        let result = WorkerResult::ended_without_outputs(
            execution_id,
            task_run_id,
            attempt,
            state,
            started_at,
            vec![log],
        );
        self.on_result(live, outbox, result);
    }
}
