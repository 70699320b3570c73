//! The KV store on SQLite: one row per (tenant, namespace, key), timestamps in microseconds.
//! Reads go through the readers; an expired row they meet is removed by a write afterwards.

use chrono::Utc;
use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::{SqliteStore, to_micros};
use crate::Result;
use crate::kv::{
    COLUMNS, KvEntry, KvPut, KvStore, PutAction, RawKvEntry, live_entries, live_entry, put_action,
    upsert_sql,
};

fn raw(row: &Row<'_>) -> rusqlite::Result<RawKvEntry> {
    Ok(RawKvEntry {
        tenant: row.get(0)?,
        namespace: row.get(1)?,
        key: row.get(2)?,
        kv_type: row.get(3)?,
        value: row.get(4)?,
        sealed: row.get(5)?,
        description: row.get(6)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
        expires_at: row.get(9)?,
    })
}

fn put(tx: &Transaction<'_>, entry: &KvEntry, overwrite: bool) -> Result<KvPut> {
    let stored: Option<Option<i64>> = tx
        .prepare_cached(
            "SELECT expires_at FROM kv_entries WHERE tenant = ?1 AND namespace = ?2 AND key = ?3",
        )?
        .query_row(params![entry.tenant, entry.namespace, entry.key], |row| {
            row.get(0)
        })
        .optional()?;
    let action = put_action(stored, to_micros(Utc::now()), overwrite);
    if action != PutAction::Keep {
        tx.prepare_cached(&upsert_sql('?'))?.execute(params![
            entry.tenant,
            entry.namespace,
            entry.key,
            entry.kv_type.as_str(),
            entry.value,
            entry.sealed,
            entry.description,
            to_micros(entry.created_at),
            to_micros(entry.updated_at),
            entry.expires_at.map(to_micros),
            action == PutAction::Update,
        ])?;
    }
    Ok(action.outcome())
}

fn get(tx: &Transaction<'_>, tenant: &str, namespace: &str, key: &str) -> Result<Option<KvEntry>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM kv_entries WHERE tenant = ?1 AND namespace = ?2 AND key = ?3"
    );
    tx.prepare_cached(&sql)?
        .query_row(params![tenant, namespace, key], raw)
        .optional()?
        .map(RawKvEntry::into_entry)
        .transpose()
}

fn list(tx: &Transaction<'_>, tenant: &str, namespace: &str) -> Result<Vec<KvEntry>> {
    // SQLite compares TEXT bytewise (BINARY collation), the order the contract asks for.
    let sql = format!(
        "SELECT {COLUMNS} FROM kv_entries WHERE tenant = ?1 AND namespace = ?2 ORDER BY key"
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    let rows = stmt.query_map([tenant, namespace], raw)?;
    let mut entries = Vec::new();
    for row in rows {
        entries.push(row?.into_entry()?);
    }
    Ok(entries)
}

/// Removes the expired entries of a namespace (one key, or all of them).
fn remove_expired(
    tx: &Transaction<'_>,
    tenant: &str,
    namespace: &str,
    key: Option<&str>,
) -> Result<usize> {
    Ok(tx
        .prepare_cached(
            "DELETE FROM kv_entries WHERE tenant = ?1 AND namespace = ?2 \
             AND (?3 IS NULL OR key = ?3) AND expires_at IS NOT NULL AND expires_at <= ?4",
        )?
        .execute(params![tenant, namespace, key, to_micros(Utc::now())])?)
}

impl KvStore for SqliteStore {
    fn put_kv(&self, entry: &KvEntry, overwrite: bool) -> Result<KvPut> {
        self.write_tx(|tx| put(tx, entry, overwrite))
    }

    fn get_kv(&self, tenant: &str, namespace: &str, key: &str) -> Result<Option<KvEntry>> {
        live_entry(
            || self.read_tx(|tx| get(tx, tenant, namespace, key)),
            || {
                self.write_tx(|tx| remove_expired(tx, tenant, namespace, Some(key)))
                    .map(drop)
            },
        )
    }

    fn delete_kv(&self, tenant: &str, namespace: &str, key: &str) -> Result<bool> {
        self.write_tx(|tx| {
            let expired = remove_expired(tx, tenant, namespace, Some(key))?;
            if expired > 0 {
                return Ok(false);
            }
            let deleted = tx
                .prepare_cached(
                    "DELETE FROM kv_entries WHERE tenant = ?1 AND namespace = ?2 AND key = ?3",
                )?
                .execute(params![tenant, namespace, key])?;
            Ok(deleted > 0)
        })
    }

    fn list_kv(&self, tenant: &str, namespace: &str, prefix: Option<&str>) -> Result<Vec<KvEntry>> {
        let entries = self.read_tx(|tx| list(tx, tenant, namespace))?;
        live_entries(entries, prefix, || {
            self.write_tx(|tx| remove_expired(tx, tenant, namespace, None))
                .map(drop)
        })
    }
}
