//! Identity and access through the API: users, roles, bindings (namespace access follows),
//! API tokens (shown once, bearer, revoked), invitations (accepted without credentials,
//! once, until they expire, giving the bindings they carry), the password policy, and users
//! shared between tenants.
//! Every password and token the tests create is remembered: no response may hold one.

mod common;

use base64::Engine as _;
use common::*;
use serde_json::{Value, json};

const ADMIN: &str = "admin:Admin-pass-2026!";
const GOOD: &str = "Good-pass-2026!";
const SECURITY: &str = "  security:\n    basic-auth:\n      password-regexp: \"[A-Za-z0-9!-]{12,}\"\n    invitations:\n      expire-after: P30D\n";

fn basic(credentials: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

/// One JSON request; a body that is a string is sent as is.
fn call(
    port: u16,
    method: &str,
    path: &str,
    body: Option<Value>,
    auth: Option<&str>,
) -> (u16, Value) {
    let text = match &body {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    };
    let body = body.as_ref().map(|_| ("application/json", text.as_str()));
    let (status, response) = http_as(port, method, path, body, auth).unwrap();
    let value = serde_json::from_str(&response).unwrap_or(Value::String(response));
    (status, value)
}

struct Server {
    port: u16,
    admin: String,
    child: Option<std::process::Child>,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(extra_config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), &format!("{ADMIN_CONFIG}{extra_config}"));
        let port = free_port();
        let child = start_server_with(&dir.path().join("data"), port, Some(&config));
        Server {
            port,
            admin: basic(ADMIN),
            child: Some(child),
            _dir: dir,
        }
    }

    fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        call(self.port, method, path, body, Some(&self.admin))
    }

    fn as_(&self, auth: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        call(self.port, method, path, body, Some(auth))
    }

    fn anonymous(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        call(self.port, method, path, body, None)
    }

    /// Creates a user as admin; returns its id.
    fn user(&self, username: &str, password: &str) -> String {
        remember_secret(password);
        let (status, user) = self.admin(
            "POST",
            "/api/v1/main/users",
            Some(json!({"username": username, "password": password})),
        );
        assert_eq!(status, 200, "{user}");
        user["id"].as_str().unwrap().to_owned()
    }

    fn deploy(&self, namespace: &str) {
        let source = format!(
            "id: hello\nnamespace: {namespace}\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
        );
        let (status, body) = http_as(
            self.port,
            "POST",
            "/api/v1/main/flows",
            Some(("application/x-yaml", &source)),
            Some(&self.admin),
        )
        .unwrap();
        assert_eq!(status, 200, "{body}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            stop(child);
        }
    }
}

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

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
fn invitations_are_accepted_without_credentials_once() {
    let s = Server::start(SECURITY);
    let (status, created) = s.admin(
        "POST",
        "/api/v1/main/invitations",
        Some(json!({"email": "dana@example.com"})),
    );
    assert_eq!(status, 200, "{created}");
    let code = created["token"].as_str().unwrap().to_owned();
    remember_secret(&code);
    assert!(code.starts_with("sakinv_"));
    let id = created["id"].as_str().unwrap().to_owned();
    let created_at =
        chrono::DateTime::parse_from_rfc3339(created["createdAt"].as_str().unwrap()).unwrap();
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(created["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!(
        expires_at - created_at,
        chrono::Duration::days(30),
        "expire-after: P30D"
    );
    let (status, body) = s.admin(
        "POST",
        "/api/v1/main/invitations",
        Some(json!({"email": "nope"})),
    );
    assert_eq!(status, 422, "{body}");

    let (status, list) = s.admin("GET", "/api/v1/main/invitations", None);
    assert_eq!(status, 200);
    assert_eq!(list["results"][0]["status"], "PENDING");
    assert!(list["results"][0].get("token").is_none());

    let accept = format!("/api/v1/main/invitations/{id}/accept");
    remember_secret(GOOD);
    // No credentials needed; a wrong code, another id or tenant: one 404.
    let mut wrong = code.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == '0' { '1' } else { '0' });
    for (path, token) in [
        (accept.as_str(), wrong.as_str()),
        (accept.as_str(), "sakinv_nonsense"),
        (
            "/api/v1/main/invitations/0000000000000000/accept",
            code.as_str(),
        ),
        (
            &*format!("/api/v1/staging/invitations/{id}/accept"),
            code.as_str(),
        ),
    ] {
        let (status, body) = s.anonymous(
            "POST",
            path,
            Some(json!({"token": token, "password": GOOD})),
        );
        assert_eq!(status, 404, "{path}: {body}");
    }
    // A weak password does not spend the invitation.
    let (status, body) = s.anonymous(
        "POST",
        &accept,
        Some(json!({"token": code, "password": "weak"})),
    );
    assert_eq!(status, 422, "{body}");
    let (status, user) = s.anonymous(
        "POST",
        &accept,
        Some(json!({"token": code, "password": GOOD})),
    );
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["username"], "dana@example.com");
    let (status, _) = s.anonymous(
        "POST",
        &accept,
        Some(json!({"token": code, "password": GOOD})),
    );
    assert_eq!(status, 404, "an invitation works once");
    let dana = basic(&format!("dana@example.com:{GOOD}"));
    let (status, me) = s.as_(&dana, "GET", "/api/v1/main/me", None);
    assert_eq!(status, 200, "{me}");
    let (_, list) = s.admin("GET", "/api/v1/main/invitations", None);
    assert_eq!(list["results"][0]["status"], "ACCEPTED");
    assert!(list["results"][0]["acceptedAt"].is_string());

    // A withdrawn invitation no longer works.
    let (_, created) = s.admin(
        "POST",
        "/api/v1/main/invitations",
        Some(json!({"email": "erin@example.com"})),
    );
    let code = created["token"].as_str().unwrap().to_owned();
    remember_secret(&code);
    let id = created["id"].as_str().unwrap();
    let (status, _) = s.admin("DELETE", &format!("/api/v1/main/invitations/{id}"), None);
    assert_eq!(status, 204);
    let (status, _) = s.admin("DELETE", &format!("/api/v1/main/invitations/{id}"), None);
    assert_eq!(status, 404);
    let (status, _) = s.anonymous(
        "POST",
        &format!("/api/v1/main/invitations/{id}/accept"),
        Some(json!({"token": code, "username": "erin", "password": GOOD})),
    );
    assert_eq!(status, 404);
    // Only accepting is open.
    let (status, _) = s.anonymous("GET", "/api/v1/main/invitations", None);
    assert_eq!(status, 401);
}

#[test]
fn an_invitation_carries_bindings_its_user_gets_on_acceptance() {
    let s = Server::start(SECURITY);
    s.deploy("company.team.x");
    s.deploy("company.other");
    let (status, body) = s.admin(
        "POST",
        "/api/v1/main/roles",
        Some(json!({"name": "team-reader", "permissions": {"FLOW": ["READ"]}})),
    );
    assert_eq!(status, 200, "{body}");

    let bindings = json!([{"role": "team-reader", "namespace": "company.team"}]);
    let (status, created) = s.admin(
        "POST",
        "/api/v1/main/invitations",
        Some(json!({"email": "gina@example.com", "bindings": bindings})),
    );
    assert_eq!(status, 200, "{created}");
    let code = created["token"].as_str().unwrap().to_owned();
    remember_secret(&code);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["bindings"], bindings);
    let (status, list) = s.admin("GET", "/api/v1/main/invitations", None);
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["results"][0]["bindings"], bindings, "{list}");

    remember_secret(GOOD);
    let (status, user) = s.anonymous(
        "POST",
        &format!("/api/v1/main/invitations/{id}/accept"),
        Some(json!({"token": code, "username": "gina", "password": GOOD})),
    );
    assert_eq!(status, 200, "{user}");
    let gina = basic(&format!("gina:{GOOD}"));
    let (status, body) = s.as_(
        &gina,
        "GET",
        "/api/v1/main/flows/company.team.x/hello",
        None,
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = s.as_(&gina, "GET", "/api/v1/main/flows/company.other/hello", None);
    assert_eq!(status, 404, "{body}");
    let (status, body) = s.as_(&gina, "GET", "/api/v1/main/users", None);
    assert_eq!(
        status, 403,
        "a namespace binding gives no tenant-wide power: {body}"
    );
    let (status, me) = s.as_(&gina, "GET", "/api/v1/main/me", None);
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        me["bindings"],
        json!([{"role": "team-reader", "namespace": "company.team", "permissions": {"FLOW": ["READ"]}}])
    );
    let (_, list) = s.admin("GET", "/api/v1/main/invitations", None);
    assert_eq!(list["results"][0]["status"], "ACCEPTED", "{list}");
    assert_eq!(list["results"][0]["bindings"], bindings, "{list}");

    // Refused: an unknown role, a bad namespace, a repeat, a malformed list. Nothing is made.
    for (bad, expected, says) in [
        (json!([{"role": "ghost"}]), 404, "ghost"),
        (
            json!([{"role": "team-reader", "namespace": "a..b"}]),
            422,
            "namespace",
        ),
        (
            json!([{"role": "team-reader"}, {"role": "team-reader", "namespace": null}]),
            422,
            "twice",
        ),
        (json!("team-reader"), 400, "bindings"),
        (json!([{"namespace": "company"}]), 400, "bindings"),
        (json!([{"role": 3}]), 400, "bindings"),
        (json!([{"role": "team-reader", "scope": "x"}]), 400, "scope"),
    ] {
        let (status, body) = s.admin(
            "POST",
            "/api/v1/main/invitations",
            Some(json!({"email": "ivan@example.com", "bindings": bad})),
        );
        assert_eq!(status, expected, "{bad}: {body}");
        assert!(message(&body).contains(says), "{bad}: {body}");
    }
    let (_, list) = s.admin("GET", "/api/v1/main/invitations", None);
    assert_eq!(list["total"], 1, "{list}");

    // An inviter without BINDING CREATE invites, but hands out no access.
    let (status, body) = s.admin(
        "POST",
        "/api/v1/main/roles",
        Some(json!({"name": "inviter", "permissions": {"INVITATION": ["CREATE", "READ"]}})),
    );
    assert_eq!(status, 200, "{body}");
    s.user("hank", GOOD);
    let (status, body) = s.admin(
        "POST",
        "/api/v1/main/bindings",
        Some(json!({"username": "hank", "role": "inviter"})),
    );
    assert_eq!(status, 200, "{body}");
    let hank = basic(&format!("hank:{GOOD}"));
    for bindings in [
        json!([{"role": "team-reader", "namespace": "company.team"}]),
        json!([{"role": "ghost"}]),
    ] {
        let (status, body) = s.as_(
            &hank,
            "POST",
            "/api/v1/main/invitations",
            Some(json!({"email": "jo@example.com", "bindings": bindings})),
        );
        assert_eq!(status, 403, "{body}");
        assert!(message(&body).contains("BINDING CREATE"), "{body}");
    }
    let (_, list) = s.admin("GET", "/api/v1/main/invitations", None);
    assert_eq!(
        list["total"], 1,
        "the refused invitations were not made: {list}"
    );
    for body in [
        json!({"email": "jo@example.com"}),
        json!({"email": "kim@example.com", "bindings": []}),
        json!({"email": "lou@example.com", "bindings": null}),
    ] {
        let (status, created) = s.as_(&hank, "POST", "/api/v1/main/invitations", Some(body));
        assert_eq!(status, 200, "{created}");
        remember_secret(created["token"].as_str().unwrap());
        assert_eq!(created["bindings"], json!([]), "{created}");
    }
}

#[test]
fn an_invitation_expires_after_security_invitations_expire_after() {
    let s = Server::start("  security:\n    invitations:\n      expire-after: PT1S\n");
    let (status, created) = s.admin(
        "POST",
        "/api/v1/main/invitations",
        Some(json!({"email": "late@example.com"})),
    );
    assert_eq!(status, 200, "{created}");
    let code = created["token"].as_str().unwrap().to_owned();
    remember_secret(&code);
    let id = created["id"].as_str().unwrap().to_owned();
    let created_at =
        chrono::DateTime::parse_from_rfc3339(created["createdAt"].as_str().unwrap()).unwrap();
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(created["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!(expires_at - created_at, chrono::Duration::seconds(1));
    // Wait until the server itself reports it expired.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, list) = s.admin("GET", "/api/v1/main/invitations", None);
        if list["results"][0]["status"] == "EXPIRED" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never EXPIRED: {list}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (status, body) = s.anonymous(
        "POST",
        &format!("/api/v1/main/invitations/{id}/accept"),
        Some(json!({"token": code, "password": GOOD})),
    );
    assert_eq!(status, 410, "{body}");
    assert!(message(&body).contains("expired"), "{body}");
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
