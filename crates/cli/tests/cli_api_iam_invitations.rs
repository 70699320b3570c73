//! Invitations through the API: accepted without credentials, once, until they expire
//! (`security.invitations.expire-after`), giving the user the bindings they carry, which only
//! an inviter with BINDING CREATE may hand out.
//! Every password and invitation code the tests create is remembered: no response may hold one.

mod common;

use common::iam::*;
use common::*;
use serde_json::json;

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
