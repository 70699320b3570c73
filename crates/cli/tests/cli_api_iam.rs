//! Identity and access through the API: users and the password policy, roles, bindings
//! (namespace access follows), API tokens (shown once, bearer, revoked), users shared between
//! tenants, the identity endpoints on a server without users, and their OpenAPI description.
//! Invitations are in `cli_api_iam_invitations.rs`.
//! Every password and token the tests create is remembered: no response may hold one.

mod common;

use common::iam::*;
use common::*;
use serde_json::json;

#[test]
fn users_roles_and_bindings_decide_namespace_access() {
    let s = Server::start(SECURITY);
    s.deploy("company.team.x");
    s.deploy("company.other");

    // Roles.
    let reader = json!({"name": "team-reader", "description": "reads flows", "permissions": {"FLOW": ["READ"]}});
    let (status, role) = s.admin("POST", "/api/v1/main/roles", Some(reader.clone()));
    assert_eq!(status, 200, "{role}");
    assert_eq!(role, reader);
    let (status, body) = s.admin("POST", "/api/v1/main/roles", Some(reader.clone()));
    assert_eq!(status, 409, "{body}");
    for (bad, expected) in [
        (
            json!({"name": "x", "permissions": {"FLOWS": ["READ"]}}),
            422,
        ),
        (json!({"name": "x", "permissions": {"FLOW": ["RUN"]}}), 422),
        (
            json!({"name": "x", "permissions": {"AUDITLOG": ["DELETE"]}}),
            422,
        ),
        (json!({"name": "a/b", "permissions": {}}), 422),
        (json!({"name": "admin", "permissions": {}}), 409),
        (json!({"permissions": {}}), 400),
        (json!({"name": "x"}), 400),
        (json!({"name": "x", "permissions": {}, "color": "red"}), 400),
        (json!("not json"), 400),
    ] {
        let (status, body) = s.admin("POST", "/api/v1/main/roles", Some(bad.clone()));
        assert_eq!(status, expected, "{bad}: {body}");
        assert!(!message(&body).is_empty(), "{bad}: {body}");
    }
    let (status, roles) = s.admin("GET", "/api/v1/main/roles", None);
    assert_eq!(status, 200);
    let names: Vec<&str> = roles["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "team-reader"]);
    assert_eq!(roles["total"], 2);

    // Users: the password policy, no password or hash in any answer.
    let weak = "Sh0rt-pw!";
    remember_secret(weak);
    let (status, body) = s.admin(
        "POST",
        "/api/v1/main/users",
        Some(json!({"username": "ann", "password": weak})),
    );
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("password-regexp"), "{body}");
    let ann_id = s.user("ann", GOOD);
    let (status, body) = s.admin(
        "POST",
        "/api/v1/main/users",
        Some(json!({"username": "ann", "password": GOOD})),
    );
    assert_eq!(status, 409, "{body}");
    for bad in [
        json!({"username": 3, "password": GOOD}),
        json!({"password": GOOD}),
        json!({"username": "zed", "password": 123_456_789_012_u64}),
        json!({"username": "zed", "password": GOOD, "admin": true}),
    ] {
        let (status, body) = s.admin("POST", "/api/v1/main/users", Some(bad.clone()));
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(!body.to_string().contains("123456789012"), "{body}");
    }
    let (status, user) = s.admin("GET", &format!("/api/v1/main/users/{ann_id}"), None);
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["username"], "ann");
    assert_eq!(user["hasPassword"], true);
    assert_eq!(user["disabled"], false);
    let (status, users) = s.admin("GET", "/api/v1/main/users", None);
    assert_eq!(status, 200);
    let text = users.to_string();
    assert!(
        text.contains("\"ann\"") && text.contains("\"admin\""),
        "{text}"
    );
    assert!(
        !text.contains("argon2") && !text.contains("password\""),
        "{text}"
    );
    let (status, _) = s.admin("GET", "/api/v1/main/users/nobody-such", None);
    assert_eq!(status, 404);

    // Without a binding, ann sees nothing and may manage nothing.
    let ann = basic(&format!("ann:{GOOD}"));
    let (status, _) = s.as_(&ann, "GET", "/api/v1/main/flows/company.team.x/hello", None);
    assert_eq!(status, 404);
    for (method, path) in [
        ("GET", "/api/v1/main/users"),
        ("GET", "/api/v1/main/roles"),
        ("GET", "/api/v1/main/bindings"),
        ("GET", "/api/v1/main/invitations"),
    ] {
        let (status, body) = s.as_(&ann, method, path, None);
        assert_eq!(status, 403, "{method} {path}: {body}");
    }

    // A namespace binding opens that namespace and its children, nothing else.
    let (status, binding) = s.admin(
        "POST",
        "/api/v1/main/bindings",
        Some(json!({"username": "ann", "role": "team-reader", "namespace": "company.team"})),
    );
    assert_eq!(status, 200, "{binding}");
    assert_eq!(binding["userId"], ann_id.as_str());
    assert_eq!(binding["namespace"], "company.team");
    let binding_id = binding["id"].as_str().unwrap().to_owned();
    let (status, body) = s.admin(
        "POST",
        "/api/v1/main/bindings",
        Some(json!({"userId": ann_id, "role": "team-reader", "namespace": "company.team"})),
    );
    assert_eq!(status, 409, "{body}");
    for (bad, expected) in [
        (json!({"username": "ghost", "role": "team-reader"}), 404),
        (json!({"username": "ann", "role": "ghost"}), 404),
        (
            json!({"username": "ann", "role": "team-reader", "namespace": "a..b"}),
            422,
        ),
        (json!({"role": "team-reader"}), 400),
        (
            json!({"username": "ann", "userId": ann_id, "role": "team-reader"}),
            400,
        ),
    ] {
        let (status, body) = s.admin("POST", "/api/v1/main/bindings", Some(bad.clone()));
        assert_eq!(status, expected, "{bad}: {body}");
    }
    let (status, body) = s.as_(&ann, "GET", "/api/v1/main/flows/company.team.x/hello", None);
    assert_eq!(status, 200, "{body}");
    let (status, _) = s.as_(&ann, "GET", "/api/v1/main/flows/company.other/hello", None);
    assert_eq!(status, 404);
    // A namespace binding never gives tenant-wide powers.
    let (status, _) = s.as_(&ann, "GET", "/api/v1/main/users", None);
    assert_eq!(status, 403);
    let (status, me) = s.as_(&ann, "GET", "/api/v1/main/me", None);
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["username"], "ann");
    assert_eq!(me["superAdmin"], false);
    assert_eq!(
        me["bindings"],
        json!([{"role": "team-reader", "namespace": "company.team", "permissions": {"FLOW": ["READ"]}}])
    );
    let (status, bindings) = s.admin("GET", "/api/v1/main/bindings", None);
    assert_eq!(status, 200);
    assert!(
        bindings["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["id"] == binding_id.as_str() && b["username"] == "ann"),
        "{bindings}"
    );

    // Changing the role changes what its bindings give.
    let (status, body) = s.admin(
        "PUT",
        "/api/v1/main/roles/team-reader",
        Some(json!({"description": "nothing", "permissions": {"SECRET": ["READ"]}})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, _) = s.as_(&ann, "GET", "/api/v1/main/flows/company.team.x/hello", None);
    assert_eq!(status, 404);
    let (status, body) = s.admin(
        "PUT",
        "/api/v1/main/roles/team-reader",
        Some(json!({"name": "other", "permissions": {}})),
    );
    assert_eq!(status, 422, "{body}");
    let (status, _) = s.admin(
        "PUT",
        "/api/v1/main/roles/ghost",
        Some(json!({"permissions": {}})),
    );
    assert_eq!(status, 404);
    let (status, _) = s.admin(
        "PUT",
        "/api/v1/main/roles/admin",
        Some(json!({"permissions": {}})),
    );
    assert_eq!(status, 409);
    let (status, body) = s.admin(
        "PUT",
        "/api/v1/main/roles/team-reader",
        Some(json!({"permissions": {"FLOW": ["READ"]}})),
    );
    assert_eq!(status, 200, "{body}");

    // A bound role is not deleted; removing the binding closes the namespace.
    let (status, body) = s.admin("DELETE", "/api/v1/main/roles/team-reader", None);
    assert_eq!(status, 409, "{body}");
    assert!(message(&body).contains("bound"), "{body}");
    let (status, _) = s.admin(
        "DELETE",
        &format!("/api/v1/main/bindings/{binding_id}"),
        None,
    );
    assert_eq!(status, 204);
    let (status, _) = s.admin(
        "DELETE",
        &format!("/api/v1/main/bindings/{binding_id}"),
        None,
    );
    assert_eq!(status, 404);
    let (status, _) = s.as_(&ann, "GET", "/api/v1/main/flows/company.team.x/hello", None);
    assert_eq!(status, 404);
    let (status, _) = s.admin("DELETE", "/api/v1/main/roles/team-reader", None);
    assert_eq!(status, 204);
    let (status, _) = s.admin("GET", "/api/v1/main/roles/team-reader", None);
    assert_eq!(status, 404);

    // Passwords and disabling.
    let user_path = format!("/api/v1/main/users/{ann_id}");
    let (status, body) = s.admin("PUT", &user_path, Some(json!({"password": weak})));
    assert_eq!(status, 422, "{body}");
    let (status, body) = s.admin("PUT", &user_path, Some(json!({})));
    assert_eq!(status, 400, "{body}");
    let (status, body) = s.admin("PUT", &user_path, Some(json!({"disabled": true})));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["disabled"], true);
    let (status, _) = s.as_(&ann, "GET", "/api/v1/main/me", None);
    assert_eq!(status, 401);
    let changed = "Changed-pass-2026!";
    remember_secret(changed);
    let (status, body) = s.admin(
        "PUT",
        &user_path,
        Some(json!({"disabled": false, "password": changed})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, _) = s.as_(&ann, "GET", "/api/v1/main/me", None);
    assert_eq!(status, 401, "the old password no longer works");
    let ann = basic(&format!("ann:{changed}"));
    let (status, _) = s.as_(&ann, "GET", "/api/v1/main/me", None);
    assert_eq!(status, 200);

    // The admin cannot lock itself out.
    let (_, me) = s.admin("GET", "/api/v1/main/me", None);
    let admin_path = format!("/api/v1/main/users/{}", me["userId"].as_str().unwrap());
    let (status, _) = s.admin("PUT", &admin_path, Some(json!({"disabled": true})));
    assert_eq!(status, 409);
    let (status, _) = s.admin("DELETE", &admin_path, None);
    assert_eq!(status, 409);

    // Deleting a user.
    let (status, _) = s.admin("DELETE", &user_path, None);
    assert_eq!(status, 204);
    let (status, _) = s.admin("GET", &user_path, None);
    assert_eq!(status, 404);
    let (status, _) = s.as_(&ann, "GET", "/api/v1/main/me", None);
    assert_eq!(status, 401);
}

#[test]
fn api_tokens_are_shown_once_work_as_bearer_and_stop_when_revoked() {
    let s = Server::start(SECURITY);
    let bob_id = s.user("bob", GOOD);
    let carl_id = s.user("carl", GOOD);
    let bob = basic(&format!("bob:{GOOD}"));
    let carl = basic(&format!("carl:{GOOD}"));
    let tokens = format!("/api/v1/main/users/{bob_id}/api-tokens");

    // A user manages its own tokens without USER permission.
    let (status, created) = s.as_(
        &bob,
        "POST",
        &tokens,
        Some(json!({"name": "ci", "expiresIn": "P1D"})),
    );
    assert_eq!(status, 200, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    remember_secret(&token);
    assert!(token.starts_with("sak_"));
    assert_eq!(created["name"], "ci");
    assert_eq!(created["userId"], bob_id.as_str());
    assert!(created["expiresAt"].is_string(), "{created}");
    let token_id = created["id"].as_str().unwrap().to_owned();

    let bearer = format!("Bearer {token}");
    let (status, me) = s.as_(&bearer, "GET", "/api/v1/main/me", None);
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["username"], "bob");
    let (status, list) = s.as_(&bearer, "GET", &tokens, None);
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["total"], 1);
    assert_eq!(list["results"][0]["id"], token_id.as_str());
    assert!(list["results"][0].get("token").is_none(), "{list}");

    // Someone else needs USER permission.
    let (status, _) = s.as_(&carl, "GET", &tokens, None);
    assert_eq!(status, 403);
    let (status, _) = s.as_(&carl, "POST", &tokens, Some(json!({"name": "steal"})));
    assert_eq!(status, 403);
    let (status, _) = s.as_(&carl, "DELETE", &format!("{tokens}/{token_id}"), None);
    assert_eq!(status, 403);
    let (status, list) = s.admin("GET", &tokens, None);
    assert_eq!(status, 200);
    assert_eq!(list["total"], 1);

    // Bad requests.
    for (bad, expected) in [
        (
            json!({"name": "x", "expiresAt": "2001-01-01T00:00:00Z"}),
            422,
        ),
        (json!({"name": "x", "expiresIn": "soon"}), 400),
        (json!({"name": "x", "expiresAt": "tomorrow"}), 400),
        (
            json!({"name": "x", "expiresIn": "P1D", "expiresAt": "2100-01-01T00:00:00Z"}),
            400,
        ),
        (json!({"name": ""}), 422),
        (json!({}), 400),
    ] {
        let (status, body) = s.admin("POST", &tokens, Some(bad.clone()));
        assert_eq!(status, expected, "{bad}: {body}");
    }
    let (status, _) = s.admin(
        "POST",
        "/api/v1/main/users/ghost/api-tokens",
        Some(json!({"name": "x"})),
    );
    assert_eq!(status, 404);

    // A token id under another user is not found there, and the token keeps working.
    let (status, _) = s.admin(
        "DELETE",
        &format!("/api/v1/main/users/{carl_id}/api-tokens/{token_id}"),
        None,
    );
    assert_eq!(status, 404);
    let (status, _) = s.as_(&bearer, "GET", "/api/v1/main/me", None);
    assert_eq!(status, 200);

    // Revoked: refused at once.
    let (status, _) = s.as_(&bob, "DELETE", &format!("{tokens}/{token_id}"), None);
    assert_eq!(status, 204);
    let (status, _) = s.as_(&bearer, "GET", "/api/v1/main/me", None);
    assert_eq!(status, 401);
    let (status, _) = s.as_(&bob, "DELETE", &format!("{tokens}/{token_id}"), None);
    assert_eq!(status, 404);

    // An administrator can give a user a token; the user can use it.
    let (status, created) = s.admin("POST", &tokens, Some(json!({"name": "by-admin"})));
    assert_eq!(status, 200, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    remember_secret(&token);
    assert!(created["expiresAt"].is_null());
    let (status, me) = s.as_(&format!("Bearer {token}"), "GET", "/api/v1/main/me", None);
    assert_eq!(status, 200);
    assert_eq!(me["username"], "bob");
}

#[test]
fn a_user_shared_with_another_tenant_is_changed_only_by_who_may_change_it_there() {
    let root = "root:Root-pass-2026!";
    remember_secret("Root-pass-2026!");
    let s = Server::start(
        "  security:\n    super-admin:\n      username: root\n      password: Root-pass-2026!\n      tenant-admin-access: [staging]\n",
    );
    let root = basic(root);
    let eve_id = s.user("eve", GOOD);
    let fred_id = s.user("fred", GOOD);
    // The super-admin administers staging: it binds eve there too, and fred only there.
    for user in [&eve_id, &fred_id] {
        let (status, body) = s.as_(
            &root,
            "POST",
            "/api/v1/staging/bindings",
            Some(json!({"userId": user, "role": "admin"})),
        );
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = s.admin(
        "POST",
        "/api/v1/main/bindings",
        Some(json!({"userId": eve_id, "role": "admin", "namespace": "company"})),
    );
    assert_eq!(status, 200, "{body}");
    // main's admin may not bind in staging.
    let (status, _) = s.admin(
        "POST",
        "/api/v1/staging/bindings",
        Some(json!({"userId": fred_id, "role": "admin"})),
    );
    assert_eq!(status, 403);

    // fred belongs to staging only: main does not see him.
    let (status, _) = s.admin("GET", &format!("/api/v1/main/users/{fred_id}"), None);
    assert_eq!(status, 404);
    let (_, users) = s.admin("GET", "/api/v1/main/users", None);
    assert!(!users.to_string().contains("fred"), "{users}");
    let (status, _) = s.admin(
        "PUT",
        &format!("/api/v1/main/users/{fred_id}"),
        Some(json!({"disabled": true})),
    );
    assert_eq!(status, 404);

    // eve is in both: main's admin sees her but may not change her or mint her tokens.
    let (status, _) = s.admin("GET", &format!("/api/v1/main/users/{eve_id}"), None);
    assert_eq!(status, 200);
    let (status, body) = s.admin(
        "PUT",
        &format!("/api/v1/main/users/{eve_id}"),
        Some(json!({"disabled": true})),
    );
    assert_eq!(status, 403, "{body}");
    assert!(message(&body).contains("staging"), "{body}");
    let (status, _) = s.admin(
        "POST",
        &format!("/api/v1/main/users/{eve_id}/api-tokens"),
        Some(json!({"name": "impersonate"})),
    );
    assert_eq!(status, 403);
    let (status, _) = s.admin("DELETE", &format!("/api/v1/main/users/{eve_id}"), None);
    assert_eq!(status, 403);
    // The super-admin (USER everywhere) may.
    let (status, body) = s.as_(
        &root,
        "PUT",
        &format!("/api/v1/main/users/{eve_id}"),
        Some(json!({"disabled": true})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, me) = s.as_(&root, "GET", "/api/v1/staging/me", None);
    assert_eq!(status, 200);
    assert_eq!(me["superAdmin"], true);
    assert_eq!(me["bindings"][0]["role"], "admin");
}

#[test]
fn without_users_the_identity_endpoints_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start_server(&dir.path().join("data"), port);
    for (method, path) in [
        ("GET", "/api/v1/main/users"),
        ("GET", "/api/v1/main/roles"),
        ("GET", "/api/v1/main/me"),
    ] {
        let (status, body) = call(port, method, path, None, None);
        assert_eq!(status, 503, "{method} {path}: {body}");
        assert!(message(&body).contains("server.basic-auth"), "{body}");
    }
    stop(server);
}

#[test]
fn the_openapi_document_describes_the_identity_endpoints() {
    let s = Server::start("");
    let (status, doc) = s.admin("GET", "/api/v1/openapi.json", None);
    assert_eq!(status, 200);
    for path in [
        "/api/v1/{tenant}/users",
        "/api/v1/{tenant}/users/{id}",
        "/api/v1/{tenant}/users/{id}/api-tokens",
        "/api/v1/{tenant}/users/{id}/api-tokens/{tokenId}",
        "/api/v1/{tenant}/roles",
        "/api/v1/{tenant}/roles/{name}",
        "/api/v1/{tenant}/bindings",
        "/api/v1/{tenant}/bindings/{id}",
        "/api/v1/{tenant}/invitations",
        "/api/v1/{tenant}/invitations/{id}",
        "/api/v1/{tenant}/invitations/{id}/accept",
        "/api/v1/{tenant}/me",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
    assert_eq!(
        doc["paths"]["/api/v1/{tenant}/invitations/{id}/accept"]["post"]["security"],
        json!([{}]),
        "accepting needs no credentials"
    );
}
