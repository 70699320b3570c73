//! Logging in: failed logins are throttled per (user, address) and per address, never per
//! user alone; API tokens are not throttled; usernames compare without regard to case;
//! scheme names too (RFC 7235); without `password-regexp` a password needs 12 characters.

mod common;

use std::net::Ipv4Addr;

use common::iam::{GOOD, Server, basic, message};
use common::*;
use serde_json::json;

const ME: &str = "/api/v1/main/me";
const ATTACKER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const ELSEWHERE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

#[test]
fn wrong_passwords_from_one_address_lock_out_that_address_only() {
    let server = Server::start("");
    let port = server.port();
    let admin = basic("admin:Admin-pass-2026!");
    let wrong = basic("admin:not-the-password-81");
    let (_, token) = server.admin(
        "POST",
        &format!(
            "/api/v1/main/users/{}/api-tokens",
            server.admin("GET", ME, None).1["userId"].as_str().unwrap()
        ),
        Some(json!({"name": "ci"})),
    );
    let bearer = format!("Bearer {}", token["token"].as_str().unwrap());
    remember_secret(token["token"].as_str().unwrap());

    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            http_from(ATTACKER, port, "GET", ME, Some(&wrong))
                .unwrap()
                .0,
        );
    }
    assert_eq!(statuses[..5], [401; 5], "{statuses:?}");
    assert_eq!(statuses[5], 429, "{statuses:?}");
    // Locked where the failures came from, even with the right password...
    let (status, _) = http_from(ATTACKER, port, "GET", ME, Some(&admin)).unwrap();
    assert_eq!(status, 429);
    // ...but not anywhere else: the owner still logs in.
    let (status, body) = http_from(ELSEWHERE, port, "GET", ME, Some(&admin)).unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, body) = http_as(port, "GET", ME, None, Some(&admin)).unwrap();
    assert_eq!(status, 200, "{body}");
    // API tokens are not throttled, not even from the locked address.
    let (status, body) = http_from(ATTACKER, port, "GET", ME, Some(&bearer)).unwrap();
    assert_eq!(status, 200, "{body}");
}

#[test]
fn usernames_and_scheme_names_compare_without_regard_to_case() {
    let server = Server::start("");
    remember_secret(GOOD);
    let (status, body) = server.admin(
        "POST",
        "/api/v1/main/users",
        Some(json!({"username": "ADMIN@x.io", "password": GOOD})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.admin(
        "POST",
        "/api/v1/main/users",
        Some(json!({"username": "admin@x.io", "password": GOOD})),
    );
    assert_eq!(status, 409, "{body}");
    assert!(message(&body).contains("without regard to case"), "{body}");
    let (status, body) = server.admin(
        "POST",
        "/api/v1/main/users",
        Some(json!({"username": "ADMIN", "password": GOOD})),
    );
    assert_eq!(
        status, 409,
        "the configured admin's name, another spelling: {body}"
    );
    let credentials = basic(&format!("Admin@X.io:{GOOD}"));
    let (status, body) = server.as_(&credentials, "GET", ME, None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["username"], "ADMIN@x.io");
    for scheme in ["basic", "BASIC", "bAsIc"] {
        let header = credentials.replacen("Basic", scheme, 1);
        let (status, body) = server.as_(&header, "GET", ME, None);
        assert_eq!(status, 200, "{scheme}: {body}");
    }
}

#[test]
fn without_a_password_regexp_a_password_needs_twelve_characters() {
    let server = Server::start("");
    for (password, expected) in [("Elevenchars", 422), ("Twelve-chars", 200)] {
        remember_secret(password);
        let (status, body) = server.admin(
            "POST",
            "/api/v1/main/users",
            Some(json!({"username": format!("u{}", password.len()), "password": password})),
        );
        assert_eq!(status, expected, "{body}");
        if expected == 422 {
            assert!(message(&body).contains("12 characters"), "{body}");
        }
    }
}
