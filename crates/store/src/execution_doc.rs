//! How an execution and its task runs are stored as JSON documents, the same on every
//! backend: an execution's document leaves out its task runs, which live in their own rows.

use saker_model::execution::{Execution, ExecutionTrigger, State, TaskRun};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{Result, StoreError};

/// The stored document of an execution: every field but `task_run_list`, with the same JSON
/// names as [`Execution`], so that it decodes straight back into one (the list defaults to
/// empty).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExecutionDoc<'a> {
    id: &'a str,
    tenant_id: &'a str,
    namespace: &'a str,
    flow_id: &'a str,
    flow_revision: u32,
    state: &'a State,
    inputs: &'a Map<String, Value>,
    outputs: &'a Map<String, Value>,
    labels: &'a Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    variables: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trigger: Option<&'a ExecutionTrigger>,
}

impl<'a> ExecutionDoc<'a> {
    pub(crate) fn of(execution: &'a Execution) -> Self {
        // Exhaustive on purpose (no `..`): a field added to `Execution` fails to compile here
        // instead of silently not being stored.
        let Execution {
            id,
            tenant_id,
            namespace,
            flow_id,
            flow_revision,
            state,
            inputs,
            outputs,
            labels,
            variables,
            task_run_list: _,
            trigger,
        } = execution;
        Self {
            id,
            tenant_id,
            namespace,
            flow_id,
            flow_revision: *flow_revision,
            state,
            inputs,
            outputs,
            labels,
            variables: variables.as_ref(),
            trigger: trigger.as_deref(),
        }
    }
}

pub(crate) fn encode<T: Serialize>(kind: &'static str, id: &str, value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|err| StoreError::Encode {
        kind,
        id: id.to_owned(),
        detail: StoreError::json_detail(&err),
    })
}

pub(crate) fn decode_execution(id: &str, doc: &str) -> Result<Execution> {
    serde_json::from_str(doc).map_err(|err| StoreError::corrupt_json("executions", id, &err))
}

pub(crate) fn decode_task_run(id: &str, doc: &str) -> Result<TaskRun> {
    serde_json::from_str(doc).map_err(|err| StoreError::corrupt_json("task_runs", id, &err))
}
