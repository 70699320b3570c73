//! An Azure Key Vault test server over HTTPS (a CA and a certificate for 127.0.0.1 made here:
//! azure-core sends bearer tokens over TLS only), following Key Vault's documented REST API
//! for what Saker's backend uses, and the identity platform's client-credentials token
//! endpoint (`/{tenant}/oauth2/v2.0/token`, with the OpenID configuration MSAL reads first).
//! Vault: `PUT/GET secrets/{name}[/{version}]`, `PATCH secrets/{name}/{version}`, `GET
//! secrets` and `secrets/{name}/versions` (`maxresults`, `nextLink`), soft delete, `GET
//! deletedsecrets[/{name}]`, `recover`, purge; names 1-127 letters, digits and dashes,
//! compared without regard to case. Answers have Key Vault's shapes (`SecretBundle`,
//! `SecretItem`, `DeletedSecretBundle`, `{"error": {"code", "message"}}`) and status codes
//! (401 with a `WWW-Authenticate` challenge, 400 BadParameter, 403 disabled, 404
//! SecretNotFound, 409 for a deleted but recoverable name). Microsoft's Python clients
//! (azure-keyvault-secrets, azure-identity) run against it in `azure_backend.rs`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio_rustls::rustls;

pub const TENANT_ID: &str = "test-tenant";
pub const CLIENT_ID: &str = "saker-client";
pub const CLIENT_SECRET: &str = "client-secret-value";
const PAGE_MAX: usize = 25;

struct Version {
    id: String,
    value: String,
    tags: Value,
    content_type: Option<String>,
    enabled: bool,
    created: i64,
    updated: i64,
}

struct Secret {
    /// The name as first written (Key Vault keeps it; lookups ignore case).
    name: String,
    versions: Vec<Version>,
}

/// What a test can look at and change.
#[derive(Default)]
pub struct Controls {
    /// Access tokens issued.
    pub tokens_issued: u32,
    /// `expires_in` of issued tokens, in seconds.
    pub token_lifetime: u64,
    /// Requests answered with a 401 challenge (no token).
    pub challenges: u32,
}

#[derive(Default)]
struct Inner {
    secrets: BTreeMap<String, Secret>,
    deleted: BTreeMap<String, (Secret, i64)>,
    tokens: HashMap<String, bool>,
    next_version: u64,
    controls: Controls,
}

#[derive(Clone)]
pub struct AzureServer {
    inner: Arc<Mutex<Inner>>,
    /// `https://127.0.0.1:<port>`: the vault URL and the token authority.
    pub address: String,
    /// The CA certificate (PEM) the server's certificate is signed by.
    pub ca_pem: String,
}

struct Shared {
    inner: Arc<Mutex<Inner>>,
    base: String,
}

/// A TCP listener whose connections are TLS-terminated before axum sees them.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            // A client that gives up on the certificate is not a reason to stop serving.
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

fn tls_acceptor() -> (tokio_rustls::TlsAcceptor, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Saker test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone(), ca_cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    (
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        ca_cert.pem(),
    )
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn not_found(name: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "SecretNotFound",
        &format!(
            "A secret with (name/id) {name} was not found in this key vault. If you recently \
             deleted this secret you may be able to recover it using the correct recovery \
             command."
        ),
    )
}

impl AzureServer {
    /// Starts on a free port with the service principal `saker-client` in `test-tenant`.
    pub fn start() -> Self {
        let mut inner = Inner::default();
        inner.controls.token_lifetime = 3599;
        let inner = Arc::new(Mutex::new(inner));
        let (acceptor, ca_pem) = tls_acceptor();
        let (ready, wait) = std::sync::mpsc::channel();
        let state = inner.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = tcp.local_addr().unwrap();
                let shared = Arc::new(Shared {
                    inner: state,
                    base: format!("https://{addr}"),
                });
                ready.send(addr).unwrap();
                let app = axum::Router::new().fallback(handle).with_state(shared);
                axum::serve(TlsListener { tcp, acceptor }, app)
                    .await
                    .unwrap();
            });
        });
        let addr = wait.recv().unwrap();
        Self {
            inner,
            address: format!("https://{addr}"),
            ca_pem,
        }
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

    /// The current value and tags of secret `name`.
    pub fn current(&self, name: &str) -> Option<(String, Value)> {
        let inner = self.inner.lock().unwrap();
        let version = inner.secrets.get(&name.to_lowercase())?.versions.last()?;
        Some((version.value.clone(), version.tags.clone()))
    }

    /// Whether `name` is soft-deleted.
    pub fn is_deleted(&self, name: &str) -> bool {
        let inner = self.inner.lock().unwrap();
        inner.deleted.contains_key(&name.to_lowercase())
    }
}

fn attributes(version: &Version) -> Value {
    json!({"enabled": version.enabled, "created": version.created,
        "updated": version.updated, "recoveryLevel": "Recoverable+Purgeable",
        "recoverableDays": 90})
}

/// A `SecretItem` (`with_version`: a version's id) or, with the value, a `SecretBundle`.
fn item(base: &str, secret: &Secret, version: &Version, with_version: bool) -> Value {
    let id = if with_version {
        format!("{base}/secrets/{}/{}", secret.name, version.id)
    } else {
        format!("{base}/secrets/{}", secret.name)
    };
    let mut body = json!({"id": id, "attributes": attributes(version)});
    if version.tags.as_object().is_some_and(|t| !t.is_empty()) {
        body["tags"] = version.tags.clone();
    }
    if let Some(kind) = &version.content_type {
        body["contentType"] = json!(kind);
    }
    body
}

fn bundle(base: &str, secret: &Secret, version: &Version) -> Value {
    let mut body = item(base, secret, version, true);
    body["value"] = json!(version.value);
    body
}

fn deleted_bundle(base: &str, secret: &Secret, deleted: i64) -> Value {
    let version = secret.versions.last().expect("a secret has a version");
    let mut body = item(base, secret, version, true);
    body["recoveryId"] = json!(format!("{base}/deletedsecrets/{}", secret.name));
    body["deletedDate"] = json!(deleted);
    body["scheduledPurgeDate"] = json!(deleted + 90 * 86_400);
    body
}

/// One page of `items` (`$skiptoken` is an offset here; opaque to clients).
fn page(base: &str, path: &str, items: Vec<Value>, query: &HashMap<String, String>) -> Response {
    let size = query
        .get("maxresults")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(PAGE_MAX);
    if size == 0 || size > PAGE_MAX {
        return error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "maxresults must be between 1 and 25",
        );
    }
    let start: usize = query
        .get("$skiptoken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let total = items.len();
    let chunk: Vec<Value> = items.into_iter().skip(start).take(size).collect();
    let next = (start + size < total).then(|| {
        format!(
            "{base}/{path}?api-version={}&$skiptoken={}&maxresults={size}",
            query["api-version"],
            start + size
        )
    });
    ok(json!({"value": chunk, "nextLink": next}))
}

fn identity(inner: &mut Inner, base: &str, method: &Method, path: &str, body: &Bytes) -> Response {
    let tenant_base = format!("{base}/{TENANT_ID}");
    if method == Method::GET
        && path == format!("/{TENANT_ID}/v2.0/.well-known/openid-configuration")
    {
        return ok(json!({
            "token_endpoint": format!("{tenant_base}/oauth2/v2.0/token"),
            "authorization_endpoint": format!("{tenant_base}/oauth2/v2.0/authorize"),
            "issuer": format!("{tenant_base}/v2.0"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                "client_secret_basic"]
        }));
    }
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    let refuse = |status: StatusCode, error: &str, description: &str| {
        (
            status,
            axum::Json(json!({"error": error, "error_description": description,
                "error_codes": [7000215]})),
        )
            .into_response()
    };
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return refuse(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type.",
        );
    }
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the \
             request is the client secret value, not the client secret ID.",
        );
    }
    if form.get("scope").map(String::as_str) != Some("https://vault.azure.net/.default") {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "AADSTS70011: The provided value for the input parameter 'scope' is not valid.",
        );
    }
    inner.controls.tokens_issued += 1;
    let token = format!("eyJ0eXAiOiJKV1QifQ.test-{}", inner.controls.tokens_issued);
    inner.tokens.insert(token.clone(), true);
    let lifetime = inner.controls.token_lifetime;
    ok(
        json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
        "access_token": token}),
    )
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let base = shared.base.as_str();
    let mut inner = shared.inner.lock().unwrap();
    let path = uri.path();
    if path.starts_with(&format!("/{TENANT_ID}/")) {
        return identity(&mut inner, base, &method, path, &body);
    }
    let query: HashMap<String, String> = uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    // Key Vault serves its 7.x versions and the dated ones that followed (2025-07-01...).
    let version_ok = query.get("api-version").is_some_and(|v| {
        v.strip_prefix("7.")
            .is_some_and(|minor| matches!(minor, "0" | "1" | "2" | "3" | "4" | "5" | "6"))
            || (v.len() >= 10 && v[..10].chars().all(|c| c.is_ascii_digit() || c == '-'))
    });
    if !version_ok {
        return error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "The request URI contains an invalid or missing api-version.",
        );
    }
    let bearer = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "));
    let Some(token) = bearer else {
        inner.controls.challenges += 1;
        let challenge = format!(
            "Bearer authorization=\"{base}/{TENANT_ID}\", resource=\"https://vault.azure.net\""
        );
        let mut response = error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "AKV10000: Request is missing a Bearer or PoP token.",
        );
        response
            .headers_mut()
            .insert("www-authenticate", challenge.parse().unwrap());
        return response;
    };
    if inner.tokens.get(token) != Some(&true) {
        return error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "AKV10032: Invalid issuer. The token has expired or was revoked.",
        );
    }
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (Method::GET, ["secrets"]) => {
            let items = inner
                .secrets
                .values()
                .filter_map(|s| Some(item(base, s, s.versions.last()?, false)))
                .collect();
            page(base, "secrets", items, &query)
        }
        (Method::GET, ["deletedsecrets"]) => {
            let items = inner
                .deleted
                .values()
                .map(|(s, at)| {
                    let mut entry = deleted_bundle(base, s, *at);
                    entry["id"] = json!(format!("{base}/secrets/{}", s.name));
                    entry
                })
                .collect();
            page(base, "deletedsecrets", items, &query)
        }
        (Method::PUT, ["secrets", name]) => put(&mut inner, base, name, &json),
        (Method::GET, ["secrets", name] | ["secrets", name, ""]) => get(&inner, base, name, None),
        (Method::GET, ["secrets", name, "versions"]) => {
            let Some(secret) = inner.secrets.get(&name.to_lowercase()) else {
                return not_found(name);
            };
            let items = secret
                .versions
                .iter()
                .map(|v| item(base, secret, v, true))
                .collect();
            page(
                base,
                &format!("secrets/{}/versions", secret.name),
                items,
                &query,
            )
        }
        (Method::GET, ["secrets", name, version]) => get(&inner, base, name, Some(version)),
        (Method::PATCH, ["secrets", name, version]) => {
            let Some(secret) = inner.secrets.get_mut(&name.to_lowercase()) else {
                return not_found(name);
            };
            let Some(index) = secret.versions.iter().position(|v| v.id == *version) else {
                return not_found(name);
            };
            let entry = &mut secret.versions[index];
            if let Some(enabled) = json["attributes"]["enabled"].as_bool() {
                entry.enabled = enabled;
            }
            if json["tags"].is_object() {
                entry.tags = json["tags"].clone();
            }
            entry.updated = now();
            let secret = &inner.secrets[&name.to_lowercase()];
            let mut answer = item(base, secret, &secret.versions[index], true);
            answer.as_object_mut().unwrap().remove("value");
            ok(answer)
        }
        (Method::DELETE, ["secrets", name]) => {
            let Some(secret) = inner.secrets.remove(&name.to_lowercase()) else {
                return not_found(name);
            };
            let at = now();
            let answer = deleted_bundle(base, &secret, at);
            inner.deleted.insert(name.to_lowercase(), (secret, at));
            ok(answer)
        }
        (Method::GET, ["deletedsecrets", name]) => match inner.deleted.get(&name.to_lowercase()) {
            Some((secret, at)) => ok(deleted_bundle(base, secret, *at)),
            None => error(
                StatusCode::NOT_FOUND,
                "SecretNotFound",
                "Deleted Secret not found",
            ),
        },
        (Method::POST, ["deletedsecrets", name, "recover"]) => {
            let Some((secret, _)) = inner.deleted.remove(&name.to_lowercase()) else {
                return error(
                    StatusCode::NOT_FOUND,
                    "SecretNotFound",
                    "Deleted Secret not found",
                );
            };
            let mut answer = item(base, &secret, secret.versions.last().unwrap(), true);
            answer.as_object_mut().unwrap().remove("value");
            inner.secrets.insert(name.to_lowercase(), secret);
            ok(answer)
        }
        (Method::DELETE, ["deletedsecrets", name]) => {
            match inner.deleted.remove(&name.to_lowercase()) {
                Some(_) => StatusCode::NO_CONTENT.into_response(),
                None => error(
                    StatusCode::NOT_FOUND,
                    "SecretNotFound",
                    "Deleted Secret not found",
                ),
            }
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("The requested path {path} was not found."),
        ),
    }
}

fn valid_name(name: &str) -> bool {
    (1..=127).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn put(inner: &mut Inner, base: &str, name: &str, json: &Value) -> Response {
    if !valid_name(name) {
        return error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            &format!(
                "The request URI contains an invalid name: {name}. Secret names must be 1-127 \
                 letters, digits and dashes."
            ),
        );
    }
    let Some(value) = json["value"].as_str() else {
        return error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "Property value is required.",
        );
    };
    if json["tags"].as_object().is_some_and(|t| t.len() > 15) {
        return error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "A secret can have at most 15 tags.",
        );
    }
    let lower = name.to_lowercase();
    if inner.deleted.contains_key(&lower) {
        return (
            StatusCode::CONFLICT,
            axum::Json(json!({"error": {"code": "Conflict", "message": format!(
                "Secret {name} is currently in a deleted but recoverable state, and its name \
                 cannot be reused; in this state, the secret can only be recovered or purged."),
                "innererror": {"code": "ObjectIsDeletedButRecoverable"}}})),
        )
            .into_response();
    }
    inner.next_version += 1;
    // 32 hex digits, as Key Vault's version ids.
    let id = format!(
        "{:032x}",
        u128::from(inner.next_version).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
    );
    let at = now();
    let version = Version {
        id,
        value: value.to_owned(),
        tags: json["tags"].clone(),
        content_type: json["contentType"].as_str().map(str::to_owned),
        enabled: json["attributes"]["enabled"].as_bool().unwrap_or(true),
        created: at,
        updated: at,
    };
    let secret = inner.secrets.entry(lower).or_insert_with(|| Secret {
        name: name.to_owned(),
        versions: Vec::new(),
    });
    secret.versions.push(version);
    ok(bundle(base, secret, secret.versions.last().unwrap()))
}

fn get(inner: &Inner, base: &str, name: &str, version: Option<&str>) -> Response {
    let Some(secret) = inner.secrets.get(&name.to_lowercase()) else {
        return not_found(name);
    };
    let found = match version {
        None => secret.versions.last(),
        Some(id) => secret.versions.iter().find(|v| v.id == id),
    };
    let Some(found) = found else {
        return not_found(name);
    };
    if !found.enabled {
        return (
            StatusCode::FORBIDDEN,
            axum::Json(json!({"error": {"code": "Forbidden",
                "message": "Operation get is not allowed on a disabled secret.",
                "innererror": {"code": "SecretDisabled"}}})),
        )
            .into_response();
    }
    ok(bundle(base, secret, found))
}
