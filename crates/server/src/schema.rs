//! The JSON shapes the API answers with, as types the OpenAPI document is generated from.
//! Field names are Kestra's, so Kestra's clients and scripts keep working.
//!
//! Some handlers build their body as a `serde_json::Value` (an execution is the model's own
//! serialization with sealed values masked); the types here then document that shape, and
//! the schemathesis run in `scripts/test.sh` checks every response against them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Every error: a status code and this body. Never a stack trace, never a secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong and, where it helps, how to fix it.
    pub message: String,
}

/// A stored flow revision.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowView {
    pub id: String,
    pub namespace: String,
    pub revision: u32,
    pub tenant_id: String,
    pub deleted: bool,
    /// The YAML source as deployed.
    pub source: String,
}

/// One flow of a `POST …/flows/validate` body and what is wrong with it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowValidation {
    /// The position of the flow among the YAML documents of the body, from 0.
    pub index: usize,
    /// The flow id, when the document got far enough to have one.
    pub flow: Option<String>,
    pub namespace: Option<String>,
    /// Each problem as `LINE:COL: message`, one per line; `null` when the flow is valid.
    pub constraints: Option<String>,
}

/// The beginning of an execution's file (`GET …/executions/{executionId}/file/preview`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FilePreview {
    /// The file name's extension, lower case (`txt`, `ion`, ...).
    pub extension: String,
    /// LIST (`content` is the rows of a `.ion`/`.jsonl` file) or TEXT (`content` is text).
    #[serde(rename = "type")]
    pub kind: String,
    /// The rows or the text shown.
    pub content: Value,
    /// True when the file holds more than what is shown.
    pub truncated: bool,
}

/// One label of `POST …/executions/{id}/labels`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LabelBody {
    pub key: String,
    pub value: String,
}

/// One plugin group of `GET …/plugins` and the types of it this server runs.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PluginView {
    /// The group's last segment, e.g. `core`.
    pub name: String,
    /// The group, e.g. `io.kestra.plugin.core`.
    pub group: String,
    /// Canonical task type names.
    pub tasks: Vec<String>,
    /// Canonical trigger type names.
    pub triggers: Vec<String>,
    /// Each type's other names: type → list of aliases.
    #[schema(value_type = Object)]
    pub aliases: Value,
    /// Each type's own properties: type → list of `{name, shape, required}` (the properties
    /// every task has, such as `id` and `retry`, are not repeated).
    #[schema(value_type = Object)]
    pub properties: Value,
}

/// A state and how it got there.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StateView {
    /// CREATED, RUNNING, SUCCESS, WARNING, FAILED, KILLING, KILLED, RETRYING, ...
    pub current: String,
    pub histories: Vec<StateHistoryView>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StateHistoryView {
    pub state: String,
    pub date: String,
}

/// One attempt of a task run.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttemptView {
    pub state: StateView,
}

/// One task of an execution.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskRunView {
    pub id: String,
    pub execution_id: String,
    pub namespace: String,
    pub flow_id: String,
    pub task_id: String,
    /// The flowable task run this one runs inside (If, ForEach, Parallel, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_task_run_id: Option<String>,
    /// The iteration value of a ForEach (`****` when it came from a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The iteration of a LoopUntil (WaitFor), from 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u32>,
    pub state: StateView,
    pub attempts: Vec<AttemptView>,
    /// Sealed (secret or secret-derived) values are shown as `****`.
    #[schema(value_type = Object)]
    pub outputs: Map<String, Value>,
}

/// An execution. Sealed values (SECRET inputs and outputs, secret-derived outputs) are shown
/// as `****`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionView {
    pub id: String,
    pub tenant_id: String,
    pub namespace: String,
    pub flow_id: String,
    pub flow_revision: u32,
    pub state: StateView,
    #[schema(value_type = Object)]
    pub inputs: Map<String, Value>,
    #[schema(value_type = Object)]
    pub outputs: Map<String, Value>,
    #[schema(value_type = Object)]
    pub labels: Map<String, Value>,
    pub task_run_list: Vec<TaskRunView>,
    /// The trigger that started it; absent for executions started by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<TriggerView>,
}

/// The trigger that started an execution.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TriggerView {
    /// The trigger's id in the flow.
    pub id: String,
    /// Its type, e.g. io.kestra.plugin.core.trigger.Webhook.
    #[serde(rename = "type")]
    pub type_name: String,
    /// What it gave the flow as `trigger.*` (a webhook: body, headers, parameters; a
    /// schedule: date, next, previous).
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
}

/// A page of executions.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExecutionPage {
    pub results: Vec<ExecutionView>,
    /// How many executions match, on every page (as Kestra's `total`).
    pub total: u64,
}

/// `DELETE …/executions/{id}/kill`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KillView {
    pub id: String,
    /// The state the execution was in when asked.
    pub state: String,
}

/// The debug expression's answer, masked like a log line.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EvalView {
    pub result: String,
}

/// One log line of an execution (already masked when stored).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogView {
    pub tenant_id: String,
    pub namespace: String,
    pub flow_id: String,
    pub execution_id: String,
    pub task_run_id: Option<String>,
    pub task_id: Option<String>,
    pub attempt_number: Option<u32>,
    pub timestamp: String,
    /// TRACE, DEBUG, INFO, WARN or ERROR.
    pub level: String,
    pub message: String,
}

/// A namespace the caller may see: one that holds flows or secrets, or a parent of one.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NamespaceView {
    pub id: String,
    /// How many flows it holds directly.
    pub flows: u64,
}

/// A page of namespaces.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NamespacePage {
    pub results: Vec<NamespaceView>,
    pub total: u64,
}

/// A page of scheduled triggers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TriggerPage {
    pub results: Vec<TriggerStateView>,
    pub total: u64,
}

/// One Schedule trigger as the scheduler knows it (Kestra's shape: the state under
/// `triggerContext`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerStateView {
    pub trigger_context: TriggerContextView,
}

/// Which trigger, and when it is next due.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerContextView {
    pub tenant_id: String,
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    /// The next date the trigger starts an execution for (dates missed while no server ran
    /// are recovered as the trigger's `recoverMissedSchedules` says).
    pub next_execution_date: chrono::DateTime<chrono::Utc>,
    /// When the scheduler last wrote this state.
    pub updated_date: chrono::DateTime<chrono::Utc>,
}

/// `GET /health`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HealthView {
    /// `UP`.
    pub status: String,
}
