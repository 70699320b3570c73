//! The authorization matrix of `authz_table.txt`: every row's decision, plus the listing
//! filter for the same subjects.

use std::collections::BTreeSet;

use saker_auth::{
    Action, Decision, Grant, Permission, Permissions, Principal, Role, Subject, Visibility,
    authorize, visible_namespaces,
};

fn developer() -> Role {
    use Action::*;
    let entries: [(Permission, &[Action]); 7] = [
        (Permission::Flow, &Action::ALL),
        (Permission::Execution, &Action::ALL),
        (Permission::Namespace, &[Read]),
        (Permission::Secret, &[Create, Read, Update]),
        (Permission::Kvstore, &[Read, Create]),
        (Permission::User, &[Read]),
        (Permission::Auditlog, &[Read]),
    ];
    let permissions: Permissions = entries
        .iter()
        .map(|(p, a)| (*p, a.iter().copied().collect()))
        .collect();
    Role::new("developer", "", permissions).unwrap()
}

fn user(name: &str, super_admin: bool, grants: Vec<Grant>) -> Subject {
    Subject::User(Principal {
        user_id: format!("id-{name}"),
        username: name.to_owned(),
        super_admin,
        grants,
    })
}

fn grant(tenant: &str, namespace: Option<&str>, role: Role) -> Grant {
    Grant {
        tenant: tenant.to_owned(),
        namespace: namespace.map(str::to_owned),
        role,
    }
}

fn subject(name: &str) -> Subject {
    match name {
        "anonymous" => Subject::Anonymous,
        "unbound" => user(name, false, vec![]),
        "team" => user(
            name,
            false,
            vec![grant("main", Some("company.team"), developer())],
        ),
        "admin" => user(name, false, vec![grant("main", None, Role::admin())]),
        // What AuthService builds for `security.super-admin` with tenant-admin-access [main].
        "super" => user(name, true, vec![grant("main", None, Role::admin())]),
        other => panic!("unknown subject {other} in authz_table.txt"),
    }
}

fn expand<T: Copy>(text: &str, all: &[T], parse: impl Fn(&str) -> Option<T>) -> Vec<T> {
    if text == "*" {
        all.to_vec()
    } else {
        vec![parse(text).unwrap_or_else(|| panic!("unknown name {text} in authz_table.txt"))]
    }
}

fn decision(code: &str) -> Decision {
    match code {
        "200" => Decision::Allow,
        "401" => Decision::Unauthenticated,
        "403" => Decision::Forbidden,
        "404" => Decision::Hidden,
        other => panic!("unknown expected status {other}"),
    }
}

#[test]
fn authorization_matrix() {
    let table = include_str!("authz_table.txt");
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut covered = BTreeSet::new();
    for (number, line) in table.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols.len(), 6, "line {}: six columns expected", number + 1);
        let who = subject(cols[0]);
        let namespace = (cols[2] != "-").then_some(cols[2]);
        let expected = decision(cols[5]);
        for permission in expand(cols[3], &Permission::ALL, Permission::parse) {
            let actions = if cols[4] == "*" {
                permission.allowed_actions().to_vec()
            } else {
                expand(cols[4], &Action::ALL, Action::parse)
            };
            for action in actions {
                checked += 1;
                covered.insert((cols[0], permission));
                let got = authorize(&who, cols[1], namespace, permission, action);
                if got != expected {
                    failures.push(format!(
                        "line {}: {} {} {:?} {permission} {action}: expected {expected:?}, got {got:?}",
                        number + 1,
                        cols[0],
                        cols[1],
                        namespace
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} wrong decisions:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 300, "the table expanded to only {checked} cases");
    // Every subject is tried on every permission at least once.
    for who in ["anonymous", "unbound", "team", "admin", "super"] {
        for permission in Permission::ALL {
            assert!(
                covered.contains(&(who, permission)),
                "no row for {who} on {permission}"
            );
        }
    }
}

#[test]
fn listing_filters() {
    let ns = |list: &[&str]| Visibility::Namespaces(list.iter().map(|s| s.to_string()).collect());
    let cases: &[(&str, &str, Permission, Visibility)] = &[
        ("anonymous", "main", Permission::Flow, ns(&[])),
        ("unbound", "main", Permission::Flow, ns(&[])),
        ("team", "main", Permission::Flow, ns(&["company.team"])),
        ("team", "main", Permission::Secret, ns(&["company.team"])),
        ("team", "main", Permission::User, ns(&[])),
        ("team", "main", Permission::Auditlog, ns(&[])),
        ("team", "other", Permission::Flow, ns(&[])),
        ("admin", "main", Permission::Secret, Visibility::All),
        ("admin", "main", Permission::Auditlog, Visibility::All),
        ("admin", "other", Permission::Flow, ns(&[])),
        ("super", "main", Permission::Flow, Visibility::All),
        ("super", "other", Permission::Tenant, Visibility::All),
        ("super", "other", Permission::Flow, ns(&[])),
    ];
    for (who, tenant, permission, expected) in cases {
        let got = visible_namespaces(&subject(who), tenant, *permission);
        assert_eq!(&got, expected, "{who} {tenant} {permission}");
    }
    let team = visible_namespaces(&subject("team"), "main", Permission::Flow);
    assert!(team.contains("company.team.x"));
    assert!(!team.contains("company.teamx"));
    assert!(!team.contains("company.other"));
}
