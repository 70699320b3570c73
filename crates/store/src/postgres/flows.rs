//! Flows with revisions, as in the SQLite backend: every change (a new source, a deletion) is
//! a new row with the next revision number; a deletion is a tombstone row carrying the last
//! source. Saving and deleting take a transaction-scoped advisory lock on the flow's key, so
//! two processes saving the same flow at once get consecutive revisions instead of a clash.

use chrono::{DateTime, Utc};
use postgres::Row;

use super::{Tx, from_micros, namespace_children, to_micros};
use crate::{FlowRecord, Result, SavedFlow, StoreError};

const COLUMNS: &str = "tenant, namespace, id, revision, source, created_at, deleted";

/// A row as stored, before the revision and the timestamp are checked.
struct RawFlow {
    tenant: String,
    namespace: String,
    id: String,
    revision: i64,
    source: String,
    created_at: i64,
    deleted: bool,
}

impl RawFlow {
    fn from_row(row: &Row) -> Result<Self> {
        Ok(Self {
            tenant: row.try_get(0)?,
            namespace: row.try_get(1)?,
            id: row.try_get(2)?,
            revision: row.try_get(3)?,
            source: row.try_get(4)?,
            created_at: row.try_get(5)?,
            deleted: row.try_get(6)?,
        })
    }

    fn into_record(self) -> Result<FlowRecord> {
        let corrupt = |detail: &str| StoreError::Corrupt {
            table: "flows",
            id: format!(
                "{}/{}/{}@{}",
                self.tenant, self.namespace, self.id, self.revision
            ),
            detail: detail.to_owned(),
        };
        let Ok(revision) = u32::try_from(self.revision) else {
            return Err(corrupt("revision is out of range"));
        };
        let Some(created_at) = from_micros(self.created_at) else {
            return Err(corrupt("created_at is out of range"));
        };
        Ok(FlowRecord {
            tenant: self.tenant,
            namespace: self.namespace,
            id: self.id,
            revision,
            source: self.source,
            created_at,
            deleted: self.deleted,
        })
    }
}

/// Now, at the microsecond precision the column keeps.
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    from_micros(to_micros(now)).unwrap_or(now)
}

/// Serialises writers of one flow until the transaction ends. Two flows whose keys hash
/// alike only wait for each other; they never mix.
fn lock(tx: &mut Tx<'_>, tenant: &str, namespace: &str, id: &str) -> Result<()> {
    let key = format!("flow\u{1}{tenant}\u{1}{namespace}\u{1}{id}");
    tx.query(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&key],
    )?;
    Ok(())
}

/// The newest row of the flow, tombstone or not.
fn latest(tx: &mut Tx<'_>, tenant: &str, namespace: &str, id: &str) -> Result<Option<RawFlow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM flows WHERE tenant = $1 AND namespace = $2 AND id = $3 \
         ORDER BY revision DESC LIMIT 1"
    );
    tx.query_opt(&sql, &[&tenant, &namespace, &id])?
        .map(|row| RawFlow::from_row(&row))
        .transpose()
}

fn insert(tx: &mut Tx<'_>, flow: &FlowRecord) -> Result<()> {
    tx.execute(
        "INSERT INTO flows (tenant, namespace, id, revision, source, created_at, deleted) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &flow.tenant,
            &flow.namespace,
            &flow.id,
            &i64::from(flow.revision),
            &flow.source,
            &to_micros(flow.created_at),
            &flow.deleted,
        ],
    )?;
    Ok(())
}

fn next_revision(latest: Option<&RawFlow>, namespace: &str, id: &str) -> Result<u32> {
    let Some(flow) = latest else {
        return Ok(1);
    };
    u32::try_from(flow.revision)
        .ok()
        .and_then(|revision| revision.checked_add(1))
        .ok_or_else(|| StoreError::Conflict {
            kind: "flow",
            id: format!("{namespace}.{id}"),
            reason: "has reached the highest revision number",
        })
}

pub(super) fn save(
    tx: &mut Tx<'_>,
    tenant: &str,
    namespace: &str,
    id: &str,
    source: &str,
) -> Result<SavedFlow> {
    if source.contains('\0') {
        // PostgreSQL text cannot hold NUL; say so instead of a bare encoding error.
        return Err(StoreError::Encode {
            kind: "flow",
            id: format!("{namespace}.{id}"),
            detail: "the source contains a NUL character".to_owned(),
        });
    }
    lock(tx, tenant, namespace, id)?;
    let latest = match latest(tx, tenant, namespace, id)? {
        Some(flow) if !flow.deleted && flow.source == source => {
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
    tx: &mut Tx<'_>,
    tenant: &str,
    namespace: &str,
    id: &str,
    revision: Option<u32>,
) -> Result<Option<FlowRecord>> {
    let raw = match revision {
        None => latest(tx, tenant, namespace, id)?.filter(|flow| !flow.deleted),
        Some(revision) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM flows WHERE tenant = $1 AND namespace = $2 AND id = $3 \
                 AND revision = $4 AND NOT deleted"
            );
            tx.query_opt(&sql, &[&tenant, &namespace, &id, &i64::from(revision)])?
                .map(|row| RawFlow::from_row(&row))
                .transpose()?
        }
    };
    raw.map(RawFlow::into_record).transpose()
}

fn records(rows: Vec<Row>) -> Result<Vec<FlowRecord>> {
    rows.iter()
        .map(|row| RawFlow::from_row(row)?.into_record())
        .collect()
}

pub(super) fn list(
    tx: &mut Tx<'_>,
    tenant: &str,
    namespace_prefix: Option<&str>,
) -> Result<Vec<FlowRecord>> {
    let (lo, hi) = match namespace_prefix {
        Some(prefix) => namespace_children(prefix),
        None => (String::new(), String::new()),
    };
    let sql = "SELECT f.tenant, f.namespace, f.id, f.revision, f.source, f.created_at, f.deleted \
         FROM flows f \
         WHERE f.tenant = $1 \
           AND ($2::text IS NULL OR f.namespace = $2 OR (f.namespace >= $3 AND f.namespace < $4)) \
           AND f.revision = (SELECT max(g.revision) FROM flows g \
                             WHERE g.tenant = f.tenant AND g.namespace = f.namespace \
                               AND g.id = f.id) \
           AND NOT f.deleted \
         ORDER BY f.namespace, f.id";
    let rows = tx.query(sql, &[&tenant, &namespace_prefix, &lo, &hi])?;
    records(rows)
}

pub(super) fn delete(tx: &mut Tx<'_>, tenant: &str, namespace: &str, id: &str) -> Result<bool> {
    lock(tx, tenant, namespace, id)?;
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
    tx: &mut Tx<'_>,
    tenant: &str,
    namespace: &str,
    id: &str,
) -> Result<Vec<FlowRecord>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM flows WHERE tenant = $1 AND namespace = $2 AND id = $3 \
         ORDER BY revision"
    );
    let rows = tx.query(&sql, &[&tenant, &namespace, &id])?;
    records(rows)
}

pub(super) fn tenants(tx: &mut Tx<'_>) -> Result<Vec<String>> {
    // `tenant` has the "C" collation: the order is bytewise, as on SQLite.
    let rows = tx.query(
        "SELECT DISTINCT f.tenant FROM flows f \
         WHERE NOT f.deleted \
           AND f.revision = (SELECT max(g.revision) FROM flows g \
                             WHERE g.tenant = f.tenant AND g.namespace = f.namespace \
                               AND g.id = f.id) \
         ORDER BY f.tenant",
        &[],
    )?;
    rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
}
