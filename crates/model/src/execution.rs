//! Executions, task runs, their states and log lines: what the engine records and the store
//! persists. Field names follow Kestra's JSON (`taskRunList`, `flowId`, ...) so that API
//! bodies built from these types read the same as Kestra's.
//!
//! Values that must never be stored in plaintext (SECRET inputs and outputs, outputs derived
//! from a secret) are kept inside `inputs`/`outputs` as a *sealed* JSON object, see
//! [`sealed_value`]; only the crypto layer produces and opens them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The tenant used when none is given, as in Kestra.
pub const DEFAULT_TENANT: &str = "main";

/// The key of the one-entry JSON object that stands for a sealed (encrypted) value.
pub const SEALED_KEY: &str = "$sealed";

/// Wraps an encrypted value (base64 of the ciphertext) as it is stored in inputs/outputs.
pub fn sealed_value(ciphertext_b64: impl Into<String>) -> Value {
    let mut map = Map::new();
    map.insert(SEALED_KEY.to_owned(), Value::String(ciphertext_b64.into()));
    Value::Object(map)
}

/// The ciphertext of a sealed value, or `None` if `value` is an ordinary value.
pub fn as_sealed(value: &Value) -> Option<&str> {
    match value {
        Value::Object(map) if map.len() == 1 => map.get(SEALED_KEY)?.as_str(),
        _ => None,
    }
}

/// A new identifier: a time-ordered UUID (v7) written in base 62, 22 characters, like
/// Kestra's ids. Time order makes the newest executions cheap to list.
pub fn new_id() -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut n = uuid::Uuid::now_v7().as_u128();
    let mut out = [b'0'; 22];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out.to_vec()).expect("base62 alphabet is ASCII")
}

/// The state of an execution, a task run or an attempt, as Kestra names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StateType {
    Created,
    Running,
    Success,
    Warning,
    Failed,
    Killing,
    Killed,
    Skipped,
    Retrying,
    /// Waiting for a `Pause` to end (by itself or through `resume`).
    Paused,
    /// Waiting for a slot of the flow's `concurrency` limit.
    Queued,
    /// Ended by the flow's `concurrency` behavior CANCEL, a `Pause` behavior CANCEL or an
    /// SLA: nothing more runs, and it is not a failure of the flow's tasks.
    Cancelled,
    /// A task run whose worker stopped while running it, handed to another worker (a step in
    /// the task run's history, followed by RUNNING; distributed mode only).
    Resubmitted,
}

impl StateType {
    /// Every state, in the order Kestra lists them.
    pub const ALL: [StateType; 13] = [
        StateType::Created,
        StateType::Running,
        StateType::Success,
        StateType::Warning,
        StateType::Failed,
        StateType::Killing,
        StateType::Killed,
        StateType::Skipped,
        StateType::Retrying,
        StateType::Paused,
        StateType::Queued,
        StateType::Cancelled,
        StateType::Resubmitted,
    ];

    /// True once nothing more will happen to the thing in this state.
    pub fn is_terminated(self) -> bool {
        matches!(
            self,
            Self::Success
                | Self::Warning
                | Self::Failed
                | Self::Killed
                | Self::Skipped
                | Self::Cancelled
        )
    }

    /// True for the states that make an execution end FAILED.
    pub fn is_failed(self) -> bool {
        matches!(self, Self::Failed | Self::Killed)
    }

    /// The upper-case name used in storage, the CLI and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Running => "RUNNING",
            Self::Success => "SUCCESS",
            Self::Warning => "WARNING",
            Self::Failed => "FAILED",
            Self::Killing => "KILLING",
            Self::Killed => "KILLED",
            Self::Skipped => "SKIPPED",
            Self::Retrying => "RETRYING",
            Self::Paused => "PAUSED",
            Self::Queued => "QUEUED",
            Self::Cancelled => "CANCELLED",
            Self::Resubmitted => "RESUBMITTED",
        }
    }

    /// Parses the upper-case name; `None` for anything else.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for StateType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of a state history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateHistory {
    pub state: StateType,
    pub date: DateTime<Utc>,
}

/// A current state and every state passed through, with timestamps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub current: StateType,
    pub histories: Vec<StateHistory>,
}

impl State {
    /// A state that starts as CREATED now.
    pub fn new() -> Self {
        Self::starting_at(StateType::Created, Utc::now())
    }

    /// A state that starts as `state` at `date`.
    pub fn starting_at(state: StateType, date: DateTime<Utc>) -> Self {
        Self {
            current: state,
            histories: vec![StateHistory { state, date }],
        }
    }

    /// Moves to `state` now, recording the change.
    pub fn transition(&mut self, state: StateType) {
        self.transition_at(state, Utc::now());
    }

    /// Moves to `state` at `date`, recording the change.
    pub fn transition_at(&mut self, state: StateType, date: DateTime<Utc>) {
        self.current = state;
        self.histories.push(StateHistory { state, date });
    }

    /// When the first history entry was recorded.
    pub fn start_date(&self) -> Option<DateTime<Utc>> {
        self.histories.first().map(|h| h.date)
    }

    /// When the current state was entered, if it is terminal.
    pub fn end_date(&self) -> Option<DateTime<Utc>> {
        if self.current.is_terminated() {
            self.histories.last().map(|h| h.date)
        } else {
            None
        }
    }
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

/// One run of a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub id: String,
    pub tenant_id: String,
    pub namespace: String,
    pub flow_id: String,
    pub flow_revision: u32,
    pub state: State,
    /// Typed inputs; SECRET ones are sealed (see [`sealed_value`]).
    #[serde(default)]
    pub inputs: Map<String, Value>,
    /// Flow outputs; SECRET and secret-derived ones are sealed.
    #[serde(default)]
    pub outputs: Map<String, Value>,
    #[serde(default)]
    pub labels: Map<String, Value>,
    /// The execution's variables (`{{ vars.* }}`) once a SetVariables or UnsetVariables task
    /// changed them; `None` until then, when `vars` are the flow's `variables`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<Map<String, Value>>,
    #[serde(default)]
    pub task_run_list: Vec<TaskRun>,
    /// What started it, when a trigger did (absent for a manual run). Boxed: most
    /// executions have none, and executions are moved around a lot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Box<ExecutionTrigger>>,
}

/// The trigger that started an execution, as Kestra records it: the trigger's id and type,
/// and the variables it gave the flow (seen by templates as `trigger.*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionTrigger {
    pub id: String,
    /// The canonical trigger type (`io.kestra.plugin.core.trigger.Webhook`, ...).
    #[serde(rename = "type")]
    pub type_name: String,
    #[serde(default)]
    pub variables: Map<String, Value>,
}

impl Execution {
    /// A new CREATED execution of a flow revision with no task run yet.
    pub fn new(tenant_id: &str, namespace: &str, flow_id: &str, flow_revision: u32) -> Self {
        Self {
            id: new_id(),
            tenant_id: tenant_id.to_owned(),
            namespace: namespace.to_owned(),
            flow_id: flow_id.to_owned(),
            flow_revision,
            state: State::new(),
            inputs: Map::new(),
            outputs: Map::new(),
            labels: Map::new(),
            variables: None,
            task_run_list: Vec::new(),
            trigger: None,
        }
    }

    /// The first task run of `task_id`, if one was created. A task inside a loop has one
    /// run per iteration: see [`Execution::task_runs_of`].
    pub fn task_run(&self, task_id: &str) -> Option<&TaskRun> {
        self.task_run_list.iter().find(|t| t.task_id == task_id)
    }

    /// Every task run of `task_id`, in creation order.
    pub fn task_runs_of<'a>(&'a self, task_id: &'a str) -> impl Iterator<Item = &'a TaskRun> {
        self.task_run_list
            .iter()
            .filter(move |t| t.task_id == task_id)
    }

    /// The task run with this id.
    pub fn task_run_by_id(&self, id: &str) -> Option<&TaskRun> {
        self.task_run_list.iter().find(|t| t.id == id)
    }

    /// The ancestors of `run`, nearest first (its parent, then the parent's parent, ...).
    pub fn parents_of<'a>(&'a self, run: &'a TaskRun) -> Vec<&'a TaskRun> {
        let mut out = Vec::new();
        let mut current = run;
        // Bounded by the list's length, so a stored cycle cannot loop forever.
        while let Some(parent_id) = current.parent_task_run_id.as_deref() {
            if out.len() >= self.task_run_list.len() {
                break;
            }
            match self.task_run_by_id(parent_id) {
                Some(parent) => {
                    out.push(parent);
                    current = parent;
                }
                None => break,
            }
        }
        out
    }
}

/// One run of one task inside an execution; retries add attempts.
///
/// Task runs form a tree: the children of a flowable task (If, ForEach, Parallel, ...) name
/// it as `parentTaskRunId`. The runs of a task inside a `ForEach` carry the iteration's
/// `value`; the runs of a `WaitFor`'s tasks carry their `iteration`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRun {
    pub id: String,
    pub execution_id: String,
    pub namespace: String,
    pub flow_id: String,
    pub task_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_task_run_id: Option<String>,
    /// The iteration value of a `ForEach`: a string (Kestra writes other JSON values as
    /// JSON text), or a sealed value when it was derived from a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// The iteration of a `WaitFor`'s tasks, from 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u32>,
    pub state: State,
    #[serde(default)]
    pub attempts: Vec<TaskRunAttempt>,
    /// Task outputs; secret-derived ones are sealed.
    #[serde(default)]
    pub outputs: Map<String, Value>,
    /// What the worker decided for a flowable task (the branch, the values to iterate on,
    /// when a pause ends); the executor plans the children from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Box<Resolved>>,
}

impl TaskRun {
    /// A new CREATED task run of `task_id` in `execution`, at the root of the tree.
    pub fn new(execution: &Execution, task_id: &str) -> Self {
        Self {
            id: new_id(),
            execution_id: execution.id.clone(),
            namespace: execution.namespace.clone(),
            flow_id: execution.flow_id.clone(),
            task_id: task_id.to_owned(),
            parent_task_run_id: None,
            value: None,
            iteration: None,
            state: State::new(),
            attempts: Vec::new(),
            outputs: Map::new(),
            resolved: None,
        }
    }

    /// The text a `value` is compared and indexed by: the string itself, or the ciphertext of
    /// a sealed value (equal values sealed once are equal ciphertexts).
    pub fn value_key(value: &Value) -> std::borrow::Cow<'_, str> {
        match value {
            Value::String(s) => std::borrow::Cow::Borrowed(s),
            other => match as_sealed(other) {
                Some(c) => std::borrow::Cow::Borrowed(c),
                None => std::borrow::Cow::Owned(other.to_string()),
            },
        }
    }
}

/// A flowable task's decision, rendered by the worker (which alone may resolve secrets) and
/// recorded on its task run before any child starts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resolved {
    /// The child list chosen: `then`/`else` of an If, a case of a Switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<Branch>,
    /// The values a ForEach iterates on, in order, without duplicates; each a string or a
    /// sealed value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<Value>>,
    /// When a `Pause` with a duration ends by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_until: Option<DateTime<Utc>>,
    /// What a `Pause` does when its duration is over (RESUME, WARN, FAIL, CANCEL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_behavior: Option<String>,
    /// The execution a `Subflow` starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subflow: Option<SubflowCall>,
    /// The executions a `ForEachItem` starts, one per batch of its items (each batch's file
    /// is the matching entry of `values`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subflows: Option<Vec<SubflowCall>>,
    /// A `LoopUntil`'s current iteration, from 0 (its tasks' runs carry it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u32>,
    /// A `LoopUntil` between iterations (its condition is being checked, or the interval
    /// before the next iteration has not passed), or a `WorkingDirectory` whose end step
    /// (`outputFiles`, `cache`) is with the worker.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub between_iterations: bool,
    /// A `LoopUntil`'s condition, as the worker rendered it after an iteration; for a
    /// `WorkingDirectory`, whether its end step succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<bool>,
}

/// A `Subflow`'s call, rendered by the worker: which flow, with which inputs (values derived
/// from a secret sealed) and labels, and how the parent follows the child.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubflowCall {
    pub namespace: String,
    pub flow_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u32>,
    #[serde(default)]
    pub inputs: Map<String, Value>,
    #[serde(default)]
    pub labels: Map<String, Value>,
    /// The parent's task run waits for the child's end (default true).
    pub wait: bool,
    /// A failed, killed or warning child makes the parent's task run end the same (default
    /// true).
    pub transmit_failed: bool,
    /// The child gets the parent's labels (default false).
    pub inherit_labels: bool,
}

/// The child list a flowable chose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Branch {
    Then,
    Else,
    /// A Switch case, by the key written in the flow.
    Case(String),
    /// A Switch's `defaults`.
    Defaults,
}

/// One attempt of a task run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRunAttempt {
    pub state: State,
}

/// Log levels, ordered from the most verbose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    /// The upper-case name used in flows, storage and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "TRACE",
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warn => "WARN",
            Self::Error => "ERROR",
        }
    }

    /// Parses a level name, case-insensitively.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Trace,
            Self::Debug,
            Self::Info,
            Self::Warn,
            Self::Error,
        ]
        .into_iter()
        .find(|l| l.as_str().eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One log line of an execution. `message` has already passed the masker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub tenant_id: String,
    pub namespace: String,
    pub flow_id: String,
    pub execution_id: String,
    pub task_run_id: Option<String>,
    pub task_id: Option<String>,
    pub attempt_number: Option<u32>,
    pub timestamp: DateTime<Utc>,
    pub level: Level,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_22_chars_and_time_ordered() {
        let a = new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id();
        assert_eq!(a.len(), 22);
        assert!(a < b, "{a} should sort before {b}");
    }

    #[test]
    fn sealed_values_round_trip() {
        let v = sealed_value("Y2lwaGVy");
        assert_eq!(as_sealed(&v), Some("Y2lwaGVy"));
        assert_eq!(as_sealed(&Value::String("x".into())), None);
    }

    #[test]
    fn state_names_round_trip() {
        for s in [StateType::Created, StateType::Killed, StateType::Retrying] {
            assert_eq!(StateType::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        assert_eq!(StateType::parse("nope"), None);
    }

    #[test]
    fn execution_serializes_with_kestra_field_names() {
        let mut e = Execution::new(DEFAULT_TENANT, "company.team", "hello", 1);
        let tr = TaskRun::new(&e, "t1");
        e.task_run_list.push(tr);
        let json = serde_json::to_value(&e).unwrap();
        assert!(json.get("flowId").is_some());
        assert!(json["taskRunList"][0].get("taskId").is_some());
        assert_eq!(json["state"]["current"], "CREATED");
        assert!(json.get("trigger").is_none(), "a manual run has no trigger");
    }

    #[test]
    fn trigger_serializes_as_kestra_and_old_documents_still_load() {
        let mut e = Execution::new(DEFAULT_TENANT, "company.team", "hello", 1);
        let mut variables = Map::new();
        variables.insert("body".into(), serde_json::json!({"a": 1}));
        e.trigger = Some(Box::new(ExecutionTrigger {
            id: "hook".into(),
            type_name: "io.kestra.plugin.core.trigger.Webhook".into(),
            variables,
        }));
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["trigger"]["id"], "hook");
        assert_eq!(
            json["trigger"]["type"],
            "io.kestra.plugin.core.trigger.Webhook"
        );
        assert_eq!(json["trigger"]["variables"]["body"]["a"], 1);
        let back: Execution = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, e);

        // A document stored before executions had a trigger.
        let mut old = json;
        old.as_object_mut().unwrap().remove("trigger");
        let loaded: Execution = serde_json::from_value(old).unwrap();
        assert_eq!(loaded.trigger, None);
    }
}
