//! Permissions, actions and roles.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{AuthError, Result};

/// What a permission is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Permission {
    Flow,
    Execution,
    Namespace,
    Secret,
    /// The KV store of a namespace (Kestra's KVSTORE).
    Kvstore,
    Auditlog,
    User,
    Role,
    Binding,
    Invitation,
    Tenant,
    /// The service instances of the deployment (`/api/v1/instance/services`): read-only.
    Service,
}

impl Permission {
    pub const ALL: [Permission; 12] = [
        Permission::Flow,
        Permission::Execution,
        Permission::Namespace,
        Permission::Secret,
        Permission::Kvstore,
        Permission::Auditlog,
        Permission::User,
        Permission::Role,
        Permission::Binding,
        Permission::Invitation,
        Permission::Tenant,
        Permission::Service,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Flow => "FLOW",
            Permission::Execution => "EXECUTION",
            Permission::Namespace => "NAMESPACE",
            Permission::Secret => "SECRET",
            Permission::Kvstore => "KVSTORE",
            Permission::Auditlog => "AUDITLOG",
            Permission::User => "USER",
            Permission::Role => "ROLE",
            Permission::Binding => "BINDING",
            Permission::Invitation => "INVITATION",
            Permission::Tenant => "TENANT",
            Permission::Service => "SERVICE",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// True for permissions on things that live in a namespace (a flow, an execution, a
    /// namespace, a secret, a KV entry): a namespace binding can grant these. The others are
    /// about the tenant as a whole and need a tenant binding.
    pub fn is_namespaced(self) -> bool {
        matches!(
            self,
            Permission::Flow
                | Permission::Execution
                | Permission::Namespace
                | Permission::Secret
                | Permission::Kvstore
        )
    }

    /// The actions that exist for this permission: AUDITLOG and SERVICE are read-only.
    pub fn allowed_actions(self) -> &'static [Action] {
        match self {
            Permission::Auditlog | Permission::Service => &[Action::Read],
            _ => &Action::ALL,
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    Create,
    Read,
    Update,
    Delete,
}

impl Action {
    pub const ALL: [Action; 4] = [Action::Create, Action::Read, Action::Update, Action::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "CREATE",
            Action::Read => "READ",
            Action::Update => "UPDATE",
            Action::Delete => "DELETE",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which actions a role allows, per permission. Serialises as Kestra's
/// `{"FLOW": ["CREATE", "READ"], ...}`.
pub type Permissions = BTreeMap<Permission, BTreeSet<Action>>;

/// A named set of permissions. Construct with [`Role::new`], which refuses actions that do
/// not exist for a permission (anything but READ on AUDITLOG).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    name: String,
    description: String,
    permissions: Permissions,
}

impl Role {
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        permissions: Permissions,
    ) -> Result<Self> {
        let name = name.into();
        validate_role_name(&name)?;
        Self::checked(name, description.into(), permissions)
    }

    /// [`Role::new`] without the name rule, for rows stored before it existed: their
    /// permissions are still checked.
    pub(crate) fn stored(
        name: String,
        description: String,
        permissions: Permissions,
    ) -> Result<Self> {
        if name.is_empty() {
            return Err(AuthError::InvalidName {
                kind: "role name",
                reason: "it is empty".to_owned(),
            });
        }
        Self::checked(name, description, permissions)
    }

    fn checked(name: String, description: String, permissions: Permissions) -> Result<Self> {
        for (permission, actions) in &permissions {
            if let Some(bad) = actions
                .iter()
                .find(|a| !permission.allowed_actions().contains(a))
            {
                return Err(AuthError::InvalidRole {
                    role: name,
                    reason: format!("{permission} does not support {bad} (only READ)"),
                });
            }
        }
        Ok(Role {
            name,
            description,
            permissions,
        })
    }

    /// Every action of every permission: the tenant administrator.
    pub fn admin() -> Self {
        let permissions = Permission::ALL
            .into_iter()
            .map(|p| (p, p.allowed_actions().iter().copied().collect()))
            .collect();
        Role {
            name: ADMIN_ROLE.to_owned(),
            description: "Every permission on the tenant".to_owned(),
            permissions,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    pub fn permissions(&self) -> &Permissions {
        &self.permissions
    }

    pub fn allows(&self, permission: Permission, action: Action) -> bool {
        self.permissions
            .get(&permission)
            .is_some_and(|actions| actions.contains(&action))
    }

    /// The permissions as the JSON document stored in the `roles` table.
    pub(crate) fn permissions_json(&self) -> String {
        // A map of enums to sets of enums always serialises.
        serde_json::to_string(&self.permissions).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// The name of the built-in role with every permission ([`Role::admin`]). It cannot be
/// defined, changed or deleted; binding it creates it in the tenant if needed.
pub const ADMIN_ROLE: &str = "admin";

/// Checks a role name: 1 to 128 characters of letters, digits, spaces, `_`, `-`, `.` and
/// `@`, not starting or ending with a space (it appears in URLs and in listings).
pub fn validate_role_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.chars().count() > 128 {
        "it is longer than 128 characters"
    } else if name.trim() != name {
        "it starts or ends with whitespace"
    } else if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.' | '@'))
    {
        "use letters, digits, spaces, '_', '-', '.' and '@'"
    } else {
        return Ok(());
    };
    Err(AuthError::InvalidName {
        kind: "role name",
        reason: reason.to_owned(),
    })
}

/// Reads Kestra's permission map from configuration or storage, naming the bad entry.
pub fn parse_permissions(value: &serde_json::Value) -> std::result::Result<Permissions, String> {
    let map = value
        .as_object()
        .ok_or("must be a map such as {FLOW: [CREATE, READ]}")?;
    let mut permissions = Permissions::new();
    for (key, actions) in map {
        let permission = Permission::parse(key).ok_or_else(|| {
            format!(
                "unknown permission; expected one of {}",
                Permission::ALL.map(Permission::as_str).join(", ")
            )
        })?;
        let list = actions
            .as_array()
            .ok_or_else(|| format!("{key} must be a list of actions"))?;
        let mut set = BTreeSet::new();
        for action in list {
            let action = action.as_str().and_then(Action::parse).ok_or_else(|| {
                format!("{key} has an unknown action; expected CREATE, READ, UPDATE or DELETE")
            })?;
            set.insert(action);
        }
        permissions.insert(permission, set);
    }
    Ok(permissions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(entries: &[(Permission, &[Action])]) -> Permissions {
        entries
            .iter()
            .map(|(p, a)| (*p, a.iter().copied().collect()))
            .collect()
    }

    #[test]
    fn auditlog_is_read_only() {
        let ok = Role::new(
            "auditor",
            "",
            perms(&[(Permission::Auditlog, &[Action::Read])]),
        );
        assert!(ok.unwrap().allows(Permission::Auditlog, Action::Read));
        for action in [Action::Create, Action::Update, Action::Delete] {
            let err =
                Role::new("bad", "", perms(&[(Permission::Auditlog, &[action])])).unwrap_err();
            assert!(matches!(err, AuthError::InvalidRole { .. }), "{err}");
            assert!(err.to_string().contains("AUDITLOG"));
        }
    }

    #[test]
    fn admin_has_everything_that_exists() {
        let admin = Role::admin();
        for p in Permission::ALL {
            for a in Action::ALL {
                assert_eq!(
                    admin.allows(p, a),
                    p.allowed_actions().contains(&a),
                    "{p} {a}"
                );
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
        }
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        assert_eq!(Permission::parse("flow"), None);
    }

    #[test]
    fn permission_maps_parse_and_round_trip() {
        let value = serde_json::json!({"FLOW": ["CREATE", "READ"], "SECRET": ["READ"]});
        let parsed = parse_permissions(&value).unwrap();
        assert_eq!(
            parsed,
            perms(&[
                (Permission::Flow, &[Action::Create, Action::Read]),
                (Permission::Secret, &[Action::Read])
            ])
        );
        let role = Role::new("r", "", parsed.clone()).unwrap();
        let back: serde_json::Value = serde_json::from_str(&role.permissions_json()).unwrap();
        assert_eq!(parse_permissions(&back).unwrap(), parsed);
        assert!(parse_permissions(&serde_json::json!({"FLOWS": ["READ"]})).is_err());
        assert!(parse_permissions(&serde_json::json!({"FLOW": ["READ", "RUN"]})).is_err());
        assert!(parse_permissions(&serde_json::json!(["FLOW"])).is_err());
    }

    #[test]
    fn role_names() {
        for good in ["viewer", "Team Lead", "ops_1-a.b", "dev@eu", "Développeur"] {
            Role::new(good, "", Permissions::new()).unwrap();
        }
        for bad in [
            "",
            " ",
            " a",
            "a ",
            "a/b",
            "a?b",
            "a%2F",
            "a\nb",
            &"x".repeat(129),
        ] {
            let err = Role::new(bad, "", Permissions::new()).unwrap_err();
            assert!(matches!(err, AuthError::InvalidName { .. }), "{bad:?}");
        }
        // Rows stored before the rule still read.
        assert!(Role::stored("a/b".into(), String::new(), Permissions::new()).is_ok());
        assert!(Role::stored(String::new(), String::new(), Permissions::new()).is_err());
        assert_eq!(Role::admin().name(), ADMIN_ROLE);
    }
}
