//! What the identity tests (`cli_api_iam*.rs`) share: a server with users enabled, requests
//! as its admin, as another user or without credentials, and the password policy they use.
// Each test binary uses only some of these.
#![allow(dead_code)]

use base64::Engine as _;
use serde_json::{Value, json};

use super::{
    ADMIN_CONFIG, free_port, http_as, remember_secret, start_server_with, stop, write_config,
};

const ADMIN: &str = "admin:Admin-pass-2026!";
/// A password the policy in [`SECURITY`] accepts.
pub const GOOD: &str = "Good-pass-2026!";
/// A password policy and a 30-day invitation lifetime (a `saker:` configuration fragment).
pub const SECURITY: &str = "  security:\n    basic-auth:\n      password-regexp: \"[A-Za-z0-9!-]{12,}\"\n    invitations:\n      expire-after: P30D\n";

/// The `Authorization` value for `user:password`.
pub fn basic(credentials: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

/// One JSON request; a body that is a string is sent as is.
pub fn call(
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

/// A server whose API admin is `admin`; stopped when dropped.
pub struct Server {
    port: u16,
    admin: String,
    child: Option<std::process::Child>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts a server with [`ADMIN_CONFIG`] followed by `extra_config`.
    pub fn start(extra_config: &str) -> Self {
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

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A request as the admin.
    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        call(self.port, method, path, body, Some(&self.admin))
    }

    /// A request with the `Authorization` value `auth`.
    pub fn as_(&self, auth: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        call(self.port, method, path, body, Some(auth))
    }

    /// A request without credentials.
    pub fn anonymous(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        call(self.port, method, path, body, None)
    }

    /// Creates a user as admin; returns its id.
    pub fn user(&self, username: &str, password: &str) -> String {
        remember_secret(password);
        let (status, user) = self.admin(
            "POST",
            "/api/v1/main/users",
            Some(json!({"username": username, "password": password})),
        );
        assert_eq!(status, 200, "{user}");
        user["id"].as_str().unwrap().to_owned()
    }

    /// Deploys the flow `hello` (one log task) into `namespace` as the admin.
    pub fn deploy(&self, namespace: &str) {
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

/// The `message` of an error body, or "".
pub fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}
