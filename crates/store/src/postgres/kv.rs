//! The KV store on PostgreSQL, as on SQLite: one row per (tenant, namespace, key), timestamps
//! in microseconds. A put reads the row `FOR UPDATE` first, so two puts of one key at once
//! are serialised and both see what the other did.

use chrono::Utc;
use postgres::Row;

use super::{PgStore, Tx, to_micros};
use crate::kv::{
    COLUMNS, KvEntry, KvPut, KvStore, PutAction, RawKvEntry, live_entries, live_entry, put_action,
    upsert_sql,
};
use crate::{Result, StoreError};

fn decode(row: &Row) -> Result<KvEntry> {
    RawKvEntry {
        tenant: row.try_get(0)?,
        namespace: row.try_get(1)?,
        key: row.try_get(2)?,
        kv_type: row.try_get(3)?,
        value: row.try_get(4)?,
        sealed: row.try_get(5)?,
        description: row.try_get(6)?,
        created_at: row.try_get(7)?,
        updated_at: row.try_get(8)?,
        expires_at: row.try_get(9)?,
    }
    .into_entry()
}

fn put(tx: &mut Tx<'_>, entry: &KvEntry, overwrite: bool) -> Result<KvPut> {
    let texts = [&entry.tenant, &entry.namespace, &entry.key, &entry.value];
    if texts.iter().any(|text| text.contains('\0'))
        || entry.description.as_ref().is_some_and(|d| d.contains('\0'))
    {
        // PostgreSQL text cannot hold NUL; say so instead of a bare encoding error.
        return Err(StoreError::Encode {
            kind: "KV entry",
            id: entry.id(),
            detail: "a field contains a NUL character".to_owned(),
        });
    }
    let stored: Option<Option<i64>> = tx
        .query_opt(
            "SELECT expires_at FROM kv_entries \
             WHERE tenant = $1 AND namespace = $2 AND key = $3 FOR UPDATE",
            &[&entry.tenant, &entry.namespace, &entry.key],
        )?
        .map(|row| row.try_get(0))
        .transpose()?;
    let action = put_action(stored, to_micros(Utc::now()), overwrite);
    if action != PutAction::Keep {
        // ON CONFLICT also settles a concurrent put of a key that did not exist (which the
        // FOR UPDATE above could not lock): the later one replaces the earlier.
        tx.execute(
            &upsert_sql('$'),
            &[
                &entry.tenant,
                &entry.namespace,
                &entry.key,
                &entry.kv_type.as_str(),
                &entry.value,
                &entry.sealed,
                &entry.description,
                &to_micros(entry.created_at),
                &to_micros(entry.updated_at),
                &entry.expires_at.map(to_micros),
                &(action == PutAction::Update),
            ],
        )?;
    }
    Ok(action.outcome())
}

fn remove_expired(
    tx: &mut Tx<'_>,
    tenant: &str,
    namespace: &str,
    key: Option<&str>,
) -> Result<u64> {
    tx.execute(
        "DELETE FROM kv_entries WHERE tenant = $1 AND namespace = $2 \
         AND ($3::text IS NULL OR key = $3) AND expires_at IS NOT NULL AND expires_at <= $4",
        &[&tenant, &namespace, &key, &to_micros(Utc::now())],
    )
}

impl KvStore for PgStore {
    fn put_kv(&self, entry: &KvEntry, overwrite: bool) -> Result<KvPut> {
        self.write_tx(|tx| put(tx, entry, overwrite))
    }

    fn get_kv(&self, tenant: &str, namespace: &str, key: &str) -> Result<Option<KvEntry>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM kv_entries WHERE tenant = $1 AND namespace = $2 AND key = $3"
        );
        live_entry(
            || {
                self.read_tx(|tx| {
                    tx.query_opt(&sql, &[&tenant, &namespace, &key])?
                        .map(|row| decode(&row))
                        .transpose()
                })
            },
            || {
                self.write_tx(|tx| remove_expired(tx, tenant, namespace, Some(key)))
                    .map(drop)
            },
        )
    }

    fn delete_kv(&self, tenant: &str, namespace: &str, key: &str) -> Result<bool> {
        self.write_tx(|tx| {
            if remove_expired(tx, tenant, namespace, Some(key))? > 0 {
                return Ok(false);
            }
            let deleted = tx.execute(
                "DELETE FROM kv_entries WHERE tenant = $1 AND namespace = $2 AND key = $3",
                &[&tenant, &namespace, &key],
            )?;
            Ok(deleted > 0)
        })
    }

    fn list_kv(&self, tenant: &str, namespace: &str, prefix: Option<&str>) -> Result<Vec<KvEntry>> {
        // The key columns have the "C" collation: the order is bytewise, as on SQLite.
        let sql = format!(
            "SELECT {COLUMNS} FROM kv_entries WHERE tenant = $1 AND namespace = $2 ORDER BY key"
        );
        let entries = self.read_tx(|tx| {
            tx.query(&sql, &[&tenant, &namespace])?
                .iter()
                .map(decode)
                .collect::<Result<Vec<_>>>()
        })?;
        live_entries(entries, prefix, || {
            self.write_tx(|tx| remove_expired(tx, tenant, namespace, None))
                .map(drop)
        })
    }
}
