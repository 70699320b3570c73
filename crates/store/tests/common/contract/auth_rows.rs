//! The [`saker_store::AuthRows`] contract, for every backend: keys, references, cascades,
//! single use of invitations, round trips through a reopened store.

use chrono::{DateTime, Utc};
use saker_store::{AuthRows, BindingRow, InvitationRow, RoleRow, StoreError, TokenRow, UserRow};

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(1_764_000_000_000_000 + seconds * 1_000_000).unwrap()
}

pub fn user(id: &str, name: &str) -> UserRow {
    UserRow {
        id: id.into(),
        username: name.into(),
        password_hash: Some(format!("$argon2id$hash-of-{name}")),
        created_at: at(0),
        disabled: false,
    }
}

fn role(name: &str) -> RoleRow {
    RoleRow {
        tenant: "main".into(),
        name: name.into(),
        description: "d".into(),
        permissions: r#"{"FLOW":["READ"]}"#.into(),
    }
}

fn binding(id: &str, user_id: &str, role: &str, ns: Option<&str>) -> BindingRow {
    BindingRow {
        id: id.into(),
        tenant: "main".into(),
        user_id: user_id.into(),
        role: role.into(),
        namespace: ns.map(Into::into),
    }
}

pub fn token(id: &str, user_id: &str) -> TokenRow {
    TokenRow {
        id: id.into(),
        user_id: user_id.into(),
        name: "ci".into(),
        hash: "ab".repeat(32),
        created_at: at(1),
        expires_at: Some(at(100)),
    }
}

/// `open` opens the same database each time, as a new store.
pub fn rows_round_trip_through_a_reopened_store(open: &dyn Fn() -> Box<dyn AuthRows>) {
    let invitation = InvitationRow {
        id: "i1".into(),
        tenant: "main".into(),
        email: "ann@example.com".into(),
        hash: "cd".repeat(32),
        created_at: at(2),
        expires_at: at(3),
        accepted_at: None,
        bindings: r#"[{"role":"dev","namespace":"company.team"}]"#.into(),
    };
    {
        let store = open();
        store.insert_user(&user("u1", "ann")).unwrap();
        store.put_role(&role("dev")).unwrap();
        store
            .insert_binding(&binding("b1", "u1", "dev", Some("company.team")))
            .unwrap();
        store.insert_token(&token("t1", "u1")).unwrap();
        store.insert_invitation(&invitation).unwrap();
    }
    let store = open();
    assert_eq!(store.get_user("u1").unwrap(), Some(user("u1", "ann")));
    assert_eq!(
        store.get_user_by_name("ann").unwrap(),
        Some(user("u1", "ann"))
    );
    assert_eq!(store.get_role("main", "dev").unwrap(), Some(role("dev")));
    assert_eq!(
        store.bindings_of_user("u1").unwrap(),
        vec![binding("b1", "u1", "dev", Some("company.team"))]
    );
    assert_eq!(store.get_token("t1").unwrap(), Some(token("t1", "u1")));
    assert_eq!(store.get_invitation("i1").unwrap(), Some(invitation));
}

pub fn keys_and_references_are_enforced(store: &dyn AuthRows) {
    store.insert_user(&user("u1", "ann")).unwrap();
    let dup = store.insert_user(&user("u2", "ann")).unwrap_err();
    assert!(
        matches!(dup, StoreError::AlreadyExists { kind: "user", .. }),
        "{dup}"
    );
    let missing = store
        .insert_binding(&binding("b1", "u1", "nope", None))
        .unwrap_err();
    assert!(matches!(missing, StoreError::NotFound { .. }), "{missing}");
    store.put_role(&role("dev")).unwrap();
    let missing = store
        .insert_binding(&binding("b1", "zz", "dev", None))
        .unwrap_err();
    assert!(matches!(missing, StoreError::NotFound { .. }), "{missing}");
    let missing = store.insert_token(&token("t1", "zz")).unwrap_err();
    assert!(matches!(missing, StoreError::NotFound { .. }), "{missing}");
}

pub fn deletes_cascade(store: &dyn AuthRows) {
    store.insert_user(&user("u1", "ann")).unwrap();
    store.put_role(&role("dev")).unwrap();
    store.put_role(&role("ops")).unwrap();
    store
        .insert_binding(&binding("b1", "u1", "dev", None))
        .unwrap();
    store
        .insert_binding(&binding("b2", "u1", "ops", None))
        .unwrap();
    store.insert_token(&token("t1", "u1")).unwrap();
    assert!(store.delete_role("main", "dev").unwrap());
    assert_eq!(store.list_bindings("main").unwrap().len(), 1);
    assert!(store.delete_user("u1").unwrap());
    assert!(store.list_bindings("main").unwrap().is_empty());
    assert_eq!(store.get_token("t1").unwrap(), None);
    assert!(!store.delete_user("u1").unwrap());
}

pub fn users_can_be_updated_and_roles_replaced(store: &dyn AuthRows) {
    store.insert_user(&user("u1", "ann")).unwrap();
    assert!(store.set_password_hash("u1", None).unwrap());
    assert!(store.set_user_disabled("u1", true).unwrap());
    let got = store.get_user("u1").unwrap().unwrap();
    assert!(got.password_hash.is_none() && got.disabled);
    assert!(!store.set_password_hash("zz", Some("h")).unwrap());
    let mut changed = role("dev");
    store.put_role(&changed).unwrap();
    changed.permissions = r#"{"FLOW":["READ","UPDATE"]}"#.into();
    store.put_role(&changed).unwrap();
    assert_eq!(store.list_roles("main").unwrap(), vec![changed]);
}

fn invitation(id: &str) -> InvitationRow {
    InvitationRow {
        id: id.into(),
        tenant: "main".into(),
        email: "a@b.c".into(),
        hash: "00".into(),
        created_at: at(0),
        expires_at: at(10),
        accepted_at: None,
        bindings: "[]".into(),
    }
}

pub fn an_invitation_is_accepted_once_with_its_user_and_bindings(store: &dyn AuthRows) {
    store.put_role(&role("dev")).unwrap();
    store.insert_invitation(&invitation("i1")).unwrap();
    let bindings = [
        binding("b1", "u1", "dev", None),
        binding("b2", "u1", "dev", Some("company.team")),
    ];
    assert!(
        store
            .accept_invitation("i1", at(5), &user("u1", "ann"), &bindings)
            .unwrap()
    );
    assert_eq!(store.get_user("u1").unwrap(), Some(user("u1", "ann")));
    assert_eq!(store.bindings_of_user("u1").unwrap(), bindings.to_vec());
    // Used: nothing more is created.
    assert!(
        !store
            .accept_invitation("i1", at(6), &user("u2", "bob"), &[])
            .unwrap()
    );
    assert!(store.get_user("u2").unwrap().is_none());
    assert_eq!(
        store.get_invitation("i1").unwrap().unwrap().accepted_at,
        Some(at(5))
    );
    assert!(
        !store
            .accept_invitation("zz", at(6), &user("u3", "carl"), &[])
            .unwrap()
    );
    assert!(store.get_user("u3").unwrap().is_none());
    assert!(store.delete_invitation("i1").unwrap());
}

pub fn a_failed_acceptance_leaves_no_user_and_does_not_spend_the_invitation(store: &dyn AuthRows) {
    store.put_role(&role("dev")).unwrap();
    store.insert_invitation(&invitation("i1")).unwrap();
    // A binding to a role the tenant no longer has.
    let err = store
        .accept_invitation(
            "i1",
            at(5),
            &user("u1", "ann"),
            &[
                binding("b1", "u1", "dev", None),
                binding("b2", "u1", "gone", None),
            ],
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert!(store.get_user("u1").unwrap().is_none());
    assert!(store.get_user_by_name("ann").unwrap().is_none());
    assert!(store.list_bindings("main").unwrap().is_empty());
    assert!(
        store
            .get_invitation("i1")
            .unwrap()
            .unwrap()
            .accepted_at
            .is_none()
    );
    // A taken username: the same.
    store.insert_user(&user("u9", "ann")).unwrap();
    let err = store
        .accept_invitation("i1", at(6), &user("u1", "ann"), &[])
        .unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyExists { kind: "user", .. }),
        "{err}"
    );
    assert!(store.get_user("u1").unwrap().is_none());
    assert!(
        store
            .get_invitation("i1")
            .unwrap()
            .unwrap()
            .accepted_at
            .is_none()
    );
    // Then it still works.
    assert!(
        store
            .accept_invitation("i1", at(7), &user("u1", "bob"), &[])
            .unwrap()
    );
}
