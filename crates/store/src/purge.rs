//! Retention: what [`Store::purge_executions`] and [`Store::purge_logs`] remove, and what
//! they report. Both work in batches of [`PURGE_BATCH`] rows, each batch its own transaction,
//! so that purging millions of rows never holds the write lock for long; a purge interrupted
//! part-way has removed whole batches and nothing else.
//!
//! The audit trail is never purged: its hash chain must stay verifiable, and an event that
//! names a purged execution keeps naming it.
//!
//! [`Store::purge_executions`]: crate::Store::purge_executions
//! [`Store::purge_logs`]: crate::Store::purge_logs

use chrono::{DateTime, Utc};
use saker_model::execution::{Level, StateType};

/// Rows removed per transaction.
pub const PURGE_BATCH: u32 = 1_000;

/// Which namespaces a purge looks at. Kestra's rule: with a flow id, the namespace is the
/// flow's (exact); without one, it is a prefix (`company` matches `company` and
/// `company.team`, not `companyx`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PurgeScope {
    /// Rows of other tenants are never touched; `None` for every tenant (a server's
    /// retention).
    pub tenant: Option<String>,
    pub namespace: Option<String>,
    pub flow_id: Option<String>,
    /// When set, only these namespaces and their children (what the caller may touch); an
    /// empty list matches nothing.
    pub namespace_scopes: Option<Vec<String>>,
    /// Never purged, nor its log lines: the execution the purge runs in.
    pub keep_execution: Option<String>,
}

impl PurgeScope {
    /// Every namespace of `tenant`.
    pub fn new(tenant: impl Into<String>) -> Self {
        Self {
            tenant: Some(tenant.into()),
            ..Self::default()
        }
    }

    /// Every namespace of every tenant.
    pub fn all_tenants() -> Self {
        Self::default()
    }

    /// True when `namespace` is what [`PurgeScope::namespace`] selects: exact with a flow id,
    /// the namespace or a child of it otherwise.
    pub fn namespace_exact(&self) -> bool {
        self.flow_id.is_some()
    }
}

/// Ended executions to remove: those whose end is before `ended_before` and, when set, whose
/// start is at or after `started_after`. An execution that has not ended (CREATED, RUNNING,
/// KILLING, ...) is never purged, whatever `states` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionPurge {
    pub scope: PurgeScope,
    pub ended_before: DateTime<Utc>,
    pub started_after: Option<DateTime<Utc>>,
    /// Current states to purge; empty purges every ended state.
    pub states: Vec<StateType>,
    /// Remove the executions (with their task runs, and so their log lines too: a log line
    /// belongs to its execution and goes with it).
    pub executions: bool,
    /// Remove the log lines of the matching executions (the only effect when `executions`
    /// is false).
    pub logs: bool,
}

impl ExecutionPurge {
    /// Executions and their logs of `scope` that ended before `ended_before`.
    pub fn new(scope: PurgeScope, ended_before: DateTime<Utc>) -> Self {
        Self {
            scope,
            ended_before,
            started_after: None,
            states: Vec::new(),
            executions: true,
            logs: true,
        }
    }
}

/// What [`crate::Store::purge_executions`] removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PurgedExecutions {
    pub executions: u64,
    pub task_runs: u64,
    pub logs: u64,
}

impl PurgedExecutions {
    pub(crate) fn add(&mut self, other: PurgedExecutions) {
        self.executions += other.executions;
        self.task_runs += other.task_runs;
        self.logs += other.logs;
    }
}

/// Log lines to remove (Kestra's PurgeLogs): those timestamped before `before` and, when set,
/// at or after `after`, of executions in `scope`, whatever the state of their execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPurge {
    pub scope: PurgeScope,
    pub before: DateTime<Utc>,
    pub after: Option<DateTime<Utc>>,
    pub execution_id: Option<String>,
    /// Levels to purge; empty purges every level.
    pub levels: Vec<Level>,
}

impl LogPurge {
    /// Every log line of `scope` older than `before`.
    pub fn new(scope: PurgeScope, before: DateTime<Utc>) -> Self {
        Self {
            scope,
            before,
            after: None,
            execution_id: None,
            levels: Vec::new(),
        }
    }
}
