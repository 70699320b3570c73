//! `errorLogs()`: Kestra's list of the ERROR log lines of the current execution, each a map
//! with Kestra's `LogEntry` field names (`taskId`, `message`, `timestamp`, `level`, ...), as an
//! `errors` branch uses them to report what failed. The log belongs to the caller, reached
//! through an [`ErrorLogReader`]; the expression engine does no I/O.
//!
//! The lines come from the stored log, which holds them already masked (`****` where a secret
//! was): their text is handed to the template as plain strings, never rendered again.

use chrono::{DateTime, Utc};

use crate::error::ErrorKind;
use crate::render::Runtime;
use crate::value::Value;

/// Reads the ERROR log lines of the execution being rendered. Implemented by the engine over
/// its store, for one task run.
pub trait ErrorLogReader: Send + Sync {
    /// The execution's ERROR lines, oldest first, at most as many as the implementation
    /// bounds them to. The error message is shown to users: it must name what failed.
    fn error_logs(&self) -> Result<Vec<ErrorLogLine>, ErrorLogLookupError>;
}

/// One ERROR line, with what Kestra's `LogEntry` says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorLogLine {
    pub tenant_id: String,
    pub namespace: String,
    pub flow_id: String,
    pub execution_id: String,
    /// The task that logged the line; `None` for a line of the execution itself.
    pub task_id: Option<String>,
    pub task_run_id: Option<String>,
    pub attempt_number: Option<u32>,
    pub timestamp: DateTime<Utc>,
    /// Kestra's level name (`ERROR`).
    pub level: String,
    /// The line as stored: already masked.
    pub message: String,
}

impl ErrorLogLine {
    /// The map a template sees: Kestra's field names, null where Kestra's getter answers null.
    fn to_value(&self) -> Value {
        let text = |s: &Option<String>| s.as_deref().map_or_else(Value::null, Value::from);
        Value::map([
            ("tenantId", Value::from(self.tenant_id.as_str())),
            ("namespace", Value::from(self.namespace.as_str())),
            ("flowId", Value::from(self.flow_id.as_str())),
            ("executionId", Value::from(self.execution_id.as_str())),
            ("taskId", text(&self.task_id)),
            ("taskRunId", text(&self.task_run_id)),
            (
                "attemptNumber",
                self.attempt_number
                    .map_or_else(Value::null, |n| Value::from(i64::from(n))),
            ),
            ("triggerId", Value::null()),
            // A date, printed as Java prints Kestra's `Instant`, usable with `date()`.
            ("timestamp", Value::from(self.timestamp)),
            ("level", Value::from(self.level.as_str())),
            ("message", Value::from(self.message.as_str())),
        ])
    }
}

/// A failed read of the log (the store could not answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorLogLookupError {
    pub message: String,
}

impl ErrorLogLookupError {
    pub fn new(message: impl Into<String>) -> Self {
        ErrorLogLookupError {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ErrorLogLookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ErrorLogLookupError {}

/// `errorLogs()`: a list of maps, one per ERROR line of the execution, oldest first.
pub(crate) fn error_logs(rt: &mut Runtime<'_>) -> Result<Value, ErrorKind> {
    // Kestra refuses it outside the worker the same way: only a task run has a log to read.
    let reader = rt.env.error_logs.ok_or_else(|| {
        ErrorKind::Argument(
            "function 'errorLogs' can only be used in a task: it reads the log of the \
             execution that runs it, and there is none here"
                .into(),
        )
    })?;
    let lines = reader.error_logs().map_err(|e| {
        ErrorKind::Argument(format!(
            "function 'errorLogs' cannot read the execution's log: {e}"
        ))
    })?;
    let mut items = Vec::with_capacity(lines.len());
    for line in &lines {
        let item = line.to_value();
        rt.budget.built(&item)?;
        if let Some(map) = item.as_map() {
            for field in map.values() {
                rt.budget.built(field)?;
            }
        }
        items.push(item);
    }
    let value = Value::list(items);
    rt.budget.built(&value)?;
    Ok(value)
}
