//! Rows of the encrypted secret store ([`SecretRows`] on [`PgStore`]), as in the SQLite
//! backend. Check-and-set under READ COMMITTED: a writer of a new version locks the secret's
//! row (`FOR UPDATE`) before it compares the generation, so it compares against the latest
//! committed one; creating inserts with `ON CONFLICT DO NOTHING`, so of two creators the
//! second gets a conflict, not an error; changes and ciphertext replacements are single
//! UPDATEs whose condition PostgreSQL re-checks on the latest row version.

use chrono::{DateTime, Utc};
use postgres::Row;

use super::{Params, PgStore, Tx, from_micros, to_micros};
use crate::columns::{secret_id, to_i64};
use crate::secret_rows::{
    Cas, NewVersion, SecretChange, SecretRow, SecretRowState, SecretRows, VersionCursor, VersionRow,
};
use crate::{Result, StoreError};

const SECRET_COLUMNS: &str = "tenant, namespace, key, state, current_version, generation, \
                              metadata, created_at, updated_at, last_read_at";
const VERSION_COLUMNS: &str =
    "tenant, namespace, key, version, ciphertext, created_at, created_by, available";

/// Decodes a `secrets` row; a column out of range is [`StoreError::Corrupt`] naming the
/// secret (never a value).
fn secret(row: &Row) -> Result<SecretRow> {
    let tenant: String = row.try_get(0)?;
    let namespace: String = row.try_get(1)?;
    let key: String = row.try_get(2)?;
    let state: String = row.try_get(3)?;
    let current_version: i64 = row.try_get(4)?;
    let generation: i64 = row.try_get(5)?;
    let metadata: String = row.try_get(6)?;
    let created_at: i64 = row.try_get(7)?;
    let updated_at: i64 = row.try_get(8)?;
    let last_read_at: Option<i64> = row.try_get(9)?;
    let corrupt = |detail: &str| StoreError::Corrupt {
        table: "secrets",
        id: secret_id(&tenant, &namespace, &key),
        detail: detail.to_owned(),
    };
    let state = SecretRowState::parse(&state).ok_or_else(|| corrupt("unknown state"))?;
    let current_version =
        u64::try_from(current_version).map_err(|_| corrupt("current_version is negative"))?;
    let generation = u64::try_from(generation).map_err(|_| corrupt("generation is negative"))?;
    let created_at =
        from_micros(created_at).ok_or_else(|| corrupt("created_at is out of range"))?;
    let updated_at =
        from_micros(updated_at).ok_or_else(|| corrupt("updated_at is out of range"))?;
    let last_read_at = match last_read_at {
        None => None,
        Some(micros) => {
            Some(from_micros(micros).ok_or_else(|| corrupt("last_read_at is out of range"))?)
        }
    };
    Ok(SecretRow {
        tenant,
        namespace,
        key,
        state,
        current_version,
        generation,
        metadata,
        created_at,
        updated_at,
        last_read_at,
    })
}

/// Decodes a `secret_versions` row.
fn version(row: &Row) -> Result<VersionRow> {
    let tenant: String = row.try_get(0)?;
    let namespace: String = row.try_get(1)?;
    let key: String = row.try_get(2)?;
    let number: i64 = row.try_get(3)?;
    let created_at: i64 = row.try_get(5)?;
    let corrupt = |detail: &str| StoreError::Corrupt {
        table: "secret_versions",
        id: format!("{}@{number}", secret_id(&tenant, &namespace, &key)),
        detail: detail.to_owned(),
    };
    let number = u64::try_from(number).map_err(|_| corrupt("version is negative"))?;
    let created_at =
        from_micros(created_at).ok_or_else(|| corrupt("created_at is out of range"))?;
    Ok(VersionRow {
        ciphertext: row.try_get(4)?,
        created_by: row.try_get(6)?,
        available: row.try_get(7)?,
        tenant,
        namespace,
        key,
        version: number,
        created_at,
    })
}

/// The secret row; with `lock`, locked until the transaction ends.
fn secret_in(
    tx: &mut Tx<'_>,
    tenant: &str,
    namespace: &str,
    key: &str,
    lock: bool,
) -> Result<Option<SecretRow>> {
    let sql = format!(
        "SELECT {SECRET_COLUMNS} FROM secrets WHERE tenant = $1 AND namespace = $2 AND key = $3{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    tx.query_opt(&sql, &[&tenant, &namespace, &key])?
        .map(|row| secret(&row))
        .transpose()
}

/// `secret_in` after a write that must have left the row in place.
fn secret_after_write(
    tx: &mut Tx<'_>,
    tenant: &str,
    namespace: &str,
    key: &str,
    id: String,
) -> Result<SecretRow> {
    secret_in(tx, tenant, namespace, key, false)?.ok_or(StoreError::NotFound { kind: "secret", id })
}

fn versions_where(tx: &mut Tx<'_>, sql: &str, params: &Params<'_>) -> Result<Vec<VersionRow>> {
    tx.query(sql, params)?.iter().map(version).collect()
}

fn version_in(
    tx: &mut Tx<'_>,
    tenant: &str,
    namespace: &str,
    key: &str,
    number: u64,
) -> Result<Option<VersionRow>> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM secret_versions \
         WHERE tenant = $1 AND namespace = $2 AND key = $3 AND version = $4"
    );
    let number = to_i64(number, "secret version", key)?;
    tx.query_opt(&sql, &[&tenant, &namespace, &key, &number])?
        .map(|row| version(&row))
        .transpose()
}

fn put_version(tx: &mut Tx<'_>, new: &NewVersion<'_>) -> Result<Cas<SecretRow>> {
    let id = secret_id(new.tenant, new.namespace, new.key);
    let existing = secret_in(tx, new.tenant, new.namespace, new.key, true)?;
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
    let number = to_i64(new.version, "secret version", &id)?;
    let generation = to_i64(generation, "secret generation", &id)?;
    let at = to_micros(new.at);
    let written = match &existing {
        // Another creator may commit between our read and this insert: then it won.
        None => tx.execute(
            "INSERT INTO secrets (tenant, namespace, key, state, current_version, generation, \
             metadata, created_at, updated_at, last_read_at) \
             VALUES ($1, $2, $3, 'active', $4, $5, $6, $7, $7, NULL) \
             ON CONFLICT (tenant, namespace, key) DO NOTHING",
            &[
                &new.tenant,
                &new.namespace,
                &new.key,
                &number,
                &generation,
                &new.metadata,
                &at,
            ],
        )?,
        Some(_) => tx.execute(
            "UPDATE secrets SET state = 'active', current_version = $4, generation = $5, \
             metadata = $6, updated_at = $7 \
             WHERE tenant = $1 AND namespace = $2 AND key = $3",
            &[
                &new.tenant,
                &new.namespace,
                &new.key,
                &number,
                &generation,
                &new.metadata,
                &at,
            ],
        )?,
    };
    if written == 0 {
        return Ok(Cas::Conflict);
    }
    tx.execute(
        "INSERT INTO secret_versions (tenant, namespace, key, version, ciphertext, created_at, \
         created_by, available) VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE)",
        &[
            &new.tenant,
            &new.namespace,
            &new.key,
            &number,
            &new.ciphertext,
            &at,
            &new.created_by,
        ],
    )?;
    let keep = i64::from(new.keep_versions.max(1));
    tx.execute(
        "DELETE FROM secret_versions \
         WHERE tenant = $1 AND namespace = $2 AND key = $3 AND version <= $4",
        &[&new.tenant, &new.namespace, &new.key, &(number - keep)],
    )?;
    let row = secret_after_write(tx, new.tenant, new.namespace, new.key, id)?;
    Ok(Cas::Done(row))
}

fn change(tx: &mut Tx<'_>, change: &SecretChange<'_>) -> Result<Cas<SecretRow>> {
    let id = secret_id(change.tenant, change.namespace, change.key);
    let expected = to_i64(change.expected_generation, "secret generation", &id)?;
    let next = to_i64(change.expected_generation + 1, "secret generation", &id)?;
    let changed = tx.execute(
        "UPDATE secrets SET state = $4, metadata = $5, generation = $6 \
         WHERE tenant = $1 AND namespace = $2 AND key = $3 AND generation = $7",
        &[
            &change.tenant,
            &change.namespace,
            &change.key,
            &change.state.as_str(),
            &change.metadata,
            &next,
            &expected,
        ],
    )?;
    if changed == 0 {
        return Ok(Cas::Conflict);
    }
    if change.withdraw_versions {
        tx.execute(
            "UPDATE secret_versions SET ciphertext = NULL, available = FALSE \
             WHERE tenant = $1 AND namespace = $2 AND key = $3",
            &[&change.tenant, &change.namespace, &change.key],
        )?;
    }
    let row = secret_after_write(tx, change.tenant, change.namespace, change.key, id)?;
    Ok(Cas::Done(row))
}

impl SecretRows for PgStore {
    fn secret_row(&self, tenant: &str, namespace: &str, key: &str) -> Result<Option<SecretRow>> {
        self.read_tx(|tx| secret_in(tx, tenant, namespace, key, false))
    }

    fn secret_current(
        &self,
        tenant: &str,
        namespace: &str,
        key: &str,
    ) -> Result<Option<(SecretRow, Option<VersionRow>)>> {
        self.read_tx(|tx| {
            let Some(row) = secret_in(tx, tenant, namespace, key, false)? else {
                return Ok(None);
            };
            let version = version_in(tx, tenant, namespace, key, row.current_version)?;
            Ok(Some((row, version)))
        })
    }

    fn secret_rows_in(&self, tenant: &str, namespace: &str) -> Result<Vec<SecretRow>> {
        let sql = format!(
            "SELECT {SECRET_COLUMNS} FROM secrets WHERE tenant = $1 AND namespace = $2 \
             ORDER BY key"
        );
        self.read_tx(|tx| {
            tx.query(&sql, &[&tenant, &namespace])?
                .iter()
                .map(secret)
                .collect()
        })
    }

    fn secret_versions(&self, tenant: &str, namespace: &str, key: &str) -> Result<Vec<VersionRow>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM secret_versions \
             WHERE tenant = $1 AND namespace = $2 AND key = $3 ORDER BY version DESC"
        );
        self.read_tx(|tx| versions_where(tx, &sql, &[&tenant, &namespace, &key]))
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
            // The versions go with the row (ON DELETE CASCADE).
            let deleted = tx.execute(
                "DELETE FROM secrets WHERE tenant = $1 AND namespace = $2 AND key = $3",
                &[&tenant, &namespace, &key],
            )?;
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
            tx.execute(
                "UPDATE secrets SET last_read_at = $4 \
                 WHERE tenant = $1 AND namespace = $2 AND key = $3 \
                   AND (last_read_at IS NULL OR last_read_at < $4)",
                &[&tenant, &namespace, &key, &to_micros(at)],
            )?;
            Ok(())
        })
    }

    fn secret_version_page(
        &self,
        after: Option<&VersionCursor>,
        limit: u32,
    ) -> Result<Vec<VersionRow>> {
        let limit = i64::from(limit);
        self.read_tx(|tx| match after {
            None => {
                let sql = format!(
                    "SELECT {VERSION_COLUMNS} FROM secret_versions WHERE ciphertext IS NOT NULL \
                     ORDER BY tenant, namespace, key, version LIMIT $1"
                );
                versions_where(tx, &sql, &[&limit])
            }
            Some(cursor) => {
                let number = to_i64(cursor.version, "secret version", &cursor.key)?;
                let sql = format!(
                    "SELECT {VERSION_COLUMNS} FROM secret_versions \
                     WHERE ciphertext IS NOT NULL \
                       AND (tenant, namespace, key, version) > ($1, $2, $3, $4) \
                     ORDER BY tenant, namespace, key, version LIMIT $5"
                );
                versions_where(
                    tx,
                    &sql,
                    &[
                        &cursor.tenant,
                        &cursor.namespace,
                        &cursor.key,
                        &number,
                        &limit,
                    ],
                )
            }
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
            let changed = tx.execute(
                "UPDATE secret_versions SET ciphertext = $6 \
                 WHERE tenant = $1 AND namespace = $2 AND key = $3 AND version = $4 \
                   AND ciphertext = $5",
                &[
                    &version.tenant,
                    &version.namespace,
                    &version.key,
                    &number,
                    &old,
                    &new,
                ],
            )?;
            Ok(changed > 0)
        })
    }
}
