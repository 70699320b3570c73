//! Users, roles, bindings, API tokens and invitations ([`AuthRows`] on [`PgStore`]), as in
//! the SQLite backend. Keys and references are the schema's constraints: a violation is
//! mapped to [`StoreError::AlreadyExists`] or [`StoreError::NotFound`], and since any error
//! rolls the whole transaction back, a failed `accept_invitation` changes nothing.

use chrono::{DateTime, Utc};
use postgres::Row;

use super::{
    Params, PgStore, Tx, from_micros, is_foreign_key_violation, is_unique_violation, to_micros,
};
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

/// Runs an INSERT and maps its failure to the store's errors: a taken key, or a missing
/// referenced row.
fn insert(
    tx: &mut Tx<'_>,
    sql: &str,
    params: &Params<'_>,
    kind: &'static str,
    id: &str,
    missing: &'static str,
) -> Result<()> {
    match tx.try_execute(sql, params)? {
        Ok(_) => Ok(()),
        Err(err) if is_unique_violation(&err) => Err(StoreError::AlreadyExists {
            kind,
            id: id.to_owned(),
        }),
        Err(err) if is_foreign_key_violation(&err) => Err(StoreError::NotFound {
            kind: missing,
            id: id.to_owned(),
        }),
        Err(err) => Err(err.into()),
    }
}

fn user(row: &Row) -> Result<UserRow> {
    let id: String = row.try_get(0)?;
    let created_at = time("users", &id, "created_at", row.try_get(3)?)?;
    Ok(UserRow {
        username: row.try_get(1)?,
        password_hash: row.try_get(2)?,
        created_at,
        disabled: row.try_get(4)?,
        id,
    })
}

fn role(row: &Row) -> Result<RoleRow> {
    Ok(RoleRow {
        tenant: row.try_get(0)?,
        name: row.try_get(1)?,
        description: row.try_get(2)?,
        permissions: row.try_get(3)?,
    })
}

fn binding(row: &Row) -> Result<BindingRow> {
    Ok(BindingRow {
        id: row.try_get(0)?,
        tenant: row.try_get(1)?,
        user_id: row.try_get(2)?,
        role: row.try_get(3)?,
        namespace: row.try_get(4)?,
    })
}

fn token(row: &Row) -> Result<TokenRow> {
    let id: String = row.try_get(0)?;
    let created_at = time("api_tokens", &id, "created_at", row.try_get(4)?)?;
    let expires_at = opt_time("api_tokens", &id, "expires_at", row.try_get(5)?)?;
    Ok(TokenRow {
        user_id: row.try_get(1)?,
        name: row.try_get(2)?,
        hash: row.try_get(3)?,
        created_at,
        expires_at,
        id,
    })
}

fn invitation(row: &Row) -> Result<InvitationRow> {
    let id: String = row.try_get(0)?;
    let created_at = time("invitations", &id, "created_at", row.try_get(4)?)?;
    let expires_at = time("invitations", &id, "expires_at", row.try_get(5)?)?;
    let accepted_at = opt_time("invitations", &id, "accepted_at", row.try_get(6)?)?;
    Ok(InvitationRow {
        tenant: row.try_get(1)?,
        email: row.try_get(2)?,
        hash: row.try_get(3)?,
        created_at,
        expires_at,
        accepted_at,
        bindings: row.try_get(7)?,
        id,
    })
}

/// Usernames compare without regard to ASCII case (`ADMIN@x` is `admin@x`): `lower()` under
/// the "C" collation folds ASCII letters only, as SQLite's does, so both backends agree. The
/// one with exactly this spelling comes first.
const USER_BY_NAME: &str = "FROM users WHERE lower(username COLLATE \"C\") = lower($1 COLLATE \"C\") \
                            ORDER BY username = $1 DESC, id LIMIT 1";

fn insert_user_in(tx: &mut Tx<'_>, user: &UserRow) -> Result<()> {
    // Inserts of users wait for each other until commit (the mode conflicts with itself, not
    // with readers), so two spellings of one name cannot both pass the check below.
    tx.execute("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE", &[])?;
    let taken = tx.query_opt(&format!("SELECT id {USER_BY_NAME}"), &[&user.username])?;
    if taken.is_some() {
        return Err(StoreError::AlreadyExists {
            kind: "user",
            id: user.username.clone(),
        });
    }
    insert(
        tx,
        &format!("INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"),
        &[
            &user.id,
            &user.username,
            &user.password_hash,
            &to_micros(user.created_at),
            &user.disabled,
        ],
        "user",
        &user.username,
        "user",
    )
}

fn insert_binding_in(tx: &mut Tx<'_>, b: &BindingRow) -> Result<()> {
    insert(
        tx,
        &format!("INSERT INTO role_bindings ({BINDING_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"),
        &[&b.id, &b.tenant, &b.user_id, &b.role, &b.namespace],
        "binding",
        &b.id,
        "user or role of binding",
    )
}

impl PgStore {
    /// Every row `sql` selects, each decoded, from one snapshot.
    fn select_all<T: Send>(
        &self,
        sql: &str,
        params: &Params<'_>,
        decode: fn(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.read_tx(|tx| tx.query(sql, params)?.iter().map(decode).collect())
    }

    /// The row `sql` selects, if any, decoded.
    fn select_opt<T: Send>(
        &self,
        sql: &str,
        params: &Params<'_>,
        decode: fn(&Row) -> Result<T>,
    ) -> Result<Option<T>> {
        self.read_tx(|tx| tx.query_opt(sql, params)?.as_ref().map(decode).transpose())
    }

    /// Runs one UPDATE or DELETE; `true` if it touched a row.
    fn execute_changed(&self, sql: &str, params: &Params<'_>) -> Result<bool> {
        self.write_tx(|tx| Ok(tx.execute(sql, params)? > 0))
    }
}

impl AuthRows for PgStore {
    fn insert_user(&self, user: &UserRow) -> Result<()> {
        self.write_tx(|tx| insert_user_in(tx, user))
    }

    fn get_user(&self, id: &str) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        self.select_opt(&sql, &[&id], user)
    }

    fn get_user_by_name(&self, username: &str) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} {USER_BY_NAME}");
        self.select_opt(&sql, &[&username], user)
    }

    fn list_users(&self) -> Result<Vec<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY username");
        self.select_all(&sql, &[], user)
    }

    fn set_password_hash(&self, user_id: &str, hash: Option<&str>) -> Result<bool> {
        self.execute_changed(
            "UPDATE users SET password_hash = $2 WHERE id = $1",
            &[&user_id, &hash],
        )
    }

    fn set_user_disabled(&self, user_id: &str, disabled: bool) -> Result<bool> {
        self.execute_changed(
            "UPDATE users SET disabled = $2 WHERE id = $1",
            &[&user_id, &disabled],
        )
    }

    fn delete_user(&self, user_id: &str) -> Result<bool> {
        self.execute_changed("DELETE FROM users WHERE id = $1", &[&user_id])
    }

    fn put_role(&self, role: &RoleRow) -> Result<()> {
        self.write_tx(|tx| {
            tx.execute(
                &format!(
                    "INSERT INTO roles ({ROLE_COLUMNS}) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (tenant, name) DO UPDATE SET \
                     description = excluded.description, permissions = excluded.permissions"
                ),
                &[
                    &role.tenant,
                    &role.name,
                    &role.description,
                    &role.permissions,
                ],
            )?;
            Ok(())
        })
    }

    fn get_role(&self, tenant: &str, name: &str) -> Result<Option<RoleRow>> {
        let sql = format!("SELECT {ROLE_COLUMNS} FROM roles WHERE tenant = $1 AND name = $2");
        self.select_opt(&sql, &[&tenant, &name], role)
    }

    fn list_roles(&self, tenant: &str) -> Result<Vec<RoleRow>> {
        let sql = format!("SELECT {ROLE_COLUMNS} FROM roles WHERE tenant = $1 ORDER BY name");
        self.select_all(&sql, &[&tenant], role)
    }

    fn delete_role(&self, tenant: &str, name: &str) -> Result<bool> {
        self.execute_changed(
            "DELETE FROM roles WHERE tenant = $1 AND name = $2",
            &[&tenant, &name],
        )
    }

    fn insert_binding(&self, b: &BindingRow) -> Result<()> {
        self.write_tx(|tx| insert_binding_in(tx, b))
    }

    fn bindings_of_user(&self, user_id: &str) -> Result<Vec<BindingRow>> {
        let sql =
            format!("SELECT {BINDING_COLUMNS} FROM role_bindings WHERE user_id = $1 ORDER BY id");
        self.select_all(&sql, &[&user_id], binding)
    }

    fn list_bindings(&self, tenant: &str) -> Result<Vec<BindingRow>> {
        let sql =
            format!("SELECT {BINDING_COLUMNS} FROM role_bindings WHERE tenant = $1 ORDER BY id");
        self.select_all(&sql, &[&tenant], binding)
    }

    fn delete_binding(&self, id: &str) -> Result<bool> {
        self.execute_changed("DELETE FROM role_bindings WHERE id = $1", &[&id])
    }

    fn insert_token(&self, t: &TokenRow) -> Result<()> {
        self.write_tx(|tx| {
            insert(
                tx,
                &format!(
                    "INSERT INTO api_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
                ),
                &[
                    &t.id,
                    &t.user_id,
                    &t.name,
                    &t.hash,
                    &to_micros(t.created_at),
                    &t.expires_at.map(to_micros),
                ],
                "token",
                &t.id,
                "user of token",
            )
        })
    }

    fn get_token(&self, id: &str) -> Result<Option<TokenRow>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1");
        self.select_opt(&sql, &[&id], token)
    }

    fn tokens_of_user(&self, user_id: &str) -> Result<Vec<TokenRow>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY id");
        self.select_all(&sql, &[&user_id], token)
    }

    fn delete_token(&self, id: &str) -> Result<bool> {
        self.execute_changed("DELETE FROM api_tokens WHERE id = $1", &[&id])
    }

    fn insert_invitation(&self, i: &InvitationRow) -> Result<()> {
        self.write_tx(|tx| {
            insert(
                tx,
                &format!(
                    "INSERT INTO invitations ({INVITATION_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ),
                &[
                    &i.id,
                    &i.tenant,
                    &i.email,
                    &i.hash,
                    &to_micros(i.created_at),
                    &to_micros(i.expires_at),
                    &i.accepted_at.map(to_micros),
                    &i.bindings,
                ],
                "invitation",
                &i.id,
                "invitation",
            )
        })
    }

    fn get_invitation(&self, id: &str) -> Result<Option<InvitationRow>> {
        let sql = format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE id = $1");
        self.select_opt(&sql, &[&id], invitation)
    }

    fn list_invitations(&self, tenant: &str) -> Result<Vec<InvitationRow>> {
        let sql =
            format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE tenant = $1 ORDER BY id");
        self.select_all(&sql, &[&tenant], invitation)
    }

    fn accept_invitation(
        &self,
        id: &str,
        at: DateTime<Utc>,
        user: &UserRow,
        bindings: &[BindingRow],
    ) -> Result<bool> {
        // An error returned from the closure rolls the transaction back: nothing is kept. Of
        // two concurrent acceptances, the second's UPDATE waits for the first and then finds
        // the invitation spent.
        self.write_tx(|tx| {
            let spent = tx.execute(
                "UPDATE invitations SET accepted_at = $2 WHERE id = $1 AND accepted_at IS NULL",
                &[&id, &to_micros(at)],
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
        self.execute_changed("DELETE FROM invitations WHERE id = $1", &[&id])
    }
}
