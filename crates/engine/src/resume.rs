//! Resuming a paused execution: the inputs a `Pause` declares in `onResume` are coerced and
//! checked here, where the caller can still be told what is wrong, and SECRET ones are
//! sealed before the executor records them as the pause's `onResume` output.

use serde_json::{Map, Value as Json};

use saker_model::StateType;

use crate::engine::{Engine, EngineError};
use crate::executor::Event;

impl Engine {
    /// Resumes a PAUSED execution. `inputs` are checked against the `onResume` inputs of
    /// each paused task (missing required ones, wrong types and unknown names are errors) and
    /// become its `onResume` output (`{{ outputs.pause.onResume.name }}`).
    pub fn resume(&self, execution_id: &str, inputs: Map<String, Json>) -> Result<(), EngineError> {
        let execution = self
            .store
            .get_execution(execution_id)?
            .ok_or_else(|| EngineError::ExecutionNotFound(execution_id.to_owned()))?;
        if execution.state.current != StateType::Paused {
            return Err(EngineError::NotPaused {
                id: execution.id.clone(),
                state: execution.state.current,
            });
        }
        let (flow, _) = self.load_flow(
            &execution.tenant_id,
            &execution.namespace,
            &execution.flow_id,
            Some(execution.flow_revision),
        )?;
        let outputs = resume_outputs(&self.protector, &flow, &execution, inputs)?;
        self.events.send(Event::Resume {
            execution_id: execution.id.clone(),
            outputs,
        })
    }
}

/// The `onResume` output of the paused task runs of `execution`: `inputs` checked against
/// each paused task's `onResume` declarations (missing required ones, wrong types and
/// unknown names are errors), SECRET ones sealed.
pub(crate) fn resume_outputs(
    protector: &crate::sealing::Protector,
    flow: &saker_model::Flow,
    execution: &saker_model::Execution,
    inputs: Map<String, Json>,
) -> Result<Map<String, Json>, EngineError> {
    let mut outputs = Map::new();
    for run in execution
        .task_run_list
        .iter()
        .filter(|r| r.state.current == StateType::Paused)
    {
        let Some(task) = flow.find_task(&run.task_id) else {
            continue;
        };
        if task.on_resume.is_empty() {
            continue;
        }
        let coerced =
            saker_model::coerce_inputs(&task.on_resume, inputs.clone()).map_err(|errors| {
                EngineError::Inputs(errors.iter().map(|e| e.to_string()).collect())
            })?;
        for input in &task.on_resume {
            let Some(value) = coerced.get(&input.id) else {
                continue;
            };
            let value = if input.is_secret() && !value.is_null() {
                if protector.sealer.is_none() {
                    return Err(EngineError::NeedsEncryptionKey(input.id.clone()));
                }
                let text = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                let path = format!("outputs.{}.onResume.{}", run.task_id, input.id);
                protector.seal_string(&execution.id, &path, &text)
            } else {
                value.clone()
            };
            outputs.insert(input.id.clone(), value);
        }
    }
    Ok(outputs)
}
