//! SQL of the encrypted secret store's rows ([`SecretRows`] on [`SqliteStore`]). Every
//! check-and-set reads the generation and writes in one IMMEDIATE transaction on the writer.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Params, Row, Transaction, params};

use super::{SqliteStore, from_micros, to_micros};
use crate::columns::{secret_id, to_i64};
use crate::secret_rows::{
    Cas, NewVersion, SecretChange, SecretRow, SecretRowState, SecretRows, VersionCursor, VersionRow,
};
use crate::{Result, StoreError};

const SECRET_COLUMNS: &str = "tenant, namespace, key, state, current_version, generation, \
                              metadata, created_at, updated_at, last_read_at";
const VERSION_COLUMNS: &str =
    "tenant, namespace, key, version, ciphertext, created_at, created_by, available";

/// A `secrets` row before its columns are checked.
struct RawSecret {
    tenant: String,
    namespace: String,
    key: String,
    state: String,
    current_version: i64,
    generation: i64,
    metadata: String,
    created_at: i64,
    updated_at: i64,
    last_read_at: Option<i64>,
}

impl RawSecret {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            tenant: row.get(0)?,
            namespace: row.get(1)?,
            key: row.get(2)?,
            state: row.get(3)?,
            current_version: row.get(4)?,
            generation: row.get(5)?,
            metadata: row.get(6)?,
            created_at: row.get(7)?,
            updated_at: row.get(8)?,
            last_read_at: row.get(9)?,
        })
    }

    fn decode(self) -> Result<SecretRow> {
        let corrupt = |detail: &str| StoreError::Corrupt {
            table: "secrets",
            id: secret_id(&self.tenant, &self.namespace, &self.key),
            detail: detail.to_owned(),
        };
        let state = SecretRowState::parse(&self.state).ok_or_else(|| corrupt("unknown state"))?;
        let current_version = u64::try_from(self.current_version)
            .map_err(|_| corrupt("current_version is negative"))?;
        let generation =
            u64::try_from(self.generation).map_err(|_| corrupt("generation is negative"))?;
        let created_at =
            from_micros(self.created_at).ok_or_else(|| corrupt("created_at is out of range"))?;
        let updated_at =
            from_micros(self.updated_at).ok_or_else(|| corrupt("updated_at is out of range"))?;
        let last_read_at = match self.last_read_at {
            None => None,
            Some(micros) => {
                Some(from_micros(micros).ok_or_else(|| corrupt("last_read_at is out of range"))?)
            }
        };
        Ok(SecretRow {
            tenant: self.tenant,
            namespace: self.namespace,
            key: self.key,
            state,
            current_version,
            generation,
            metadata: self.metadata,
            created_at,
            updated_at,
            last_read_at,
        })
    }
}

/// A `secret_versions` row before its columns are checked.
struct RawVersion {
    tenant: String,
    namespace: String,
    key: String,
    version: i64,
    ciphertext: Option<Vec<u8>>,
    created_at: i64,
    created_by: Option<String>,
    available: bool,
}

impl RawVersion {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            tenant: row.get(0)?,
            namespace: row.get(1)?,
            key: row.get(2)?,
            version: row.get(3)?,
            ciphertext: row.get(4)?,
            created_at: row.get(5)?,
            created_by: row.get(6)?,
            available: row.get(7)?,
        })
    }

    fn decode(self) -> Result<VersionRow> {
        let corrupt = |detail: &str| StoreError::Corrupt {
            table: "secret_versions",
            id: format!(
                "{}@{}",
                secret_id(&self.tenant, &self.namespace, &self.key),
                self.version
            ),
            detail: detail.to_owned(),
        };
        let version = u64::try_from(self.version).map_err(|_| corrupt("version is negative"))?;
        let created_at =
            from_micros(self.created_at).ok_or_else(|| corrupt("created_at is out of range"))?;
        Ok(VersionRow {
            tenant: self.tenant,
            namespace: self.namespace,
            key: self.key,
            version,
            ciphertext: self.ciphertext,
            created_at,
            created_by: self.created_by,
            available: self.available,
        })
    }
}

fn secret_in(
    tx: &Transaction<'_>,
    tenant: &str,
    namespace: &str,
    key: &str,
) -> Result<Option<SecretRow>> {
    let sql = format!(
        "SELECT {SECRET_COLUMNS} FROM secrets WHERE tenant = ?1 AND namespace = ?2 AND key = ?3"
    );
    tx.prepare_cached(&sql)?
        .query_row(params![tenant, namespace, key], RawSecret::from_row)
        .optional()?
        .map(RawSecret::decode)
        .transpose()
}

/// `secret_in` after a write that must have left the row in place.
fn secret_after_write(
    tx: &Transaction<'_>,
    tenant: &str,
    namespace: &str,
    key: &str,
    id: String,
) -> Result<SecretRow> {
    secret_in(tx, tenant, namespace, key)?.ok_or(StoreError::NotFound { kind: "secret", id })
}

/// Every `secret_versions` row `sql` (selecting [`VERSION_COLUMNS`]) returns, each checked.
fn versions_where(tx: &Transaction<'_>, sql: &str, params: impl Params) -> Result<Vec<VersionRow>> {
    let mut stmt = tx.prepare_cached(sql)?;
    let rows = stmt.query_map(params, RawVersion::from_row)?;
    rows.map(|row| row?.decode()).collect()
}

fn version_in(
    tx: &Transaction<'_>,
    tenant: &str,
    namespace: &str,
    key: &str,
    version: u64,
) -> Result<Option<VersionRow>> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM secret_versions \
         WHERE tenant = ?1 AND namespace = ?2 AND key = ?3 AND version = ?4"
    );
    let number = to_i64(version, "secret version", key)?;
    tx.prepare_cached(&sql)?
        .query_row(
            params![tenant, namespace, key, number],
            RawVersion::from_row,
        )
        .optional()?
        .map(RawVersion::decode)
        .transpose()
}

fn put_version(tx: &Transaction<'_>, new: &NewVersion<'_>) -> Result<Cas<SecretRow>> {
    let id = secret_id(new.tenant, new.namespace, new.key);
    let existing = secret_in(tx, new.tenant, new.namespace, new.key)?;
    let (next_version, generation) = match (&existing, new.expected_generation) {
        (None, None) => (1, 1),
        (Some(row), Some(expected)) if row.generation == expected => {
            (row.current_version + 1, row.generation + 1)
        }
        _ => return Ok(Cas::Conflict),
    };
    if new.version != next_version {
        return Err(StoreError::Conflict {
            kind: "secret",
            id,
            reason: "the new version must be the next number after the current one",
        });
    }
    let version = to_i64(new.version, "secret version", &id)?;
    let generation_sql = to_i64(generation, "secret generation", &id)?;
    let at = to_micros(new.at);
    let upsert = match &existing {
        None => {
            "INSERT INTO secrets (tenant, namespace, key, state, current_version, generation, \
             metadata, created_at, updated_at, last_read_at) \
             VALUES (?1, ?2, ?3, 'active', ?4, ?5, ?6, ?7, ?7, NULL)"
        }
        Some(_) => {
            "UPDATE secrets SET state = 'active', current_version = ?4, generation = ?5, \
             metadata = ?6, updated_at = ?7 \
             WHERE tenant = ?1 AND namespace = ?2 AND key = ?3"
        }
    };
    tx.prepare_cached(upsert)?.execute(params![
        new.tenant,
        new.namespace,
        new.key,
        version,
        generation_sql,
        new.metadata,
        at
    ])?;
    tx.prepare_cached(
        "INSERT INTO secret_versions (tenant, namespace, key, version, ciphertext, created_at, \
         created_by, available) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1)",
    )?
    .execute(params![
        new.tenant,
        new.namespace,
        new.key,
        version,
        new.ciphertext,
        at,
        new.created_by
    ])?;
    let keep = i64::from(new.keep_versions.max(1));
    tx.prepare_cached(
        "DELETE FROM secret_versions \
         WHERE tenant = ?1 AND namespace = ?2 AND key = ?3 AND version <= ?4",
    )?
    .execute(params![new.tenant, new.namespace, new.key, version - keep])?;
    let row = secret_after_write(tx, new.tenant, new.namespace, new.key, id)?;
    Ok(Cas::Done(row))
}

fn change(tx: &Transaction<'_>, change: &SecretChange<'_>) -> Result<Cas<SecretRow>> {
    let id = secret_id(change.tenant, change.namespace, change.key);
    let expected = to_i64(change.expected_generation, "secret generation", &id)?;
    let next = to_i64(change.expected_generation + 1, "secret generation", &id)?;
    let changed = tx
        .prepare_cached(
            "UPDATE secrets SET state = ?4, metadata = ?5, generation = ?6 \
             WHERE tenant = ?1 AND namespace = ?2 AND key = ?3 AND generation = ?7",
        )?
        .execute(params![
            change.tenant,
            change.namespace,
            change.key,
            change.state.as_str(),
            change.metadata,
            next,
            expected
        ])?;
    if changed == 0 {
        return Ok(Cas::Conflict);
    }
    if change.withdraw_versions {
        tx.prepare_cached(
            "UPDATE secret_versions SET ciphertext = NULL, available = 0 \
             WHERE tenant = ?1 AND namespace = ?2 AND key = ?3",
        )?
        .execute(params![change.tenant, change.namespace, change.key])?;
    }
    let row = secret_after_write(tx, change.tenant, change.namespace, change.key, id)?;
    Ok(Cas::Done(row))
}

impl SecretRows for SqliteStore {
    fn secret_row(&self, tenant: &str, namespace: &str, key: &str) -> Result<Option<SecretRow>> {
        self.read_tx(|tx| secret_in(tx, tenant, namespace, key))
    }

    fn secret_current(
        &self,
        tenant: &str,
        namespace: &str,
        key: &str,
    ) -> Result<Option<(SecretRow, Option<VersionRow>)>> {
        self.read_tx(|tx| {
            let Some(row) = secret_in(tx, tenant, namespace, key)? else {
                return Ok(None);
            };
            let version = version_in(tx, tenant, namespace, key, row.current_version)?;
            Ok(Some((row, version)))
        })
    }

    fn secret_rows_in(&self, tenant: &str, namespace: &str) -> Result<Vec<SecretRow>> {
        self.read_tx(|tx| {
            let sql = format!(
                "SELECT {SECRET_COLUMNS} FROM secrets WHERE tenant = ?1 AND namespace = ?2 \
                 ORDER BY key"
            );
            let mut stmt = tx.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![tenant, namespace], RawSecret::from_row)?;
            rows.map(|row| row?.decode()).collect()
        })
    }

    fn secret_versions(&self, tenant: &str, namespace: &str, key: &str) -> Result<Vec<VersionRow>> {
        self.read_tx(|tx| {
            let sql = format!(
                "SELECT {VERSION_COLUMNS} FROM secret_versions \
                 WHERE tenant = ?1 AND namespace = ?2 AND key = ?3 ORDER BY version DESC"
            );
            versions_where(tx, &sql, params![tenant, namespace, key])
        })
    }

    fn secret_version(
        &self,
        tenant: &str,
        namespace: &str,
        key: &str,
        version: u64,
    ) -> Result<Option<VersionRow>> {
        self.read_tx(|tx| version_in(tx, tenant, namespace, key, version))
    }

    fn put_secret_version(&self, new: &NewVersion<'_>) -> Result<Cas<SecretRow>> {
        self.write_tx(|tx| put_version(tx, new))
    }

    fn change_secret(&self, secret: &SecretChange<'_>) -> Result<Cas<SecretRow>> {
        self.write_tx(|tx| change(tx, secret))
    }

    fn destroy_secret(&self, tenant: &str, namespace: &str, key: &str) -> Result<bool> {
        self.write_tx(|tx| {
            // Versions first, explicitly: the cascade would do it, but this does not depend
            // on the connection's foreign-key setting.
            tx.prepare_cached(
                "DELETE FROM secret_versions WHERE tenant = ?1 AND namespace = ?2 AND key = ?3",
            )?
            .execute(params![tenant, namespace, key])?;
            let deleted = tx
                .prepare_cached(
                    "DELETE FROM secrets WHERE tenant = ?1 AND namespace = ?2 AND key = ?3",
                )?
                .execute(params![tenant, namespace, key])?;
            Ok(deleted > 0)
        })
    }

    fn record_secret_read(
        &self,
        tenant: &str,
        namespace: &str,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.write_tx(|tx| {
            tx.prepare_cached(
                "UPDATE secrets SET last_read_at = ?4 \
                 WHERE tenant = ?1 AND namespace = ?2 AND key = ?3 \
                   AND (last_read_at IS NULL OR last_read_at < ?4)",
            )?
            .execute(params![tenant, namespace, key, to_micros(at)])?;
            Ok(())
        })
    }

    fn secret_version_page(
        &self,
        after: Option<&VersionCursor>,
        limit: u32,
    ) -> Result<Vec<VersionRow>> {
        let (tenant, namespace, key, version) = match after {
            None => (None, "", "", 0),
            Some(cursor) => (
                Some(cursor.tenant.as_str()),
                cursor.namespace.as_str(),
                cursor.key.as_str(),
                to_i64(cursor.version, "secret version", &cursor.key)?,
            ),
        };
        self.read_tx(|tx| {
            let sql = format!(
                "SELECT {VERSION_COLUMNS} FROM secret_versions \
                 WHERE ciphertext IS NOT NULL \
                   AND (?1 IS NULL OR (tenant, namespace, key, version) > (?1, ?2, ?3, ?4)) \
                 ORDER BY tenant, namespace, key, version LIMIT ?5"
            );
            versions_where(
                tx,
                &sql,
                params![tenant, namespace, key, version, i64::from(limit)],
            )
        })
    }

    fn replace_secret_ciphertext(
        &self,
        version: &VersionCursor,
        old: &[u8],
        new: &[u8],
    ) -> Result<bool> {
        let number = to_i64(version.version, "secret version", &version.key)?;
        self.write_tx(|tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE secret_versions SET ciphertext = ?6 \
                     WHERE tenant = ?1 AND namespace = ?2 AND key = ?3 AND version = ?4 \
                       AND ciphertext = ?5",
                )?
                .execute(params![
                    version.tenant,
                    version.namespace,
                    version.key,
                    number,
                    old,
                    new
                ])?;
            Ok(changed > 0)
        })
    }
}
