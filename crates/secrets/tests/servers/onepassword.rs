//! A 1Password Connect test server following the Connect API (v1) for items of its vaults:
//! `GET /v1/vaults/{vaultId}`, `GET /v1/vaults/{vaultId}/items[?filter=title eq "..."]`
//! (item summaries, without fields), `GET|PUT|DELETE /v1/vaults/{vaultId}/items/{itemId}`,
//! `POST /v1/vaults/{vaultId}/items` (full items with `fields`, `tags`, `version`,
//! `createdAt`, `updatedAt`; `version` raised by every update). Bearer token (401 `Invalid
//! token signature`), 404 for an unknown vault or item, 400 for a body that is not an item or
//! an unsupported filter; errors as `{"status": N, "message": "..."}`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const TOKEN: &str = "connect-test-token";
pub const VAULT: &str = "w3amzqxtg4vmrhfn3e5wdlbuiu";

#[derive(Default)]
struct Inner {
    /// item id → item.
    items: BTreeMap<String, Value>,
    next: u64,
}

#[derive(Clone)]
pub struct ConnectServer {
    inner: Arc<Mutex<Inner>>,
    pub address: String,
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn failure(status: StatusCode, message: &str) -> Response {
    answer(
        status,
        json!({"status": status.as_u16(), "message": message}),
    )
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn summary(item: &Value) -> Value {
    let mut summary = item.clone();
    if let Some(map) = summary.as_object_mut() {
        map.remove("fields");
        map.remove("sections");
    }
    summary
}

/// The title of a `title eq "..."` filter; `Err` for any other filter.
fn title_filter(filter: &str) -> Result<String, ()> {
    let rest = filter.trim().strip_prefix("title eq ").ok_or(())?;
    let title = rest
        .trim()
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'));
    title.map(str::to_owned).ok_or(())
}

impl ConnectServer {
    pub fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        let address = super::serve(app);
        Self { inner, address }
    }

    /// The item titled `title`, as stored.
    pub fn item(&self, title: &str) -> Option<Value> {
        let inner = self.inner.lock().unwrap();
        inner.items.values().find(|i| i["title"] == title).cloned()
    }

    /// Every title in the vault.
    pub fn titles(&self) -> Vec<String> {
        let inner = self.inner.lock().unwrap();
        inner
            .items
            .values()
            .filter_map(|i| i["title"].as_str().map(str::to_owned))
            .collect()
    }
}

/// Completes a posted or put item: ids of fields, vault, timestamps, version.
fn complete(mut item: Value, id: &str, version: u64, created: &str) -> Value {
    item["id"] = json!(id);
    item["vault"] = json!({"id": VAULT});
    item["version"] = json!(version);
    item["createdAt"] = json!(created);
    item["updatedAt"] = json!(now());
    if item["tags"].is_null() {
        item["tags"] = json!([]);
    }
    if let Some(fields) = item["fields"].as_array_mut() {
        for (n, field) in fields.iter_mut().enumerate() {
            if field["id"].is_null() {
                field["id"] = json!(format!("field{n}"));
            }
        }
    }
    item
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
        return failure(StatusCode::UNAUTHORIZED, "Invalid token signature");
    }
    let segments = super::segments(&uri);
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let (vault, rest) = match parts.as_slice() {
        ["v1", "vaults", vault, rest @ ..] => (*vault, rest),
        _ => return failure(StatusCode::NOT_FOUND, "Not Found"),
    };
    if vault != VAULT {
        return failure(StatusCode::NOT_FOUND, "vault not found");
    }
    let body: Option<Value> = serde_json::from_slice(&body).ok();
    match (method.as_str(), rest) {
        ("GET", []) => answer(
            StatusCode::OK,
            json!({"id": VAULT, "name": "Saker", "attributeVersion": 1,
                "contentVersion": inner.items.len() + 1, "items": inner.items.len(),
                "type": "USER_CREATED", "createdAt": now(), "updatedAt": now()}),
        ),
        ("GET", ["items"]) => {
            let filter = match super::query(&uri).get("filter") {
                None => None,
                Some(filter) => match title_filter(filter) {
                    Ok(title) => Some(title),
                    Err(()) => return failure(StatusCode::BAD_REQUEST, "Invalid filter query"),
                },
            };
            let items: Vec<Value> = inner
                .items
                .values()
                .filter(|i| filter.as_ref().is_none_or(|t| i["title"] == *t))
                .map(summary)
                .collect();
            answer(StatusCode::OK, Value::Array(items))
        }
        ("POST", ["items"]) => {
            let Some(item) = body.filter(|b| b["category"].is_string()) else {
                return failure(
                    StatusCode::BAD_REQUEST,
                    "Validation: (validateVaultItem), Item must have a category",
                );
            };
            inner.next += 1;
            let id = format!("{:0>26}", format!("item{}", inner.next));
            let item = complete(item, &id, 1, &now());
            inner.items.insert(id, item.clone());
            answer(StatusCode::OK, item)
        }
        ("GET", ["items", id]) => match inner.items.get(*id) {
            Some(item) => answer(StatusCode::OK, item.clone()),
            None => failure(StatusCode::NOT_FOUND, "item not found"),
        },
        ("PUT", ["items", id]) => {
            let Some(old) = inner.items.get(*id).cloned() else {
                return failure(StatusCode::NOT_FOUND, "item not found");
            };
            let Some(item) = body.filter(|b| b["category"].is_string()) else {
                return failure(
                    StatusCode::BAD_REQUEST,
                    "Validation: (validateVaultItem), Item must have a category",
                );
            };
            if item["id"].as_str().is_some_and(|given| given != *id) {
                return failure(
                    StatusCode::BAD_REQUEST,
                    "Item ID in the body does not match the item ID in the path",
                );
            }
            let version = old["version"].as_u64().unwrap_or(1) + 1;
            let created = old["createdAt"].as_str().unwrap_or_default().to_owned();
            let item = complete(item, id, version, &created);
            inner.items.insert((*id).to_owned(), item.clone());
            answer(StatusCode::OK, item)
        }
        ("DELETE", ["items", id]) => match inner.items.remove(*id) {
            Some(_) => StatusCode::NO_CONTENT.into_response(),
            None => failure(StatusCode::NOT_FOUND, "item not found"),
        },
        _ => failure(StatusCode::NOT_FOUND, "Not Found"),
    }
}
