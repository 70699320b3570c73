//! Authorization decisions: who may do what on which tenant and namespace.
//!
//! # Rules
//!
//! - An anonymous subject is never allowed ([`Decision::Unauthenticated`], HTTP 401).
//! - The super-admin may do everything on TENANT and USER in every tenant; in the tenants
//!   of `security.super-admin.tenant-admin-access` it is also a tenant administrator (the
//!   caller resolves that into grants, see [`crate::AuthService::subject`]).
//! - A grant on a tenant (a binding without namespace) applies to the whole tenant.
//! - A grant on a namespace applies to that namespace and its children
//!   ([`crate::namespace::covers`]), and only for FLOW, EXECUTION, NAMESPACE, SECRET and
//!   KVSTORE: a namespace binding never gives tenant-wide powers (USER, ROLE, BINDING,
//!   INVITATION, TENANT, AUDITLOG), whatever its role says, so a namespace owner cannot
//!   escalate.
//! - Grants of another tenant never count.
//!
//! # 403 or 404
//!
//! [`Decision::Forbidden`] → **403**: the subject may see the thing (it holds READ on this
//! permission where the thing lives) but not do this action to it; and every refusal of a
//! tenant-wide permission or of a tenant-wide (`namespace: None`) request.
//!
//! [`Decision::Hidden`] → **404**: the request names something inside a namespace (a flow, an
//! execution, a secret key, the namespace itself) and the subject may not even READ that
//! permission there. The API must answer exactly as it does for a missing item (same status,
//! same body), and must ask [`authorize`] *before* looking the item up, so that "forbidden"
//! and "does not exist" cannot be told apart and a sibling team cannot probe for flow or
//! secret names.
//!
//! Listings never refuse: they filter with [`visible_namespaces`].

use crate::namespace::covers;
use crate::permission::{Action, Permission, Role};

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Anonymous,
    User(Principal),
}

/// An authenticated user with its grants resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub username: String,
    /// True for the configured `security.super-admin`.
    pub super_admin: bool,
    pub grants: Vec<Grant>,
}

/// A role on a tenant (`namespace: None`) or on a namespace and its children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub tenant: String,
    pub namespace: Option<String>,
    pub role: Role,
}

impl Grant {
    /// True if this grant applies to `permission` at (`tenant`, `namespace`).
    fn applies(&self, tenant: &str, namespace: Option<&str>, permission: Permission) -> bool {
        if self.tenant != tenant {
            return false;
        }
        match (&self.namespace, namespace) {
            (None, _) => true,
            (Some(_), _) if !permission.is_namespaced() => false,
            (Some(scope), Some(ns)) => covers(scope, ns),
            (Some(_), None) => false,
        }
    }
}

/// The answer of [`authorize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// No credentials: 401.
    Unauthenticated,
    /// Known, but not allowed: 403.
    Forbidden,
    /// Not allowed and not even visible: 404, like a missing item.
    Hidden,
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }

    /// The HTTP status the API answers with when refusing; 200 for [`Decision::Allow`].
    pub fn http_status(self) -> u16 {
        match self {
            Decision::Allow => 200,
            Decision::Unauthenticated => 401,
            Decision::Forbidden => 403,
            Decision::Hidden => 404,
        }
    }
}

/// May `subject` do `action` on `permission` in `tenant`, in `namespace` (`None` for a
/// tenant-wide request)? See the module documentation for the rules and the 403/404 choice.
pub fn authorize(
    subject: &Subject,
    tenant: &str,
    namespace: Option<&str>,
    permission: Permission,
    action: Action,
) -> Decision {
    let Subject::User(principal) = subject else {
        return Decision::Unauthenticated;
    };
    if !permission.allowed_actions().contains(&action) {
        return Decision::Forbidden;
    }
    if principal.super_admin && matches!(permission, Permission::Tenant | Permission::User) {
        return Decision::Allow;
    }
    let applicable = || {
        principal
            .grants
            .iter()
            .filter(|g| g.applies(tenant, namespace, permission))
    };
    if applicable().any(|g| g.role.allows(permission, action)) {
        return Decision::Allow;
    }
    let can_read = applicable().any(|g| g.role.allows(permission, Action::Read));
    match namespace {
        Some(_) if permission.is_namespaced() && !can_read => Decision::Hidden,
        _ => Decision::Forbidden,
    }
}

/// Which namespaces of a tenant a subject may READ for a permission: what listings keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Every namespace of the tenant.
    All,
    /// These namespaces and their children (sorted, none covering another); empty for none.
    Namespaces(Vec<String>),
}

impl Visibility {
    pub fn contains(&self, namespace: &str) -> bool {
        match self {
            Visibility::All => true,
            Visibility::Namespaces(scopes) => scopes.iter().any(|s| covers(s, namespace)),
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Visibility::Namespaces(scopes) if scopes.is_empty())
    }
}

/// The namespaces of `tenant` in which `subject` may READ `permission`, for filtering
/// listings. For a tenant-wide permission the answer is all or nothing.
pub fn visible_namespaces(subject: &Subject, tenant: &str, permission: Permission) -> Visibility {
    if authorize(subject, tenant, None, permission, Action::Read).is_allowed() {
        return Visibility::All;
    }
    let Subject::User(principal) = subject else {
        return Visibility::Namespaces(Vec::new());
    };
    if !permission.is_namespaced() {
        return Visibility::Namespaces(Vec::new());
    }
    let mut scopes: Vec<String> = principal
        .grants
        .iter()
        .filter(|g| g.tenant == tenant && g.role.allows(permission, Action::Read))
        .filter_map(|g| g.namespace.clone())
        .collect();
    scopes.sort();
    scopes.dedup();
    let kept: Vec<String> = scopes
        .iter()
        .filter(|s| !scopes.iter().any(|o| o != *s && covers(o, s)))
        .cloned()
        .collect();
    Visibility::Namespaces(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permission::Permissions;

    fn role(entries: &[(Permission, &[Action])]) -> Role {
        let permissions: Permissions = entries
            .iter()
            .map(|(p, a)| (*p, a.iter().copied().collect()))
            .collect();
        Role::new("r", "", permissions).unwrap()
    }

    fn user(grants: Vec<Grant>) -> Subject {
        Subject::User(Principal {
            user_id: "u1".into(),
            username: "ann".into(),
            super_admin: false,
            grants,
        })
    }

    fn grant(tenant: &str, ns: Option<&str>, role: Role) -> Grant {
        Grant {
            tenant: tenant.into(),
            namespace: ns.map(Into::into),
            role,
        }
    }

    #[test]
    fn a_namespace_grant_never_gives_tenant_powers() {
        let s = user(vec![grant("main", Some("company"), Role::admin())]);
        for p in [
            Permission::User,
            Permission::Role,
            Permission::Binding,
            Permission::Tenant,
        ] {
            assert_eq!(
                authorize(&s, "main", Some("company"), p, Action::Create),
                Decision::Forbidden
            );
            assert_eq!(
                authorize(&s, "main", None, p, Action::Read),
                Decision::Forbidden
            );
        }
        assert_eq!(
            authorize(
                &s,
                "main",
                Some("company.x"),
                Permission::Secret,
                Action::Delete
            ),
            Decision::Allow
        );
    }

    #[test]
    fn other_tenants_grants_do_not_count() {
        let s = user(vec![grant("other", None, Role::admin())]);
        assert_eq!(
            authorize(&s, "main", Some("a"), Permission::Flow, Action::Read),
            Decision::Hidden
        );
        assert!(visible_namespaces(&s, "main", Permission::Flow).is_empty());
        assert_eq!(
            visible_namespaces(&s, "other", Permission::Flow),
            Visibility::All
        );
    }

    #[test]
    fn read_without_write_is_forbidden_not_hidden() {
        let s = user(vec![grant(
            "main",
            Some("a"),
            role(&[(Permission::Flow, &[Action::Read])]),
        )]);
        assert_eq!(
            authorize(&s, "main", Some("a.b"), Permission::Flow, Action::Read),
            Decision::Allow
        );
        assert_eq!(
            authorize(&s, "main", Some("a.b"), Permission::Flow, Action::Update),
            Decision::Forbidden
        );
        assert_eq!(
            authorize(&s, "main", Some("a.b"), Permission::Secret, Action::Read),
            Decision::Hidden
        );
    }

    #[test]
    fn visible_namespaces_merges_covered_scopes() {
        let read = role(&[(Permission::Flow, &[Action::Read])]);
        let write_only = role(&[(Permission::Flow, &[Action::Create])]);
        let s = user(vec![
            grant("main", Some("b.x"), read.clone()),
            grant("main", Some("b"), read.clone()),
            grant("main", Some("a"), read.clone()),
            grant("main", Some("a"), read),
            grant("main", Some("c"), write_only),
        ]);
        let v = visible_namespaces(&s, "main", Permission::Flow);
        assert_eq!(v, Visibility::Namespaces(vec!["a".into(), "b".into()]));
        assert!(v.contains("b.x.y"));
        assert!(!v.contains("c"));
        assert!(!v.contains("bx"));
        assert!(visible_namespaces(&s, "main", Permission::Auditlog).is_empty());
        assert!(visible_namespaces(&Subject::Anonymous, "main", Permission::Flow).is_empty());
    }

    #[test]
    fn status_codes() {
        assert_eq!(Decision::Allow.http_status(), 200);
        assert_eq!(Decision::Unauthenticated.http_status(), 401);
        assert_eq!(Decision::Forbidden.http_status(), 403);
        assert_eq!(Decision::Hidden.http_status(), 404);
    }
}
