//! The SQLite schema as an ordered list of migrations. `PRAGMA user_version` holds how many
//! have been applied; each one runs in the same transaction as the version bump, so a crash
//! mid-migration leaves the previous version intact.
//!
//! Rules for changing the schema: never edit a migration that has shipped, append a new one.
//! A binary refuses a database whose version is newer than its list (it cannot know what the
//! newer schema means, and writing to it could corrupt a newer Saker's data).

use rusqlite::{Connection, TransactionBehavior};

use crate::{Result, StoreError};

/// Every migration, oldest first; migration `i` brings the schema to version `i + 1`.
///
/// Conventions: timestamps are INTEGER microseconds since the Unix epoch (UTC); `doc` columns
/// hold the full JSON document and the other columns copy what queries filter or sort on.
/// `seq` columns are rowid aliases: they give creation order for free, and SQLite hands out
/// `max(seq) + 1`, so with one writer a new row always sorts after every visible one.
const MIGRATIONS: &[&str] = &[
    // 1: flows with revisions, executions, task runs, logs.
    "
    CREATE TABLE flows (
        tenant     TEXT    NOT NULL,
        namespace  TEXT    NOT NULL,
        id         TEXT    NOT NULL,
        revision   INTEGER NOT NULL CHECK (revision > 0),
        source     TEXT    NOT NULL,
        created_at INTEGER NOT NULL,
        deleted    INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
        PRIMARY KEY (tenant, namespace, id, revision)
    );

    CREATE TABLE executions (
        seq           INTEGER PRIMARY KEY,
        id            TEXT    NOT NULL UNIQUE,
        tenant        TEXT    NOT NULL,
        namespace     TEXT    NOT NULL,
        flow_id       TEXT    NOT NULL,
        flow_revision INTEGER NOT NULL,
        state         TEXT    NOT NULL,
        created_at    INTEGER NOT NULL,
        doc           TEXT    NOT NULL
    );
    -- Newest-first listing walks this index backwards and stops at the limit.
    CREATE INDEX executions_by_tenant ON executions (tenant, seq);
    CREATE INDEX executions_by_flow ON executions (tenant, flow_id, seq);
    -- Crash recovery looks for executions left in non-terminal states.
    CREATE INDEX executions_by_state ON executions (state, seq);

    CREATE TABLE task_runs (
        seq          INTEGER PRIMARY KEY,
        id           TEXT    NOT NULL UNIQUE,
        execution_id TEXT    NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        task_id      TEXT    NOT NULL,
        state        TEXT    NOT NULL,
        doc          TEXT    NOT NULL
    );
    CREATE INDEX task_runs_by_execution ON task_runs (execution_id, seq);

    CREATE TABLE logs (
        seq          INTEGER PRIMARY KEY,
        execution_id TEXT    NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        task_run_id  TEXT,
        level        INTEGER NOT NULL,
        timestamp    INTEGER NOT NULL,
        doc          TEXT    NOT NULL
    );
    CREATE INDEX logs_by_execution ON logs (execution_id, seq);
    ",
    // 2: the encrypted secret store (values are ciphertexts sealed by the secrets crate;
    // `metadata` is its JSON document) and the hash-chained audit trail.
    "
    CREATE TABLE secrets (
        tenant          TEXT    NOT NULL,
        namespace       TEXT    NOT NULL,
        key             TEXT    NOT NULL,
        state           TEXT    NOT NULL CHECK (state IN ('active', 'deleted', 'revoked')),
        current_version INTEGER NOT NULL CHECK (current_version > 0),
        generation      INTEGER NOT NULL CHECK (generation > 0),
        metadata        TEXT    NOT NULL,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL,
        last_read_at    INTEGER,
        PRIMARY KEY (tenant, namespace, key)
    );

    CREATE TABLE secret_versions (
        tenant     TEXT    NOT NULL,
        namespace  TEXT    NOT NULL,
        key        TEXT    NOT NULL,
        version    INTEGER NOT NULL CHECK (version > 0),
        ciphertext BLOB,
        created_at INTEGER NOT NULL,
        created_by TEXT,
        available  INTEGER NOT NULL CHECK (available IN (0, 1)),
        PRIMARY KEY (tenant, namespace, key, version),
        FOREIGN KEY (tenant, namespace, key) REFERENCES secrets (tenant, namespace, key)
            ON DELETE CASCADE,
        CHECK (available = 0 OR ciphertext IS NOT NULL)
    );

    -- Append-only: the code never updates or deletes a row (see saker_store::AuditLog).
    CREATE TABLE audit_events (
        seq          INTEGER PRIMARY KEY,
        timestamp    INTEGER NOT NULL,
        tenant       TEXT    NOT NULL,
        namespace    TEXT,
        key          TEXT,
        action       TEXT    NOT NULL,
        actor        TEXT    NOT NULL,
        service      TEXT,
        execution_id TEXT,
        flow_id      TEXT,
        task_run_id  TEXT,
        outcome      TEXT    NOT NULL,
        detail       TEXT,
        prev_hash    TEXT    NOT NULL,
        hash         TEXT    NOT NULL
    );
    CREATE INDEX audit_events_by_hash ON audit_events (hash);

    -- The last appended event, so that deleting the newest events is noticed.
    CREATE TABLE audit_head (
        id   INTEGER PRIMARY KEY CHECK (id = 1),
        seq  INTEGER NOT NULL,
        hash TEXT    NOT NULL
    );
    ",
    // 3: users, roles, bindings, API tokens and invitations (saker_store::AuthRows). Passwords
    // are Argon2id PHC strings, tokens and invitation codes SHA-256 digests: never plaintext.
    "
    CREATE TABLE users (
        id            TEXT    PRIMARY KEY,
        username      TEXT    NOT NULL UNIQUE,
        password_hash TEXT,
        created_at    INTEGER NOT NULL,
        disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
    );

    CREATE TABLE roles (
        tenant      TEXT NOT NULL,
        name        TEXT NOT NULL,
        description TEXT NOT NULL,
        permissions TEXT NOT NULL,
        PRIMARY KEY (tenant, name)
    );

    CREATE TABLE role_bindings (
        id        TEXT PRIMARY KEY,
        tenant    TEXT NOT NULL,
        user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        role      TEXT NOT NULL,
        namespace TEXT,
        FOREIGN KEY (tenant, role) REFERENCES roles (tenant, name) ON DELETE CASCADE
    );
    CREATE INDEX role_bindings_by_user ON role_bindings (user_id);
    CREATE INDEX role_bindings_by_tenant ON role_bindings (tenant, id);
    CREATE INDEX role_bindings_by_role ON role_bindings (tenant, role);

    CREATE TABLE api_tokens (
        id         TEXT    PRIMARY KEY,
        user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name       TEXT    NOT NULL,
        hash       TEXT    NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER
    );
    CREATE INDEX api_tokens_by_user ON api_tokens (user_id, id);

    CREATE TABLE invitations (
        id          TEXT    PRIMARY KEY,
        tenant      TEXT    NOT NULL,
        email       TEXT    NOT NULL,
        hash        TEXT    NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        accepted_at INTEGER
    );
    CREATE INDEX invitations_by_tenant ON invitations (tenant, id);
    ",
    // 4: the bindings an invitation gives its user when accepted: the auth crate's JSON
    // document, stored verbatim; invitations made before this migration give none.
    "
    ALTER TABLE invitations ADD COLUMN bindings TEXT NOT NULL DEFAULT '[]';
    ",
    // 5: the scheduler's trigger states (saker_store::TriggerState), one row per trigger of a
    // flow. No reference to `flows`: a flow's rows are its revisions, and the scheduler
    // deletes the states of triggers that are gone.
    "
    CREATE TABLE trigger_states (
        tenant      TEXT    NOT NULL,
        namespace   TEXT    NOT NULL,
        flow_id     TEXT    NOT NULL,
        trigger_id  TEXT    NOT NULL,
        next_date   INTEGER NOT NULL,
        fingerprint TEXT    NOT NULL,
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (tenant, namespace, flow_id, trigger_id)
    );
    ",
    // 6: when an execution ended (NULL while it has not), for retention: a purge takes the
    // executions that ended before a date, oldest end first, through the index. Executions
    // stored before this migration get the date of the last entry of their state history
    // when their state is terminal (the same rule as `State::end_date`).
    "
    ALTER TABLE executions ADD COLUMN ended_at INTEGER;
    UPDATE executions
       SET ended_at = CAST(round((julianday(json_extract(doc, '$.state.histories[#-1].date'))
                                  - 2440587.5) * 86400000000.0) AS INTEGER)
     WHERE state IN ('SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'SKIPPED');
    -- Not per tenant: a server's retention purges every tenant at once, and a purge walks
    -- the index from the oldest end, skipping what its filters leave.
    CREATE INDEX executions_by_end ON executions (ended_at);
    ",
    // 7: the KV store of flows (`kv.rs`): one row per (tenant, namespace, key), the value as
    // JSON text (a sealed document when it derives from a secret), its Kestra type, and an
    // optional expiry after which it reads as missing.
    "
    CREATE TABLE kv_entries (
        tenant      TEXT    NOT NULL,
        namespace   TEXT    NOT NULL,
        key         TEXT    NOT NULL,
        kv_type     TEXT    NOT NULL,
        value       TEXT    NOT NULL,
        sealed      INTEGER NOT NULL CHECK (sealed IN (0, 1)),
        description TEXT,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        expires_at  INTEGER,
        PRIMARY KEY (tenant, namespace, key)
    );
    ",
    // 8: a namespace's own secret backend (`namespace_backends.rs`): its configuration
    // sealed by the secrets crate (credentials included, so never in plaintext).
    "
    CREATE TABLE namespace_backends (
        tenant     TEXT    NOT NULL,
        namespace  TEXT    NOT NULL,
        sealed     BLOB    NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, namespace)
    );
    ",
];

/// The schema version this binary writes.
pub(crate) fn supported_version() -> i64 {
    // The list is a handful of entries; it cannot overflow an i64.
    MIGRATIONS.len() as i64
}

/// The schema version recorded in the database.
pub(crate) fn current_version(conn: &Connection) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

/// Makes the file give freed pages back to the file system on request (`PRAGMA
/// incremental_vacuum`, which a purge runs after each batch) instead of keeping them for
/// reuse forever. A new database gets the setting before its first table, when it is free;
/// an existing one made before it is rewritten once by `VACUUM` (as long as copying the file
/// takes; logged), which is the only way SQLite changes it on a file with tables, and which
/// only does so outside WAL mode: the file leaves WAL mode for it, and the caller sets WAL
/// again after. Must run outside a transaction, before WAL mode is set on a new file.
pub(crate) fn ensure_incremental_vacuum(conn: &Connection) -> rusqlite::Result<()> {
    const INCREMENTAL: i64 = 2;
    let mode: i64 = conn.pragma_query_value(None, "auto_vacuum", |row| row.get(0))?;
    if mode == INCREMENTAL {
        return Ok(());
    }
    conn.pragma_update(None, "auto_vacuum", INCREMENTAL)?;
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))?;
    if tables > 0 {
        tracing::info!("rewriting the database once so that purges can give space back (VACUUM)");
        let _: String =
            conn.pragma_update_and_check(None, "journal_mode", "DELETE", |row| row.get(0))?;
        conn.execute_batch("VACUUM")?;
    }
    Ok(())
}

/// Brings the schema up to [`supported_version`], or refuses a newer one.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    // IMMEDIATE takes the write lock before reading the version, so two processes opening
    // the same new database cannot both apply migration 1.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = current_version(&tx)?;
    let supported = supported_version();
    if found > supported {
        return Err(StoreError::SchemaTooNew { found, supported });
    }
    let Ok(applied) = usize::try_from(found) else {
        return Err(StoreError::Corrupt {
            table: "sqlite_master",
            id: "user_version".to_owned(),
            detail: format!("negative schema version {found}"),
        });
    };
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let version = index as i64 + 1;
        let step = tx
            .execute_batch(sql)
            .and_then(|()| tx.pragma_update(None, "user_version", version));
        if let Err(source) = step {
            return Err(StoreError::Migration {
                version,
                source: Box::new(source),
            });
        }
        tracing::info!(version, "applied store schema migration");
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_a_no_op() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(current_version(&conn).unwrap(), supported_version());
        migrate(&mut conn).unwrap();
        assert_eq!(current_version(&conn).unwrap(), supported_version());
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 16);
    }

    #[test]
    fn invitations_made_before_migration_4_load_with_no_bindings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("saker.db");
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..3] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 3).unwrap();
            conn.execute(
                "INSERT INTO invitations (id, tenant, email, hash, created_at, expires_at) \
                 VALUES ('i1', 'main', 'ann@example.com', 'ab', 1, 2)",
                [],
            )
            .unwrap();
        }
        let store = crate::SqliteStore::open(&path).unwrap();
        let row = crate::AuthRows::get_invitation(&store, "i1")
            .unwrap()
            .unwrap();
        assert_eq!(row.email, "ann@example.com");
        assert_eq!(row.bindings, "[]");
    }

    #[test]
    fn a_version_4_database_gains_trigger_states_and_keeps_its_flows() {
        use crate::Store;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("saker.db");
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..4] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 4).unwrap();
            conn.execute(
                "INSERT INTO flows (tenant, namespace, id, revision, source, created_at) \
                 VALUES ('main', 'ns', 'f', 1, 'v1', 1)",
                [],
            )
            .unwrap();
        }
        let store = crate::SqliteStore::open(&path).unwrap();
        assert_eq!(store.flow_tenants().unwrap(), ["main"]);
        assert_eq!(store.trigger_states("main").unwrap(), []);
        let state = crate::TriggerState {
            tenant: "main".into(),
            namespace: "ns".into(),
            flow_id: "f".into(),
            trigger_id: "t".into(),
            next_date: chrono::DateTime::from_timestamp_micros(2).unwrap(),
            fingerprint: "fp".into(),
            updated_at: chrono::DateTime::from_timestamp_micros(1).unwrap(),
        };
        store.save_trigger_state(&state).unwrap();
        assert_eq!(
            store.trigger_state("main", "ns", "f", "t").unwrap(),
            Some(state)
        );
    }

    #[test]
    fn a_version_5_database_gets_end_dates_and_gives_space_back() {
        use crate::execution_doc::{ExecutionDoc, encode};
        use crate::{ExecutionPurge, PurgeScope, Store};
        use saker_model::execution::{Execution, State, StateType};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("saker.db");
        let at = |micros| chrono::DateTime::from_timestamp_micros(micros).unwrap();
        let mut ended = Execution::new("main", "ns", "f", 1);
        ended.state = State::starting_at(StateType::Created, at(1_000_000));
        ended.state.transition_at(StateType::Success, at(2_000_123));
        let mut running = Execution::new("main", "ns", "f", 1);
        running.state = State::starting_at(StateType::Running, at(1_000_000));
        {
            let conn = Connection::open(&path).unwrap();
            // As a store before this change left it: WAL mode, no auto-vacuum.
            let _: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
                .unwrap();
            for sql in &MIGRATIONS[..5] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 5).unwrap();
            for e in [&ended, &running] {
                let doc = encode("execution", &e.id, &ExecutionDoc::of(e)).unwrap();
                conn.execute(
                    "INSERT INTO executions (id, tenant, namespace, flow_id, flow_revision, \
                     state, created_at, doc) VALUES (?1, 'main', 'ns', 'f', 1, ?2, 1000000, ?3)",
                    rusqlite::params![e.id, e.state.current.as_str(), doc],
                )
                .unwrap();
            }
        }
        let store = crate::SqliteStore::open(&path).unwrap();
        let mode: i64 = store
            .writer()
            .pragma_query_value(None, "auto_vacuum", |row| row.get(0))
            .unwrap();
        assert_eq!(mode, 2, "the upgrade switches to incremental vacuum");
        let ended_at: Option<i64> = store
            .writer()
            .query_row(
                "SELECT ended_at FROM executions WHERE id = ?1",
                [&ended.id],
                |row| row.get(0),
            )
            .unwrap();
        // julianday keeps milliseconds: the backfill is within one of the real end.
        assert!(
            (ended_at.unwrap() - 2_000_123).abs() <= 1_000,
            "{ended_at:?}"
        );
        let too_early = ExecutionPurge::new(PurgeScope::new("main"), at(1_900_000));
        assert_eq!(store.purge_executions(&too_early).unwrap().executions, 0);
        let purge = ExecutionPurge::new(PurgeScope::new("main"), at(3_000_000));
        assert_eq!(store.purge_executions(&purge).unwrap().executions, 1);
        assert!(store.get_execution(&running.id).unwrap().is_some());
    }

    #[test]
    fn a_new_database_is_incremental_from_the_start() {
        let store = crate::SqliteStore::open_in_memory().unwrap();
        let mode: i64 = store
            .writer()
            .pragma_query_value(None, "auto_vacuum", |row| row.get(0))
            .unwrap();
        assert_eq!(mode, 2);
    }

    #[test]
    fn a_newer_schema_is_refused_and_left_alone() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", supported_version() + 1)
            .unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err}");
        assert_eq!(current_version(&conn).unwrap(), supported_version() + 1);
    }

    #[test]
    fn a_negative_version_is_reported() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", -3).unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn a_failing_migration_keeps_the_previous_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        // A table that migration 1 wants to create makes it fail part-way.
        conn.execute_batch("CREATE TABLE logs (x INTEGER)").unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(
            matches!(err, StoreError::Migration { version: 1, .. }),
            "{err}"
        );
        assert_eq!(current_version(&conn).unwrap(), 0);
        let flows: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'flows'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(flows, 0, "the partial migration must be rolled back");
    }
}
