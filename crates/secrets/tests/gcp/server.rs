//! A Google Secret Manager test server following Google's documented REST API (v1) for what
//! Saker's backend uses, and the OAuth2 token endpoint of a service account: the JWT bearer
//! grant (RFC 7523) with the assertion's RS256 signature, issuer, audience and expiry checked
//! against the test key; `projects.secrets` create (`?secretId=`, `replication` required),
//! get, list (`pageSize`, `pageToken`, `nextPageToken`), patch (`updateMask`), delete,
//! `:addVersion`; `versions` get, list, `:access` (`latest` is the newest version, refused
//! with 400 FAILED_PRECONDITION when it is disabled or destroyed), `:disable`, `:enable`,
//! `:destroy`. A self-signed JWT of the service account is also accepted as an access token,
//! as Google's APIs do. Errors are Google's `{"error": {"code", "message", "status"}}` with its status
//! codes (400, 401 UNAUTHENTICATED, 404 NOT_FOUND, 409 ALREADY_EXISTS). Google's own Python
//! client (google-cloud-secret-manager over REST, google-auth for the token) is run against
//! it by `gcp_backend.rs` as a check of this reading of the protocol.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

pub const PROJECT: &str = "test-project";
pub const CLIENT_EMAIL: &str = "saker-test@test-project.iam.gserviceaccount.com";
const PRIVATE_KEY: &str = include_str!("service_account_key.pem");
const PUBLIC_KEY: &str = include_str!("service_account_key.pub.pem");

struct Version {
    number: u64,
    data: Option<String>,
    state: &'static str,
    created: String,
    destroyed: Option<String>,
}

struct Secret {
    labels: Value,
    annotations: Value,
    created: String,
    versions: Vec<Version>,
}

/// What a test can look at and change.
#[derive(Default)]
pub struct Controls {
    /// Access tokens issued.
    pub tokens_issued: u32,
    /// `expires_in` of issued tokens, in seconds.
    pub token_lifetime: u64,
    /// Requests authenticated by a self-signed JWT.
    pub self_signed_jwts: u32,
}

#[derive(Default)]
struct Inner {
    secrets: BTreeMap<String, Secret>,
    tokens: HashMap<String, bool>,
    controls: Controls,
}

#[derive(Clone)]
pub struct GcpServer {
    inner: Arc<Mutex<Inner>>,
    pub address: String,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn error(status: StatusCode, name: &str, message: &str) -> Response {
    (
        status,
        axum::Json(
            json!({"error": {"code": status.as_u16(), "message": message,
            "status": name}}),
        ),
    )
        .into_response()
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

impl GcpServer {
    /// Starts on a free port.
    pub fn start() -> Self {
        let mut inner = Inner::default();
        inner.controls.token_lifetime = 3599;
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

    /// A service account key file for this server (token_uri pointing at it).
    pub fn service_account_json(&self) -> String {
        json!({"type": "service_account", "project_id": PROJECT,
            "private_key_id": "test-key-1", "private_key": PRIVATE_KEY,
            "client_email": CLIENT_EMAIL, "client_id": "1234567890",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": format!("{}/token", self.address)})
        .to_string()
    }

    pub fn controls<T>(&self, f: impl FnOnce(&mut Controls) -> T) -> T {
        f(&mut self.inner.lock().unwrap().controls)
    }

    /// Revokes every issued token (as their expiry would).
    pub fn revoke_tokens(&self) {
        for valid in self.inner.lock().unwrap().tokens.values_mut() {
            *valid = false;
        }
    }

    /// The ids of the project's secrets.
    pub fn secret_ids(&self) -> Vec<String> {
        self.inner.lock().unwrap().secrets.keys().cloned().collect()
    }

    /// The latest version's value of secret `id`, if it is enabled.
    pub fn latest_value(&self, id: &str) -> Option<String> {
        let inner = self.inner.lock().unwrap();
        let version = inner.secrets.get(id)?.versions.last()?;
        let data = version
            .data
            .as_ref()
            .filter(|_| version.state == "ENABLED")?;
        String::from_utf8(BASE64.decode(data).ok()?).ok()
    }

    /// The labels and annotations of secret `id`.
    pub fn labels_and_annotations(&self, id: &str) -> Option<(Value, Value)> {
        let inner = self.inner.lock().unwrap();
        let secret = inner.secrets.get(id)?;
        Some((secret.labels.clone(), secret.annotations.clone()))
    }
}

fn secret_json(id: &str, secret: &Secret) -> Value {
    let mut body = json!({"name": format!("projects/{PROJECT}/secrets/{id}"),
        "replication": {"automatic": {}}, "createTime": secret.created,
        "etag": format!("\"{}\"", secret.versions.len())});
    if secret.labels.as_object().is_some_and(|m| !m.is_empty()) {
        body["labels"] = secret.labels.clone();
    }
    if secret
        .annotations
        .as_object()
        .is_some_and(|m| !m.is_empty())
    {
        body["annotations"] = secret.annotations.clone();
    }
    body
}

fn version_json(id: &str, version: &Version) -> Value {
    let mut body = json!({"name": format!("projects/{PROJECT}/secrets/{id}/versions/{}",
            version.number),
        "createTime": version.created, "state": version.state,
        "etag": format!("\"{}\"", version.number),
        "replicationStatus": {"automatic": {}}});
    if let Some(at) = &version.destroyed {
        body["destroyTime"] = json!(at);
    }
    body
}

fn query_of(uri: &Uri) -> HashMap<String, String> {
    uri.query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect::<HashMap<_, _>>()
        })
        .unwrap_or_default()
}

/// A JWT the service account signed itself, used as the access token (Google's APIs accept
/// these: "self-signed JWT" access, which Google's Python clients use by default).
fn self_signed(inner: &mut Inner, token: &str) -> bool {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    validation.set_issuer(&[CLIENT_EMAIL]);
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
    let valid = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .is_ok_and(|data| data.claims["sub"] == CLIENT_EMAIL);
    if valid {
        inner.controls.self_signed_jwts += 1;
    }
    valid
}

fn token_endpoint(inner: &mut Inner, body: &Bytes, address: &str) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    let invalid = |description: &str| {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant", "error_description": description})),
        )
            .into_response()
    };
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "unsupported_grant_type",
                "error_description": "Invalid grant_type: "})),
        )
            .into_response();
    }
    let Some(assertion) = form.get("assertion") else {
        return invalid("Invalid JWT: assertion is missing.");
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    // Google's endpoint names itself https://oauth2.googleapis.com/token (google-auth always
    // sends that audience); a token endpoint elsewhere is also named by its own URL.
    validation.set_audience(&[
        format!("{address}/token"),
        "https://oauth2.googleapis.com/token".to_owned(),
    ]);
    validation.set_issuer(&[CLIENT_EMAIL]);
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
    let claims = match jsonwebtoken::decode::<Value>(assertion, &key, &validation) {
        Ok(data) => data.claims,
        Err(_) => return invalid("Invalid JWT Signature."),
    };
    let scoped = claims["scope"].as_str().is_some_and(|s| {
        s.split(' ')
            .any(|s| s.starts_with("https://www.googleapis.com/auth/"))
    });
    if !scoped {
        return invalid("Invalid OAuth scope or ID token audience provided.");
    }
    inner.controls.tokens_issued += 1;
    let token = format!("ya29.test-{}", inner.controls.tokens_issued);
    inner.tokens.insert(token.clone(), true);
    ok(
        json!({"access_token": token, "expires_in": inner.controls.token_lifetime,
        "token_type": "Bearer"}),
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
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if uri.path() == "/token" && method == Method::POST {
        return token_endpoint(&mut inner, &body, &format!("http://{host}"));
    }
    let bearer = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "));
    let issued = bearer.is_some_and(|t| inner.tokens.get(t) == Some(&true));
    if !issued && !bearer.is_some_and(|t| self_signed(&mut inner, t)) {
        return error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential.",
        );
    }
    let Some(rest) = uri
        .path()
        .strip_prefix(&format!("/v1/projects/{PROJECT}/secrets"))
    else {
        return error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("The requested URL {} was not found.", uri.path()),
        );
    };
    let query = query_of(&uri);
    let json: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(json) => json,
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_ARGUMENT",
                    "Invalid JSON payload received.",
                );
            }
        }
    };
    let rest = rest.trim_start_matches('/');
    if rest.is_empty() {
        return match method {
            Method::POST => create(&mut inner, &query, &json),
            Method::GET => list_secrets(&inner, &query),
            _ => error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", ""),
        };
    }
    let (id, tail) = match rest.split_once('/') {
        Some((id, tail)) => (id, Some(tail)),
        None => (rest, None),
    };
    let (id, verb) = match id.split_once(':') {
        Some((id, verb)) => (id, Some(verb)),
        None => (id, None),
    };
    let id = id.to_owned();
    let full = format!("projects/{PROJECT}/secrets/{id}");
    let Some(secret) = inner.secrets.get_mut(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("Secret [{full}] not found or has no versions."),
        );
    };
    match (method, tail, verb) {
        (Method::GET, None, None) => ok(secret_json(&id, secret)),
        (Method::PATCH, None, None) => {
            let mask = query.get("updateMask").cloned().unwrap_or_default();
            for field in mask.split(',').filter(|f| !f.is_empty()) {
                match field {
                    "labels" => secret.labels = json["labels"].clone(),
                    "annotations" => secret.annotations = json["annotations"].clone(),
                    other => {
                        return error(
                            StatusCode::BAD_REQUEST,
                            "INVALID_ARGUMENT",
                            &format!("Invalid update mask path: {other}"),
                        );
                    }
                }
            }
            ok(secret_json(&id, secret))
        }
        (Method::DELETE, None, None) => {
            inner.secrets.remove(&id);
            ok(json!({}))
        }
        (Method::POST, None, Some("addVersion")) => {
            let Some(data) = json["payload"]["data"].as_str() else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_ARGUMENT",
                    "Payload is required.",
                );
            };
            let number = secret.versions.last().map_or(1, |v| v.number + 1);
            secret.versions.push(Version {
                number,
                data: Some(data.to_owned()),
                state: "ENABLED",
                created: now(),
                destroyed: None,
            });
            ok(version_json(&id, secret.versions.last().unwrap()))
        }
        (Method::GET, Some("versions"), None) => list_versions(&id, secret, &query),
        (method, Some(tail), None) => version_call(&id, secret, method, tail),
        _ => error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("The requested URL {} was not found.", uri.path()),
        ),
    }
}

fn create(inner: &mut Inner, query: &HashMap<String, String>, json: &Value) -> Response {
    let Some(id) = query.get("secretId") else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "secret_id is required.",
        );
    };
    let valid = !id.is_empty()
        && id.len() <= 255
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "The secret_id must be at most 255 characters of [a-zA-Z0-9_-].",
        );
    }
    if !json["replication"].is_object() {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "Secret.replication is required.",
        );
    }
    if inner.secrets.contains_key(id) {
        return error(
            StatusCode::CONFLICT,
            "ALREADY_EXISTS",
            &format!("Secret [projects/{PROJECT}/secrets/{id}] already exists."),
        );
    }
    let object = |field: &str| match &json[field] {
        Value::Object(map) => Value::Object(map.clone()),
        _ => Value::Object(Map::new()),
    };
    let secret = Secret {
        labels: object("labels"),
        annotations: object("annotations"),
        created: now(),
        versions: Vec::new(),
    };
    let body = secret_json(id, &secret);
    inner.secrets.insert(id.clone(), secret);
    ok(body)
}

/// One page of `items` from `pageToken` (an offset here; opaque to clients).
fn page(items: Vec<Value>, field: &str, query: &HashMap<String, String>) -> Response {
    let size: usize = query
        .get("pageSize")
        .and_then(|s| s.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(25);
    let start: usize = match query.get("pageToken").map(String::as_str) {
        None | Some("") => 0,
        Some(token) => match token.strip_prefix("offset-").and_then(|n| n.parse().ok()) {
            Some(start) => start,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_ARGUMENT",
                    "Invalid page token.",
                );
            }
        },
    };
    let total = items.len();
    let chunk: Vec<Value> = items.into_iter().skip(start).take(size).collect();
    let mut body = json!({});
    if !chunk.is_empty() {
        body[field] = json!(chunk);
        body["totalSize"] = json!(total);
    }
    if start + size < total {
        body["nextPageToken"] = json!(format!("offset-{}", start + size));
    }
    ok(body)
}

fn list_secrets(inner: &Inner, query: &HashMap<String, String>) -> Response {
    let items = inner
        .secrets
        .iter()
        .map(|(id, s)| secret_json(id, s))
        .collect();
    page(items, "secrets", query)
}

fn list_versions(id: &str, secret: &Secret, query: &HashMap<String, String>) -> Response {
    let items = secret
        .versions
        .iter()
        .rev()
        .map(|v| version_json(id, v))
        .collect();
    page(items, "versions", query)
}

fn version_call(id: &str, secret: &mut Secret, method: Method, tail: &str) -> Response {
    let Some(rest) = tail.strip_prefix("versions/") else {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "Not found.");
    };
    let (which, verb) = match rest.split_once(':') {
        Some((which, verb)) => (which, Some(verb)),
        None => (rest, None),
    };
    let index = if which == "latest" {
        secret.versions.len().checked_sub(1)
    } else {
        which
            .parse::<u64>()
            .ok()
            .and_then(|n| secret.versions.iter().position(|v| v.number == n))
    };
    let full = format!("projects/{PROJECT}/secrets/{id}/versions/{which}");
    let Some(index) = index else {
        return error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("Secret Version [{full}] not found."),
        );
    };
    let version = &mut secret.versions[index];
    match (method, verb) {
        (Method::GET, None) => ok(version_json(id, version)),
        (Method::GET, Some("access")) => {
            if version.state != "ENABLED" {
                return error(
                    StatusCode::BAD_REQUEST,
                    "FAILED_PRECONDITION",
                    &format!(
                        "Secret Version [projects/{PROJECT}/secrets/{id}/versions/{}] is in {} \
                         state.",
                        version.number, version.state
                    ),
                );
            }
            let data = version.data.clone().unwrap_or_default();
            let bytes = BASE64.decode(&data).unwrap_or_default();
            ok(
                json!({"name": format!("projects/{PROJECT}/secrets/{id}/versions/{}",
                    version.number),
                "payload": {"data": data, "dataCrc32c": crc32c(&bytes).to_string()}}),
            )
        }
        (Method::POST, Some(verb @ ("disable" | "enable" | "destroy"))) => {
            if version.state == "DESTROYED" {
                return error(
                    StatusCode::BAD_REQUEST,
                    "FAILED_PRECONDITION",
                    &format!(
                        "Secret Version [projects/{PROJECT}/secrets/{id}/versions/{}] is in \
                         DESTROYED state.",
                        version.number
                    ),
                );
            }
            match verb {
                "disable" => version.state = "DISABLED",
                "enable" => version.state = "ENABLED",
                _ => {
                    version.state = "DESTROYED";
                    version.data = None;
                    version.destroyed = Some(now());
                }
            }
            ok(version_json(id, version))
        }
        _ => error(StatusCode::NOT_FOUND, "NOT_FOUND", "Not found."),
    }
}

/// CRC32C (Castagnoli), as Google sends it with every payload.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
