//! SQL of the audit trail ([`AuditLog`] on [`SqliteStore`]). Appends run on the single writer
//! connection, so they are serialised and the chain never forks.

use std::ops::ControlFlow;

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::{SqliteStore, from_micros, namespace_children, to_micros};
use crate::audit::{
    AuditEvent, AuditFilter, AuditHead, AuditLog, AuditRecord, AuditStep, GENESIS_HASH, chain_hash,
};
use crate::{Result, StoreError};

const COLUMNS: &str = "seq, timestamp, tenant, namespace, key, action, actor, service, \
                       execution_id, flow_id, task_run_id, outcome, detail, prev_hash, hash";

/// Decodes a row; `Err(detail)` when a column holds something of the wrong type (a hand
/// edit), so the walk can report it rather than fail.
fn decode(row: &Row<'_>) -> rusqlite::Result<std::result::Result<AuditRecord, String>> {
    let seq: i64 = row.get(0)?;
    let text = |index: usize, name: &str| -> std::result::Result<Option<String>, String> {
        match row.get::<_, Value>(index) {
            Ok(Value::Null) => Ok(None),
            Ok(Value::Text(text)) => Ok(Some(text)),
            _ => Err(format!("column {name} does not hold text")),
        }
    };
    let required = |index: usize, name: &str| -> std::result::Result<String, String> {
        text(index, name)?.ok_or_else(|| format!("column {name} is empty"))
    };
    let decoded = (|| {
        let timestamp = match row.get::<_, Value>(1) {
            Ok(Value::Integer(micros)) => from_micros(micros),
            _ => None,
        }
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
    })();
    Ok(decoded)
}

fn head(tx: &Transaction<'_>) -> Result<Option<AuditHead>> {
    Ok(tx
        .prepare_cached("SELECT seq, hash FROM audit_head WHERE id = 1")?
        .query_row([], |row| {
            Ok(AuditHead {
                seq: row.get(0)?,
                hash: row.get(1)?,
            })
        })
        .optional()?)
}

fn append(tx: &Transaction<'_>, event: &AuditEvent) -> Result<AuditRecord> {
    let event = event.normalized();
    let prev_hash = head(tx)?.map_or_else(|| GENESIS_HASH.to_owned(), |head| head.hash);
    let hash = chain_hash(&prev_hash, &event);
    tx.prepare_cached(
        "INSERT INTO audit_events (timestamp, tenant, namespace, key, action, actor, service, \
         execution_id, flow_id, task_run_id, outcome, detail, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        to_micros(event.timestamp),
        event.tenant,
        event.namespace,
        event.key,
        event.action,
        event.actor,
        event.service,
        event.execution_id,
        event.flow_id,
        event.task_run_id,
        event.outcome,
        event.detail,
        prev_hash,
        hash,
    ])?;
    let seq = tx.last_insert_rowid();
    tx.prepare_cached(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?1, ?2) \
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    )?
    .execute(params![seq, hash])?;
    Ok(AuditRecord {
        seq,
        event,
        prev_hash,
        hash,
    })
}

fn list(tx: &Transaction<'_>, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
    let (lo, hi) = match &filter.namespace {
        Some(prefix) => namespace_children(prefix),
        None => (String::new(), String::new()),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_events \
         WHERE seq > ?1 \
           AND (?2 IS NULL OR tenant = ?2) \
           AND (?3 IS NULL OR namespace = ?3 OR (namespace >= ?4 AND namespace < ?5)) \
           AND (?6 IS NULL OR key = ?6) \
           AND (?7 IS NULL OR actor = ?7) \
           AND (?8 IS NULL OR timestamp >= ?8) \
           AND (?9 IS NULL OR timestamp <= ?9) \
         ORDER BY seq LIMIT ?10"
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            filter.after_seq.unwrap_or(0),
            filter.tenant,
            filter.namespace,
            lo,
            hi,
            filter.key,
            filter.actor,
            filter.since.map(to_micros),
            filter.until.map(to_micros),
            filter.limit.map_or(-1, i64::from),
        ],
        decode,
    )?;
    let mut records = Vec::new();
    for row in rows {
        records.push(row?.map_err(|detail| StoreError::Corrupt {
            table: "audit_events",
            id: "?".to_owned(),
            detail,
        })?);
    }
    Ok(records)
}

impl AuditLog for SqliteStore {
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
        self.read_tx(|tx| {
            if visit(AuditStep::Head(head(tx)?)).is_break() {
                return Ok(());
            }
            let sql = format!("SELECT {COLUMNS} FROM audit_events ORDER BY seq");
            let mut stmt = tx.prepare_cached(&sql)?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let step = match decode(row)? {
                    Ok(record) => AuditStep::Event(Box::new(record)),
                    Err(detail) => AuditStep::Unreadable {
                        seq: row.get(0)?,
                        detail,
                    },
                };
                if visit(step).is_break() {
                    break;
                }
            }
            Ok(())
        })
    }

    fn find_audit_hash(&self, hash: &str) -> Result<Option<i64>> {
        self.read_tx(|tx| {
            Ok(tx
                .prepare_cached("SELECT min(seq) FROM audit_events WHERE hash = ?1")?
                .query_row(params![hash], |row| row.get(0))?)
        })
    }
}
