//! The KV store of a namespace through the API, Kestra-shaped: list the keys, read one value
//! as `{type, value}`, write one (the body is the value as JSON text, `ttl` an ISO-8601
//! duration in a header), delete one. KVSTORE permissions at the namespace: READ to list and
//! read, CREATE to write a new key and UPDATE an existing one, DELETE to delete.
//!
//! A value a flow derived from a secret is stored sealed; the server holds no key to open it
//! and never would: such a value reads as `****` with `sealed: true` (the API never returns
//! a secret value). A namespace the caller may not see answers like a missing key (404).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use saker_auth::{Action, Permission};
use saker_engine::kv_value::{expiry, validate_key, validate_namespace, value_from_text};
use saker_store::KvEntry;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::access::{check, check_create};
use crate::doc::Unauthorized;
use crate::openapi::ApiRouter;
use crate::request::body_rejected;
use crate::routes::{MaybeCaller, caller};
use crate::schema::ErrorBody;
use crate::{ApiError, AppState};

/// What a sealed value reads as.
const SEALED_SHOWN: &str = "****";

pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_keys))
        .routes(routes!(get_value, put_value, delete_key))
}

/// One key of a namespace, without its value (Kestra's `KVEntry`).
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KvEntryView {
    pub key: String,
    pub description: Option<String>,
    pub creation_date: DateTime<Utc>,
    pub update_date: DateTime<Utc>,
    /// When the key expires (its `ttl`); null for never.
    pub expiration_date: Option<DateTime<Utc>>,
}

impl KvEntryView {
    fn of(entry: &KvEntry) -> Self {
        Self {
            key: entry.key.clone(),
            description: entry.description.clone(),
            creation_date: entry.created_at,
            update_date: entry.updated_at,
            expiration_date: entry.expires_at,
        }
    }
}

/// One value (Kestra's typed value), or `****` for a sealed one.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct KvValueView {
    /// STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION or JSON.
    #[serde(rename = "type")]
    pub kv_type: String,
    /// The value; `****` when `sealed`.
    pub value: Value,
    /// The value was derived from a secret: it is stored encrypted and never shown.
    pub sealed: bool,
}

fn not_found(key: &str, ns: &str) -> String {
    format!("KV key {key} not found in {ns}")
}

fn valid(ns: &str, key: Option<&str>) -> Result<(), ApiError> {
    validate_namespace(ns).map_err(ApiError::bad_request)?;
    if let Some(key) = key {
        validate_key(key).map_err(ApiError::bad_request)?;
    }
    Ok(())
}

/// The keys of a namespace, sorted (expired ones are gone). KVSTORE READ.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/namespaces/{namespace}/kv",
    tag = "KV store",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "Namespace"),
    ),
    responses(
        (status = 200, description = "The namespace's keys, sorted", body = [KvEntryView]),
        (status = 400, description = "Invalid namespace", body = ErrorBody),
        Unauthorized,
        (status = 404, description = "Not visible to the caller", body = ErrorBody),
    )
)]
async fn list_keys(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, ns)): Path<(String, String)>,
) -> Result<Json<Vec<KvEntryView>>, ApiError> {
    valid(&ns, None)?;
    check(
        caller(&who),
        &tenant,
        Some(&ns),
        Permission::Kvstore,
        Action::Read,
        || format!("namespace {ns} not found"),
    )?;
    let entries = state.engine.store().list_kv(&tenant, &ns, None)?;
    Ok(Json(entries.iter().map(KvEntryView::of).collect()))
}

/// One value as `{type, value}`; a value derived from a secret reads as `****`. KVSTORE READ.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/namespaces/{namespace}/kv/{key}",
    tag = "KV store",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "Namespace"),
        ("key" = String, Path, description = "Key"),
    ),
    responses(
        (status = 200, description = "The value and its type", body = KvValueView),
        (status = 400, description = "Invalid namespace or key", body = ErrorBody),
        Unauthorized,
        (status = 404, description = "No such key, expired (or not visible to the caller)", body = ErrorBody),
    )
)]
async fn get_value(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, ns, key)): Path<(String, String, String)>,
) -> Result<Json<KvValueView>, ApiError> {
    valid(&ns, Some(&key))?;
    check(
        caller(&who),
        &tenant,
        Some(&ns),
        Permission::Kvstore,
        Action::Read,
        || not_found(&key, &ns),
    )?;
    let entry = state
        .engine
        .store()
        .get_kv(&tenant, &ns, &key)?
        .ok_or_else(|| ApiError::not_found(not_found(&key, &ns)))?;
    let value = if entry.sealed {
        Value::String(SEALED_SHOWN.into())
    } else {
        serde_json::from_str(&entry.value).map_err(|_| {
            ApiError::internal(format!("KV entry {} does not hold JSON", entry.id()))
        })?
    };
    Ok(Json(KvValueView {
        kv_type: entry.kv_type.as_str().to_owned(),
        value,
        sealed: entry.sealed,
    }))
}

/// Writes a value: the body is the value as JSON text (`"text"`, `42`, `true`, `{...}`) or
/// plain text; an ISO-8601 `ttl` header (PT1H, P7D) makes it expire. KVSTORE CREATE for a new
/// key, UPDATE for an existing one.
#[utoipa::path(
    put,
    path = "/api/v1/{tenant}/namespaces/{namespace}/kv/{key}",
    tag = "KV store",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "Namespace"),
        ("key" = String, Path, description = "Key"),
        ("ttl" = Option<String>, Header, description = "ISO-8601 duration after which the key expires, e.g. PT1H"),
    ),
    request_body(content = String, content_type = "text/plain", description = "The value as JSON text, or plain text"),
    responses(
        (status = 200, description = "The key as stored", body = KvEntryView),
        (status = 400, description = "Invalid namespace, key, value or ttl", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "KVSTORE CREATE/UPDATE not granted here", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
    )
)]
async fn put_value(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, ns, key)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<KvEntryView>, ApiError> {
    valid(&ns, Some(&key))?;
    let body = body.map_err(body_rejected)?;
    // Refused outright first, with one answer whether the key exists or not: a caller
    // without either right must not learn which keys a namespace holds.
    let may = |action| check_create(caller(&who), &tenant, &ns, Permission::Kvstore, action);
    if may(Action::Create).is_err() && may(Action::Update).is_err() {
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            message: format!("forbidden: KVSTORE CREATE and UPDATE are not granted to you in {ns}"),
        });
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the body is not UTF-8 text"))?;
    if text.trim().is_empty() {
        return Err(ApiError::bad_request(
            "the body is empty: send the value, as JSON text (\"text\", 42, {...}) or plain text",
        ));
    }
    let (kv_type, value) = value_from_text(text, None).map_err(ApiError::bad_request)?;
    let expires_at = match headers.get("ttl") {
        None => None,
        Some(ttl) => {
            let ttl = ttl
                .to_str()
                .map_err(|_| ApiError::bad_request("the ttl header is not text"))?;
            Some(expiry(ttl, Utc::now()).map_err(ApiError::bad_request)?)
        }
    };
    let store = state.engine.store();
    let exists = store.get_kv(&tenant, &ns, &key)?.is_some();
    may(if exists {
        Action::Update
    } else {
        Action::Create
    })?;
    let entry = KvEntry {
        expires_at,
        ..KvEntry::new(&tenant, &ns, &key, kv_type, value.to_string())
    };
    // A key another caller creates between the check and this write is replaced: the
    // caller held CREATE for a key that did not exist, which is what it asked for.
    store.put_kv(&entry, true)?;
    let stored = store
        .get_kv(&tenant, &ns, &key)?
        .ok_or_else(|| ApiError::not_found(not_found(&key, &ns)))?;
    Ok(Json(KvEntryView::of(&stored)))
}

/// Deletes a key. KVSTORE DELETE.
#[utoipa::path(
    delete,
    path = "/api/v1/{tenant}/namespaces/{namespace}/kv/{key}",
    tag = "KV store",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "Namespace"),
        ("key" = String, Path, description = "Key"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Invalid namespace or key", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "KVSTORE DELETE not granted here", body = ErrorBody),
        (status = 404, description = "No such key, expired (or not visible to the caller)", body = ErrorBody),
    )
)]
async fn delete_key(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, ns, key)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    valid(&ns, Some(&key))?;
    check(
        caller(&who),
        &tenant,
        Some(&ns),
        Permission::Kvstore,
        Action::Delete,
        || not_found(&key, &ns),
    )?;
    if state.engine.store().delete_kv(&tenant, &ns, &key)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(not_found(&key, &ns)))
    }
}
