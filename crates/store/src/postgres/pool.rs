//! The bounded connection pool of the PostgreSQL store (r2d2 over the synchronous client).
//!
//! At most [`PoolSettings::max_size`] connections are open for the store's calls; a call
//! that finds none free waits at most [`PoolSettings::wait`] and then fails with
//! [`StoreError::Busy`] instead of opening one more or waiting forever. Every pooled session
//! runs with `statement_timeout` set to [`PoolSettings::statement_timeout`], so a statement
//! stuck behind a lock held elsewhere ends with an error (also [`StoreError::Busy`]) and gives
//! its connection back. Migrations and the executor's advisory-lock session use their own
//! connections, outside the pool and without the timeout ([`Connector::open`]).

use std::collections::HashMap;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, Config, Statement};

use super::tls;
use crate::StoreError;
use crate::error::BoxError;

/// The pool's bounds. The defaults are HikariCP's (which Kestra uses): 10 connections, 30 s
/// wait; and 30 s for a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Connections open at most (Kestra's `datasources.postgres.maximum-pool-size`).
    pub max_size: u32,
    /// How long a call waits for a free connection (`connection-timeout`).
    pub wait: Duration,
    /// How long one statement may run before PostgreSQL cancels it.
    pub statement_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_size: 10,
            wait: Duration::from_secs(30),
            statement_timeout: Duration::from_secs(30),
        }
    }
}

/// A pooled connection with its prepared statements.
pub(super) struct Conn {
    pub(super) client: Session,
    pub(super) statements: HashMap<String, Statement>,
}

/// A synchronous PostgreSQL session that can be dropped anywhere. The synchronous client
/// owns a small tokio runtime of its own and closes through it, which panics inside another
/// runtime's context (a store, a pool, a listener or a lock dropped on a tokio thread, or as
/// a runtime shuts down): there, the client is closed on a thread of its own.
pub(super) struct Session(Option<Client>);

impl Session {
    pub(super) fn new(client: Client) -> Self {
        Self(Some(client))
    }
}

impl std::ops::Deref for Session {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.0
            .as_ref()
            .expect("a session is emptied only by its drop")
    }
}

impl std::ops::DerefMut for Session {
    fn deref_mut(&mut self) -> &mut Client {
        self.0
            .as_mut()
            .expect("a session is emptied only by its drop")
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let Some(client) = self.0.take() else { return };
        if tokio::runtime::Handle::try_current().is_err() {
            drop(client);
            return;
        }
        // A new thread is outside every runtime's context.
        std::thread::scope(|scope| {
            scope.spawn(move || drop(client));
        });
    }
}

/// Opens connections to one database: where, with which TLS, with which session settings.
pub(super) struct Connector {
    pub(super) config: Config,
    /// Plaintext or TLS, as the connection string's `sslmode` says.
    pub(super) tls: tls::Tls,
    /// Where the store connects, for errors: host, port and database, never credentials.
    pub(super) target: String,
    pub(super) statement_timeout: Duration,
}

impl Connector {
    /// Opens one connection with no session settings (migrations, the executor's claim).
    pub(super) fn open(&self) -> Result<Conn, StoreError> {
        let client = self
            .tls
            .connect(&self.config)
            .map_err(|source| StoreError::Connect {
                target: self.target.clone(),
                source,
            })?;
        Ok(Conn {
            client: Session::new(client),
            statements: HashMap::new(),
        })
    }

    /// Opens one connection for the pool: `statement_timeout` (and
    /// `idle_in_transaction_session_timeout`) set for the whole session.
    fn open_pooled(&self) -> Result<Conn, StoreError> {
        let mut conn = self.open()?;
        let millis = self.statement_timeout.as_millis().max(1);
        // A session left idle inside a transaction (its client cut off mid-transaction) is
        // ended by the server after as long, so the row locks it holds (a worker's instance
        // row, the jobs it claims) do not stall the coordinator.
        conn.client.batch_execute(&format!(
            "SET statement_timeout = {millis}; SET idle_in_transaction_session_timeout = {millis}"
        ))?;
        Ok(conn)
    }

    /// `err` as [`StoreError::Busy`] when PostgreSQL cancelled a statement for running past
    /// `statement_timeout` (or a lock wait past `lock_timeout`); otherwise unchanged.
    pub(super) fn busy_if_timed_out(&self, err: StoreError) -> StoreError {
        let timed_out = match &err {
            StoreError::Backend(source) => source
                .downcast_ref::<postgres::Error>()
                .and_then(postgres::Error::code)
                .is_some_and(|code| {
                    *code == SqlState::QUERY_CANCELED || *code == SqlState::LOCK_NOT_AVAILABLE
                }),
            _ => false,
        };
        if !timed_out {
            return err;
        }
        StoreError::Busy {
            reason: format!(
                "a statement waited longer than the statement timeout of {} ms",
                self.statement_timeout.as_millis()
            ),
        }
    }
}

/// r2d2's side of [`Connector`] (a newtype, so the store keeps its own handle on the
/// connector for connections outside the pool).
pub(super) struct Manager(pub(super) std::sync::Arc<Connector>);

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = StoreError;

    fn connect(&self) -> Result<Conn, StoreError> {
        self.0.open_pooled()
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), StoreError> {
        Ok(conn.client.batch_execute("")?)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.client.is_closed()
    }
}

/// Connection failures of the pool's own threads, to the log (never credentials: the
/// messages name the target only).
#[derive(Debug)]
struct LogErrors;

impl r2d2::HandleError<StoreError> for LogErrors {
    fn handle_error(&self, error: StoreError) {
        tracing::warn!(%error, "a PostgreSQL pool connection failed");
    }
}

pub(super) type Pool = r2d2::Pool<Manager>;

/// Builds the pool without opening a connection yet (the store has just checked that one
/// opens, for its migrations).
pub(super) fn build(connector: std::sync::Arc<Connector>, settings: PoolSettings) -> Pool {
    r2d2::Pool::builder()
        .max_size(settings.max_size.max(1))
        .min_idle(Some(0))
        .connection_timeout(settings.wait.max(Duration::from_millis(1)))
        // A dead session is noticed when a statement fails on it (and then dropped, see
        // `has_broken`); a round trip before every call is not worth it.
        .test_on_check_out(false)
        .error_handler(Box::new(LogErrors))
        .build_unchecked(Manager(connector))
}

/// Takes a connection from `pool`: [`StoreError::Busy`] when none came free in time, or
/// [`StoreError::Backend`] naming the cause when opening one failed meanwhile (the database
/// is unreachable, refuses the credentials, ...).
pub(super) fn take(pool: &Pool) -> Result<r2d2::PooledConnection<Manager>, StoreError> {
    pool.get().map_err(|err| {
        let wait = pool.connection_timeout().as_millis();
        let text = err.to_string();
        match text.strip_prefix("timed out waiting for connection: ") {
            Some(cause) => StoreError::Backend(BoxError::from(format!(
                "no PostgreSQL connection could be opened within {wait} ms: {cause}"
            ))),
            None => StoreError::Busy {
                reason: format!(
                    "all {} PostgreSQL connections stayed in use for {wait} ms \
                     (datasources.postgres.maximum-pool-size, connection-timeout)",
                    pool.max_size()
                ),
            },
        }
    })
}
