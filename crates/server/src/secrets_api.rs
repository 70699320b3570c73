//! Secrets through the API, Kestra-shaped: metadata to read, values to write, never a value
//! back. Every change is audited with the caller as actor (the secret service does it), and
//! the WEBSERVER service never resolves a value.
//!
//! This module holds the reads and writes (list, inherited, one secret's metadata, PUT,
//! DELETE) and what the lifecycle endpoints of [`crate::secrets_lifecycle_api`] share: the
//! JSON shapes, the metadata fields of a body and the mapping of service errors to status
//! codes.
//!
//! Bodies that could hold a value are parsed by hand ([`crate::request::object_body`]), never
//! with a typed `serde` deserializer: serde's messages quote what they could not read
//! ("invalid type: string \"…\""), and a value must never come back in an error. Malformed paths, queries and
//! bodies answer our JSON [`ErrorBody`], not axum's plain-text rejections.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use saker_auth::{Action, Permission};
use saker_secrets::duration::{format_iso_duration, parse_duration};
use saker_secrets::{
    Accessor, AuditAction, MetadataUpdate, Namespace, SecretMetadata, SecretService, SecretState,
    SecretValue, SecretWrite, ServiceError, StoreError,
};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::access::check;
use crate::doc::{NoSecretService, Unauthorized};
use crate::openapi::ApiRouter;
use crate::request::{body_rejected, no_other_fields, object_body};
use crate::routes::{MaybeCaller, caller};
use crate::schema::ErrorBody;
use crate::{ApiError, AppState, Caller};

pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list, put))
        .routes(routes!(get_one, delete))
        .routes(routes!(inherited))
}

/// Where a secret is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum SecretStateView {
    /// Readable by flows.
    Active,
    /// Active but past `expiresAt`: resolution fails with "expired".
    Expired,
    /// Soft-deleted: flows see a parent namespace's secret instead; restorable.
    Deleted,
    /// Revoked: resolution fails with "revoked" until a new value is set.
    Revoked,
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
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub last_read_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// ISO-8601 duration, e.g. P90D.
    pub rotation_period: Option<String>,
    /// When the value is due for rotation (last update plus `rotationPeriod`).
    pub rotation_due_at: Option<DateTime<Utc>>,
    pub state: SecretStateView,
    /// Set when DELETED.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Set when REVOKED.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why it was revoked, as the operator wrote it.
    pub revoke_reason: Option<String>,
}

impl SecretMetaView {
    /// The view of `m` at `now` (which decides EXPIRED).
    pub(crate) fn of(m: &SecretMetadata, now: DateTime<Utc>) -> Self {
        let (state, deleted_at, revoked_at, revoke_reason) = match &m.state {
            SecretState::Active if m.is_expired(now) => {
                (SecretStateView::Expired, None, None, None)
            }
            SecretState::Active => (SecretStateView::Active, None, None, None),
            SecretState::Deleted { at } => (SecretStateView::Deleted, Some(*at), None, None),
            SecretState::Revoked { at, reason } => {
                (SecretStateView::Revoked, None, Some(*at), reason.clone())
            }
        };
        Self {
            key: m.key.clone(),
            namespace: m.namespace.as_ref().map(|n| n.as_str().to_owned()),
            description: m.description.clone(),
            tags: m.tags.clone(),
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
            last_read_at: m.last_read_at,
            expires_at: m.expires_at,
            rotation_period: m.rotation_period.map(format_iso_duration),
            rotation_due_at: m.rotation_due_at(),
            state,
            deleted_at,
            revoked_at,
            revoke_reason,
        }
    }
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
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // documents the body, which `parse_put` reads by hand
pub struct SecretPutDoc {
    /// Letters, digits and underscores, e.g. MY_SECRET.
    key: String,
    /// The secret value. Write-only.
    value: String,
    /// Free text; null clears it.
    description: Option<String>,
    /// A list of {key, value} (Kestra's form) or a map of strings; replaces the old tags.
    #[schema(value_type = Object)]
    tags: Option<Value>,
    /// RFC 3339 date-time after which flows fail to resolve it; null clears it.
    expires_at: Option<DateTime<Utc>>,
    /// How often it should be rotated: ISO-8601 (P90D) or 90d; null clears it.
    rotation_period: Option<String>,
}

pub(crate) fn service(state: &AppState) -> Result<&SecretService, ApiError> {
    state.secrets.as_ref().ok_or_else(|| ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: "this server has no secret service configured".into(),
    })
}

pub(crate) fn namespace(text: &str) -> Result<Namespace, ApiError> {
    Namespace::parse(text).map_err(|e| ApiError::bad_request(format!("namespace '{text}': {e}")))
}

/// The audit actor of an API caller: `api:<username>`.
pub(crate) fn actor(who: &MaybeCaller) -> Accessor {
    let name = match caller(who) {
        Some(Caller(subject)) => match subject.as_ref() {
            saker_auth::Subject::User(p) => p.username.clone(),
            saker_auth::Subject::Anonymous => "anonymous".into(),
        },
        None => "anonymous".into(),
    };
    Accessor::user(format!("api:{name}"))
}

/// The message of a missing secret, and of one the caller may not see (the same, so that
/// a caller cannot tell the two apart).
pub(crate) fn secret_not_found(key: &str, ns: &str) -> String {
    format!("secret {key} not found in {ns}")
}

/// SECRET `action` on `key` in `ns`; a caller who may not see the namespace gets the 404
/// of a missing secret. A refusal is audited as a denied `attempt` (invariant 4: every
/// denied attempt leaves an event).
pub(crate) fn allowed(
    state: &AppState,
    who: &MaybeCaller,
    tenant: &str,
    ns: &str,
    key: Option<&str>,
    action: Action,
    attempt: AuditAction,
) -> Result<(), ApiError> {
    let missing = || match key {
        Some(key) => secret_not_found(key, ns),
        None => format!("namespace {ns} not found"),
    };
    let decision = check(
        caller(who),
        tenant,
        Some(ns),
        Permission::Secret,
        action,
        missing,
    );
    if decision.is_err() {
        let reason = format!(
            "SECRET {} is not granted to the caller here",
            action.as_str()
        );
        audit_denied(state, who, tenant, ns, key, attempt, &reason);
    }
    decision
}

/// Appends a denied event for an attempt the API refused. Best effort: the request is
/// refused whether or not the trail takes the event, and a trail that refuses is logged.
pub(crate) fn audit_denied(
    state: &AppState,
    who: &MaybeCaller,
    tenant: &str,
    ns: &str,
    key: Option<&str>,
    attempt: AuditAction,
    reason: &str,
) {
    let (Some(service), Ok(namespace)) = (state.secrets.as_ref(), Namespace::parse(ns)) else {
        return;
    };
    if let Err(e) = service.record_denied(tenant, &namespace, key, attempt, &actor(who), reason) {
        tracing::error!(error = %e, "a denied secret request could not be audited");
    }
}

pub(crate) fn service_error(e: ServiceError) -> ApiError {
    if is_busy(&e) {
        return ApiError::busy();
    }
    let status = match &e {
        ServiceError::Store(StoreError::NoSuchSecret { .. }) => StatusCode::NOT_FOUND,
        ServiceError::Store(StoreError::ReadOnly { .. } | StoreError::Unsupported { .. }) => {
            StatusCode::METHOD_NOT_ALLOWED
        }
        ServiceError::Store(StoreError::InvalidName(_)) => StatusCode::BAD_REQUEST,
        ServiceError::Store(
            StoreError::VersionConflict { .. } | StoreError::NoSuchVersion { .. },
        ) => StatusCode::CONFLICT,
        _ if e.is_denied() => StatusCode::FORBIDDEN,
        // A remote secret manager (Vault, AWS, ...) that is down or refuses: its message names
        // the backend, the key and the endpoint, never a value, and the caller needs it.
        ServiceError::Store(StoreError::Backend { backend, .. })
            if !matches!(*backend, "jdbc" | "env") =>
        {
            StatusCode::BAD_GATEWAY
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let message = match &e {
        ServiceError::Store(StoreError::NoSuchSecret { namespace, key }) => {
            secret_not_found(key, namespace.as_str())
        }
        ServiceError::Store(StoreError::NoSuchVersion { .. }) => format!(
            "{e}: a revoked or destroyed version cannot be restored; list the versions with \
             GET …/secrets/{{key}}/versions"
        ),
        _ => e.to_string(),
    };
    // A 500's message goes to the log only, under a correlation id (`ApiError`'s answer).
    ApiError { status, message }
}

/// True when the secret store or the audit trail underneath did not answer in time.
fn is_busy(e: &ServiceError) -> bool {
    matches!(
        e,
        ServiceError::Store(StoreError::Busy { .. })
            | ServiceError::AuditRefused {
                source: saker_store::StoreError::Busy { .. },
                ..
            }
    )
}

/// Reads `description`, `tags`, `expiresAt` and `rotationPeriod` out of `map`: absent leaves a
/// field as it is, null clears it (tags: back to the default tags).
pub(crate) fn take_metadata(map: &mut Map<String, Value>) -> Result<MetadataUpdate, ApiError> {
    let description = match map.remove("description") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(d)) => Some(Some(d)),
        Some(_) => {
            return Err(ApiError::bad_request(
                "'description' must be a string (or null to clear it)",
            ));
        }
    };
    let tags = match map.remove("tags") {
        None => None,
        Some(Value::Null) => Some(BTreeMap::new()),
        Some(tags) => Some(parse_tags(&tags)?),
    };
    let expires_at = match map.remove("expiresAt") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(text)) => Some(Some(
            DateTime::parse_from_rfc3339(&text)
                .map_err(|_| {
                    ApiError::bad_request(
                        "'expiresAt' must be an RFC 3339 date-time such as \
                         2026-12-31T00:00:00Z (or null to clear it)",
                    )
                })?
                .with_timezone(&Utc),
        )),
        Some(_) => {
            return Err(ApiError::bad_request(
                "'expiresAt' must be an RFC 3339 date-time string such as \
                 2026-12-31T00:00:00Z (or null to clear it)",
            ));
        }
    };
    let rotation_period = match map.remove("rotationPeriod") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(text)) => match parse_duration(&text) {
            Ok(period) if !period.is_zero() => Some(Some(period)),
            _ => {
                return Err(ApiError::bad_request(
                    "'rotationPeriod' must be a positive duration such as P90D, PT12H or 90d \
                     (or null to clear it)",
                ));
            }
        },
        Some(_) => {
            return Err(ApiError::bad_request(
                "'rotationPeriod' must be a duration string such as P90D or 90d \
                 (or null to clear it)",
            ));
        }
    };
    Ok(MetadataUpdate {
        description,
        tags,
        expires_at,
        rotation_period,
    })
}

/// Tags as Kestra sends them (a list of `{key, value}`) or as a map of strings.
fn parse_tags(tags: &Value) -> Result<BTreeMap<String, String>, ApiError> {
    match tags {
        Value::Array(items) => items
            .iter()
            .map(|t| {
                match (
                    t.get("key").and_then(Value::as_str),
                    t.get("value").and_then(Value::as_str),
                ) {
                    (Some(k), Some(v)) => Ok((k.to_owned(), v.to_owned())),
                    _ => Err(ApiError::bad_request(
                        "each of 'tags' must be {\"key\": \"...\", \"value\": \"...\"} with \
                         string key and value",
                    )),
                }
            })
            .collect(),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(v) => Ok((k.clone(), v.to_owned())),
                None => Err(ApiError::bad_request(
                    "'tags' as a map must map names to strings",
                )),
            })
            .collect(),
        _ => Err(ApiError::bad_request(
            "'tags' must be a list of {\"key\": \"...\", \"value\": \"...\"} or a map of strings",
        )),
    }
}

/// The prologue of the namespace-wide read endpoints: SECRET READ at `ns` (404 like a
/// missing namespace when the caller may not see it), then the service and the namespace.
fn readable<'s>(
    state: &'s AppState,
    who: &MaybeCaller,
    tenant: &str,
    ns: &str,
) -> Result<(&'s SecretService, Namespace), ApiError> {
    allowed(
        state,
        who,
        tenant,
        ns,
        None,
        Action::Read,
        AuditAction::Read,
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
        (status = 200, description = "Metadata of each secret, every state included", body = SecretMetaPage),
        (status = 400, description = "Invalid namespace", body = ErrorBody),
        Unauthorized,
        (status = 404, description = "Namespace not visible to the caller", body = ErrorBody),
        NoSecretService,
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, ns)): Path<(String, String)>,
) -> Result<Json<SecretMetaPage>, ApiError> {
    let (service, namespace) = readable(&state, &who, &tenant, &ns)?;
    let items = service.list(&tenant, &namespace).map_err(service_error)?;
    let now = service.now();
    let results: Vec<SecretMetaView> = items.iter().map(|m| SecretMetaView::of(m, now)).collect();
    Ok(Json(SecretMetaPage {
        total: results.len() as u64,
        results,
    }))
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
        Unauthorized,
        (status = 404, description = "Namespace not visible to the caller", body = ErrorBody),
        NoSecretService,
    )
)]
pub(crate) async fn inherited(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, ns)): Path<(String, String)>,
) -> Result<Json<Vec<InheritedSecretView>>, ApiError> {
    let (service, namespace) = readable(&state, &who, &tenant, &ns)?;
    let items = service
        .list_visible(&tenant, &namespace)
        .map_err(service_error)?;
    let now = service.now();
    Ok(Json(
        items
            .iter()
            .map(|v| InheritedSecretView {
                key: v.metadata.key.clone(),
                namespace: v.metadata.namespace.as_ref().map(|n| n.as_str().to_owned()),
                metadata: SecretMetaView::of(&v.metadata, now),
                shadows: v.shadows.iter().map(|n| n.as_str().to_owned()).collect(),
            })
            .collect(),
    ))
}

/// One secret's metadata, in exactly this namespace (deleted and revoked ones included).
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/namespaces/{namespace}/secrets/{key}",
    tag = "Secrets",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "Namespace"),
        ("key" = String, Path, description = "Secret key"),
    ),
    responses(
        (status = 200, description = "The secret's metadata", body = SecretMetaView),
        (status = 400, description = "Invalid namespace or key", body = ErrorBody),
        Unauthorized,
        (status = 404, description = "No such secret (or not visible to the caller)", body = ErrorBody),
        NoSecretService,
    )
)]
pub(crate) async fn get_one(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, ns, key)): Path<(String, String, String)>,
) -> Result<Json<SecretMetaView>, ApiError> {
    allowed(
        &state,
        &who,
        &tenant,
        &ns,
        Some(&key),
        Action::Read,
        AuditAction::Read,
    )?;
    let service = service(&state)?;
    let metadata = service
        .metadata(&tenant, &namespace(&ns)?, &key)
        .map_err(service_error)?
        .ok_or_else(|| ApiError::not_found(secret_not_found(&key, &ns)))?;
    Ok(Json(SecretMetaView::of(&metadata, service.now())))
}

/// The body of a PUT. Parsed by hand from JSON so that no parser message can quote the
/// value back.
struct PutBody {
    key: String,
    value: SecretValue,
    update: MetadataUpdate,
}

const PUT_EXAMPLE: &str = "{\"key\": \"MY_SECRET\", \"value\": \"...\"}";

fn parse_put(body: &[u8]) -> Result<PutBody, ApiError> {
    let mut map = object_body(body, PUT_EXAMPLE, false)?;
    let key = match map.remove("key") {
        Some(Value::String(k)) => k,
        _ => {
            return Err(ApiError::bad_request(format!(
                "'key' is required and must be a string: {PUT_EXAMPLE}"
            )));
        }
    };
    let value = match map.remove("value") {
        Some(Value::String(v)) => SecretValue::new(v),
        _ => {
            return Err(ApiError::bad_request(format!(
                "'value' is required and must be a string: {PUT_EXAMPLE}"
            )));
        }
    };
    let update = take_metadata(&mut map)?;
    no_other_fields(
        &map,
        "key, value, description, tags, expiresAt, rotationPeriod",
    )?;
    Ok(PutBody { key, value, update })
}

/// Creates or updates a secret (a new version); answers its metadata. Needs SECRET CREATE,
/// and SECRET UPDATE when it exists. Audited with the caller.
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
        Unauthorized,
        (status = 403, description = "SECRET CREATE/UPDATE not granted here", body = ErrorBody),
        (status = 405, description = "The backend is read-only", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        NoSecretService,
    )
)]
pub(crate) async fn put(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, ns)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SecretMetaView>, ApiError> {
    let body = parse_put(&body.map_err(body_rejected)?)?;
    let service = service(&state)?;
    let namespace = namespace(&ns)?;
    // Refused outright first, with one message whether the key exists or not: a caller
    // without either right must not learn which secrets a namespace holds.
    let may = |action| {
        crate::access::check_create(caller(&who), &tenant, &ns, Permission::Secret, action).is_ok()
    };
    if !may(Action::Create) && !may(Action::Update) {
        let reason = "SECRET CREATE and UPDATE are not granted to the caller here";
        audit_denied(
            &state,
            &who,
            &tenant,
            &ns,
            Some(&body.key),
            AuditAction::Write,
            reason,
        );
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            message: format!("forbidden: SECRET CREATE and UPDATE are not granted to you in {ns}"),
        });
    }
    let exists = service
        .metadata(&tenant, &namespace, &body.key)
        .map_err(service_error)?
        .is_some();
    let action = if exists {
        Action::Update
    } else {
        Action::Create
    };
    if let Err(refused) =
        crate::access::check_create(caller(&who), &tenant, &ns, Permission::Secret, action)
    {
        let reason = format!(
            "SECRET {} is not granted to the caller here",
            action.as_str()
        );
        audit_denied(
            &state,
            &who,
            &tenant,
            &ns,
            Some(&body.key),
            AuditAction::Write,
            &reason,
        );
        return Err(refused);
    }
    let who = actor(&who);
    let mut write = SecretWrite::new(body.value);
    write.update = body.update;
    write.created_by = Some(who.actor.clone());
    let metadata = service
        .put(&tenant, &namespace, &body.key, write, &who)
        .map_err(service_error)?;
    Ok(Json(SecretMetaView::of(&metadata, service.now())))
}

/// Deletes a secret (soft: `POST …/restore` undoes it; flows meanwhile see a parent
/// namespace's secret of the same key). SECRET DELETE. Audited with the caller.
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
        Unauthorized,
        (status = 403, description = "SECRET DELETE not granted here", body = ErrorBody),
        (status = 404, description = "No such secret, already deleted (or not visible to the caller)", body = ErrorBody),
        (status = 405, description = "The backend is read-only", body = ErrorBody),
        NoSecretService,
    )
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, ns, key)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    allowed(
        &state,
        &who,
        &tenant,
        &ns,
        Some(&key),
        Action::Delete,
        AuditAction::Delete,
    )?;
    let deleted = service(&state)?
        .delete(&tenant, &namespace(&ns)?, &key, &actor(&who))
        .map_err(service_error)?;
    if deleted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(secret_not_found(&key, &ns)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_secret_store_or_audit_trail_answers_503() {
        let store = service_error(ServiceError::Store(StoreError::Busy {
            backend: "jdbc",
            reason: "locked".into(),
        }));
        assert_eq!(store.status, StatusCode::SERVICE_UNAVAILABLE);
        let audit = service_error(ServiceError::AuditRefused {
            action: saker_secrets::AuditAction::Read,
            source: saker_store::StoreError::Busy {
                reason: "locked".into(),
            },
        });
        assert_eq!(audit.status, StatusCode::SERVICE_UNAVAILABLE);
        let failed = service_error(ServiceError::Store(StoreError::Backend {
            backend: "jdbc",
            message: "disk".into(),
        }));
        assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
