//! Roles, bindings and the resolution of a user into a [`Subject`] with its grants.

use std::collections::BTreeSet;

use saker_store::{BindingRow, RoleRow, StoreError};

use crate::authz::{Grant, Principal, Subject};
use crate::config::DEFAULT_TENANT;
use crate::error::{AuthError, Result};
use crate::permission::{ADMIN_ROLE, Role, parse_permissions};
use crate::random;
use crate::service::{AuthService, not_found};

/// A role given to a user on a tenant (`namespace: None`) or on a namespace and its children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub id: String,
    pub tenant: String,
    pub user_id: String,
    pub role: String,
    pub namespace: Option<String>,
}

impl From<BindingRow> for Binding {
    fn from(row: BindingRow) -> Self {
        Binding {
            id: row.id,
            tenant: row.tenant,
            user_id: row.user_id,
            role: row.role,
            namespace: row.namespace,
        }
    }
}

/// Checks a namespace: dot-separated, non-empty segments of letters, digits, `_` and `-`.
pub fn validate_namespace(namespace: &str) -> Result<()> {
    let ok = !namespace.is_empty()
        && namespace.split('.').all(|segment| {
            !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(AuthError::InvalidName {
            kind: "namespace",
            reason: "use dot-separated segments of letters, digits, '_' and '-'".to_owned(),
        })
    }
}

fn role_from_row(row: RoleRow) -> Result<Role> {
    // The built-in admin role cannot be edited and means every permission, including the
    // ones a later version adds (SERVICE): its stored copy, written by an older version, is
    // not read.
    if row.name == ADMIN_ROLE {
        return Ok(Role::admin());
    }
    let corrupt = |detail: String| StoreError::Corrupt {
        table: "roles",
        id: format!("{}/{}", row.tenant, row.name),
        detail,
    };
    let value: serde_json::Value = serde_json::from_str(&row.permissions)
        .map_err(|_| corrupt("permissions are not JSON".to_owned()))?;
    let permissions = parse_permissions(&value).map_err(corrupt)?;
    Role::stored(row.name.clone(), row.description.clone(), permissions)
        .map_err(|e| corrupt(e.to_string()).into())
}

impl AuthService {
    /// Creates or replaces a role of the tenant (configuration and bootstrap; the API uses
    /// [`AuthService::create_role`] and [`AuthService::update_role`]).
    pub fn put_role(&self, tenant: &str, role: &Role) -> Result<()> {
        self.rows.put_role(&RoleRow {
            tenant: tenant.to_owned(),
            name: role.name().to_owned(),
            description: role.description().to_owned(),
            permissions: role.permissions_json(),
        })?;
        Ok(())
    }

    /// Refuses ([`AuthError::Conflict`]) to change `name` in `tenant` when configuration owns
    /// it: the built-in admin role anywhere, the configured default role in its tenant.
    pub fn ensure_role_is_editable(&self, tenant: &str, name: &str) -> Result<()> {
        if name == ADMIN_ROLE {
            return Err(AuthError::Conflict {
                reason: format!(
                    "role {ADMIN_ROLE} is built in (every permission) and cannot be defined, changed or deleted"
                ),
            });
        }
        if let Some(default) = &self.config.default_role
            && default.role.name() == name
            && default.tenant.as_deref().unwrap_or(DEFAULT_TENANT) == tenant
        {
            return Err(AuthError::Conflict {
                reason: format!(
                    "role {name} is security.default-role and is defined by the configuration; change it there"
                ),
            });
        }
        Ok(())
    }

    /// Creates a role; [`AuthError::AlreadyExists`] if the tenant has one of that name.
    pub fn create_role(&self, tenant: &str, role: &Role) -> Result<()> {
        self.ensure_role_is_editable(tenant, role.name())?;
        if self.rows.get_role(tenant, role.name())?.is_some() {
            return Err(AuthError::AlreadyExists {
                kind: "role",
                id: role.name().to_owned(),
            });
        }
        self.put_role(tenant, role)?;
        tracing::info!(tenant, role = role.name(), "role created");
        Ok(())
    }

    /// Replaces the description and permissions of an existing role;
    /// [`AuthError::NotFound`] if there is none of that name.
    pub fn update_role(&self, tenant: &str, role: &Role) -> Result<()> {
        self.ensure_role_is_editable(tenant, role.name())?;
        if self.rows.get_role(tenant, role.name())?.is_none() {
            return Err(not_found("role", role.name()));
        }
        self.put_role(tenant, role)?;
        tracing::info!(tenant, role = role.name(), "role updated");
        Ok(())
    }

    pub fn get_role(&self, tenant: &str, name: &str) -> Result<Option<Role>> {
        self.rows
            .get_role(tenant, name)?
            .map(role_from_row)
            .transpose()
    }

    pub fn list_roles(&self, tenant: &str) -> Result<Vec<Role>> {
        self.rows
            .list_roles(tenant)?
            .into_iter()
            .map(role_from_row)
            .collect()
    }

    /// Deletes the role and its bindings. False if it did not exist.
    pub fn delete_role(&self, tenant: &str, name: &str) -> Result<bool> {
        let deleted = self.rows.delete_role(tenant, name)?;
        if deleted {
            tracing::info!(tenant, role = name, "role deleted with its bindings");
        }
        Ok(deleted)
    }

    /// Deletes a role nobody holds: [`AuthError::Conflict`] while bindings use it (so that
    /// removing a role never silently takes access away), or when configuration owns it
    /// (the built-in admin role, the default role). False if it did not exist.
    pub fn delete_unbound_role(&self, tenant: &str, name: &str) -> Result<bool> {
        if self.rows.get_role(tenant, name)?.is_none() {
            return Ok(false);
        }
        self.ensure_role_is_editable(tenant, name)?;
        let bound = self
            .rows
            .list_bindings(tenant)?
            .iter()
            .filter(|b| b.role == name)
            .count();
        if bound > 0 {
            return Err(AuthError::Conflict {
                reason: format!(
                    "role {name} is still bound {bound} time(s); delete its bindings first"
                ),
            });
        }
        self.delete_role(tenant, name)
    }

    /// Gives `user_id` the role `role` on the tenant, or on `namespace` and its children.
    /// The built-in admin role is created in the tenant if it is not there yet. The same
    /// (user, role, namespace) twice is [`AuthError::AlreadyExists`].
    pub fn bind(
        &self,
        tenant: &str,
        user_id: &str,
        role: &str,
        namespace: Option<&str>,
    ) -> Result<Binding> {
        if let Some(ns) = namespace {
            validate_namespace(ns)?;
        }
        if self.rows.get_role(tenant, role)?.is_none() {
            if role != ADMIN_ROLE {
                return Err(not_found("role", role));
            }
            self.put_role(tenant, &Role::admin())?;
        }
        let duplicate =
            self.rows.bindings_of_user(user_id)?.into_iter().find(|b| {
                b.tenant == tenant && b.role == role && b.namespace.as_deref() == namespace
            });
        if let Some(existing) = duplicate {
            return Err(AuthError::AlreadyExists {
                kind: "binding",
                id: existing.id,
            });
        }
        let row = BindingRow {
            id: random::id()?,
            tenant: tenant.to_owned(),
            user_id: user_id.to_owned(),
            role: role.to_owned(),
            namespace: namespace.map(str::to_owned),
        };
        self.rows.insert_binding(&row).map_err(|e| match e {
            StoreError::NotFound { .. } => not_found("user", user_id),
            other => other.into(),
        })?;
        tracing::info!(
            tenant,
            binding = row.id,
            user_id,
            role,
            namespace,
            "role bound"
        );
        Ok(row.into())
    }

    /// Removes a binding. False if it did not exist.
    pub fn unbind(&self, binding_id: &str) -> Result<bool> {
        let deleted = self.rows.delete_binding(binding_id)?;
        if deleted {
            tracing::info!(binding = binding_id, "binding deleted");
        }
        Ok(deleted)
    }

    /// The binding `id` of `tenant`; `None` if it does not exist or belongs to another tenant.
    pub fn get_binding(&self, tenant: &str, id: &str) -> Result<Option<Binding>> {
        Ok(self
            .rows
            .list_bindings(tenant)?
            .into_iter()
            .find(|b| b.id == id)
            .map(Binding::from))
    }

    /// Removes the binding `id` of `tenant`. False if it does not exist there. The tenant's
    /// last tenant-wide `admin` binding is refused (Conflict): removing it would leave no one
    /// able to manage the tenant, the caller included.
    pub fn unbind_in(&self, tenant: &str, id: &str) -> Result<bool> {
        let Some(binding) = self.get_binding(tenant, id)? else {
            return Ok(false);
        };
        let is_tenant_admin = |b: &Binding| b.role == ADMIN_ROLE && b.namespace.is_none();
        if is_tenant_admin(&binding)
            && self
                .list_bindings(tenant)?
                .iter()
                .filter(|b| is_tenant_admin(b))
                .count()
                == 1
        {
            return Err(AuthError::Conflict {
                reason: format!(
                    "binding {id} is the last tenant-wide {ADMIN_ROLE} binding of {tenant}: \
                     bind another admin first"
                ),
            });
        }
        self.unbind(id)
    }

    /// The tenants in which the user holds a binding.
    pub fn tenants_of_user(&self, user_id: &str) -> Result<BTreeSet<String>> {
        Ok(self
            .rows
            .bindings_of_user(user_id)?
            .into_iter()
            .map(|b| b.tenant)
            .collect())
    }

    /// The users a tenant manages: those bound in it, and those bound nowhere (so that they
    /// can be given a role). A user bound only in other tenants is not the tenant's business.
    pub fn users_of_tenant(&self, tenant: &str) -> Result<Vec<crate::User>> {
        let mut users = Vec::new();
        for user in self.list_users()? {
            let tenants = self.tenants_of_user(&user.id)?;
            if tenants.is_empty() || tenants.contains(tenant) {
                users.push(user);
            }
        }
        Ok(users)
    }

    pub fn list_bindings(&self, tenant: &str) -> Result<Vec<Binding>> {
        Ok(self
            .rows
            .list_bindings(tenant)?
            .into_iter()
            .map(Binding::from)
            .collect())
    }

    pub fn bindings_of_user(&self, user_id: &str) -> Result<Vec<Binding>> {
        Ok(self
            .rows
            .bindings_of_user(user_id)?
            .into_iter()
            .map(Binding::from)
            .collect())
    }

    /// The user with every grant its bindings give, for [`crate::authorize`]. A disabled or
    /// unknown user is [`AuthError::InvalidCredentials`].
    pub fn subject(&self, user_id: &str) -> Result<Subject> {
        let user = match self.rows.get_user(user_id)? {
            Some(user) if !user.disabled => user,
            _ => return Err(AuthError::InvalidCredentials),
        };
        let mut grants = Vec::new();
        for binding in self.rows.bindings_of_user(user_id)? {
            // A binding whose role vanished grants nothing (the store cascades deletes, so
            // this only happens between two reads).
            if let Some(row) = self.rows.get_role(&binding.tenant, &binding.role)? {
                grants.push(Grant {
                    tenant: binding.tenant,
                    namespace: binding.namespace,
                    role: role_from_row(row)?,
                });
            }
        }
        Ok(Subject::User(Principal {
            user_id: user.id,
            username: user.username,
            super_admin: false,
            grants,
        }))
    }

    /// The configured super-admin: TENANT and USER everywhere, and admin of the tenants of
    /// `tenant-admin-access`. Only call after checking its password.
    pub(crate) fn super_admin_subject(&self) -> Subject {
        let Some(admin) = &self.config.super_admin else {
            return Subject::Anonymous;
        };
        Subject::User(Principal {
            user_id: format!("super-admin:{}", admin.username),
            username: admin.username.clone(),
            super_admin: true,
            grants: admin
                .tenant_admin_access
                .iter()
                .map(|tenant| Grant {
                    tenant: tenant.clone(),
                    namespace: None,
                    role: Role::admin(),
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces() {
        validate_namespace("company.team_1-x").unwrap();
        for bad in ["", ".", "a.", ".a", "a..b", "a b", "a/b"] {
            assert!(validate_namespace(bad).is_err(), "{bad:?}");
        }
    }
}
