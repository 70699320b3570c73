//! Secrets through the API, Kestra-shaped: metadata to read, values to write, never a value
//! back. Every change is audited with the caller as actor (the secret service does it), and
//! the WEBSERVER service never resolves a value.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use saker_auth::{Action, Permission};
use saker_secrets::{
    Accessor, MetadataUpdate, Namespace, SecretMetadata, SecretService, SecretValue, SecretWrite,
    ServiceError, StoreError,
};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::access::check;
use crate::openapi::ApiRouter;
use crate::routes::{MaybeCaller, caller};
use crate::schema::ErrorBody;
use crate::{ApiError, AppState, Caller};

pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list, put))
        .routes(routes!(delete))
        .routes(routes!(inherited))
}

/// A secret's metadata. There is no field for its value: values are write-only.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretMetaView {
    pub key: String,
    /// The namespace holding it; null for backends every namespace sees (env).
    pub namespace: Option<String>,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Current version, from 1.
    pub version: u64,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub last_read_at: Option<String>,
    pub expires_at: Option<String>,
    /// ISO-8601 duration, e.g. P90D.
    pub rotation_period: Option<String>,
    /// ACTIVE, DELETED, REVOKED, ...
    pub state: String,
}

/// A page of secret metadata.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct SecretMetaPage {
    pub total: u64,
    pub results: Vec<SecretMetaView>,
}

/// A secret `secret()` would see from a namespace, and where it comes from.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct InheritedSecretView {
    pub key: String,
    /// The namespace it comes from; null for backends every namespace sees (env).
    pub namespace: Option<String>,
    pub metadata: SecretMetaView,
    /// Namespaces further up that hold the same key, hidden by this one.
    pub shadows: Vec<String>,
}

/// The body of `PUT …/secrets`: the value goes in and never comes back.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)] // documents the body, which `parse_put` reads by hand
pub struct SecretPutDoc {
    /// Letters, digits and underscores, e.g. MY_SECRET.
    key: String,
    /// The secret value. Write-only.
    value: String,
    description: Option<String>,
    /// A list of {key, value} (Kestra's form) or a map.
    #[schema(value_type = Object)]
    tags: Option<Value>,
}

fn service(state: &AppState) -> Result<&SecretService, ApiError> {
    state.secrets.as_ref().ok_or_else(|| ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: "this server has no secret service configured".into(),
    })
}

fn namespace(text: &str) -> Result<Namespace, ApiError> {
    Namespace::parse(text).map_err(|e| ApiError::bad_request(format!("namespace '{text}': {e}")))
}

fn actor(who: &MaybeCaller) -> Accessor {
    let name = match caller(who) {
        Some(Caller(subject)) => match subject.as_ref() {
            saker_auth::Subject::User(p) => p.username.clone(),
            saker_auth::Subject::Anonymous => "anonymous".into(),
        },
        None => "anonymous".into(),
    };
    Accessor::user(format!("api:{name}"))
}

fn service_error(e: ServiceError) -> ApiError {
    let status = match &e {
        ServiceError::Store(StoreError::NoSuchSecret { .. }) => StatusCode::NOT_FOUND,
        ServiceError::Store(StoreError::ReadOnly { .. } | StoreError::Unsupported { .. }) => {
            StatusCode::METHOD_NOT_ALLOWED
        }
        ServiceError::Store(StoreError::InvalidName(_)) => StatusCode::BAD_REQUEST,
        ServiceError::Store(StoreError::VersionConflict { .. }) => StatusCode::CONFLICT,
        _ if e.is_denied() => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError {
        status,
        message: e.to_string(),
    }
}

fn metadata_json(m: &SecretMetadata) -> Value {
    serde_json::to_value(m).unwrap_or(Value::Null)
}

/// The prologue of the read endpoints: SECRET READ at `ns` (404 like a missing namespace
/// when the caller may not see it), then the service and the parsed namespace.
fn readable<'s>(
    state: &'s AppState,
    who: &MaybeCaller,
    tenant: &str,
    ns: &str,
) -> Result<(&'s SecretService, Namespace), ApiError> {
    check(
        caller(who),
        tenant,
        Some(ns),
        Permission::Secret,
        Action::Read,
        || format!("namespace {ns} not found"),
    )?;
    Ok((service(state)?, namespace(ns)?))
}

/// The secrets stored in this namespace (metadata only; never a value).
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/namespaces/{namespace}/secrets",
    tag = "Secrets",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "Namespace"),
    ),
    responses(
        (status = 200, description = "Metadata of each secret", body = SecretMetaPage),
        (status = 400, description = "Invalid namespace", body = ErrorBody),
        (status = 401, description = "No or wrong credentials", body = ErrorBody),
        (status = 404, description = "Namespace not visible to the caller", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, ns)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (service, namespace) = readable(&state, &who, &tenant, &ns)?;
    let items = service.list(&tenant, &namespace).map_err(service_error)?;
    let results: Vec<Value> = items.iter().map(metadata_json).collect();
    Ok(Json(json!({ "total": results.len(), "results": results })))
}

/// What `secret()` sees from this namespace, with the namespace each comes from.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/namespaces/{namespace}/inherited-secrets",
    tag = "Secrets",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "Namespace"),
    ),
    responses(
        (status = 200, description = "Secrets of this namespace and its parents", body = Vec<InheritedSecretView>),
        (status = 400, description = "Invalid namespace", body = ErrorBody),
        (status = 401, description = "No or wrong credentials", body = ErrorBody),
        (status = 404, description = "Namespace not visible to the caller", body = ErrorBody),
    )
)]
pub(crate) async fn inherited(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, ns)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (service, namespace) = readable(&state, &who, &tenant, &ns)?;
    let items = service
        .list_visible(&tenant, &namespace)
        .map_err(service_error)?;
    Ok(Json(Value::Array(
        items
            .iter()
            .map(|v| {
                json!({
                    "key": v.metadata.key,
                    "namespace": v.metadata.namespace.as_ref().map(|n| n.as_str().to_owned()),
                    "metadata": metadata_json(&v.metadata),
                    "shadows": v.shadows.iter().map(|n| n.as_str().to_owned()).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )))
}

/// The body of a PUT. Parsed by hand from JSON so that no parser message can quote the
/// value back.
struct PutBody {
    key: String,
    value: SecretValue,
    description: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

fn parse_put(body: &[u8]) -> Result<PutBody, ApiError> {
    let json: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not valid JSON (line {}, column {}): send {{\"key\": \"MY_SECRET\", \"value\": \"...\"}}",
            e.line(),
            e.column()
        ))
    })?;
    let Value::Object(mut map) = json else {
        return Err(ApiError::bad_request(
            "the body must be a JSON object: {\"key\": \"MY_SECRET\", \"value\": \"...\"}",
        ));
    };
    let key = match map.remove("key") {
        Some(Value::String(k)) => k,
        _ => {
            return Err(ApiError::bad_request(
                "'key' is required and must be a string",
            ));
        }
    };
    let value = match map.remove("value") {
        Some(Value::String(v)) => SecretValue::new(v),
        _ => {
            return Err(ApiError::bad_request(
                "'value' is required and must be a string",
            ));
        }
    };
    let description = match map.remove("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) => Some(d),
        Some(_) => return Err(ApiError::bad_request("'description' must be a string")),
    };
    // Kestra sends tags as a list of {key, value}; a map is accepted too.
    let tags = match map.remove("tags") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|t| {
                    match (
                        t.get("key").and_then(Value::as_str),
                        t.get("value").and_then(Value::as_str),
                    ) {
                        (Some(k), Some(v)) => Ok((k.to_owned(), v.to_owned())),
                        _ => Err(ApiError::bad_request(
                            "each tag must be {\"key\": \"...\", \"value\": \"...\"}",
                        )),
                    }
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(Value::Object(m)) => Some(
            m.iter()
                .map(|(k, v)| match v.as_str() {
                    Some(v) => Ok((k.clone(), v.to_owned())),
                    None => Err(ApiError::bad_request("tag values must be strings")),
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(_) => {
            return Err(ApiError::bad_request(
                "'tags' must be a list of {key, value}",
            ));
        }
    };
    if let Some(unknown) = map.keys().next() {
        return Err(ApiError::bad_request(format!(
            "unknown field '{unknown}': expected key, value, description, tags"
        )));
    }
    Ok(PutBody {
        key,
        value,
        description,
        tags,
    })
}

/// Creates or updates a secret; answers its metadata. Audited with the caller.
#[utoipa::path(
    put,
    path = "/api/v1/{tenant}/namespaces/{namespace}/secrets",
    tag = "Secrets",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "Namespace"),
    ),
    request_body(content = SecretPutDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "The secret's new metadata", body = SecretMetaView),
        (status = 400, description = "Malformed body or invalid key/namespace", body = ErrorBody),
        (status = 401, description = "No or wrong credentials", body = ErrorBody),
        (status = 403, description = "SECRET CREATE/UPDATE not granted here", body = ErrorBody),
        (status = 405, description = "The backend is read-only", body = ErrorBody),
    )
)]
pub(crate) async fn put(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, ns)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = parse_put(&body)?;
    let service = service(&state)?;
    let namespace = namespace(&ns)?;
    let exists = service
        .metadata(&tenant, &namespace, &body.key)
        .map_err(service_error)?
        .is_some();
    let action = if exists {
        Action::Update
    } else {
        Action::Create
    };
    crate::access::check_create(caller(&who), &tenant, &ns, Permission::Secret, action)?;
    let who = actor(&who);
    let mut write = SecretWrite::new(body.value);
    write.update = MetadataUpdate {
        description: body.description.map(Some),
        tags: body.tags,
        ..MetadataUpdate::default()
    };
    write.created_by = Some(who.actor.clone());
    let metadata = service
        .put(&tenant, &namespace, &body.key, write, &who)
        .map_err(service_error)?;
    Ok(Json(metadata_json(&metadata)))
}

/// Deletes a secret (soft: restorable). Audited with the caller.
#[utoipa::path(
    delete,
    path = "/api/v1/{tenant}/namespaces/{namespace}/secrets/{key}",
    tag = "Secrets",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "Namespace"),
        ("key" = String, Path, description = "Secret key"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Invalid namespace or key", body = ErrorBody),
        (status = 401, description = "No or wrong credentials", body = ErrorBody),
        (status = 403, description = "SECRET DELETE not granted here", body = ErrorBody),
        (status = 404, description = "No such secret (or not visible to the caller)", body = ErrorBody),
    )
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, ns, key)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    check(
        caller(&who),
        &tenant,
        Some(&ns),
        Permission::Secret,
        Action::Delete,
        || format!("secret {key} not found in {ns}"),
    )?;
    let deleted = service(&state)?
        .delete(&tenant, &namespace(&ns)?, &key, &actor(&who))
        .map_err(service_error)?;
    if deleted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "secret {key} not found in {ns}"
        )))
    }
}
