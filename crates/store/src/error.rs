//! The store's errors. Messages name tables, kinds and ids, never row contents: ids are not
//! secret, contents may be (even sealed ones are nobody's business in a log).

use std::path::PathBuf;

/// A boxed error from the backend (SQLite, PostgreSQL), kept as a source for diagnosis.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or configured.
    #[error("cannot open the store at {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: BoxError,
    },

    /// A database server (PostgreSQL) could not be reached or refused the connection.
    /// `target` names host, port and database, never the user's credentials.
    #[error("cannot connect to the PostgreSQL store at {target}: {source}")]
    Connect {
        target: String,
        #[source]
        source: BoxError,
    },

    /// The database was written by a newer Saker; this one refuses to touch it.
    #[error(
        "the database schema is version {found}, newer than version {supported} that this \
         Saker knows: upgrade Saker, or point it at another data directory"
    )]
    SchemaTooNew { found: i64, supported: i64 },

    /// A schema migration failed; the database is left at the previous version.
    #[error("migrating the database schema to version {version} failed: {source}")]
    Migration {
        version: i64,
        #[source]
        source: BoxError,
    },

    /// The thing to update or to attach to does not exist.
    #[error("{kind} {id} does not exist")]
    NotFound { kind: &'static str, id: String },

    /// The id to create is already taken.
    #[error("{kind} {id} already exists")]
    AlreadyExists { kind: &'static str, id: String },

    /// The write contradicts what is stored (e.g. a task run id reused by another execution).
    #[error("{kind} {id}: {reason}")]
    Conflict {
        kind: &'static str,
        id: String,
        reason: &'static str,
    },

    /// A service instance was asked to change state against the state machine
    /// (`ServiceState::check_transition`).
    #[error("service instance {id} cannot go from {from} to {to}")]
    IllegalTransition {
        id: String,
        from: crate::services::ServiceState,
        to: crate::services::ServiceState,
    },

    /// A stored row could not be decoded. `detail` says where, never what the row holds.
    #[error("corrupt row in table {table} (id {id}): {detail}")]
    Corrupt {
        table: &'static str,
        id: String,
        detail: String,
    },

    /// A value could not be encoded for storage.
    #[error("cannot encode {kind} {id}: {detail}")]
    Encode {
        kind: &'static str,
        id: String,
        detail: String,
    },

    /// The database did not answer in time: no pooled connection came free within the
    /// pool's wait, or a statement ran past the statement timeout (waiting on a lock held
    /// elsewhere, ...). Nothing was changed; the same call may succeed later. The server
    /// answers it with 503 and `Retry-After`.
    #[error("the database is busy: {reason}; try again later")]
    Busy { reason: String },

    /// Any other failure of the backend (I/O, a locked database past the busy timeout, ...).
    #[error("storage backend error: {0}")]
    Backend(#[source] BoxError),
}

impl StoreError {
    /// True when the same call may succeed if made again later without any change: the
    /// database could not be reached or was busy, the connection broke, or PostgreSQL rolled
    /// the transaction back for a deadlock or a serialization failure. False for anything
    /// the data itself caused (a conflict, a corrupt row, a constraint).
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Connect { .. } | StoreError::Busy { .. } => true,
            StoreError::Backend(source) => {
                if let Some(error) = source.downcast_ref::<postgres::Error>() {
                    return match error.code() {
                        // No SQL state: the connection itself failed (closed, reset, timed out).
                        None => true,
                        Some(code) => {
                            *code == postgres::error::SqlState::T_R_DEADLOCK_DETECTED
                                || *code == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
                                || *code == postgres::error::SqlState::ADMIN_SHUTDOWN
                                || *code == postgres::error::SqlState::CRASH_SHUTDOWN
                                || *code == postgres::error::SqlState::CANNOT_CONNECT_NOW
                        }
                    };
                }
                // SQLite's own busy and locked errors are `Busy` already.
                false
            }
            _ => false,
        }
    }

    /// Describes a JSON error by its category and position only: serde_json's own messages
    /// may quote the offending value ("invalid type: string \"...\""), which could be a
    /// sealed secret or any user data.
    pub(crate) fn json_detail(err: &serde_json::Error) -> String {
        let category = match err.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "JSON of the wrong shape",
            serde_json::error::Category::Eof => "truncated JSON",
        };
        format!("{category} at line {} column {}", err.line(), err.column())
    }

    pub(crate) fn corrupt_json(table: &'static str, id: &str, err: &serde_json::Error) -> Self {
        Self::Corrupt {
            table,
            id: id.to_owned(),
            detail: Self::json_detail(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_of_the_database_itself_are_retried() {
        let busy = StoreError::Busy {
            reason: "no connection".into(),
        };
        assert!(busy.is_retryable());
        let conflict = StoreError::Conflict {
            kind: "task run",
            id: "r".into(),
            reason: "belongs to another execution",
        };
        assert!(!conflict.is_retryable());
        let locked = StoreError::from(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        ));
        assert!(locked.is_retryable(), "{locked}");
        let constraint = StoreError::from(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
            None,
        ));
        assert!(!constraint.is_retryable(), "{constraint}");
    }

    #[test]
    fn json_errors_do_not_quote_values() {
        let err = serde_json::from_str::<u32>("\"hunter2-secret\"").unwrap_err();
        assert!(
            err.to_string().contains("hunter2"),
            "premise: serde quotes values"
        );
        let e = StoreError::corrupt_json("executions", "abc", &err);
        let text = e.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(
            text.contains("executions") && text.contains("abc"),
            "{text}"
        );
    }
}
