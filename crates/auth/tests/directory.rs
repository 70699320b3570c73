//! What the HTTP API needs from AuthService beyond the basics: roles created and updated
//! under rules (built-in admin, configured default role, still-bound roles), bindings scoped
//! to their tenant, users a tenant manages, tokens revoked only by their owner's id,
//! invitations scoped to their tenant with the configured expiry, and the super-admin's
//! tenant-admin-access.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use saker_auth::{
    ADMIN_ROLE, Action, AuthError, AuthService, HashCost, InvitationBinding, InvitationStatus,
    MAX_INVITATION_BINDINGS, Password, Permission, Role, SecurityConfig, ServiceOptions, Subject,
    WallClock, authorize, invitation_id, permission::parse_permissions,
};
use saker_store::SqliteStore;
use serde_json::{Value, json};

const GOOD: &str = "Str0ng-Passw0rd";

struct FakeWall(Mutex<DateTime<Utc>>);

impl WallClock for FakeWall {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

impl FakeWall {
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

fn service_with(security: Value) -> (tempfile::TempDir, Arc<FakeWall>, AuthService) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("saker.db")).unwrap());
    let wall = Arc::new(FakeWall(Mutex::new(
        DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap(),
    )));
    let options = ServiceOptions {
        hash_cost: HashCost {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        clock: wall.clone(),
        ..ServiceOptions::default()
    };
    let svc = AuthService::new(
        store,
        SecurityConfig::from_value(&security).unwrap(),
        options,
    )
    .unwrap();
    (dir, wall, svc)
}

fn service() -> (tempfile::TempDir, Arc<FakeWall>, AuthService) {
    service_with(json!({
        "default-role": {"name": "viewer", "permissions": {"FLOW": ["READ"]}},
        "invitations": {"expire-after": "P30D"}
    }))
}

fn role(name: &str, permissions: Value) -> Role {
    Role::new(name, "", parse_permissions(&permissions).unwrap()).unwrap()
}

fn pw(text: &str) -> Password {
    Password::new(text)
}

#[test]
fn roles_are_created_once_and_updated_only_when_they_exist() {
    let (_dir, _wall, svc) = service();
    svc.create_role("main", &role("dev", json!({"FLOW": ["READ"]})))
        .unwrap();
    assert!(matches!(
        svc.create_role("main", &role("dev", json!({}))),
        Err(AuthError::AlreadyExists { kind: "role", .. })
    ));
    svc.update_role("main", &role("dev", json!({"FLOW": ["READ", "UPDATE"]})))
        .unwrap();
    let stored = svc.get_role("main", "dev").unwrap().unwrap();
    assert!(stored.allows(Permission::Flow, Action::Update));
    assert!(matches!(
        svc.update_role("main", &role("ghost", json!({}))),
        Err(AuthError::NotFound { kind: "role", .. })
    ));
    // Roles are per tenant: the same name elsewhere is another role.
    svc.create_role("staging", &role("dev", json!({}))).unwrap();
    assert!(
        !svc.get_role("staging", "dev")
            .unwrap()
            .unwrap()
            .allows(Permission::Flow, Action::Read)
    );
}

#[test]
fn the_admin_role_and_the_configured_default_role_are_not_editable() {
    let (_dir, _wall, svc) = service();
    for result in [
        svc.create_role("main", &role(ADMIN_ROLE, json!({}))),
        svc.update_role("main", &role(ADMIN_ROLE, json!({}))),
        svc.update_role("main", &role("viewer", json!({"FLOW": ["DELETE"]}))),
    ] {
        assert!(
            matches!(result, Err(AuthError::Conflict { .. })),
            "{result:?}"
        );
    }
    assert!(matches!(
        svc.create_role("main", &role("viewer", json!({"FLOW": ["DELETE"]}))),
        Err(AuthError::Conflict { .. })
    ));
    assert!(matches!(
        svc.delete_unbound_role("main", "viewer"),
        Err(AuthError::Conflict { .. })
    ));
    let viewer = svc.get_role("main", "viewer").unwrap().unwrap();
    assert!(!viewer.allows(Permission::Flow, Action::Delete));
    // The default role's name is free in other tenants.
    svc.create_role("staging", &role("viewer", json!({"FLOW": ["DELETE"]})))
        .unwrap();
}

#[test]
fn a_bound_role_is_not_deleted_until_its_bindings_are() {
    let (_dir, _wall, svc) = service();
    svc.create_role("main", &role("dev", json!({"FLOW": ["READ"]})))
        .unwrap();
    let user = svc.create_user("ann", Some(&pw(GOOD))).unwrap();
    let binding = svc
        .bind("main", &user.id, "dev", Some("company.team"))
        .unwrap();
    let err = svc.delete_unbound_role("main", "dev").unwrap_err();
    assert!(matches!(err, AuthError::Conflict { .. }));
    assert!(err.to_string().contains("bound 1 time"), "{err}");
    assert!(svc.unbind_in("main", &binding.id).unwrap());
    assert!(svc.delete_unbound_role("main", "dev").unwrap());
    assert!(!svc.delete_unbound_role("main", "dev").unwrap());
}

#[test]
fn bindings_are_unique_and_scoped_to_their_tenant() {
    let (_dir, _wall, svc) = service();
    svc.create_role("main", &role("dev", json!({"FLOW": ["READ"]})))
        .unwrap();
    let user = svc.create_user("ann", Some(&pw(GOOD))).unwrap();
    let binding = svc
        .bind("main", &user.id, "dev", Some("company.team"))
        .unwrap();
    assert!(matches!(
        svc.bind("main", &user.id, "dev", Some("company.team")),
        Err(AuthError::AlreadyExists {
            kind: "binding",
            ..
        })
    ));
    svc.bind("main", &user.id, "dev", Some("company.other"))
        .unwrap();
    assert_eq!(
        svc.get_binding("main", &binding.id).unwrap(),
        Some(binding.clone())
    );
    assert_eq!(svc.get_binding("staging", &binding.id).unwrap(), None);
    assert!(!svc.unbind_in("staging", &binding.id).unwrap());
    assert!(svc.get_binding("main", &binding.id).unwrap().is_some());
    assert!(svc.unbind_in("main", &binding.id).unwrap());
    assert!(!svc.unbind_in("main", &binding.id).unwrap());
}

#[test]
fn an_admin_role_stored_by_an_older_version_grants_permissions_added_since() {
    let (dir, _wall, svc) = service();
    let user = svc.create_user("ann", Some(&pw(GOOD))).unwrap();
    svc.bind("main", &user.id, ADMIN_ROLE, None).unwrap();
    // The row as a version without the SERVICE permission wrote it.
    let store = SqliteStore::open(&dir.path().join("saker.db")).unwrap();
    saker_store::AuthRows::put_role(
        &store,
        &saker_store::RoleRow {
            tenant: "main".into(),
            name: ADMIN_ROLE.into(),
            description: "Every permission on the tenant".into(),
            permissions: r#"{"FLOW": ["READ"]}"#.into(),
        },
    )
    .unwrap();
    let s = svc.subject(&user.id).unwrap();
    assert!(authorize(&s, "main", None, Permission::Service, Action::Read).is_allowed());
    assert!(authorize(&s, "main", None, Permission::Secret, Action::Delete).is_allowed());
}

#[test]
fn binding_admin_creates_the_built_in_role_in_the_tenant() {
    let (_dir, _wall, svc) = service();
    let user = svc.create_user("ann", Some(&pw(GOOD))).unwrap();
    assert!(svc.get_role("staging", ADMIN_ROLE).unwrap().is_none());
    svc.bind("staging", &user.id, ADMIN_ROLE, None).unwrap();
    assert_eq!(
        svc.get_role("staging", ADMIN_ROLE).unwrap(),
        Some(Role::admin())
    );
    let s = svc.subject(&user.id).unwrap();
    assert!(authorize(&s, "staging", None, Permission::Role, Action::Delete).is_allowed());
    assert!(!authorize(&s, "main", None, Permission::Role, Action::Delete).is_allowed());
    assert!(matches!(
        svc.bind("staging", &user.id, "nope", None),
        Err(AuthError::NotFound { kind: "role", .. })
    ));
}

#[test]
fn a_tenant_manages_its_members_and_the_unbound() {
    let (_dir, _wall, svc) = service_with(json!({}));
    let ann = svc.create_user("ann", Some(&pw(GOOD))).unwrap();
    let bob = svc.create_user("bob", Some(&pw(GOOD))).unwrap();
    let eve = svc.create_user("eve", Some(&pw(GOOD))).unwrap();
    svc.bind("main", &ann.id, ADMIN_ROLE, None).unwrap();
    svc.bind("staging", &bob.id, ADMIN_ROLE, None).unwrap();
    let names = |tenant: &str| -> Vec<String> {
        svc.users_of_tenant(tenant)
            .unwrap()
            .into_iter()
            .map(|u| u.username)
            .collect()
    };
    assert_eq!(names("main"), ["ann", "eve"]);
    assert_eq!(names("staging"), ["bob", "eve"]);
    assert!(svc.tenants_of_user(&eve.id).unwrap().is_empty());
    assert_eq!(
        svc.tenants_of_user(&bob.id)
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        ["staging"]
    );
}

#[test]
fn a_token_is_revoked_only_through_its_owner() {
    let (_dir, _wall, svc) = service();
    let ann = svc.create_user("ann", Some(&pw(GOOD))).unwrap();
    let bob = svc.create_user("bob", Some(&pw(GOOD))).unwrap();
    let (info, secret) = svc.create_token(&ann.id, "ci", None).unwrap();
    let text = secret.reveal();
    assert!(!svc.revoke_user_token(&bob.id, &info.id).unwrap());
    svc.authenticate_token(&text).unwrap();
    assert!(svc.revoke_user_token(&ann.id, &info.id).unwrap());
    assert!(matches!(
        svc.authenticate_token(&text),
        Err(AuthError::InvalidCredentials)
    ));
    assert!(!svc.revoke_user_token(&ann.id, &info.id).unwrap());
}

#[test]
fn invitations_use_the_configured_expiry_and_stay_in_their_tenant() {
    let (_dir, wall, svc) = service();
    let (inv, code) = svc.invite("main", "ann@example.com", &[]).unwrap();
    assert_eq!(inv.expires_at - inv.created_at, Duration::days(30));
    assert_eq!(svc.invitation_status(&inv), InvitationStatus::Pending);
    let code = code.reveal();
    assert_eq!(invitation_id(&code), Some(inv.id.as_str()));
    assert!(svc.get_invitation("staging", &inv.id).unwrap().is_none());
    assert!(!svc.delete_invitation("staging", &inv.id).unwrap());
    // Another tenant's path does not accept it, and does not spend it.
    assert!(matches!(
        svc.accept_invitation("staging", &code, None, &pw(GOOD)),
        Err(AuthError::InvalidCredentials)
    ));
    // Without a username, the user is named after the invited address.
    let (accepted, user) = svc
        .accept_invitation("main", &code, None, &pw(GOOD))
        .unwrap();
    assert_eq!(user.username, "ann@example.com");
    assert_eq!(svc.invitation_status(&accepted), InvitationStatus::Accepted);
    svc.authenticate_basic("ann@example.com", &pw(GOOD), None)
        .unwrap();

    let (late, _) = svc.invite("main", "bob@example.com", &[]).unwrap();
    wall.advance(Duration::days(30));
    assert_eq!(svc.invitation_status(&late), InvitationStatus::Expired);
    assert!(svc.delete_invitation("main", &late.id).unwrap());
    assert!(svc.get_invitation("main", &late.id).unwrap().is_none());
    for bad in ["", " a@b", "no-at-sign"] {
        assert!(svc.invite("main", bad, &[]).is_err(), "{bad:?}");
    }
}

fn bound(svc: &AuthService, user_id: &str) -> Vec<(String, String, Option<String>)> {
    svc.bindings_of_user(user_id)
        .unwrap()
        .into_iter()
        .map(|b| (b.tenant, b.role, b.namespace))
        .collect()
}

#[test]
fn an_invitation_gives_its_bindings_on_acceptance() {
    let (_dir, _wall, svc) = service();
    svc.create_role("main", &role("secrets", json!({"SECRET": ["READ"]})))
        .unwrap();
    let given = [
        InvitationBinding::new("secrets", Some("company.team")),
        InvitationBinding::new(ADMIN_ROLE, Some("sandbox")),
    ];
    let (inv, code) = svc.invite("main", "ann@example.com", &given).unwrap();
    assert_eq!(inv.bindings, given);
    assert_eq!(
        svc.get_invitation("main", &inv.id)
            .unwrap()
            .unwrap()
            .bindings,
        given
    );
    assert_eq!(svc.list_invitations("main").unwrap()[0].bindings, given);
    // Nothing is bound before acceptance.
    assert!(svc.get_role("main", ADMIN_ROLE).unwrap().is_none());

    let (accepted, user) = svc
        .accept_invitation("main", &code.reveal(), Some("ann"), &pw(GOOD))
        .unwrap();
    assert_eq!(accepted.bindings, given);
    let mut got = bound(&svc, &user.id);
    got.sort();
    let mut expected = vec![
        ("main".to_owned(), "viewer".to_owned(), None),
        (
            "main".to_owned(),
            "secrets".to_owned(),
            Some("company.team".to_owned()),
        ),
        (
            "main".to_owned(),
            ADMIN_ROLE.to_owned(),
            Some("sandbox".to_owned()),
        ),
    ];
    expected.sort();
    assert_eq!(
        got, expected,
        "the default role and the invitation's, nothing else"
    );
    assert_eq!(
        svc.get_role("main", ADMIN_ROLE).unwrap(),
        Some(Role::admin())
    );
    let s = svc.subject(&user.id).unwrap();
    let secret_read =
        |ns: &str| authorize(&s, "main", Some(ns), Permission::Secret, Action::Read).is_allowed();
    assert!(secret_read("company.team"));
    assert!(secret_read("company.team.x"));
    assert!(!secret_read("company.other"));
    assert!(secret_read("sandbox.a"), "admin on sandbox");
    assert!(!authorize(&s, "main", None, Permission::Binding, Action::Create).is_allowed());
    assert!(
        !authorize(
            &s,
            "staging",
            Some("company.team"),
            Permission::Secret,
            Action::Read
        )
        .is_allowed()
    );
}

#[test]
fn an_invitation_without_bindings_or_repeating_the_default_role_gives_it_once() {
    let (_dir, _wall, svc) = service();
    let (_, plain) = svc.invite("main", "ann@example.com", &[]).unwrap();
    let (_, repeated) = svc
        .invite(
            "main",
            "bob@example.com",
            &[InvitationBinding::new("viewer", None)],
        )
        .unwrap();
    for code in [plain, repeated] {
        let (_, user) = svc
            .accept_invitation("main", &code.reveal(), None, &pw(GOOD))
            .unwrap();
        assert_eq!(
            bound(&svc, &user.id),
            [("main".to_owned(), "viewer".to_owned(), None)]
        );
    }
}

#[test]
fn an_invitation_refuses_unknown_roles_bad_namespaces_and_repeats() {
    let (_dir, _wall, svc) = service();
    svc.create_role("main", &role("dev", json!({"FLOW": ["READ"]})))
        .unwrap();
    let err = svc
        .invite(
            "main",
            "ann@example.com",
            &[InvitationBinding::new("ghost", None)],
        )
        .unwrap_err();
    assert!(
        matches!(err, AuthError::NotFound { kind: "role", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("ghost"), "{err}");
    // A role of another tenant is not one of this tenant.
    let err = svc
        .invite(
            "staging",
            "ann@example.com",
            &[InvitationBinding::new("dev", None)],
        )
        .unwrap_err();
    assert!(
        matches!(err, AuthError::NotFound { kind: "role", .. }),
        "{err}"
    );
    let err = svc
        .invite(
            "main",
            "ann@example.com",
            &[InvitationBinding::new("dev", Some("a..b"))],
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            AuthError::InvalidName {
                kind: "namespace",
                ..
            }
        ),
        "{err}"
    );
    let twice = [
        InvitationBinding::new("dev", Some("company")),
        InvitationBinding::new("dev", Some("company")),
    ];
    let err = svc.invite("main", "ann@example.com", &twice).unwrap_err();
    assert!(
        matches!(
            err,
            AuthError::InvalidName {
                kind: "bindings",
                ..
            }
        ),
        "{err}"
    );
    let many: Vec<InvitationBinding> = (0..=MAX_INVITATION_BINDINGS)
        .map(|n| InvitationBinding::new("dev", Some(&format!("ns{n}"))))
        .collect();
    let err = svc.invite("main", "ann@example.com", &many).unwrap_err();
    assert!(
        matches!(
            err,
            AuthError::InvalidName {
                kind: "bindings",
                ..
            }
        ),
        "{err}"
    );
    assert!(svc.list_invitations("main").unwrap().is_empty());
    assert!(svc.list_invitations("staging").unwrap().is_empty());
}

#[test]
fn accepting_an_invitation_whose_role_is_gone_creates_nothing_and_keeps_the_code() {
    let (_dir, _wall, svc) = service();
    svc.create_role("main", &role("dev", json!({"FLOW": ["READ"]})))
        .unwrap();
    let (inv, code) = svc
        .invite(
            "main",
            "ann@example.com",
            &[InvitationBinding::new("dev", Some("company"))],
        )
        .unwrap();
    let code = code.reveal();
    assert!(svc.delete_unbound_role("main", "dev").unwrap());
    let err = svc
        .accept_invitation("main", &code, Some("ann"), &pw(GOOD))
        .unwrap_err();
    assert!(matches!(err, AuthError::Conflict { .. }), "{err}");
    assert!(err.to_string().contains("dev"), "{err}");
    assert!(svc.find_user("ann").unwrap().is_none(), "no half-made user");
    assert_eq!(
        svc.invitation_status(&svc.get_invitation("main", &inv.id).unwrap().unwrap()),
        InvitationStatus::Pending
    );
    // A taken username does not spend it either.
    svc.create_role("main", &role("dev", json!({"FLOW": ["READ"]})))
        .unwrap();
    svc.create_user("ann", Some(&pw(GOOD))).unwrap();
    assert!(matches!(
        svc.accept_invitation("main", &code, Some("ann"), &pw(GOOD)),
        Err(AuthError::AlreadyExists { kind: "user", .. })
    ));
    // With the role back, it works.
    let (_, user) = svc
        .accept_invitation("main", &code, Some("ann2"), &pw(GOOD))
        .unwrap();
    assert!(bound(&svc, &user.id).contains(&(
        "main".to_owned(),
        "dev".to_owned(),
        Some("company".to_owned())
    )));
}

#[test]
fn tenant_admin_access_decides_where_the_super_admin_is_a_tenant_admin() {
    let (_dir, _wall, svc) = service_with(json!({
        "super-admin": {"username": "root", "password": "Root-Passw0rd", "tenant-admin-access": ["staging"]}
    }));
    let s = svc
        .authenticate_basic("root", &pw("Root-Passw0rd"), None)
        .unwrap();
    let Subject::User(p) = &s else {
        panic!("the super-admin is a user")
    };
    assert!(p.super_admin);
    // USER and TENANT everywhere.
    for tenant in ["main", "staging", "other"] {
        assert!(authorize(&s, tenant, None, Permission::User, Action::Create).is_allowed());
    }
    // Tenant administrator only where listed.
    assert!(authorize(&s, "staging", None, Permission::Binding, Action::Create).is_allowed());
    assert!(!authorize(&s, "main", None, Permission::Binding, Action::Create).is_allowed());
    assert!(!authorize(&s, "main", Some("a"), Permission::Secret, Action::Read).is_allowed());
}

#[test]
fn the_last_tenant_wide_admin_binding_cannot_be_removed() {
    let (_dir, _wall, svc) = service();
    let ann = svc.create_user("ann", Some(&pw(GOOD))).unwrap();
    let bob = svc.create_user("bob", Some(&pw(GOOD))).unwrap();
    let first = svc.bind("staging", &ann.id, ADMIN_ROLE, None).unwrap();
    // A namespace-scoped admin binding does not manage the tenant: it does not count.
    let scoped = svc
        .bind("staging", &bob.id, ADMIN_ROLE, Some("company"))
        .unwrap();
    assert!(matches!(
        svc.unbind_in("staging", &first.id),
        Err(AuthError::Conflict { .. })
    ));
    assert!(svc.unbind_in("staging", &scoped.id).unwrap());
    let second = svc.bind("staging", &bob.id, ADMIN_ROLE, None).unwrap();
    assert!(svc.unbind_in("staging", &first.id).unwrap());
    assert!(matches!(
        svc.unbind_in("staging", &second.id),
        Err(AuthError::Conflict { .. })
    ));
    assert!(!svc.unbind_in("staging", "no-such-binding").unwrap());
}
