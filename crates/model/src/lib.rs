//! The flow model: flows parsed and validated from Kestra-style YAML (`flow`), and the
//! executions, task runs and log lines that running them produces (`execution`).
//!
//! This crate knows nothing of storage, HTTP or how tasks run; it only says what a valid flow
//! is and what an execution looks like.

pub mod execution;

pub use execution::{
    DEFAULT_TENANT, Execution, Level, LogEntry, State, StateHistory, StateType, TaskRun,
    TaskRunAttempt, new_id,
};
