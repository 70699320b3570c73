//! A Doppler test server following Doppler's API v3 for the secrets of one config:
//! `GET /v3/configs/config/secrets` (every secret with `raw`, `computed` and `note`),
//! `GET /v3/configs/config/secrets/names`, `GET /v3/configs/config/secret?name=`,
//! `POST /v3/configs/config/secrets` with `{project, config, secrets: {NAME: value}}`,
//! `DELETE /v3/configs/config/secret?name=`. Bearer tokens (401 without a valid one),
//! project and config from the query (GET, DELETE) or the body (POST), 404 for an unknown
//! project, config or secret, 400 for a name outside Doppler's rules (upper-case letters,
//! digits and `_`, not starting with a digit); errors as `{"messages": [...],
//! "success": false}`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const TOKEN: &str = "dp.st.dev.test-service-token";
pub const PROJECT: &str = "backend";
pub const CONFIG: &str = "dev";

#[derive(Default)]
struct Inner {
    /// name → raw value, of the one project/config.
    secrets: BTreeMap<String, String>,
}

#[derive(Clone)]
pub struct DopplerServer {
    inner: Arc<Mutex<Inner>>,
    pub address: String,
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn failure(status: StatusCode, message: &str) -> Response {
    answer(status, json!({"messages": [message], "success": false}))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn entry(raw: &str) -> Value {
    json!({"raw": raw, "computed": raw, "note": ""})
}

impl DopplerServer {
    pub fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        let address = super::serve(app);
        Self { inner, address }
    }

    /// The raw value of `name`.
    pub fn raw(&self, name: &str) -> Option<String> {
        self.inner.lock().unwrap().secrets.get(name).cloned()
    }

    /// Every name held.
    pub fn names(&self) -> Vec<String> {
        self.inner.lock().unwrap().secrets.keys().cloned().collect()
    }

    /// Sets a secret as someone using Doppler's dashboard would.
    pub fn set(&self, name: &str, value: &str) {
        self.inner
            .lock()
            .unwrap()
            .secrets
            .insert(name.to_owned(), value.to_owned());
    }
}

async fn handle(
    State(state): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = state.lock().unwrap();
    if super::bearer(&headers).as_deref() != Some(TOKEN) {
        return failure(StatusCode::UNAUTHORIZED, "Invalid Auth token");
    }
    let query = super::query(&uri);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let scope = |field: &str| {
        query
            .get(field)
            .cloned()
            .or_else(|| body[field].as_str().map(str::to_owned))
    };
    match (scope("project"), scope("config")) {
        (Some(p), Some(c)) if p == PROJECT && c == CONFIG => {}
        (Some(p), _) if p != PROJECT => {
            return failure(StatusCode::NOT_FOUND, "Could not find requested project");
        }
        (Some(_), Some(_)) => {
            return failure(StatusCode::NOT_FOUND, "Could not find requested config");
        }
        _ => {
            return failure(
                StatusCode::BAD_REQUEST,
                "Missing required parameters: project and config",
            );
        }
    }
    match (method.as_str(), uri.path()) {
        ("GET", "/v3/configs/config/secrets") => {
            let secrets: serde_json::Map<String, Value> = inner
                .secrets
                .iter()
                .map(|(name, raw)| (name.clone(), entry(raw)))
                .collect();
            answer(StatusCode::OK, json!({"secrets": secrets, "success": true}))
        }
        ("GET", "/v3/configs/config/secrets/names") => answer(
            StatusCode::OK,
            json!({"names": inner.secrets.keys().collect::<Vec<_>>(), "success": true}),
        ),
        ("GET", "/v3/configs/config/secret") => {
            let name = query.get("name").cloned().unwrap_or_default();
            match inner.secrets.get(&name) {
                Some(raw) => answer(
                    StatusCode::OK,
                    json!({"name": name, "value": entry(raw), "success": true}),
                ),
                None => failure(
                    StatusCode::NOT_FOUND,
                    &format!("Could not find requested secret: {name}"),
                ),
            }
        }
        ("POST", "/v3/configs/config/secrets") => {
            let Some(secrets) = body["secrets"].as_object() else {
                return failure(StatusCode::BAD_REQUEST, "Missing required field: secrets");
            };
            for (name, value) in secrets {
                if !valid_name(name) {
                    return failure(
                        StatusCode::BAD_REQUEST,
                        &format!(
                            "Secret names may only contain uppercase letters, numbers, and \
                             underscores, and may not start with a number: {name}"
                        ),
                    );
                }
                if !(value.is_string() || value.is_null()) {
                    return failure(StatusCode::BAD_REQUEST, "Secret values must be strings");
                }
            }
            for (name, value) in secrets {
                match value.as_str() {
                    Some(raw) => inner.secrets.insert(name.clone(), raw.to_owned()),
                    // Doppler deletes a secret set to null.
                    None => inner.secrets.remove(name),
                };
            }
            let all: serde_json::Map<String, Value> = inner
                .secrets
                .iter()
                .map(|(name, raw)| (name.clone(), entry(raw)))
                .collect();
            answer(StatusCode::OK, json!({"secrets": all, "success": true}))
        }
        ("DELETE", "/v3/configs/config/secret") => {
            let name = query.get("name").cloned().unwrap_or_default();
            match inner.secrets.remove(&name) {
                Some(_) => answer(StatusCode::OK, json!({"success": true})),
                None => failure(
                    StatusCode::NOT_FOUND,
                    &format!("Could not find requested secret: {name}"),
                ),
            }
        }
        _ => failure(StatusCode::NOT_FOUND, "Not found"),
    }
}
