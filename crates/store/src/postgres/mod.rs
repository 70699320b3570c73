//! The PostgreSQL backend, for when a user outgrows one machine: several Saker processes
//! share one database.
//!
//! What is here: every storage trait of this crate, each with the same contract and errors
//! as on SQLite and its own versioned migrations: [`Store`] (flows with revisions,
//! executions, task runs, log lines, trigger states), [`SecretRows`] (the encrypted secret
//! store's rows, as opaque ciphertexts), [`AuditLog`] (the hash-chained audit trail; appends
//! from every process are serialised, see `audit`) and [`AuthRows`] (users, roles, bindings,
//! token and invitation hashes). Distributed mode's durable job queue and results (`queue`)
//! and service instances with their liveness (`services`) are here too; the engine does not
//! use them yet, so one process at a time runs executions on a database (`saker server
//! local` with `repository.type: postgres`).
//!
//! Connections come from a bounded pool of synchronous `postgres` clients (`pool`: at most
//! `maximum-pool-size` connections, a bounded wait for a free one, a `statement_timeout` on
//! each session; running out of either is [`StoreError::Busy`]). Every method is one
//! transaction: writes at READ COMMITTED, made safe for concurrent processes by row and
//! advisory locks (see `flows`, `logs`, `secrets` and `audit`) and retried when PostgreSQL
//! reports a deadlock or a serialization failure; reads at REPEATABLE READ, READ ONLY, so that
//! one read sees one snapshot and never waits for a writer.
//!
//! The `postgres` client drives its own small runtime, and blocking on it from inside a tokio
//! runtime panics. Async callers are expected to reach the store from a blocking thread (the
//! server's `StoreGate`, `spawn_blocking`); a call that still comes from a runtime thread runs
//! through [`off_runtime`], which leaves the runtime's context without a new thread on a
//! multi-thread runtime (`block_in_place`) and only on a current-thread runtime (tests) uses a
//! scoped thread.
//!
//! Connections use TLS as libpq's `sslmode` and `sslrootcert` say (see `tls`): by default
//! (`prefer`) when the server offers it, unverified; `sslmode=verify-full` with the CA as
//! `sslrootcert` is what a database on another host should use.
//!
//! SQL lives in the submodules, one per repository; everything here is connection plumbing.
//!
//! [`SecretRows`]: crate::SecretRows
//! [`AuditLog`]: crate::AuditLog
//! [`AuthRows`]: crate::AuthRows

mod audit;
mod auth;
mod commands;
mod execution_leases;
mod executions;
mod flows;
mod kv;
mod logs;
mod migrations;
mod namespace_backends;
mod pool;
mod purge;
mod queue;
mod secrets;
mod services;
mod tls;
mod triggers;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, Config, IsolationLevel, Row, Statement};
use saker_model::execution::{Execution, StateType};

use crate::columns::{from_micros, namespace_children, to_micros};
use crate::purge::{ExecutionPurge, LogPurge, PurgedExecutions};
use crate::purge_sql;
use crate::{
    ExecutionFilter, FlowRecord, LogQuery, Result, SavedFlow, Store, StoreError, StoredLog,
    TriggerState, Write,
};

/// Prepared statements kept per connection before the cache starts over (the listing query
/// has a shape per number of namespace scopes, so the set is not fixed).
const STATEMENT_CACHE: usize = 64;
/// How often a write transaction is tried when PostgreSQL aborts it for a deadlock or a
/// serialization failure (both mean: nothing was kept, try again).
const WRITE_ATTEMPTS: usize = 4;
/// The advisory lock key of [`Store::claim_executor`] (an arbitrary constant: "saker-ex").
const EXECUTOR_LOCK: i64 = 0x7361_6b65_722d_6578;
/// Client-side TCP keepalives: a peer silent this long is probed...
const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
/// ...this often...
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// ...this many times before the connection is declared dead.
const KEEPALIVE_RETRIES: u32 = 3;
/// Data sent and not acknowledged for this long fails the connection (unless the URL sets
/// `tcp_user_timeout`).
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(20);
/// Connecting gives up after this long unless the URL sets `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The PostgreSQL store. See the module documentation for what it covers.
pub struct PgStore {
    /// The session that holds the executor claim ([`Store::claim_executor`]), kept open, and
    /// so holding it, as long as the store lives.
    executor: Mutex<Option<pool::Session>>,
    /// The backend process id of that session once the claim is held (0 before): every
    /// write transaction of this store then checks that this session still holds the lock
    /// (a fence: an executor that lost its claim never writes beside the one that took it).
    executor_pid: std::sync::atomic::AtomicI32,
    connector: Arc<pool::Connector>,
    pool: pool::Pool,
}

pub use commands::SessionLock;
pub use execution_leases::ExecutionLease;
use pool::Conn;
pub use pool::PoolSettings;
pub use queue::JobWaiter;

/// One open transaction, with the statement cache of its connection.
pub(super) struct Tx<'a> {
    tx: postgres::Transaction<'a>,
    statements: &'a mut HashMap<String, Statement>,
}

pub(super) type Params<'p> = [&'p (dyn ToSql + Sync)];

impl Tx<'_> {
    fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.tx.prepare(sql)?;
        if self.statements.len() >= STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    pub(super) fn query(&mut self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>> {
        let statement = self.statement(sql)?;
        Ok(self.tx.query(&statement, params)?)
    }

    pub(super) fn query_opt(&mut self, sql: &str, params: &Params<'_>) -> Result<Option<Row>> {
        let statement = self.statement(sql)?;
        Ok(self.tx.query_opt(&statement, params)?)
    }

    pub(super) fn query_one(&mut self, sql: &str, params: &Params<'_>) -> Result<Row> {
        let statement = self.statement(sql)?;
        Ok(self.tx.query_one(&statement, params)?)
    }

    /// Like [`Tx::execute`], but hands back PostgreSQL's error so that the caller can tell a
    /// constraint violation apart.
    pub(super) fn try_execute(
        &mut self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<std::result::Result<u64, postgres::Error>> {
        let statement = self.statement(sql)?;
        Ok(self.tx.execute(&statement, params))
    }

    pub(super) fn execute(&mut self, sql: &str, params: &Params<'_>) -> Result<u64> {
        Ok(self.try_execute(sql, params)??)
    }
}

impl PgStore {
    /// Connects to the database at `url` (a `postgres://` URL or a `key=value` connection
    /// string) and migrates its schema. Refuses a database whose schema is newer than this
    /// binary knows ([`StoreError::SchemaTooNew`]).
    ///
    /// TLS follows libpq's `sslmode` and `sslrootcert` (in the URL's query, or as pairs):
    /// - `disable`: plaintext;
    /// - `allow`, `prefer` (the default): TLS when the server offers it;
    /// - `require`: TLS or no connection. Without `sslrootcert` the server's certificate is
    ///   not checked: that stops eavesdropping, not an impostor. With it (and under `allow`
    ///   and `prefer` too) the certificate must chain to a CA in that PEM file;
    /// - `verify-ca`: TLS, and the certificate must chain to a CA in `sslrootcert` (the
    ///   public CAs compiled in when not given);
    /// - `verify-full` (recommended): as `verify-ca`, and it must name the host connected to,
    ///   e.g. `postgres://db.example.com/saker?sslmode=verify-full&sslrootcert=ca.pem`.
    ///
    /// An unknown mode, an unreadable or empty `sslrootcert`, a certificate that does not
    /// verify and a server without TLS under a mandatory mode are [`StoreError::Connect`]
    /// errors that name the setting. Connections over a Unix-domain socket never use TLS.
    pub fn connect(url: &str) -> Result<PgStore> {
        Self::connect_with(url, PoolSettings::default())
    }

    /// [`PgStore::connect`] with the pool bounded by `settings`.
    pub fn connect_with(url: &str, settings: PoolSettings) -> Result<PgStore> {
        off_runtime(|| Self::connect_here(url, settings))
    }

    fn connect_here(url: &str, settings: PoolSettings) -> Result<PgStore> {
        let (rest, tls_params) = tls::take_tls_params(url);
        let mut config: Config = rest.parse().map_err(|source| StoreError::Connect {
            target: "(unparsable connection string)".to_owned(),
            source: Box::new(source),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        // A connection whose peer vanished (a network cut) must fail, not hang: TCP
        // keepalives on idle connections, and a user timeout on unacknowledged data. Without
        // them a heartbeat or a claim sent into a cut network waits for the kernel's
        // retransmissions, some fifteen minutes.
        if !config.get_keepalives() || config.get_keepalives_idle() > KEEPALIVE_IDLE {
            config
                .keepalives(true)
                .keepalives_idle(KEEPALIVE_IDLE)
                .keepalives_interval(KEEPALIVE_INTERVAL)
                .keepalives_retries(KEEPALIVE_RETRIES);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(TCP_USER_TIMEOUT);
        }
        let target = describe(&config);
        let tls = tls::Tls::new(tls_params, &mut config).map_err(|source| StoreError::Connect {
            target: target.clone(),
            source: Box::new(source),
        })?;
        let connector = Arc::new(pool::Connector {
            config,
            tls,
            target,
            statement_timeout: settings.statement_timeout,
        });
        // Migrations on a connection of their own, without the pool's statement timeout: a
        // schema change may take longer than any one call should.
        let mut conn = connector.open()?;
        migrations::migrate(&mut conn.client)?;
        drop(conn);
        let store = PgStore {
            executor: Mutex::new(None),
            executor_pid: std::sync::atomic::AtomicI32::new(0),
            pool: pool::build(connector.clone(), settings),
            connector,
        };
        tracing::debug!(target = %store.connector.target, "opened PostgreSQL store");
        Ok(store)
    }

    /// The schema version this binary writes.
    pub fn schema_version() -> i64 {
        migrations::supported_version()
    }

    /// Whether the store's connections are encrypted (PostgreSQL's `pg_stat_ssl` for one
    /// pooled session). For tests and diagnostics.
    #[doc(hidden)]
    pub fn connection_is_encrypted(&self) -> Result<bool> {
        self.read_tx(|tx| {
            let sql = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
            Ok(tx.query_one(sql, &[])?.get(0))
        })
    }

    /// Runs `f` in one transaction and commits if it succeeds; a transaction that PostgreSQL
    /// aborted for a deadlock or a serialization failure is run again.
    fn write_tx<T: Send>(&self, mut f: impl FnMut(&mut Tx<'_>) -> Result<T> + Send) -> Result<T> {
        let mut attempt = 1;
        loop {
            let result = self.run_tx(false, &mut f);
            match result {
                Err(err) if attempt < WRITE_ATTEMPTS && is_transient(&err) => {
                    tracing::debug!(attempt, "retrying a PostgreSQL write transaction");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Runs `f` in one read-only transaction that sees one snapshot.
    fn read_tx<T: Send>(&self, mut f: impl FnMut(&mut Tx<'_>) -> Result<T> + Send) -> Result<T> {
        self.run_tx(true, &mut f)
    }

    fn run_tx<T: Send>(
        &self,
        read: bool,
        f: &mut (impl FnMut(&mut Tx<'_>) -> Result<T> + Send),
    ) -> Result<T> {
        off_runtime(|| self.run_tx_here(read, f))
    }

    fn run_tx_here<T>(
        &self,
        read: bool,
        f: &mut impl FnMut(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut conn = pool::take(&self.pool)?;
        let result = (|| {
            let Conn { client, statements } = &mut *conn;
            let mut builder = client.build_transaction();
            if read {
                builder = builder
                    .isolation_level(IsolationLevel::RepeatableRead)
                    .read_only(true);
            }
            let mut tx = Tx {
                tx: builder.start()?,
                statements,
            };
            let value = f(&mut tx)?;
            // Dropping an uncommitted transaction (the `?` above) rolls it back.
            tx.tx.commit()?;
            Ok(value)
        })();
        // The connection goes back to the pool when `conn` drops (a closed one is discarded).
        result.map_err(|err| self.connector.busy_if_timed_out(err))
    }
}

/// Runs `f` outside any tokio runtime's context, where the `postgres` client may block: here
/// when there is no runtime; through `block_in_place` on a multi-thread runtime (a worker
/// thread hands its other tasks to another thread first; a blocking thread just runs `f`);
/// on a current-thread runtime, whose own thread cannot leave it, on a scoped thread while
/// this one waits. A panic in `f` carries over.
fn off_runtime<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|handle| handle.runtime_flavor()) {
        Err(_) => return f(),
        Ok(RuntimeFlavor::MultiThread) => return tokio::task::block_in_place(f),
        Ok(_) => {}
    }
    std::thread::scope(|scope| match scope.spawn(f).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// Host(s), port(s) and database of `config`, without user or password.
fn describe(config: &Config) -> String {
    use postgres::config::Host;
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!(
        "{} port {} database {}",
        if hosts.is_empty() {
            "localhost".to_owned()
        } else {
            hosts.join(",")
        },
        if ports.is_empty() {
            "5432".to_owned()
        } else {
            ports.join(",")
        },
        config.get_dbname().unwrap_or("(default)")
    )
}

impl From<postgres::Error> for StoreError {
    fn from(err: postgres::Error) -> Self {
        StoreError::Backend(Box::new(err))
    }
}

fn code(err: &postgres::Error) -> Option<&SqlState> {
    err.code()
}

fn is_unique_violation(err: &postgres::Error) -> bool {
    code(err) == Some(&SqlState::UNIQUE_VIOLATION)
}

fn is_foreign_key_violation(err: &postgres::Error) -> bool {
    code(err) == Some(&SqlState::FOREIGN_KEY_VIOLATION)
}

impl PgStore {
    /// In a store that holds the executor's claim, fails the transaction unless the claim is
    /// still this store's (see [`check_executor_fence`]); in any other store, nothing.
    /// Every write an executor makes goes through it: its records, the jobs it queues, the
    /// results it applies, the commands it takes, the controls it sends.
    pub(super) fn fence(&self, tx: &mut Tx<'_>) -> Result<()> {
        match self.executor_pid.load(std::sync::atomic::Ordering::Acquire) {
            0 => Ok(()),
            pid => check_executor_fence(tx, pid),
        }
    }
}

/// Asks the server to drop a session holding a role's lock (the executor's, the
/// scheduler's) within about half a minute once its client is unreachable: by default a
/// vanished host's session, and so its lock, would live until the kernel's keepalive gives
/// up, about two hours, and no standby could take over. Ignored on a Unix socket; a failure
/// only costs that speed, so it is logged, not returned.
pub(super) fn hold_session_lock_briefly(client: &mut Client) {
    let settings = "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; \
                    SET tcp_keepalives_count = 3; SET tcp_user_timeout = 20000";
    if let Err(error) = client.batch_execute(settings) {
        tracing::warn!(%error, "cannot set keepalives on the session holding a lock");
    }
}

/// Fails the transaction unless the session with backend process id `pid` holds the
/// executor's lock (`pg_locks` shows a session advisory lock as classid = high 32 bits,
/// objid = low 32 bits, objsubid = 1). `Busy`, so that the executor waits: either this
/// process claims the lock again or it learns another executor has it, and stops.
fn check_executor_fence(tx: &mut Tx<'_>, pid: i32) -> Result<()> {
    let high = EXECUTOR_LOCK >> 32;
    let low = EXECUTOR_LOCK & 0xffff_ffff;
    let held = tx
        .query_opt(
            "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = $1 \
             AND objid::bigint = $2 AND objsubid = 1 AND pid = $3 AND granted",
            &[&high, &low, &pid],
        )?
        .is_some();
    if held {
        Ok(())
    } else {
        Err(StoreError::Busy {
            reason: "this process no longer holds the executor's lock (the database restarted \
                     or the connection was cut); it claims it again or stops if another \
                     executor took over"
                .to_owned(),
        })
    }
}

/// A deadlock or a serialization failure: PostgreSQL rolled the transaction back and running
/// it again may succeed.
fn is_transient(err: &StoreError) -> bool {
    let StoreError::Backend(source) = err else {
        return false;
    };
    source
        .downcast_ref::<postgres::Error>()
        .and_then(postgres::Error::code)
        .is_some_and(|code| {
            *code == SqlState::T_R_DEADLOCK_DETECTED || *code == SqlState::T_R_SERIALIZATION_FAILURE
        })
}

impl Store for PgStore {
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
            self.fence(tx)?;
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
                        commands::insert_command(tx, &command, chrono::Utc::now())?;
                        queue::notify(tx, crate::queue::WakeChannel::Commands, "")?;
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

    fn claim_executor(&self) -> Result<bool> {
        let mut held = self.executor.lock().unwrap_or_else(PoisonError::into_inner);
        let slot: &mut Option<pool::Session> = &mut held;
        off_runtime(move || {
            // The session holding the claim is asked whether it is still there: a cut
            // connection is often known only when used.
            if let Some(client) = slot.as_mut() {
                if !client.is_closed() && client.simple_query("SELECT 1").is_ok() {
                    return Ok(true);
                }
                // The old pid stays: until the claim is this store's again, every write of
                // it is refused.
                tracing::warn!(
                    "the session holding the executor's lock is gone; claiming it again"
                );
                *slot = None;
            }
            // Its own session, outside the pool: held as long as the store lives.
            let mut conn = self.connector.open()?;
            // A session-level advisory lock: released when this session ends, whether the
            // process stops or dies.
            let row = conn.client.query_one(
                "SELECT pg_try_advisory_lock($1), pg_backend_pid()",
                &[&EXECUTOR_LOCK],
            )?;
            let claimed: bool = row.try_get(0)?;
            if claimed {
                hold_session_lock_briefly(&mut conn.client);
                let pid: i32 = row.try_get(1)?;
                self.executor_pid
                    .store(pid, std::sync::atomic::Ordering::Release);
                *slot = Some(conn.client);
            }
            Ok(claimed)
        })
    }

    fn delete_execution(&self, id: &str) -> Result<bool> {
        self.write_tx(|tx| executions::delete(tx, id))
    }

    fn list_logs(&self, query: &LogQuery) -> Result<Vec<StoredLog>> {
        self.read_tx(|tx| logs::list(tx, query))
    }

    fn purge_executions(&self, purge: &ExecutionPurge) -> Result<PurgedExecutions> {
        purge_sql::purge_executions(purge, |cursor| {
            self.write_tx(|tx| {
                purge_sql::purge_execution_batch(&mut purge::PurgeTx(tx), purge, cursor)
            })
        })
    }

    fn purge_logs(&self, purge: &LogPurge) -> Result<u64> {
        purge_sql::purge_logs(|after| {
            self.write_tx(|tx| purge_sql::purge_log_batch(&mut purge::PurgeTx(tx), purge, after))
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
