//! The embedded SQLite backend.
//!
//! One writer connection behind a mutex serialises writes (SQLite allows one writer at a time
//! anyway; queuing in-process is cheaper than spinning on `SQLITE_BUSY`). Reads go through a
//! small pool of separate connections: in WAL mode a reader sees the last committed snapshot
//! and never waits for the writer. A background thread checkpoints the WAL so that commits
//! almost never pay for it (see `checkpoint`).
//!
//! SQL lives in the submodules, one per repository; everything here is connection plumbing.

mod audit;
mod auth;
mod checkpoint;
mod executions;
mod flows;
mod kv;
mod logs;
mod migrations;
mod namespace_backends;
mod purge;
mod secrets;
mod triggers;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use saker_model::execution::{Execution, StateType};

use crate::columns::{from_micros, namespace_children, to_micros};
use crate::purge::{ExecutionPurge, LogPurge, PurgedExecutions};
use crate::purge_sql;
use crate::{
    ExecutionFilter, FlowRecord, LogQuery, Result, SavedFlow, Store, StoreError, StoredLog,
    TriggerState, Write,
};

/// How long a connection waits for a lock held by another process before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Reader connections kept open between reads; more are opened under load and then closed.
const MAX_IDLE_READERS: usize = 4;
/// Statements kept prepared per connection: every fixed statement plus the common shapes of
/// the dynamic listing query.
const STATEMENT_CACHE: usize = 64;
/// The WAL file is cut back to this size when it rewinds, so that a burst does not leave a
/// large file behind for good.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// The SQLite store.
///
/// # Durability
///
/// The database runs in WAL mode with `synchronous = NORMAL`: a commit is written to the WAL
/// before the call returns, so it survives the process being killed (`kill -9`, a panic, an
/// abort) at any moment. The WAL is fsynced only at checkpoints, so an OS crash or a power
/// loss may lose the last transactions committed before it (never corrupting the database).
/// This trade buys commits that cost microseconds instead of an fsync each. Checkpoints (and
/// their fsyncs) run on a background thread, off the writers' path, except for a rare
/// catch-up that keeps the WAL under about 16 MiB (see the `checkpoint` module).
pub struct SqliteStore {
    // Fields drop in order: the checkpoint thread stops first, then the readers close, then
    // the writer, whose close (as the last connection) checkpoints and removes the WAL.
    // The checkpointer is held only for its Drop, which stops the thread.
    _checkpointer: Option<checkpoint::Checkpointer>,
    /// `None` for an in-memory database, which a second connection could not see: reads then
    /// share the writer connection.
    readers: Option<ReaderPool>,
    writer: Mutex<Connection>,
}

struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and migrates its schema.
    /// Refuses a database whose schema is newer than this binary knows
    /// ([`StoreError::SchemaTooNew`]). The parent directory must exist.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        Self::open_with(path, checkpoint::Policy::DEFAULT)
    }

    fn open_with(path: &Path, policy: checkpoint::Policy) -> Result<SqliteStore> {
        let open_err = |source: rusqlite::Error| StoreError::Open {
            path: path.to_owned(),
            source: Box::new(source),
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut writer = Connection::open_with_flags(path, flags).map_err(open_err)?;
        configure(&writer).map_err(open_err)?;
        migrations::ensure_incremental_vacuum(&writer).map_err(open_err)?;
        // Journal mode is a property of the file, set once by the writer. It can silently stay
        // "delete" (e.g. on a file system without shared memory): say so rather than run with
        // readers that block the writer.
        let mode: String = writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Open {
                path: path.to_owned(),
                source: format!("SQLite refused WAL mode (journal mode is {mode})").into(),
            });
        }
        writer
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        writer
            .pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)
            .map_err(open_err)?;
        migrations::migrate(&mut writer)?;
        let readers = ReaderPool {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        };
        // Open one reader now so that a problem shows at start-up, not at the first read.
        let first = open_secondary(path, true)?;
        readers.give_back(first);
        let writer = Mutex::new(writer);
        let checkpoint_conn = open_secondary(path, false)?;
        let checkpointer = checkpoint::Checkpointer::start(checkpoint_conn, &writer, policy)
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        tracing::debug!(path = %path.display(), "opened SQLite store");
        Ok(SqliteStore {
            _checkpointer: Some(checkpointer),
            readers: Some(readers),
            writer,
        })
    }

    /// A private in-memory database, for tests. Reads and writes share one connection.
    pub fn open_in_memory() -> Result<SqliteStore> {
        let open_err = |source: rusqlite::Error| StoreError::Open {
            path: PathBuf::from(":memory:"),
            source: Box::new(source),
        };
        let mut conn = Connection::open_in_memory().map_err(open_err)?;
        configure(&conn).map_err(open_err)?;
        migrations::ensure_incremental_vacuum(&conn).map_err(open_err)?;
        migrations::migrate(&mut conn)?;
        Ok(SqliteStore {
            _checkpointer: None,
            readers: None,
            writer: Mutex::new(conn),
        })
    }

    /// The schema version this binary writes (the database's `user_version` after opening).
    pub fn schema_version() -> i64 {
        migrations::supported_version()
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction open: rusqlite's
        // Transaction rolls back on drop, unwinding included. So the connection is still good.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` in one IMMEDIATE transaction on the writer and commits if it succeeds.
    fn write_tx<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Gives the pages that the last writes freed back to the file system, so that a purge
    /// shrinks the file batch by batch (each call frees at most one batch's worth).
    fn reclaim_free_pages(&self) -> Result<()> {
        let conn = self.writer();
        let mut stmt = conn.prepare_cached("PRAGMA incremental_vacuum")?;
        // The pragma frees one page per step: step it to the end.
        let mut rows = stmt.query([])?;
        while rows.next()?.is_some() {}
        Ok(())
    }

    /// Runs `f` in one read transaction, so that all its queries see the same snapshot.
    fn read_tx<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let run = |conn: &mut Connection| -> Result<T> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let value = f(&tx)?;
            // Nothing to keep: ending a read transaction either way just releases the snapshot.
            tx.commit()?;
            Ok(value)
        };
        match &self.readers {
            None => run(&mut self.writer()),
            Some(pool) => {
                let mut conn = pool.take()?;
                let result = run(&mut conn);
                pool.give_back(conn);
                result
            }
        }
    }
}

impl ReaderPool {
    fn take(&self) -> Result<Connection> {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match pooled {
            Some(conn) => Ok(conn),
            None => open_secondary(&self.path, true),
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
    }
}

/// Another connection to the database the writer created (a reader, or the checkpointer).
fn open_secondary(path: &Path, query_only: bool) -> Result<Connection> {
    let open_err = |source: rusqlite::Error| StoreError::Open {
        path: path.to_owned(),
        source: Box::new(source),
    };
    // Not CREATE: the file must be the one the writer opened.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    configure(&conn).map_err(open_err)?;
    // Readers must never write: a bug that tried would otherwise contend with the writer.
    conn.pragma_update(None, "query_only", query_only)
        .map_err(open_err)?;
    Ok(conn)
}

/// Settings that are per connection (not stored in the file).
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // The bundled SQLite is built with STAT4, under which binding a new value to a parameter
    // that the planner looked at (a LIMIT, an `?n IS NULL`, ...) throws the prepared plan
    // away: every cached statement was being re-parsed on every call (two thirds of a read's
    // time). The queries here are written for one fixed plan, so keep the plan.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

impl From<rusqlite::Error> for StoreError {
    /// A database still locked by another connection after the busy timeout is `Busy` (the
    /// same call may succeed later; the server answers 503), anything else `Backend`.
    fn from(err: rusqlite::Error) -> Self {
        match err.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Busy {
                    reason: format!("SQLite stayed locked past the busy timeout ({err})"),
                }
            }
            _ => StoreError::Backend(Box::new(err)),
        }
    }
}

/// The extended SQLite result code of a failed statement, to tell constraint failures apart.
fn extended_code(err: &rusqlite::Error) -> Option<i32> {
    err.sqlite_error().map(|e| e.extended_code)
}

fn is_foreign_key_violation(err: &rusqlite::Error) -> bool {
    extended_code(err) == Some(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        extended_code(err),
        Some(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
    )
}

impl Store for SqliteStore {
    fn save_flow(
        &self,
        tenant: &str,
        namespace: &str,
        id: &str,
        source: &str,
    ) -> Result<SavedFlow> {
        self.write_tx(|tx| flows::save(tx, tenant, namespace, id, source))
    }

    fn get_flow(
        &self,
        tenant: &str,
        namespace: &str,
        id: &str,
        revision: Option<u32>,
    ) -> Result<Option<FlowRecord>> {
        self.read_tx(|tx| flows::get(tx, tenant, namespace, id, revision))
    }

    fn list_flows(&self, tenant: &str, namespace_prefix: Option<&str>) -> Result<Vec<FlowRecord>> {
        self.read_tx(|tx| flows::list(tx, tenant, namespace_prefix))
    }

    fn delete_flow(&self, tenant: &str, namespace: &str, id: &str) -> Result<bool> {
        self.write_tx(|tx| flows::delete(tx, tenant, namespace, id))
    }

    fn flow_revisions(&self, tenant: &str, namespace: &str, id: &str) -> Result<Vec<FlowRecord>> {
        self.read_tx(|tx| flows::revisions(tx, tenant, namespace, id))
    }

    fn flow_tenants(&self) -> Result<Vec<String>> {
        self.read_tx(flows::tenants)
    }

    fn write(&self, writes: &[Write<'_>]) -> Result<()> {
        if writes.is_empty() {
            return Ok(());
        }
        self.write_tx(|tx| {
            for write in writes {
                match *write {
                    Write::CreateExecution(execution) => executions::create(tx, execution)?,
                    Write::SaveExecution(execution) => executions::save(tx, execution)?,
                    Write::SaveTaskRun(task_run) => executions::save_task_run(tx, task_run)?,
                    Write::AppendLogs(entries) => logs::append(tx, entries)?,
                    Write::DeleteTaskRuns {
                        execution_id,
                        task_run_ids,
                    } => executions::delete_task_runs(tx, execution_id, task_run_ids)?,
                    Write::SaveTriggerState(state) => triggers::save(tx, state)?,
                    Write::QueueCommand(command) => {
                        return Err(StoreError::Conflict {
                            kind: "executor command",
                            id: command.execution_id.to_owned(),
                            reason: "the embedded store has no executor queue: distributed \
                                     mode needs PostgreSQL (repository.type: postgres)",
                        });
                    }
                }
            }
            Ok(())
        })
    }

    fn get_execution(&self, id: &str) -> Result<Option<Execution>> {
        self.read_tx(|tx| executions::get(tx, id))
    }

    fn list_executions(&self, filter: &ExecutionFilter) -> Result<Vec<Execution>> {
        self.read_tx(|tx| executions::list(tx, filter))
    }

    fn count_executions(&self, filter: &ExecutionFilter) -> Result<u64> {
        self.read_tx(|tx| executions::count(tx, filter))
    }

    fn executions_in_states(&self, states: &[StateType]) -> Result<Vec<String>> {
        self.read_tx(|tx| executions::in_states(tx, states))
    }

    fn delete_execution(&self, id: &str) -> Result<bool> {
        self.write_tx(|tx| executions::delete(tx, id))
    }

    fn list_logs(&self, query: &LogQuery) -> Result<Vec<StoredLog>> {
        self.read_tx(|tx| logs::list(tx, query))
    }

    fn purge_executions(&self, purge: &ExecutionPurge) -> Result<PurgedExecutions> {
        purge_sql::purge_executions(purge, |cursor| {
            let batch = self.write_tx(|tx| {
                purge_sql::purge_execution_batch(&mut purge::PurgeTx(tx), purge, cursor)
            })?;
            self.reclaim_free_pages()?;
            Ok(batch)
        })
    }

    fn purge_logs(&self, purge: &LogPurge) -> Result<u64> {
        purge_sql::purge_logs(|after| {
            let batch = self
                .write_tx(|tx| purge_sql::purge_log_batch(&mut purge::PurgeTx(tx), purge, after))?;
            self.reclaim_free_pages()?;
            Ok(batch)
        })
    }

    fn trigger_state(
        &self,
        tenant: &str,
        namespace: &str,
        flow_id: &str,
        trigger_id: &str,
    ) -> Result<Option<TriggerState>> {
        self.read_tx(|tx| triggers::get(tx, tenant, namespace, flow_id, trigger_id))
    }

    fn trigger_states(&self, tenant: &str) -> Result<Vec<TriggerState>> {
        self.read_tx(|tx| triggers::list(tx, tenant))
    }

    fn trigger_state_tenants(&self) -> Result<Vec<String>> {
        self.read_tx(triggers::tenants)
    }

    fn delete_trigger_state(
        &self,
        tenant: &str,
        namespace: &str,
        flow_id: &str,
        trigger_id: &str,
    ) -> Result<bool> {
        self.write_tx(|tx| triggers::delete(tx, tenant, namespace, flow_id, trigger_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wal_stays_bounded_under_sustained_writes() {
        use saker_model::execution::Execution;
        // A small catch-up threshold (1 MiB) so that the test can write many times that in
        // little time; the default only changes the scale.
        let policy = checkpoint::Policy {
            catch_up_pages: 256,
            ..checkpoint::Policy::DEFAULT
        };
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_with(&dir.path().join("saker.db"), policy).unwrap();
        // Several writers keep the write lock busy nearly all the time, the case where the
        // background checkpoint alone never reaches the end of the WAL. Each save rewrites a
        // 16 KiB document, at least four pages: 3 x 1,000 saves put over 45 MiB through the
        // WAL, which would keep most of it (measured: ~24 MiB) without the catch-up.
        let blob = "x".repeat(16 * 1024);
        let finals: Vec<Execution> = std::thread::scope(|scope| {
            let writers: Vec<_> = (0..3)
                .map(|_| {
                    scope.spawn(|| {
                        let mut e = Execution::new("main", "ns", "big", 1);
                        store.create_execution(&e).unwrap();
                        for n in 0..1_000 {
                            e.outputs
                                .insert("blob".into(), serde_json::json!(format!("{n}{blob}")));
                            store.save_execution(&e).unwrap();
                        }
                        e
                    })
                })
                .collect();
            writers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let wal = std::fs::metadata(dir.path().join("saker.db-wal"))
            .unwrap()
            .len();
        assert!(wal < 4 * 1024 * 1024, "the WAL grew to {wal} bytes");
        for e in finals {
            assert_eq!(store.get_execution(&e.id).unwrap().unwrap(), e);
        }
    }

    #[test]
    fn cached_statements_are_not_re_prepared_when_rebound() {
        use rusqlite::StatementStatus;
        let store = SqliteStore::open_in_memory().unwrap();
        // Different values for every parameter, as a log follower's polls have.
        for (after, limit) in [(None, None), (Some(3), Some(10)), (Some(7), Some(1))] {
            let query = LogQuery {
                after_seq: after,
                limit,
                min_level: Some(saker_model::execution::Level::Info),
                task_run_id: after.map(|n| n.to_string()),
                ..LogQuery::new(format!("e{after:?}"))
            };
            store.list_logs(&query).unwrap();
        }
        let conn = store.writer();
        let stmt = conn.prepare_cached(logs::LIST_SQL).unwrap();
        assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0);
    }

    #[test]
    fn a_locked_database_is_busy_and_other_failures_are_backend_errors() {
        let locked = |code| {
            StoreError::from(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                None,
            ))
        };
        assert!(matches!(
            locked(rusqlite::ffi::SQLITE_BUSY),
            StoreError::Busy { .. }
        ));
        assert!(matches!(
            locked(rusqlite::ffi::SQLITE_LOCKED),
            StoreError::Busy { .. }
        ));
        assert!(matches!(
            locked(rusqlite::ffi::SQLITE_IOERR),
            StoreError::Backend(_)
        ));
    }
}
