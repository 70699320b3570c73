//! The PostgreSQL schema as an ordered list of migrations. The one-row table `saker_schema`
//! holds how many have been applied. Migrating runs in one transaction under an advisory lock,
//! so several processes starting at once migrate once, and a failure leaves the schema as it
//! was (PostgreSQL's DDL is transactional).
//!
//! Rules for changing the schema: never edit a migration that has shipped, append a new one.
//! A binary refuses a database whose version is newer than its list.

use postgres::Client;

use crate::{Result, StoreError};

/// Every migration, oldest first; migration `i` brings the schema to version `i + 1`.
///
/// Conventions, as in the SQLite schema: timestamps are BIGINT microseconds since the Unix
/// epoch (UTC); `doc` columns hold the full JSON document as TEXT (not JSONB, which would
/// reorder keys and reject a row that does not decode before we could name it), and the
/// other columns copy what queries filter or sort on. Key columns use the "C" collation, so
/// that comparisons and sorting are bytewise whatever the database's locale (the namespace
/// range bounds rely on it). `seq` columns give creation order.
const MIGRATIONS: &[&str] = &[
    // 1: flows with revisions, executions, task runs, logs.
    r#"
    CREATE TABLE flows (
        tenant     TEXT COLLATE "C" NOT NULL,
        namespace  TEXT COLLATE "C" NOT NULL,
        id         TEXT COLLATE "C" NOT NULL,
        revision   BIGINT  NOT NULL CHECK (revision > 0),
        source     TEXT    NOT NULL,
        created_at BIGINT  NOT NULL,
        deleted    BOOLEAN NOT NULL DEFAULT FALSE,
        PRIMARY KEY (tenant, namespace, id, revision)
    );

    CREATE TABLE executions (
        seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id            TEXT COLLATE "C" NOT NULL UNIQUE,
        tenant        TEXT COLLATE "C" NOT NULL,
        namespace     TEXT COLLATE "C" NOT NULL,
        flow_id       TEXT COLLATE "C" NOT NULL,
        flow_revision BIGINT NOT NULL,
        state         TEXT   NOT NULL,
        created_at    BIGINT NOT NULL,
        doc           TEXT   NOT NULL
    );
    CREATE INDEX executions_by_tenant ON executions (tenant, seq);
    CREATE INDEX executions_by_flow ON executions (tenant, flow_id, seq);
    CREATE INDEX executions_by_state ON executions (state, seq);

    CREATE TABLE task_runs (
        seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id           TEXT COLLATE "C" NOT NULL UNIQUE,
        execution_id TEXT COLLATE "C" NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        task_id      TEXT NOT NULL,
        state        TEXT NOT NULL,
        doc          TEXT NOT NULL
    );
    CREATE INDEX task_runs_by_execution ON task_runs (execution_id, seq);

    CREATE TABLE logs (
        seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        execution_id TEXT COLLATE "C" NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        task_run_id  TEXT COLLATE "C",
        level        SMALLINT NOT NULL,
        timestamp    BIGINT   NOT NULL,
        doc          TEXT     NOT NULL
    );
    CREATE INDEX logs_by_execution ON logs (execution_id, seq);
    "#,
    // 2: the encrypted secret store (values are ciphertexts sealed by the secrets crate;
    // `metadata` is its JSON document) and the hash-chained audit trail. Audit `seq` is a
    // plain column, not an identity: appends number events themselves under a lock, so the
    // numbering has no gaps (a sequence would leave one for every rolled-back append).
    r#"
    CREATE TABLE secrets (
        tenant          TEXT COLLATE "C" NOT NULL,
        namespace       TEXT COLLATE "C" NOT NULL,
        key             TEXT COLLATE "C" NOT NULL,
        state           TEXT   NOT NULL CHECK (state IN ('active', 'deleted', 'revoked')),
        current_version BIGINT NOT NULL CHECK (current_version > 0),
        generation      BIGINT NOT NULL CHECK (generation > 0),
        metadata        TEXT   NOT NULL,
        created_at      BIGINT NOT NULL,
        updated_at      BIGINT NOT NULL,
        last_read_at    BIGINT,
        PRIMARY KEY (tenant, namespace, key)
    );

    CREATE TABLE secret_versions (
        tenant     TEXT COLLATE "C" NOT NULL,
        namespace  TEXT COLLATE "C" NOT NULL,
        key        TEXT COLLATE "C" NOT NULL,
        version    BIGINT  NOT NULL CHECK (version > 0),
        ciphertext BYTEA,
        created_at BIGINT  NOT NULL,
        created_by TEXT,
        available  BOOLEAN NOT NULL,
        PRIMARY KEY (tenant, namespace, key, version),
        FOREIGN KEY (tenant, namespace, key) REFERENCES secrets (tenant, namespace, key)
            ON DELETE CASCADE,
        CHECK (NOT available OR ciphertext IS NOT NULL)
    );

    -- Append-only: the code never updates or deletes a row (see saker_store::AuditLog).
    CREATE TABLE audit_events (
        seq          BIGINT PRIMARY KEY,
        timestamp    BIGINT NOT NULL,
        tenant       TEXT COLLATE "C" NOT NULL,
        namespace    TEXT COLLATE "C",
        key          TEXT COLLATE "C",
        action       TEXT   NOT NULL,
        actor        TEXT COLLATE "C" NOT NULL,
        service      TEXT,
        execution_id TEXT,
        flow_id      TEXT,
        task_run_id  TEXT,
        outcome      TEXT   NOT NULL,
        detail       TEXT,
        prev_hash    TEXT   NOT NULL,
        hash         TEXT   NOT NULL
    );
    CREATE INDEX audit_events_by_hash ON audit_events (hash);

    -- The last appended event, so that deleting the newest events is noticed.
    CREATE TABLE audit_head (
        id   INTEGER PRIMARY KEY CHECK (id = 1),
        seq  BIGINT  NOT NULL,
        hash TEXT    NOT NULL
    );
    "#,
    // 3: users, roles, bindings, API tokens and invitations (saker_store::AuthRows), with the
    // bindings an invitation gives (SQLite's migrations 3 and 4 in one). Passwords are
    // Argon2id PHC strings, tokens and invitation codes SHA-256 digests: never plaintext.
    r#"
    CREATE TABLE users (
        id            TEXT COLLATE "C" PRIMARY KEY,
        username      TEXT COLLATE "C" NOT NULL UNIQUE,
        password_hash TEXT,
        created_at    BIGINT  NOT NULL,
        disabled      BOOLEAN NOT NULL DEFAULT FALSE
    );

    CREATE TABLE roles (
        tenant      TEXT COLLATE "C" NOT NULL,
        name        TEXT COLLATE "C" NOT NULL,
        description TEXT NOT NULL,
        permissions TEXT NOT NULL,
        PRIMARY KEY (tenant, name)
    );

    CREATE TABLE role_bindings (
        id        TEXT COLLATE "C" PRIMARY KEY,
        tenant    TEXT COLLATE "C" NOT NULL,
        user_id   TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        role      TEXT COLLATE "C" NOT NULL,
        namespace TEXT COLLATE "C",
        FOREIGN KEY (tenant, role) REFERENCES roles (tenant, name) ON DELETE CASCADE
    );
    CREATE INDEX role_bindings_by_user ON role_bindings (user_id, id);
    CREATE INDEX role_bindings_by_tenant ON role_bindings (tenant, id);
    CREATE INDEX role_bindings_by_role ON role_bindings (tenant, role);

    CREATE TABLE api_tokens (
        id         TEXT COLLATE "C" PRIMARY KEY,
        user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name       TEXT   NOT NULL,
        hash       TEXT   NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT
    );
    CREATE INDEX api_tokens_by_user ON api_tokens (user_id, id);

    CREATE TABLE invitations (
        id          TEXT COLLATE "C" PRIMARY KEY,
        tenant      TEXT COLLATE "C" NOT NULL,
        email       TEXT   NOT NULL,
        hash        TEXT   NOT NULL,
        created_at  BIGINT NOT NULL,
        expires_at  BIGINT NOT NULL,
        accepted_at BIGINT,
        bindings    TEXT   NOT NULL DEFAULT '[]'
    );
    CREATE INDEX invitations_by_tenant ON invitations (tenant, id);
    "#,
    // 4: the scheduler's trigger states (saker_store::TriggerState), one row per trigger of a
    // flow (SQLite's migration 5). No reference to `flows`: a flow's rows are its revisions,
    // and the scheduler deletes the states of triggers that are gone.
    r#"
    CREATE TABLE trigger_states (
        tenant      TEXT COLLATE "C" NOT NULL,
        namespace   TEXT COLLATE "C" NOT NULL,
        flow_id     TEXT COLLATE "C" NOT NULL,
        trigger_id  TEXT COLLATE "C" NOT NULL,
        next_date   BIGINT NOT NULL,
        fingerprint TEXT   NOT NULL,
        updated_at  BIGINT NOT NULL,
        PRIMARY KEY (tenant, namespace, flow_id, trigger_id)
    );
    "#,
    // 5: when an execution ended (NULL while it has not), for retention (SQLite's migration
    // 6): a purge takes the executions that ended before a date, oldest end first, through
    // the index. Executions stored before get the date of the last entry of their state
    // history when their state is terminal (the rule of `State::end_date`).
    r#"
    ALTER TABLE executions ADD COLUMN ended_at BIGINT;
    UPDATE executions
       SET ended_at = round(extract(epoch FROM
               ((doc::jsonb -> 'state' -> 'histories' -> -1) ->> 'date')::timestamptz)
               * 1000000)::bigint
     WHERE state IN ('SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'SKIPPED');
    -- Not per tenant: a server's retention purges every tenant at once.
    CREATE INDEX executions_by_end ON executions (ended_at, seq);
    "#,
    // 6: the KV store of flows (SQLite's migration 7).
    r#"
    CREATE TABLE kv_entries (
        tenant      TEXT COLLATE "C" NOT NULL,
        namespace   TEXT COLLATE "C" NOT NULL,
        key         TEXT COLLATE "C" NOT NULL,
        kv_type     TEXT    NOT NULL,
        value       TEXT    NOT NULL,
        sealed      BOOLEAN NOT NULL,
        description TEXT,
        created_at  BIGINT  NOT NULL,
        updated_at  BIGINT  NOT NULL,
        expires_at  BIGINT,
        PRIMARY KEY (tenant, namespace, key)
    );
    "#,
    // 7: distributed mode (see ARCHITECTURE.md, "Distributed mode"): service instances,
    // the durable job queue, the workers' results and the executors' execution leases.
    // Jobs and results have no foreign key to `executions`: the coordinator reads a missing
    // execution as one that ended.
    // `worker_group` is '' for the default group, so that claims compare it with `=`.
    r#"
    CREATE TABLE service_instances (
        id               TEXT COLLATE "C" PRIMARY KEY,
        service_type     TEXT   NOT NULL,
        state            TEXT   NOT NULL,
        host             TEXT   NOT NULL,
        started_at       BIGINT NOT NULL,
        last_heartbeat   BIGINT NOT NULL,
        state_changed_at BIGINT NOT NULL,
        worker_group     TEXT,
        config           TEXT   NOT NULL
    );
    CREATE INDEX service_instances_by_state ON service_instances (state, state_changed_at);

    CREATE TABLE worker_jobs (
        seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id           TEXT COLLATE "C" NOT NULL UNIQUE,
        execution_id TEXT COLLATE "C" NOT NULL,
        task_run_id  TEXT COLLATE "C" NOT NULL,
        attempt      BIGINT NOT NULL CHECK (attempt > 0),
        worker_group TEXT COLLATE "C" NOT NULL DEFAULT '',
        payload      TEXT   NOT NULL,
        state        TEXT   NOT NULL
            CHECK (state IN ('QUEUED', 'CLAIMED', 'DONE', 'ABANDONED', 'CANCELLED')),
        delivery     BIGINT NOT NULL DEFAULT 0,
        claimed_by   TEXT COLLATE "C",
        claimed_at   BIGINT,
        lease_until  BIGINT,
        created_at   BIGINT NOT NULL,
        CHECK (state <> 'CLAIMED' OR (claimed_by IS NOT NULL AND lease_until IS NOT NULL))
    );
    CREATE INDEX worker_jobs_queued ON worker_jobs (worker_group, seq) WHERE state = 'QUEUED';
    CREATE INDEX worker_jobs_claimed ON worker_jobs (claimed_by, seq) WHERE state = 'CLAIMED';
    CREATE INDEX worker_jobs_by_execution ON worker_jobs (execution_id);

    -- One result per task run attempt: a result delivered twice is stored once.
    CREATE TABLE worker_results (
        seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        job_id       TEXT COLLATE "C" NOT NULL,
        execution_id TEXT COLLATE "C" NOT NULL,
        task_run_id  TEXT COLLATE "C" NOT NULL,
        attempt      BIGINT NOT NULL CHECK (attempt > 0),
        payload      TEXT   NOT NULL,
        submitted_by TEXT COLLATE "C" NOT NULL,
        submitted_at BIGINT NOT NULL,
        applied_at   BIGINT,
        UNIQUE (task_run_id, attempt)
    );
    CREATE INDEX worker_results_pending ON worker_results (seq) WHERE applied_at IS NULL;

    -- Which executor advances an execution, until when (renewed by its heartbeats).
    CREATE TABLE execution_leases (
        execution_id TEXT COLLATE "C" PRIMARY KEY,
        holder       TEXT COLLATE "C" NOT NULL,
        lease_until  BIGINT NOT NULL,
        acquired_at  BIGINT NOT NULL
    );
    CREATE INDEX execution_leases_by_holder ON execution_leases (holder);
    "#,
    // 8: a namespace's own secret backend, sealed (SQLite's migration 8).
    r#"
    CREATE TABLE namespace_backends (
        tenant     TEXT COLLATE "C" NOT NULL,
        namespace  TEXT COLLATE "C" NOT NULL,
        sealed     BYTEA  NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (tenant, namespace)
    );
    "#,
    // 9: distributed mode's messages between processes (see ARCHITECTURE.md, "Distributed
    // mode"): the executor's command queue (deleted when taken) and the controls every
    // worker reads (kept until purged; `push_control` numbers them under a lock, so a
    // reader that saw `seq` n has seen every row below it). The index finds the jobs of a
    // task run attempt for the executor's recovery (`job_fate`).
    r#"
    CREATE TABLE executor_commands (
        seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind         TEXT   NOT NULL,
        execution_id TEXT COLLATE "C" NOT NULL,
        payload      TEXT   NOT NULL,
        created_at   BIGINT NOT NULL
    );

    CREATE TABLE worker_controls (
        seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        payload    TEXT   NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE INDEX worker_controls_by_date ON worker_controls (created_at);

    CREATE INDEX worker_jobs_by_task_run ON worker_jobs (task_run_id, attempt, seq);

    -- One result per job, not per task run attempt: a LoopUntil's condition checks and a
    -- WorkingDirectory's end step are jobs of the attempt that is already running.
    ALTER TABLE worker_results DROP CONSTRAINT worker_results_task_run_id_attempt_key;
    ALTER TABLE worker_results ADD CONSTRAINT worker_results_job_id_key UNIQUE (job_id);
    CREATE INDEX worker_results_by_task_run ON worker_results (task_run_id, attempt);
    "#,
];
/// The advisory lock key that serialises migrations across processes ("saker" in ASCII).
const MIGRATION_LOCK: i64 = 0x73_61_6b_65_72;

/// The schema version this binary writes.
pub(super) fn supported_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the schema up to date, or refuses a newer one.
pub(super) fn migrate(client: &mut Client) -> Result<()> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS saker_schema (
             id      INTEGER PRIMARY KEY CHECK (id = 1),
             version BIGINT  NOT NULL
         )",
    )?;
    let found: i64 = match tx.query_opt("SELECT version FROM saker_schema WHERE id = 1", &[])? {
        Some(row) => row.try_get(0)?,
        None => 0,
    };
    let supported = supported_version();
    if found > supported {
        return Err(StoreError::SchemaTooNew { found, supported });
    }
    let Ok(applied) = usize::try_from(found) else {
        return Err(StoreError::Corrupt {
            table: "saker_schema",
            id: "1".to_owned(),
            detail: format!("negative schema version {found}"),
        });
    };
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let version = index as i64 + 1;
        let step = tx.batch_execute(sql).and_then(|()| {
            tx.execute(
                "INSERT INTO saker_schema (id, version) VALUES (1, $1) \
                 ON CONFLICT (id) DO UPDATE SET version = excluded.version",
                &[&version],
            )
        });
        if let Err(source) = step {
            return Err(StoreError::Migration {
                version,
                source: Box::new(source),
            });
        }
        tracing::info!(version, "applied PostgreSQL store schema migration");
    }
    tx.commit()?;
    Ok(())
}
