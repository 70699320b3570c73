//! SQL of users, roles, bindings, API tokens and invitations ([`AuthRows`] on
//! [`SqliteStore`]).

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Params, Row, Transaction, params};

use super::{SqliteStore, from_micros, is_foreign_key_violation, is_unique_violation, to_micros};
use crate::auth_rows::{AuthRows, BindingRow, InvitationRow, RoleRow, TokenRow, UserRow};
use crate::{Result, StoreError};

const USER_COLUMNS: &str = "id, username, password_hash, created_at, disabled";
const ROLE_COLUMNS: &str = "tenant, name, description, permissions";
const BINDING_COLUMNS: &str = "id, tenant, user_id, role, namespace";
const TOKEN_COLUMNS: &str = "id, user_id, name, hash, created_at, expires_at";
const INVITATION_COLUMNS: &str =
    "id, tenant, email, hash, created_at, expires_at, accepted_at, bindings";

fn time(table: &'static str, id: &str, column: &str, micros: i64) -> Result<DateTime<Utc>> {
    from_micros(micros).ok_or_else(|| StoreError::Corrupt {
        table,
        id: id.to_owned(),
        detail: format!("{column} is out of range"),
    })
}

fn opt_time(
    table: &'static str,
    id: &str,
    column: &str,
    micros: Option<i64>,
) -> Result<Option<DateTime<Utc>>> {
    micros.map(|m| time(table, id, column, m)).transpose()
}

/// Maps a failed INSERT to the store's errors: a taken key, or a missing referenced row.
fn insert_error(
    err: rusqlite::Error,
    kind: &'static str,
    id: &str,
    missing: &'static str,
) -> StoreError {
    if is_unique_violation(&err) {
        StoreError::AlreadyExists {
            kind,
            id: id.to_owned(),
        }
    } else if is_foreign_key_violation(&err) {
        StoreError::NotFound {
            kind: missing,
            id: id.to_owned(),
        }
    } else {
        err.into()
    }
}

type RawUser = (String, String, Option<String>, i64, bool);

fn raw_user(row: &Row<'_>) -> rusqlite::Result<RawUser> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

fn user((id, username, password_hash, created_at, disabled): RawUser) -> Result<UserRow> {
    let created_at = time("users", &id, "created_at", created_at)?;
    Ok(UserRow {
        id,
        username,
        password_hash,
        created_at,
        disabled,
    })
}

fn role(row: &Row<'_>) -> rusqlite::Result<RoleRow> {
    Ok(RoleRow {
        tenant: row.get(0)?,
        name: row.get(1)?,
        description: row.get(2)?,
        permissions: row.get(3)?,
    })
}

fn binding(row: &Row<'_>) -> rusqlite::Result<BindingRow> {
    Ok(BindingRow {
        id: row.get(0)?,
        tenant: row.get(1)?,
        user_id: row.get(2)?,
        role: row.get(3)?,
        namespace: row.get(4)?,
    })
}

type RawToken = (String, String, String, String, i64, Option<i64>);

fn raw_token(row: &Row<'_>) -> rusqlite::Result<RawToken> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn token((id, user_id, name, hash, created_at, expires_at): RawToken) -> Result<TokenRow> {
    let created_at = time("api_tokens", &id, "created_at", created_at)?;
    let expires_at = opt_time("api_tokens", &id, "expires_at", expires_at)?;
    Ok(TokenRow {
        id,
        user_id,
        name,
        hash,
        created_at,
        expires_at,
    })
}

type RawInvitation = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    String,
);

fn raw_invitation(row: &Row<'_>) -> rusqlite::Result<RawInvitation> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
    ))
}

fn invitation(raw: RawInvitation) -> Result<InvitationRow> {
    let (id, tenant, email, hash, created_at, expires_at, accepted_at, bindings) = raw;
    let created_at = time("invitations", &id, "created_at", created_at)?;
    let expires_at = time("invitations", &id, "expires_at", expires_at)?;
    let accepted_at = opt_time("invitations", &id, "accepted_at", accepted_at)?;
    Ok(InvitationRow {
        id,
        tenant,
        email,
        hash,
        created_at,
        expires_at,
        accepted_at,
        bindings,
    })
}

/// Every row `sql` selects: all are read with `raw`, then each is checked by `decode`.
fn query_all<R, T>(
    tx: &Transaction<'_>,
    sql: &str,
    params: impl Params,
    raw: impl FnMut(&Row<'_>) -> rusqlite::Result<R>,
    decode: impl FnMut(R) -> Result<T>,
) -> Result<Vec<T>> {
    let raws = tx
        .prepare_cached(sql)?
        .query_map(params, raw)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    raws.into_iter().map(decode).collect()
}

/// The row `sql` selects, if any, read with `raw` and checked by `decode`.
fn query_opt<R, T>(
    tx: &Transaction<'_>,
    sql: &str,
    params: impl Params,
    raw: impl FnOnce(&Row<'_>) -> rusqlite::Result<R>,
    decode: impl FnOnce(R) -> Result<T>,
) -> Result<Option<T>> {
    let raw = tx.prepare_cached(sql)?.query_row(params, raw).optional()?;
    raw.map(decode).transpose()
}

/// Usernames compare without regard to ASCII case (`ADMIN@x` is `admin@x`): SQLite's
/// `lower()` folds ASCII letters only, as PostgreSQL's does under the "C" collation, so both
/// backends agree. The one with exactly this spelling comes first.
const USER_BY_NAME: &str = "FROM users WHERE lower(username) = lower(?1) \
                            ORDER BY username = ?1 DESC, id LIMIT 1";

fn insert_user_in(tx: &Transaction<'_>, user: &UserRow) -> Result<()> {
    // The write transaction is IMMEDIATE (one writer at a time), so nothing can slip in
    // between this check and the insert.
    let taken = query_opt(
        tx,
        &format!("SELECT id {USER_BY_NAME}"),
        [&user.username],
        |row| row.get::<_, String>(0),
        Ok,
    )?;
    if taken.is_some() {
        return Err(StoreError::AlreadyExists {
            kind: "user",
            id: user.username.clone(),
        });
    }
    tx.execute(
        &format!("INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
        params![
            user.id,
            user.username,
            user.password_hash,
            to_micros(user.created_at),
            user.disabled
        ],
    )
    .map_err(|e| insert_error(e, "user", &user.username, "user"))?;
    Ok(())
}

fn insert_binding_in(tx: &Transaction<'_>, b: &BindingRow) -> Result<()> {
    tx.execute(
        &format!("INSERT INTO role_bindings ({BINDING_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
        params![b.id, b.tenant, b.user_id, b.role, b.namespace],
    )
    .map_err(|e| insert_error(e, "binding", &b.id, "user or role of binding"))?;
    Ok(())
}

impl SqliteStore {
    /// Runs one UPDATE or DELETE; `true` if it touched a row.
    fn execute_changed(&self, sql: &str, params: impl Params) -> Result<bool> {
        self.write_tx(|tx| Ok(tx.execute(sql, params)? > 0))
    }
}

impl AuthRows for SqliteStore {
    fn insert_user(&self, user: &UserRow) -> Result<()> {
        self.write_tx(|tx| insert_user_in(tx, user))
    }

    fn get_user(&self, id: &str) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1");
        self.read_tx(|tx| Ok(query_all(tx, &sql, [id], raw_user, user)?.pop()))
    }

    fn get_user_by_name(&self, username: &str) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} {USER_BY_NAME}");
        self.read_tx(|tx| query_opt(tx, &sql, [username], raw_user, user))
    }

    fn list_users(&self) -> Result<Vec<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY username");
        self.read_tx(|tx| query_all(tx, &sql, (), raw_user, user))
    }

    fn set_password_hash(&self, user_id: &str, hash: Option<&str>) -> Result<bool> {
        self.execute_changed(
            "UPDATE users SET password_hash = ?2 WHERE id = ?1",
            params![user_id, hash],
        )
    }

    fn set_user_disabled(&self, user_id: &str, disabled: bool) -> Result<bool> {
        self.execute_changed(
            "UPDATE users SET disabled = ?2 WHERE id = ?1",
            params![user_id, disabled],
        )
    }

    fn delete_user(&self, user_id: &str) -> Result<bool> {
        self.execute_changed("DELETE FROM users WHERE id = ?1", [user_id])
    }

    fn put_role(&self, role: &RoleRow) -> Result<()> {
        self.write_tx(|tx| {
            tx.execute(
                &format!(
                    "INSERT INTO roles ({ROLE_COLUMNS}) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (tenant, name) DO UPDATE SET \
                     description = excluded.description, permissions = excluded.permissions"
                ),
                params![role.tenant, role.name, role.description, role.permissions],
            )?;
            Ok(())
        })
    }

    fn get_role(&self, tenant: &str, name: &str) -> Result<Option<RoleRow>> {
        let sql = format!("SELECT {ROLE_COLUMNS} FROM roles WHERE tenant = ?1 AND name = ?2");
        self.read_tx(|tx| query_opt(tx, &sql, [tenant, name], role, Ok))
    }

    fn list_roles(&self, tenant: &str) -> Result<Vec<RoleRow>> {
        let sql = format!("SELECT {ROLE_COLUMNS} FROM roles WHERE tenant = ?1 ORDER BY name");
        self.read_tx(|tx| query_all(tx, &sql, [tenant], role, Ok))
    }

    fn delete_role(&self, tenant: &str, name: &str) -> Result<bool> {
        self.execute_changed(
            "DELETE FROM roles WHERE tenant = ?1 AND name = ?2",
            [tenant, name],
        )
    }

    fn insert_binding(&self, b: &BindingRow) -> Result<()> {
        self.write_tx(|tx| insert_binding_in(tx, b))
    }

    fn bindings_of_user(&self, user_id: &str) -> Result<Vec<BindingRow>> {
        let sql =
            format!("SELECT {BINDING_COLUMNS} FROM role_bindings WHERE user_id = ?1 ORDER BY id");
        self.read_tx(|tx| query_all(tx, &sql, [user_id], binding, Ok))
    }

    fn list_bindings(&self, tenant: &str) -> Result<Vec<BindingRow>> {
        let sql =
            format!("SELECT {BINDING_COLUMNS} FROM role_bindings WHERE tenant = ?1 ORDER BY id");
        self.read_tx(|tx| query_all(tx, &sql, [tenant], binding, Ok))
    }

    fn delete_binding(&self, id: &str) -> Result<bool> {
        self.execute_changed("DELETE FROM role_bindings WHERE id = ?1", [id])
    }

    fn insert_token(&self, t: &TokenRow) -> Result<()> {
        self.write_tx(|tx| {
            tx.execute(
                &format!(
                    "INSERT INTO api_tokens ({TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ),
                params![
                    t.id,
                    t.user_id,
                    t.name,
                    t.hash,
                    to_micros(t.created_at),
                    t.expires_at.map(to_micros)
                ],
            )
            .map_err(|e| insert_error(e, "token", &t.id, "user of token"))?;
            Ok(())
        })
    }

    fn get_token(&self, id: &str) -> Result<Option<TokenRow>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = ?1");
        self.read_tx(|tx| query_opt(tx, &sql, [id], raw_token, token))
    }

    fn tokens_of_user(&self, user_id: &str) -> Result<Vec<TokenRow>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = ?1 ORDER BY id");
        self.read_tx(|tx| query_all(tx, &sql, [user_id], raw_token, token))
    }

    fn delete_token(&self, id: &str) -> Result<bool> {
        self.execute_changed("DELETE FROM api_tokens WHERE id = ?1", [id])
    }

    fn insert_invitation(&self, i: &InvitationRow) -> Result<()> {
        self.write_tx(|tx| {
            tx.execute(
                &format!(
                    "INSERT INTO invitations ({INVITATION_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                ),
                params![
                    i.id,
                    i.tenant,
                    i.email,
                    i.hash,
                    to_micros(i.created_at),
                    to_micros(i.expires_at),
                    i.accepted_at.map(to_micros),
                    i.bindings
                ],
            )
            .map_err(|e| insert_error(e, "invitation", &i.id, "invitation"))?;
            Ok(())
        })
    }

    fn get_invitation(&self, id: &str) -> Result<Option<InvitationRow>> {
        let sql = format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE id = ?1");
        self.read_tx(|tx| query_opt(tx, &sql, [id], raw_invitation, invitation))
    }

    fn list_invitations(&self, tenant: &str) -> Result<Vec<InvitationRow>> {
        let sql =
            format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE tenant = ?1 ORDER BY id");
        self.read_tx(|tx| query_all(tx, &sql, [tenant], raw_invitation, invitation))
    }

    fn accept_invitation(
        &self,
        id: &str,
        at: DateTime<Utc>,
        user: &UserRow,
        bindings: &[BindingRow],
    ) -> Result<bool> {
        // An error returned from the closure drops the transaction: nothing is kept.
        self.write_tx(|tx| {
            let spent = tx.execute(
                "UPDATE invitations SET accepted_at = ?2 WHERE id = ?1 AND accepted_at IS NULL",
                params![id, to_micros(at)],
            )? > 0;
            if !spent {
                return Ok(false);
            }
            insert_user_in(tx, user)?;
            for b in bindings {
                insert_binding_in(tx, b)?;
            }
            Ok(true)
        })
    }

    fn delete_invitation(&self, id: &str) -> Result<bool> {
        self.execute_changed("DELETE FROM invitations WHERE id = ?1", [id])
    }
}
