//! The audit trail ([`AuditLog`] on [`PgStore`]). Appends from any number of processes are
//! serialised by a transaction-scoped advisory lock taken before the head is read (the head
//! row is also read `FOR UPDATE`): the next appender reads the head only once the previous
//! one committed or rolled back, so the chain never forks. An append numbers its event
//! itself (one more than the highest `seq`, under that lock), so `seq` has no gaps, even when
//! an append is rolled back.
//!
//! Walking reads the trail in pages inside one REPEATABLE READ transaction: one snapshot,
//! bounded memory.

use std::ops::ControlFlow;

use postgres::Row;

use super::{PgStore, Tx, from_micros, namespace_children, to_micros};
use crate::audit::{
    AuditEvent, AuditFilter, AuditHead, AuditLog, AuditRecord, AuditStep, GENESIS_HASH, chain_hash,
};
use crate::{Result, StoreError};

const COLUMNS: &str = "seq, timestamp, tenant, namespace, key, action, actor, service, \
                       execution_id, flow_id, task_run_id, outcome, detail, prev_hash, hash";

/// The advisory lock key that serialises appends across processes ("audit" in ASCII).
const APPEND_LOCK: i64 = 0x61_75_64_69_74;

/// Rows read per query while walking the trail.
const WALK_PAGE: i64 = 1000;

/// Decodes a row; `Err(detail)` when a column does not hold what it should (a hand edit), so
/// the walk can report it rather than fail. The detail names the column, never its value.
fn decode(row: &Row) -> std::result::Result<AuditRecord, String> {
    let text = |index: usize, name: &str| -> std::result::Result<Option<String>, String> {
        row.try_get::<_, Option<String>>(index)
            .map_err(|_| format!("column {name} does not hold text"))
    };
    let required = |index: usize, name: &str| -> std::result::Result<String, String> {
        text(index, name)?.ok_or_else(|| format!("column {name} is empty"))
    };
    let seq: i64 = row
        .try_get(0)
        .map_err(|_| "column seq does not hold a number".to_owned())?;
    let timestamp = row
        .try_get::<_, i64>(1)
        .ok()
        .and_then(from_micros)
        .ok_or_else(|| "column timestamp does not hold a time".to_owned())?;
    Ok(AuditRecord {
        seq,
        event: AuditEvent {
            timestamp,
            tenant: required(2, "tenant")?,
            namespace: text(3, "namespace")?,
            key: text(4, "key")?,
            action: required(5, "action")?,
            actor: required(6, "actor")?,
            service: text(7, "service")?,
            execution_id: text(8, "execution_id")?,
            flow_id: text(9, "flow_id")?,
            task_run_id: text(10, "task_run_id")?,
            outcome: required(11, "outcome")?,
            detail: text(12, "detail")?,
        },
        prev_hash: required(13, "prev_hash")?,
        hash: required(14, "hash")?,
    })
}

fn head(tx: &mut Tx<'_>, lock: bool) -> Result<Option<AuditHead>> {
    let sql = if lock {
        "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
    } else {
        "SELECT seq, hash FROM audit_head WHERE id = 1"
    };
    tx.query_opt(sql, &[])?
        .map(|row| {
            Ok(AuditHead {
                seq: row.try_get(0)?,
                hash: row.try_get(1)?,
            })
        })
        .transpose()
}

fn append(tx: &mut Tx<'_>, event: &AuditEvent) -> Result<AuditRecord> {
    let event = event.normalized();
    tx.query("SELECT pg_advisory_xact_lock($1)", &[&APPEND_LOCK])?;
    let prev_hash = head(tx, true)?.map_or_else(|| GENESIS_HASH.to_owned(), |head| head.hash);
    let hash = chain_hash(&prev_hash, &event);
    let seq: i64 = tx
        .query_one("SELECT coalesce(max(seq), 0) + 1 FROM audit_events", &[])?
        .try_get(0)?;
    tx.execute(
        "INSERT INTO audit_events (seq, timestamp, tenant, namespace, key, action, actor, \
         service, execution_id, flow_id, task_run_id, outcome, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        &[
            &seq,
            &to_micros(event.timestamp),
            &event.tenant,
            &event.namespace,
            &event.key,
            &event.action,
            &event.actor,
            &event.service,
            &event.execution_id,
            &event.flow_id,
            &event.task_run_id,
            &event.outcome,
            &event.detail,
            &prev_hash,
            &hash,
        ],
    )?;
    tx.execute(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        &[&seq, &hash],
    )?;
    Ok(AuditRecord {
        seq,
        event,
        prev_hash,
        hash,
    })
}

fn list(tx: &mut Tx<'_>, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
    let (lo, hi) = match &filter.namespace {
        Some(prefix) => namespace_children(prefix),
        None => (String::new(), String::new()),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_events \
         WHERE seq > $1 \
           AND ($2::text IS NULL OR tenant = $2) \
           AND ($3::text IS NULL OR namespace = $3 OR (namespace >= $4 AND namespace < $5)) \
           AND ($6::text IS NULL OR key = $6) \
           AND ($7::text IS NULL OR actor = $7) \
           AND ($8::bigint IS NULL OR timestamp >= $8) \
           AND ($9::bigint IS NULL OR timestamp <= $9) \
         ORDER BY seq LIMIT $10"
    );
    let rows = tx.query(
        &sql,
        &[
            &filter.after_seq.unwrap_or(0),
            &filter.tenant,
            &filter.namespace,
            &lo,
            &hi,
            &filter.key,
            &filter.actor,
            &filter.since.map(to_micros),
            &filter.until.map(to_micros),
            &filter.limit.map(i64::from),
        ],
    )?;
    rows.iter()
        .map(|row| {
            decode(row).map_err(|detail| StoreError::Corrupt {
                table: "audit_events",
                id: row
                    .try_get::<_, i64>(0)
                    .map_or_else(|_| "?".to_owned(), |seq| seq.to_string()),
                detail,
            })
        })
        .collect()
}

fn walk(
    tx: &mut Tx<'_>,
    visit: &mut (dyn FnMut(AuditStep) -> ControlFlow<()> + Send),
) -> Result<()> {
    if visit(AuditStep::Head(head(tx, false)?)).is_break() {
        return Ok(());
    }
    let sql = format!("SELECT {COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2");
    let mut after = i64::MIN;
    loop {
        let rows = tx.query(&sql, &[&after, &WALK_PAGE])?;
        for row in &rows {
            let seq: i64 = row.try_get(0)?;
            after = seq;
            let step = match decode(row) {
                Ok(record) => AuditStep::Event(Box::new(record)),
                Err(detail) => AuditStep::Unreadable { seq, detail },
            };
            if visit(step).is_break() {
                return Ok(());
            }
        }
        if rows.len() < WALK_PAGE as usize {
            return Ok(());
        }
    }
}

impl AuditLog for PgStore {
    fn append_audit(&self, event: &AuditEvent) -> Result<AuditRecord> {
        self.write_tx(|tx| append(tx, event))
    }

    fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        self.read_tx(|tx| list(tx, filter))
    }

    fn walk_audit(
        &self,
        visit: &mut (dyn FnMut(AuditStep) -> ControlFlow<()> + Send),
    ) -> Result<()> {
        self.read_tx(|tx| walk(tx, &mut *visit))
    }

    fn find_audit_hash(&self, hash: &str) -> Result<Option<i64>> {
        self.read_tx(|tx| {
            Ok(tx
                .query_one(
                    "SELECT min(seq) FROM audit_events WHERE hash = $1",
                    &[&hash],
                )?
                .try_get(0)?)
        })
    }
}
