//! Flows with revisions. Every change (a new source, a deletion) is a new row with the next
//! revision number, so the table is the flow's whole history. A deletion is a tombstone row
//! (`deleted = 1`, carrying the last source) so that revision numbers keep growing if the flow
//! is saved again, as Kestra does.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::{from_micros, namespace_children, to_micros};
use crate::{FlowRecord, Result, SavedFlow, StoreError};

const COLUMNS: &str = "tenant, namespace, id, revision, source, created_at, deleted";

/// A row as stored, before the timestamp is checked.
struct RawFlow {
    tenant: String,
    namespace: String,
    id: String,
    revision: u32,
    source: String,
    created_at: i64,
    deleted: bool,
}

impl RawFlow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            tenant: row.get(0)?,
            namespace: row.get(1)?,
            id: row.get(2)?,
            revision: row.get(3)?,
            source: row.get(4)?,
            created_at: row.get(5)?,
            deleted: row.get(6)?,
        })
    }

    fn into_record(self) -> Result<FlowRecord> {
        let Some(created_at) = from_micros(self.created_at) else {
            return Err(StoreError::Corrupt {
                table: "flows",
                id: format!(
                    "{}/{}/{}@{}",
                    self.tenant, self.namespace, self.id, self.revision
                ),
                detail: "created_at is out of range".to_owned(),
            });
        };
        Ok(FlowRecord {
            tenant: self.tenant,
            namespace: self.namespace,
            id: self.id,
            revision: self.revision,
            source: self.source,
            created_at,
            deleted: self.deleted,
        })
    }
}

/// Now, at the microsecond precision the column keeps, so that a record returned by a save
/// equals the one read back later.
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    from_micros(to_micros(now)).unwrap_or(now)
}

/// The newest row of the flow, tombstone or not.
fn latest(
    tx: &Transaction<'_>,
    tenant: &str,
    namespace: &str,
    id: &str,
) -> Result<Option<RawFlow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM flows WHERE tenant = ?1 AND namespace = ?2 AND id = ?3 \
         ORDER BY revision DESC LIMIT 1"
    );
    Ok(tx
        .prepare_cached(&sql)?
        .query_row(params![tenant, namespace, id], RawFlow::from_row)
        .optional()?)
}

fn insert(tx: &Transaction<'_>, flow: &FlowRecord) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO flows (tenant, namespace, id, revision, source, created_at, deleted) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        flow.tenant,
        flow.namespace,
        flow.id,
        flow.revision,
        flow.source,
        to_micros(flow.created_at),
        flow.deleted,
    ])?;
    Ok(())
}

fn next_revision(latest: Option<&RawFlow>, namespace: &str, id: &str) -> Result<u32> {
    match latest {
        None => Ok(1),
        Some(flow) => flow
            .revision
            .checked_add(1)
            .ok_or_else(|| StoreError::Conflict {
                kind: "flow",
                id: format!("{namespace}.{id}"),
                reason: "has reached the highest revision number",
            }),
    }
}

pub(super) fn save(
    tx: &Transaction<'_>,
    tenant: &str,
    namespace: &str,
    id: &str,
    source: &str,
) -> Result<SavedFlow> {
    let latest = match latest(tx, tenant, namespace, id)? {
        Some(flow) if !flow.deleted && flow.source == source => {
            // Nothing written: the caller's transaction commits empty.
            return Ok(SavedFlow {
                flow: flow.into_record()?,
                created: false,
            });
        }
        other => other,
    };
    let flow = FlowRecord {
        tenant: tenant.to_owned(),
        namespace: namespace.to_owned(),
        id: id.to_owned(),
        revision: next_revision(latest.as_ref(), namespace, id)?,
        source: source.to_owned(),
        created_at: now(),
        deleted: false,
    };
    insert(tx, &flow)?;
    Ok(SavedFlow {
        flow,
        created: true,
    })
}

pub(super) fn get(
    tx: &Transaction<'_>,
    tenant: &str,
    namespace: &str,
    id: &str,
    revision: Option<u32>,
) -> Result<Option<FlowRecord>> {
    let raw = match revision {
        None => latest(tx, tenant, namespace, id)?.filter(|flow| !flow.deleted),
        Some(revision) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM flows WHERE tenant = ?1 AND namespace = ?2 AND id = ?3 \
                 AND revision = ?4 AND deleted = 0"
            );
            tx.prepare_cached(&sql)?
                .query_row(params![tenant, namespace, id, revision], RawFlow::from_row)
                .optional()?
        }
    };
    raw.map(RawFlow::into_record).transpose()
}

pub(super) fn list(
    tx: &Transaction<'_>,
    tenant: &str,
    namespace_prefix: Option<&str>,
) -> Result<Vec<FlowRecord>> {
    let (lo, hi) = match namespace_prefix {
        Some(prefix) => namespace_children(prefix),
        None => (String::new(), String::new()),
    };
    // The correlated MAX uses the primary key, one probe per flow.
    let sql = "SELECT f.tenant, f.namespace, f.id, f.revision, f.source, f.created_at, f.deleted \
         FROM flows f \
         WHERE f.tenant = ?1 \
           AND (?2 IS NULL OR f.namespace = ?2 OR (f.namespace >= ?3 AND f.namespace < ?4)) \
           AND f.revision = (SELECT max(g.revision) FROM flows g \
                             WHERE g.tenant = f.tenant AND g.namespace = f.namespace \
                               AND g.id = f.id) \
           AND f.deleted = 0 \
         ORDER BY f.namespace, f.id";
    let mut stmt = tx.prepare_cached(sql)?;
    let rows = stmt.query_map(params![tenant, namespace_prefix, lo, hi], RawFlow::from_row)?;
    let mut flows = Vec::new();
    for row in rows {
        flows.push(row?.into_record()?);
    }
    Ok(flows)
}

pub(super) fn delete(
    tx: &Transaction<'_>,
    tenant: &str,
    namespace: &str,
    id: &str,
) -> Result<bool> {
    let Some(latest) = latest(tx, tenant, namespace, id)? else {
        return Ok(false);
    };
    if latest.deleted {
        return Ok(false);
    }
    let tombstone = FlowRecord {
        tenant: tenant.to_owned(),
        namespace: namespace.to_owned(),
        id: id.to_owned(),
        revision: next_revision(Some(&latest), namespace, id)?,
        source: latest.source,
        created_at: now(),
        deleted: true,
    };
    insert(tx, &tombstone)?;
    Ok(true)
}

pub(super) fn revisions(
    tx: &Transaction<'_>,
    tenant: &str,
    namespace: &str,
    id: &str,
) -> Result<Vec<FlowRecord>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM flows WHERE tenant = ?1 AND namespace = ?2 AND id = ?3 \
         ORDER BY revision"
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![tenant, namespace, id], RawFlow::from_row)?;
    let mut flows = Vec::new();
    for row in rows {
        flows.push(row?.into_record()?);
    }
    Ok(flows)
}

pub(super) fn tenants(tx: &Transaction<'_>) -> Result<Vec<String>> {
    // One probe of the primary key per flow, as in `list`; DISTINCT over the sorted result.
    let mut stmt = tx.prepare_cached(
        "SELECT DISTINCT f.tenant FROM flows f \
         WHERE f.deleted = 0 \
           AND f.revision = (SELECT max(g.revision) FROM flows g \
                             WHERE g.tenant = f.tenant AND g.namespace = f.namespace \
                               AND g.id = f.id) \
         ORDER BY f.tenant",
    )?;
    let tenants = stmt
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(tenants)
}
