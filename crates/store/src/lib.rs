//! Durable storage for Saker: flows with revisions, executions, task runs, log lines and the
//! scheduler's trigger states, behind one object-safe, synchronous [`Store`] trait, with an
//! embedded SQLite backend ([`SqliteStore`], the default) and a PostgreSQL one ([`PgStore`],
//! chosen with `repository.type: postgres`). Both backends also
//! implement [`SecretRows`] (the rows of the encrypted secret store, as opaque ciphertexts),
//! [`AuditLog`] (the hash-chained audit trail) and [`AuthRows`] (users, roles, bindings, API
//! tokens and invitations, hashes only), each with its own contract; [`Database`] is all four
//! at once, what a process opens.
//!
//! This crate only stores and returns what it is given. It knows nothing of HTTP, of how
//! tasks run, of flow syntax (a flow is an opaque source text here) or of secrets: values that
//! must not be stored in plaintext arrive already sealed by the crypto layer. It never logs
//! row contents, so a mistake upstream cannot turn into a leak through the store's own logs.
//!
//! The trait is synchronous on purpose: SQLite calls block, so the engine calls the store from
//! `tokio::task::spawn_blocking` or a dedicated thread, and the trait stays free of any async
//! runtime and of backend types.

pub mod audit;
pub mod auth_rows;
mod columns;
pub mod commands;
mod error;
mod execution_doc;
pub mod kv;
pub mod namespace_backends;
mod postgres;
mod purge;
mod purge_sql;
pub mod queue;
pub mod secret_rows;
pub mod services;
mod sqlite;
mod trigger_state;

pub use audit::{
    AuditEvent, AuditFilter, AuditHead, AuditLog, AuditRecord, AuditReport, AuditStep, BreakKind,
    ChainBreak, verify_audit,
};
pub use auth_rows::{AuthRows, BindingRow, InvitationRow, RoleRow, TokenRow, UserRow};
pub use error::{BoxError, StoreError};
pub use kv::{KvEntry, KvPut, KvStore, KvType};
pub use namespace_backends::NamespaceBackendRows;
pub use postgres::{ExecutionLease, JobWaiter, PgStore, PoolSettings, SessionLock};
pub use purge::{ExecutionPurge, LogPurge, PURGE_BATCH, PurgeScope, PurgedExecutions};
pub use secret_rows::{
    Cas, NewVersion, SecretChange, SecretRow, SecretRowState, SecretRows, VersionCursor, VersionRow,
};
pub use sqlite::SqliteStore;
pub use trigger_state::TriggerState;

use chrono::{DateTime, Utc};
use saker_model::execution::{Execution, Level, LogEntry, StateType, TaskRun};

/// The result type of every store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// One stored revision of a flow. The source is kept verbatim (YAML, comments included): the
/// store does not parse it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRecord {
    pub tenant: String,
    pub namespace: String,
    pub id: String,
    /// Starts at 1 and grows by one with every change, deletions included.
    pub revision: u32,
    pub source: String,
    pub created_at: DateTime<Utc>,
    /// True for the tombstone revision that [`Store::delete_flow`] writes.
    pub deleted: bool,
}

/// What [`Store::save_flow`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedFlow {
    /// The latest revision after the call.
    pub flow: FlowRecord,
    /// False when the latest revision already had this exact source, so nothing was written.
    pub created: bool,
}

/// Which executions [`Store::list_executions`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionFilter {
    /// Executions of other tenants are never returned.
    pub tenant: String,
    /// `company` matches `company` and `company.team`, not `companyx`.
    pub namespace_prefix: Option<String>,
    /// When set, only executions in these namespaces or their children (the namespaces a
    /// caller may see); an empty list matches nothing.
    pub namespace_scopes: Option<Vec<String>>,
    pub flow_id: Option<String>,
    /// Current states to keep; empty keeps every state.
    pub states: Vec<StateType>,
    /// At most this many; `None` for no bound.
    pub limit: Option<u32>,
    /// How many of the matching executions (newest first) to skip.
    pub offset: u32,
}

impl ExecutionFilter {
    /// Every execution of `tenant`, newest first, at most 100.
    pub fn new(tenant: impl Into<String>) -> Self {
        Self {
            tenant: tenant.into(),
            namespace_prefix: None,
            namespace_scopes: None,
            flow_id: None,
            states: Vec::new(),
            limit: Some(100),
            offset: 0,
        }
    }
}

/// Which log lines of one execution [`Store::list_logs`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    pub execution_id: String,
    /// Only lines stored after this cursor (a [`StoredLog::seq`] seen before).
    pub after_seq: Option<i64>,
    /// Only lines at this level or more severe.
    pub min_level: Option<Level>,
    pub task_run_id: Option<String>,
    /// At most this many; `None` for no bound.
    pub limit: Option<u32>,
}

impl LogQuery {
    /// Every line of `execution_id`, in order.
    pub fn new(execution_id: impl Into<String>) -> Self {
        Self {
            execution_id: execution_id.into(),
            after_seq: None,
            min_level: None,
            task_run_id: None,
            limit: None,
        }
    }
}

/// A stored log line and its position in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLog {
    /// A cursor for [`LogQuery::after_seq`]; see the ordering rules on [`Store`].
    pub seq: i64,
    pub entry: LogEntry,
}

/// One write of a batch given to [`Store::write`].
#[derive(Debug, Clone, Copy)]
pub enum Write<'a> {
    /// As [`Store::create_execution`].
    CreateExecution(&'a Execution),
    /// As [`Store::save_execution`].
    SaveExecution(&'a Execution),
    /// As [`Store::save_task_run`].
    SaveTaskRun(&'a TaskRun),
    /// As [`Store::append_logs`].
    AppendLogs(&'a [LogEntry]),
    /// Removes these task runs of an execution (a restart drops the `errors` runs of the
    /// failure it undoes); their log lines stay. Runs of another execution are not touched.
    DeleteTaskRuns {
        execution_id: &'a str,
        task_run_ids: &'a [String],
    },
    /// As [`Store::save_trigger_state`]: inserts the state, or replaces the one stored under
    /// its key. A scheduler batches it after the `CreateExecution` of the execution the
    /// trigger starts, so that the execution and the trigger's advance are committed together
    /// or not at all.
    SaveTriggerState(&'a TriggerState),
    /// A command for the executor (distributed mode), queued with the rest of the batch, so
    /// that a new execution and the request to start it are committed together (nothing is
    /// left CREATED with nobody asked to start it). PostgreSQL only: the embedded store has
    /// no executor queue and refuses it.
    QueueCommand(commands::NewCommand<'a>),
}

/// One database holding everything Saker stores: what a process opens once and hands, as
/// each trait, to the engine, the secret service and the auth service. Implemented by
/// [`SqliteStore`] and [`PgStore`].
pub trait Database: Store + SecretRows + AuditLog + AuthRows + NamespaceBackendRows {}

impl<T: Store + SecretRows + AuditLog + AuthRows + NamespaceBackendRows> Database for T {}

/// The repositories of flows, executions, task runs, logs and trigger states; every store is
/// also the KV store of flows ([`KvStore`]), which the engine reaches through it.
///
/// # Contract (every backend must keep it)
///
/// **Atomicity.** Each method is one transaction: it happens entirely or not at all, except
/// the two purges, which remove whole batches of [`PURGE_BATCH`] rows, each batch its own
/// transaction (so that a purge of millions never holds the write lock for long).
/// [`Store::write`] applies its whole batch in one transaction, in the order given; if any
/// write fails (an unknown execution, a duplicate id, ...) none of the batch is kept and the
/// error names the failing item. This holds for every kind of write in a batch, trigger
/// states included: a batch of `[CreateExecution(e), SaveTriggerState(s)]` either stores both
/// or, if creating `e` fails, leaves the execution and the previous state of `s`'s trigger
/// as they were.
///
/// **Durability.** When a write method returns `Ok`, the data is committed: it survives the
/// process being killed at any later moment, and every later read from any thread or process
/// sees it. Whether it also survives a power loss or an OS crash depends on the backend (the
/// SQLite one may lose the last transactions then, see [`SqliteStore`]).
///
/// **Reads** see a consistent snapshot: [`Store::get_execution`] never mixes an execution with
/// task runs from another moment. Reads do not wait for writes in progress.
///
/// **Ordering.**
/// - Task runs of an execution come back in the order they were first saved.
/// - [`Store::list_executions`] returns newest first, by creation order;
///   [`Store::executions_in_states`] returns oldest first.
/// - [`Store::trigger_states`] returns states sorted by namespace, then flow id, then trigger
///   id, and [`Store::flow_tenants`] sorted tenants, comparing text bytewise (as Rust's `str`
///   does) on every backend.
/// - Log lines come back in `seq` order. Within one execution, `seq` strictly increases in
///   the order the lines were appended, and a line with a lower `seq` never becomes visible
///   after one with a higher `seq`. So a follower polling with `after_seq` = the last `seq`
///   it saw misses no line and sees none twice. (A PostgreSQL backend must serialise appends
///   per execution to keep this; a bare sequence does not.)
///
/// **Identity.** Executions and task runs are found by id alone (ids are globally unique);
/// tenancy checks on them belong to the caller. Flows are keyed by (tenant, namespace, id),
/// trigger states by (tenant, namespace, flow id, trigger id). A trigger state is independent
/// of the flow rows: deleting a flow leaves its trigger states to the scheduler to delete.
///
/// **Contents.** The store keeps exactly what it is given and returns it unchanged
/// (`Execution`, `TaskRun`, `LogEntry` compare equal after a round trip; so does a
/// `TriggerState` whose timestamps have whole microseconds, the precision stored). A stored
/// row that cannot be decoded gives [`StoreError::Corrupt`] naming the table and the row,
/// never a panic. No implementation logs row contents.
pub trait Store: KvStore + Send + Sync {
    /// Stores `source` as the next revision of the flow, unless the latest revision has the
    /// very same source and is not deleted: then that revision is returned with
    /// `created: false`. Saving a deleted flow revives it with a new revision.
    fn save_flow(&self, tenant: &str, namespace: &str, id: &str, source: &str)
    -> Result<SavedFlow>;

    /// The latest revision (`None`) or the given one. A deleted flow's latest is `None`; its
    /// earlier revisions stay readable by number, so executions of them can still be shown.
    /// The tombstone revision itself is never returned here (see [`Store::flow_revisions`]).
    fn get_flow(
        &self,
        tenant: &str,
        namespace: &str,
        id: &str,
        revision: Option<u32>,
    ) -> Result<Option<FlowRecord>>;

    /// The latest revision of every flow of `tenant` that is not deleted, whose namespace is
    /// `namespace_prefix` or below it, sorted by namespace then id.
    fn list_flows(&self, tenant: &str, namespace_prefix: Option<&str>) -> Result<Vec<FlowRecord>>;

    /// Marks the flow deleted by writing a tombstone revision (history is kept). False if the
    /// flow does not exist or is already deleted.
    fn delete_flow(&self, tenant: &str, namespace: &str, id: &str) -> Result<bool>;

    /// Every revision of the flow, oldest first, tombstones included.
    fn flow_revisions(&self, tenant: &str, namespace: &str, id: &str) -> Result<Vec<FlowRecord>>;

    /// Every tenant that has at least one flow whose latest revision is not deleted, each
    /// once, sorted: the tenants a scheduler has to look at.
    fn flow_tenants(&self) -> Result<Vec<String>>;

    /// Stores a new execution and the task runs already in its `task_run_list`.
    /// [`StoreError::AlreadyExists`] if the id is taken.
    fn create_execution(&self, execution: &Execution) -> Result<()> {
        self.write(&[Write::CreateExecution(execution)])
    }

    /// Replaces the stored execution (state, inputs, outputs, labels, ...). Its
    /// `task_run_list` is ignored: task runs are saved with [`Store::save_task_run`].
    /// [`StoreError::NotFound`] if it was never created; [`StoreError::Conflict`] if its
    /// tenant, namespace, flow id or flow revision differ from the stored ones (they are fixed
    /// at creation, and listings filter on them).
    fn save_execution(&self, execution: &Execution) -> Result<()> {
        self.write(&[Write::SaveExecution(execution)])
    }

    /// Inserts or replaces a task run. [`StoreError::NotFound`] if its execution does not
    /// exist; [`StoreError::Conflict`] if the id belongs to a task run of another execution.
    fn save_task_run(&self, task_run: &TaskRun) -> Result<()> {
        self.write(&[Write::SaveTaskRun(task_run)])
    }

    /// Appends log lines, in order. [`StoreError::NotFound`] if one names an unknown
    /// execution.
    fn append_logs(&self, entries: &[LogEntry]) -> Result<()> {
        self.write(&[Write::AppendLogs(entries)])
    }

    /// Inserts the trigger state, or replaces the one stored under its key (tenant,
    /// namespace, flow id, trigger id).
    fn save_trigger_state(&self, state: &TriggerState) -> Result<()> {
        self.write(&[Write::SaveTriggerState(state)])
    }

    /// Applies every write in one transaction, in order (see the contract above). This is the
    /// cheap path: one commit for everything an engine step produced.
    fn write(&self, writes: &[Write<'_>]) -> Result<()>;

    /// The execution with its task runs in the order they were first saved.
    fn get_execution(&self, id: &str) -> Result<Option<Execution>>;

    /// The matching executions, newest first, each **without** its task runs
    /// (`task_run_list` is empty: listing stays one indexed query; use
    /// [`Store::get_execution`] for the details).
    fn list_executions(&self, filter: &ExecutionFilter) -> Result<Vec<Execution>>;

    /// How many executions `filter` matches, its `limit` and `offset` aside (the total of a
    /// paged search).
    fn count_executions(&self, filter: &ExecutionFilter) -> Result<u64>;

    /// The ids of every execution (all tenants) whose current state is one of `states`, oldest
    /// first: what crash recovery looks for at start-up.
    fn executions_in_states(&self, states: &[StateType]) -> Result<Vec<String>>;

    /// Claims, for as long as this store is open, the right to run executions on this
    /// database; `false` when another process holds it. Until work is shared through a
    /// durable queue, one process at a time runs executions (it also resumes, at start, what
    /// it finds running). An embedded store belongs to one process anyway (its data
    /// directory is locked), so it always says yes.
    fn claim_executor(&self) -> Result<bool> {
        Ok(true)
    }

    /// Deletes an execution with its task runs and log lines. False if it did not exist.
    fn delete_execution(&self, id: &str) -> Result<bool>;

    /// Log lines of one execution in `seq` order, filtered as the query says.
    fn list_logs(&self, query: &LogQuery) -> Result<Vec<StoredLog>>;

    /// Removes the ended executions `purge` matches (with their task runs and log lines), or
    /// only their log lines, batch after batch; see [`ExecutionPurge`]. An execution that has
    /// not ended, and `scope.keep_execution`, are never touched; nor is the audit trail. The
    /// SQLite backend gives the freed pages back to the file system after each batch.
    fn purge_executions(&self, purge: &ExecutionPurge) -> Result<PurgedExecutions>;

    /// Removes the log lines `purge` matches, batch after batch, and says how many; see
    /// [`LogPurge`].
    fn purge_logs(&self, purge: &LogPurge) -> Result<u64>;

    /// The stored state of one trigger of one flow, if any.
    fn trigger_state(
        &self,
        tenant: &str,
        namespace: &str,
        flow_id: &str,
        trigger_id: &str,
    ) -> Result<Option<TriggerState>>;

    /// Every trigger state of `tenant`, sorted by namespace, then flow id, then trigger id.
    fn trigger_states(&self, tenant: &str) -> Result<Vec<TriggerState>>;

    /// The distinct tenants that have at least one trigger state, sorted bytewise. With
    /// [`Store::flow_tenants`] this lets the scheduler find the states of a tenant whose
    /// last flow was deleted.
    fn trigger_state_tenants(&self) -> Result<Vec<String>>;

    /// Deletes the state of one trigger of one flow. False if there was none.
    fn delete_trigger_state(
        &self,
        tenant: &str,
        namespace: &str,
        flow_id: &str,
        trigger_id: &str,
    ) -> Result<bool>;
}
