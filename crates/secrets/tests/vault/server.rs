//! A Vault test server following Vault's documented HTTP API for what Saker's backend uses:
//! KV v2 (`data`, `metadata` with list and `custom_metadata`, `delete`, `undelete`,
//! `destroy`, check-and-set through `options.cas`), KV v1, `auth/token/lookup-self` and
//! `renew-self`, userpass and approle logins. Answers have Vault's JSON shapes
//! (`{"data": ...}`, `{"auth": ...}`, `{"errors": [...]}`) and status codes (200, 204, 400,
//! 403 "permission denied", 404 with `{"errors": []}`). hvac, HashiCorp's Python client, is run
//! against it by `vault_backend.rs` as a check of this reading of the protocol.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

pub const ROOT_TOKEN: &str = "root-test-token";

#[derive(Clone)]
struct Token {
    ttl: u64,
    renewable: bool,
    revoked: bool,
}

struct Version {
    data: Option<Value>,
    created: String,
    deletion_time: String,
    destroyed: bool,
}

#[derive(Default)]
struct Kv2Secret {
    versions: BTreeMap<u64, Version>,
    current: u64,
    created: String,
    updated: String,
    custom: Map<String, Value>,
}

/// What a test can look at and change.
#[derive(Default)]
pub struct Controls {
    pub logins: u32,
    pub renewals: u32,
    /// `X-Vault-Namespace` of every authenticated request.
    pub namespaces: Vec<Option<String>>,
    /// Lease of tokens issued by logins, in seconds.
    pub login_ttl: u64,
}

#[derive(Default)]
struct Inner {
    tokens: HashMap<String, Token>,
    users: HashMap<String, String>,
    /// approle mount → (role id → secret id).
    approles: HashMap<String, HashMap<String, String>>,
    /// mount → KV version.
    mounts: HashMap<String, u8>,
    kv2: BTreeMap<(String, String), Kv2Secret>,
    kv1: BTreeMap<(String, String), Value>,
    next_token: u64,
    controls: Controls,
}

#[derive(Clone)]
pub struct VaultServer {
    inner: Arc<Mutex<Inner>>,
    pub address: String,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn errors(status: StatusCode, messages: &[&str]) -> Response {
    (status, axum::Json(json!({"errors": messages}))).into_response()
}

fn ok(body: Value) -> Response {
    let mut envelope = json!({"request_id": "00000000-0000-0000-0000-000000000000",
        "lease_id": "", "renewable": false, "lease_duration": 0,
        "wrap_info": null, "warnings": null, "auth": null, "data": null});
    for (k, v) in body.as_object().cloned().unwrap_or_default() {
        envelope[k] = v;
    }
    (StatusCode::OK, axum::Json(envelope)).into_response()
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

impl VaultServer {
    /// Starts on a free port, with mounts `secret` (KV v2) and `kv` (KV v1), user
    /// `saker`/`user-password`, approle `role-1`/`secret-id-1` at `approle`.
    pub fn start() -> Self {
        let mut inner = Inner::default();
        inner.tokens.insert(
            ROOT_TOKEN.into(),
            Token {
                ttl: 0,
                renewable: false,
                revoked: false,
            },
        );
        inner.users.insert("saker".into(), "user-password".into());
        inner.approles.insert(
            "approle".into(),
            HashMap::from([("role-1".to_owned(), "secret-id-1".to_owned())]),
        );
        inner.mounts.insert("secret".into(), 2);
        inner.mounts.insert("kv".into(), 1);
        inner.controls.login_ttl = 3600;
        let inner = Arc::new(Mutex::new(inner));
        let state = inner.clone();
        let (ready, wait) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr: SocketAddr = listener.local_addr().unwrap();
                ready.send(addr).unwrap();
                let app = axum::Router::new().fallback(handle).with_state(state);
                axum::serve(listener, app).await.unwrap();
            });
        });
        let addr = wait.recv().unwrap();
        Self {
            inner,
            address: format!("http://{addr}"),
        }
    }

    pub fn controls<T>(&self, f: impl FnOnce(&mut Controls) -> T) -> T {
        f(&mut self.inner.lock().unwrap().controls)
    }

    /// Revokes every token but the root token (as their expiry would).
    pub fn revoke_issued_tokens(&self) {
        let mut inner = self.inner.lock().unwrap();
        for (name, token) in inner.tokens.iter_mut() {
            if name != ROOT_TOKEN {
                token.revoked = true;
            }
        }
    }

    /// The value field of KV v2 `mount`/`path`'s current version, if readable.
    pub fn current_value(&self, mount: &str, path: &str) -> Option<Value> {
        let inner = self.inner.lock().unwrap();
        let secret = inner.kv2.get(&(mount.to_owned(), path.to_owned()))?;
        secret.versions.get(&secret.current)?.data.clone()
    }
}

fn issue(inner: &mut Inner, ttl: u64) -> String {
    inner.next_token += 1;
    let name = format!("hvs.issued-{}", inner.next_token);
    inner.tokens.insert(
        name.clone(),
        Token {
            ttl,
            renewable: true,
            revoked: false,
        },
    );
    name
}

fn login_answer(inner: &mut Inner) -> Response {
    inner.controls.logins += 1;
    let ttl = inner.controls.login_ttl;
    let token = issue(inner, ttl);
    ok(
        json!({"auth": {"client_token": token, "accessor": "acc", "policies": ["default"],
        "token_policies": ["default"], "lease_duration": ttl, "renewable": true}}),
    )
}

async fn handle(
    State(state): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = state.lock().unwrap();
    let Some(path) = uri.path().strip_prefix("/v1/") else {
        return errors(StatusCode::NOT_FOUND, &[]);
    };
    let query: HashMap<String, String> = uri
        .query()
        .map(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => return errors(StatusCode::BAD_REQUEST, &["failed to parse JSON input"]),
        }
    };
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    // Logins need no token.
    match (method.as_str(), segments.as_slice()) {
        ("POST" | "PUT", ["auth", "userpass", "login", user]) => {
            let good = inner.users.get(*user).map(String::as_str) == body["password"].as_str();
            return if good {
                login_answer(&mut inner)
            } else {
                errors(StatusCode::BAD_REQUEST, &["invalid username or password"])
            };
        }
        ("POST" | "PUT", ["auth", mount, "login"]) if inner.approles.contains_key(*mount) => {
            let role = body["role_id"].as_str().unwrap_or("");
            let secret = body["secret_id"].as_str().unwrap_or("");
            let good = inner.approles[*mount].get(role).map(String::as_str) == Some(secret);
            return if good {
                login_answer(&mut inner)
            } else {
                errors(StatusCode::BAD_REQUEST, &["invalid role or secret ID"])
            };
        }
        _ => {}
    }
    let token_name = headers
        .get("x-vault-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let Some(token) = inner
        .tokens
        .get(&token_name)
        .filter(|t| !t.revoked)
        .cloned()
    else {
        return errors(StatusCode::FORBIDDEN, &["permission denied"]);
    };
    let namespace = headers
        .get("x-vault-namespace")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    inner.controls.namespaces.push(namespace);
    let list = method.as_str() == "LIST" || query.get("list").map(String::as_str) == Some("true");
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["auth", "token", "lookup-self"]) => {
            return ok(json!({"data": {"id": token_name, "ttl": token.ttl,
                "renewable": token.renewable, "policies": ["default"]}}));
        }
        ("POST" | "PUT", ["auth", "token", "renew-self"]) => {
            if !token.renewable {
                return errors(StatusCode::BAD_REQUEST, &["lease is not renewable"]);
            }
            inner.controls.renewals += 1;
            return ok(
                json!({"auth": {"client_token": token_name, "lease_duration": token.ttl,
                "renewable": true, "policies": ["default"]}}),
            );
        }
        _ => {}
    }
    let Some((mount, rest)) = segments.split_first() else {
        return errors(StatusCode::NOT_FOUND, &[]);
    };
    let mount = mount.to_string();
    match inner.mounts.get(&mount).copied() {
        Some(2) => {
            let Some((kind, path)) = rest.split_first() else {
                return errors(StatusCode::NOT_FOUND, &[]);
            };
            let path = path.join("/");
            kv2(&mut inner, &method, kind, mount, path, list, &query, &body)
        }
        Some(_) => kv1(&mut inner, &method, mount, rest.join("/"), list, &body),
        None => errors(
            StatusCode::NOT_FOUND,
            &[&format!(
                "no handler for route \"{path}\". route entry not found."
            )],
        ),
    }
}

fn list_keys<'a>(paths: impl Iterator<Item = &'a String>, dir: &str) -> Response {
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let mut keys: Vec<String> = paths
        .filter_map(|p| p.strip_prefix(&prefix))
        .map(|rest| match rest.split_once('/') {
            Some((first, _)) => format!("{first}/"),
            None => rest.to_owned(),
        })
        .collect();
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        return errors(StatusCode::NOT_FOUND, &[]);
    }
    ok(json!({"data": {"keys": keys}}))
}

fn version_meta(number: u64, version: &Version, custom: &Map<String, Value>) -> Value {
    json!({"created_time": version.created, "custom_metadata": custom,
        "deletion_time": version.deletion_time, "destroyed": version.destroyed,
        "version": number})
}

fn versions_of(body: &Value) -> Vec<u64> {
    body["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn kv2(
    inner: &mut Inner,
    method: &Method,
    kind: &str,
    mount: String,
    path: String,
    list: bool,
    query: &HashMap<String, String>,
    body: &Value,
) -> Response {
    let id = (mount.clone(), path.clone());
    match (kind, method.as_str()) {
        ("metadata", "GET" | "LIST") if list => list_keys(
            inner
                .kv2
                .keys()
                .filter(|(m, _)| *m == mount)
                .map(|(_, p)| p),
            &path,
        ),
        ("metadata", "GET") => match inner.kv2.get(&id) {
            None => errors(StatusCode::NOT_FOUND, &[]),
            Some(secret) => {
                let versions: Map<String, Value> = secret
                    .versions
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.to_string(),
                            json!({"created_time": v.created,
                            "deletion_time": v.deletion_time, "destroyed": v.destroyed}),
                        )
                    })
                    .collect();
                ok(
                    json!({"data": {"cas_required": false, "created_time": secret.created,
                    "current_version": secret.current, "custom_metadata": secret.custom,
                    "delete_version_after": "0s", "max_versions": 0,
                    "oldest_version": secret.versions.keys().next().copied().unwrap_or(0),
                    "updated_time": secret.updated, "versions": versions}}),
                )
            }
        },
        ("metadata", "POST" | "PUT") => {
            let secret = inner.kv2.entry(id).or_insert_with(|| Kv2Secret {
                created: now(),
                updated: now(),
                ..Kv2Secret::default()
            });
            if let Some(custom) = body["custom_metadata"].as_object() {
                secret.custom = custom.clone();
            }
            no_content()
        }
        ("metadata", "DELETE") => {
            inner.kv2.remove(&id);
            no_content()
        }
        ("data", "GET") => {
            let Some(secret) = inner.kv2.get(&id) else {
                return errors(StatusCode::NOT_FOUND, &[]);
            };
            let number = query
                .get("version")
                .and_then(|v| v.parse().ok())
                .filter(|n| *n > 0)
                .unwrap_or(secret.current);
            let Some(version) = secret.versions.get(&number) else {
                return errors(StatusCode::NOT_FOUND, &[]);
            };
            let meta = version_meta(number, version, &secret.custom);
            match &version.data {
                Some(data) if version.deletion_time.is_empty() => {
                    ok(json!({"data": {"data": data, "metadata": meta}}))
                }
                _ => (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({"data": {"data": null, "metadata": meta}})),
                )
                    .into_response(),
            }
        }
        ("data", "POST" | "PUT") => {
            let Some(data) = body["data"].as_object() else {
                return errors(StatusCode::BAD_REQUEST, &["no data provided"]);
            };
            let secret = inner.kv2.entry(id).or_default();
            if let Some(cas) = body["options"]["cas"].as_u64()
                && cas != secret.current
            {
                return errors(
                    StatusCode::BAD_REQUEST,
                    &["check-and-set parameter did not match the current version"],
                );
            }
            let stamp = now();
            if secret.created.is_empty() {
                secret.created = stamp.clone();
            }
            secret.updated = stamp.clone();
            secret.current += 1;
            let version = Version {
                data: Some(Value::Object(data.clone())),
                created: stamp,
                deletion_time: String::new(),
                destroyed: false,
            };
            let meta = version_meta(secret.current, &version, &secret.custom);
            secret.versions.insert(secret.current, version);
            ok(json!({"data": meta}))
        }
        ("data", "DELETE") => {
            if let Some(secret) = inner.kv2.get_mut(&id) {
                let current = secret.current;
                if let Some(version) = secret.versions.get_mut(&current) {
                    version.deletion_time = now();
                }
            }
            no_content()
        }
        ("delete" | "undelete" | "destroy", "POST" | "PUT") => {
            let numbers = versions_of(body);
            if numbers.is_empty() {
                return errors(StatusCode::BAD_REQUEST, &["no version number provided"]);
            }
            if let Some(secret) = inner.kv2.get_mut(&id) {
                for number in numbers {
                    let Some(version) = secret.versions.get_mut(&number) else {
                        continue;
                    };
                    match kind {
                        "delete" => version.deletion_time = now(),
                        "undelete" if !version.destroyed => version.deletion_time.clear(),
                        "destroy" => {
                            version.destroyed = true;
                            version.data = None;
                        }
                        _ => {}
                    }
                }
            }
            no_content()
        }
        _ => errors(StatusCode::METHOD_NOT_ALLOWED, &[]),
    }
}

fn kv1(
    inner: &mut Inner,
    method: &Method,
    mount: String,
    path: String,
    list: bool,
    body: &Value,
) -> Response {
    let id = (mount.clone(), path.clone());
    match method.as_str() {
        "GET" | "LIST" if list => list_keys(
            inner
                .kv1
                .keys()
                .filter(|(m, _)| *m == mount)
                .map(|(_, p)| p),
            &path,
        ),
        "GET" => match inner.kv1.get(&id) {
            Some(data) => ok(json!({"data": data})),
            None => errors(StatusCode::NOT_FOUND, &[]),
        },
        "POST" | "PUT" => {
            if !body.is_object() {
                return errors(StatusCode::BAD_REQUEST, &["no data provided"]);
            }
            inner.kv1.insert(id, body.clone());
            no_content()
        }
        "DELETE" => {
            inner.kv1.remove(&id);
            no_content()
        }
        _ => errors(StatusCode::METHOD_NOT_ALLOWED, &[]),
    }
}
