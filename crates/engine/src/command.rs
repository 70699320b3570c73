//! How the rest of Saker reaches the executor. In one process an [`Engine`] sends events
//! down an in-memory channel to its own executor thread; in distributed mode a webserver
//! or a scheduler has no executor, and its engine writes each request as an
//! [`ExecutorCommand`] to a [`CommandSink`] (a durable table the executor reads, on
//! PostgreSQL). The executor turns commands back into events with
//! [`Engine::apply_command`](crate::Engine::apply_command), reading what they name from the
//! store, so a command carries ids, never a flow or an execution.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::engine::EngineError;
use crate::executor::Event;

/// A request for the executor, as it crosses a process boundary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ExecutorCommand {
    /// An execution stored CREATED (or reopened by a restart) is to start.
    #[serde(rename_all = "camelCase")]
    Start { execution_id: String },
    /// Stop an execution.
    #[serde(rename_all = "camelCase")]
    Kill { execution_id: String },
    /// Resume a paused execution; `outputs` are already coerced and sealed.
    #[serde(rename_all = "camelCase")]
    Resume {
        execution_id: String,
        outputs: Map<String, Value>,
    },
    /// A reopened task run starts its new attempt (a restart).
    #[serde(rename_all = "camelCase")]
    RetryDue {
        execution_id: String,
        task_run_id: String,
    },
    /// The liveness coordinator handed a dead worker's job to another worker
    /// (`server.worker-task-restart-strategy`): the task run's history shows RESUBMITTED.
    #[serde(rename_all = "camelCase")]
    JobResubmitted {
        execution_id: String,
        task_run_id: String,
        attempt: u32,
        holder: String,
    },
    /// The coordinator gave up a dead worker's job (strategy NEVER): the attempt fails.
    #[serde(rename_all = "camelCase")]
    JobAbandoned {
        execution_id: String,
        task_run_id: String,
        attempt: u32,
        holder: String,
    },
    /// The coordinator cancelled a dead worker's job because its execution ended or is being
    /// killed: a killing execution ends the attempt KILLED instead of waiting for it.
    #[serde(rename_all = "camelCase")]
    JobCancelled {
        execution_id: String,
        task_run_id: String,
        attempt: u32,
        holder: String,
    },
}

/// The fields of a command the coordinator writes itself (`jobResubmitted`, `jobAbandoned`):
/// the execution is a column of its own, the rest is this payload.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobNotice {
    task_run_id: String,
    attempt: u32,
    #[serde(default)]
    holder: String,
}

impl ExecutorCommand {
    /// The execution the command is about.
    pub fn execution_id(&self) -> &str {
        match self {
            Self::Start { execution_id }
            | Self::Kill { execution_id }
            | Self::Resume { execution_id, .. }
            | Self::RetryDue { execution_id, .. }
            | Self::JobResubmitted { execution_id, .. }
            | Self::JobAbandoned { execution_id, .. }
            | Self::JobCancelled { execution_id, .. } => execution_id,
        }
    }

    /// The command's kind, as the store's `kind` column holds it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Start { .. } => "start",
            Self::Kill { .. } => "kill",
            Self::Resume { .. } => "resume",
            Self::RetryDue { .. } => "retryDue",
            Self::JobResubmitted { .. } => "jobResubmitted",
            Self::JobAbandoned { .. } => "jobAbandoned",
            Self::JobCancelled { .. } => "jobCancelled",
        }
    }

    /// The command as JSON text (kind and execution included).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a command is plain data")
    }

    /// Reads a stored command: `kind`, its execution and its payload. The coordinator's
    /// notices carry their own payload shape; every other kind is [`Self::to_json`]'s text.
    pub fn from_row(kind: &str, execution_id: &str, payload: &str) -> Result<Self, String> {
        match kind {
            "jobResubmitted" | "jobAbandoned" | "jobCancelled" => {
                let notice: JobNotice = serde_json::from_str(payload)
                    .map_err(|e| format!("a {kind} command does not decode: {e}"))?;
                let (execution_id, task_run_id, attempt, holder) = (
                    execution_id.to_owned(),
                    notice.task_run_id,
                    notice.attempt,
                    notice.holder,
                );
                Ok(match kind {
                    "jobResubmitted" => Self::JobResubmitted {
                        execution_id,
                        task_run_id,
                        attempt,
                        holder,
                    },
                    "jobAbandoned" => Self::JobAbandoned {
                        execution_id,
                        task_run_id,
                        attempt,
                        holder,
                    },
                    _ => Self::JobCancelled {
                        execution_id,
                        task_run_id,
                        attempt,
                        holder,
                    },
                })
            }
            _ => {
                let command: Self = serde_json::from_str(payload)
                    .map_err(|e| format!("a {kind} command does not decode: {e}"))?;
                if command.kind() != kind || command.execution_id() != execution_id {
                    return Err(format!(
                        "a {kind} command's payload names another kind or execution"
                    ));
                }
                Ok(command)
            }
        }
    }
}

/// Where a process without an executor sends its requests (a durable table read by the
/// executor, in distributed mode). Sending may block on the database: callers are on
/// threads that may (the API's store gate, the scheduler's store calls).
pub trait CommandSink: Send + Sync {
    fn send(&self, command: &ExecutorCommand) -> Result<(), String>;
}

/// The way to this engine's executor: its own thread, or a sink toward another process's.
#[derive(Clone)]
pub(crate) enum ExecutorPort {
    Local(mpsc::UnboundedSender<Event>),
    Remote(Arc<dyn CommandSink>),
}

impl ExecutorPort {
    /// Sends `event`, as a command when the executor is elsewhere. Events that only the
    /// executor's own process produces (timers, watches) cannot go to another process.
    pub(crate) fn send(&self, event: Event) -> Result<(), EngineError> {
        match self {
            Self::Local(events) => events.send(event).map_err(|_| EngineError::Stopped),
            Self::Remote(sink) => {
                let command = match event {
                    Event::Start { execution, .. } => ExecutorCommand::Start {
                        execution_id: execution.id,
                    },
                    Event::Kill { execution_id } => ExecutorCommand::Kill { execution_id },
                    Event::Resume {
                        execution_id,
                        outputs,
                    } => ExecutorCommand::Resume {
                        execution_id,
                        outputs,
                    },
                    Event::RetryDue {
                        execution_id,
                        task_run_id,
                    } => ExecutorCommand::RetryDue {
                        execution_id,
                        task_run_id,
                    },
                    _ => return Err(EngineError::Stopped),
                };
                sink.send(&command).map_err(EngineError::Executor)
            }
        }
    }

    /// True when the executor is in another process.
    pub(crate) fn is_remote(&self) -> bool {
        matches!(self, Self::Remote(_))
    }

    /// The in-process channel, when there is one.
    pub(crate) fn local(&self) -> Option<&mpsc::UnboundedSender<Event>> {
        match self {
            Self::Local(events) => Some(events),
            Self::Remote(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_come_back_from_their_rows() {
        let commands = [
            ExecutorCommand::Start {
                execution_id: "e".into(),
            },
            ExecutorCommand::Resume {
                execution_id: "e".into(),
                outputs: serde_json::json!({"a": 1}).as_object().unwrap().clone(),
            },
            ExecutorCommand::RetryDue {
                execution_id: "e".into(),
                task_run_id: "r".into(),
            },
        ];
        for command in commands {
            let back = ExecutorCommand::from_row(command.kind(), "e", &command.to_json()).unwrap();
            assert_eq!(back, command);
        }
        let notice = ExecutorCommand::from_row(
            "jobResubmitted",
            "e",
            r#"{"taskRunId":"r","attempt":2,"holder":"w1"}"#,
        )
        .unwrap();
        assert_eq!(
            notice,
            ExecutorCommand::JobResubmitted {
                execution_id: "e".into(),
                task_run_id: "r".into(),
                attempt: 2,
                holder: "w1".into()
            }
        );
        let cancelled =
            ExecutorCommand::from_row("jobCancelled", "e", r#"{"taskRunId":"r","attempt":1}"#)
                .unwrap();
        assert_eq!(cancelled.kind(), "jobCancelled");
        assert_eq!(cancelled.execution_id(), "e");
        let kill = ExecutorCommand::Kill {
            execution_id: "e".into(),
        };
        let err = ExecutorCommand::from_row("kill", "other", &kill.to_json()).unwrap_err();
        assert!(err.contains("another kind or execution"), "{err}");
    }
}
