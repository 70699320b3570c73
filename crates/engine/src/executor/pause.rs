//! Pauses: a `Pause` whose duration is over, and a resume with its `onResume` outputs.

use std::collections::HashMap;

use saker_model::{Execution, Level, StateType};

use super::{ExecutionKey, Executor, Live, Outbox, system_log};

impl Executor {
    /// A pause's duration is over: the task run ends as its `behavior` says (RESUME: SUCCESS,
    /// WARN: WARNING, FAIL: FAILED, CANCEL: CANCELLED, which ends the execution CANCELLED).
    pub(super) fn on_pause_due(
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
            .find(|t| t.id == task_run_id && t.state.current == StateType::Paused)
        else {
            return;
        };
        let behavior = run
            .resolved
            .as_ref()
            .and_then(|r| r.pause_behavior.clone())
            .unwrap_or_else(|| "RESUME".into());
        let state = match behavior.as_str() {
            "WARN" => StateType::Warning,
            "FAIL" => StateType::Failed,
            "CANCEL" => StateType::Cancelled,
            _ => StateType::Success,
        };
        run.state.transition(StateType::Running);
        // A Pause that holds tasks (Kestra's older form) runs them once it is over.
        if !(state == StateType::Success && holds_tasks(&l.flow, &run.task_id)) {
            run.state.transition(state);
        }
        let changed = vec![run.clone()];
        let log = system_log(
            ExecutionKey::from(&l.execution),
            Some(&changed[0]),
            Level::Info,
            format!("the pause is over ({behavior})"),
        );
        resume_state(&mut l.execution);
        let id = execution_id.to_owned();
        self.advance(live, outbox, &id, vec![log], changed);
    }

    /// Resumes every paused task run of the execution with `outputs` as its `onResume`.
    pub(super) fn on_resume(
        &self,
        live: &mut HashMap<String, Live>,
        outbox: &mut Outbox,
        execution_id: &str,
        outputs: serde_json::Map<String, serde_json::Value>,
    ) {
        let Some(l) = live.get_mut(execution_id) else {
            return;
        };
        let mut changed = Vec::new();
        for run in l.execution.task_run_list.iter_mut() {
            if run.state.current != StateType::Paused {
                continue;
            }
            run.outputs.insert(
                "onResume".into(),
                serde_json::Value::Object(outputs.clone()),
            );
            run.state.transition(StateType::Running);
            if !holds_tasks(&l.flow, &run.task_id) {
                run.state.transition(StateType::Success);
            }
            changed.push(run.clone());
        }
        if changed.is_empty() {
            return;
        }
        resume_state(&mut l.execution);
        let id = execution_id.to_owned();
        self.advance(live, outbox, &id, Vec::new(), changed);
    }
}

/// True for a Pause written with `tasks` (Kestra's older form): they run after the pause.
fn holds_tasks(flow: &saker_model::Flow, task_id: &str) -> bool {
    flow.find_task(task_id)
        .and_then(|t| t.subtasks.get("tasks"))
        .is_some_and(|tasks| !tasks.is_empty())
}

/// Back to RUNNING once no task run is paused any more.
pub(super) fn resume_state(execution: &mut Execution) {
    if execution.state.current == StateType::Paused
        && !execution
            .task_run_list
            .iter()
            .any(|r| r.state.current == StateType::Paused)
    {
        execution.state.transition(StateType::Running);
    }
}
