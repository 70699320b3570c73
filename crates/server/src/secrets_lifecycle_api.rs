//! A secret's lifecycle through the API, Kestra/Vault-shaped, under
//! `/api/v1/{tenant}/namespaces/{namespace}/secrets/{key}`: metadata changes (`PATCH`), the
//! version history (`GET …/versions`), `POST …/restore` (undo a soft delete, or bring back an
//! older version's value), `POST …/revoke` and `POST …/destroy`.
//!
//! Permissions, all SECRET at the secret's namespace:
//!
//! | endpoint | action |
//! |---|---|
//! | `GET …/versions` | READ |
//! | `PATCH …/{key}`, `POST …/restore` | UPDATE |
//! | `POST …/revoke`, `POST …/destroy` | DELETE |
//!
//! Revoking needs DELETE, not UPDATE: it erases the value of every stored version (they can
//! no longer be restored), which is as final as destroying them; only a new value (PUT, which
//! needs UPDATE) makes the secret usable again.
//!
//! A caller who may not see the namespace gets the same 404 as for a missing secret; one who
//! sees it without the action gets 403. Every change goes through the secret service, which
//! audits it with the caller as actor. No response and no error holds a value: the bodies
//! here hold none, and are parsed by hand all the same (see [`crate::secrets_api`]).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use saker_auth::Action;
use saker_secrets::{AuditAction, SecretState, SecretVersion};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::doc::{NoSecretService, Unauthorized};
use crate::openapi::ApiRouter;
use crate::request::{body_rejected, no_other_fields, object_body};
use crate::routes::MaybeCaller;
use crate::schema::ErrorBody;
use crate::secrets_api::{
    SecretMetaView, actor, allowed, namespace, secret_not_found, service, service_error,
    take_metadata,
};
use crate::{ApiError, AppState};

pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(patch))
        .routes(routes!(versions))
        .routes(routes!(restore))
        .routes(routes!(revoke))
        .routes(routes!(destroy))
}

/// The body of `PATCH …/secrets/{key}`: metadata only. Absent fields stay as they are; null
/// clears one.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // documents the body, which `parse_patch` reads by hand
pub struct SecretPatchDoc {
    /// Free text.
    description: Option<String>,
    /// A list of {key, value} (Kestra's form) or a map of strings; replaces the old tags.
    #[schema(value_type = Object)]
    tags: Option<Value>,
    /// RFC 3339 date-time after which flows fail to resolve it.
    expires_at: Option<DateTime<Utc>>,
    /// How often it should be rotated: ISO-8601 (P90D) or 90d.
    rotation_period: Option<String>,
}

/// The optional body of `POST …/restore`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)] // documents the body, which `restore` reads by hand
pub struct SecretRestoreDoc {
    /// Bring back this version's value as a new version (it must still be AVAILABLE).
    /// Without it, the soft delete is undone.
    #[schema(minimum = 1)]
    version: Option<u64>,
}

/// The optional body of `POST …/revoke`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)] // documents the body, which `revoke` reads by hand
pub struct SecretRevokeDoc {
    /// Why, for whoever finds it revoked (shown in its metadata).
    reason: Option<String>,
}

/// Whether a version's value is still stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum SecretVersionState {
    /// Its value is stored: `POST …/restore {"version": N}` can bring it back.
    Available,
    /// Its value was erased by a revocation: only the record remains.
    Destroyed,
}

/// One version of a secret. Never its value.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretVersionView {
    /// From 1.
    pub version: u64,
    pub created_at: DateTime<Utc>,
    /// Who wrote it (`api:<user>` through the API), when known.
    pub created_by: Option<String>,
    pub state: SecretVersionState,
    /// True for the secret's current version.
    pub current: bool,
}

/// A secret's kept versions, newest first (the backend keeps at most
/// `secret.jdbc.max-versions`; older ones are dropped).
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct SecretVersionPage {
    pub total: u64,
    pub results: Vec<SecretVersionView>,
}

fn version_view(v: &SecretVersion, current: u64) -> SecretVersionView {
    SecretVersionView {
        version: v.version,
        created_at: v.created_at,
        created_by: v.created_by.clone(),
        state: if v.available {
            SecretVersionState::Available
        } else {
            SecretVersionState::Destroyed
        },
        current: v.version == current,
    }
}

const PATCH_FIELDS: &str = "description, tags, expiresAt, rotationPeriod";

fn parse_patch(body: &[u8]) -> Result<saker_secrets::MetadataUpdate, ApiError> {
    let example = "{\"description\": \"...\", \"tags\": [{\"key\": \"team\", \"value\": \"a\"}]}";
    let mut map = object_body(body, example, false)?;
    if map.remove("value").is_some() {
        return Err(ApiError::bad_request(
            "'value' cannot be changed by PATCH, which changes metadata only: set a new value \
             with PUT /api/v1/{tenant}/namespaces/{namespace}/secrets",
        ));
    }
    let update = take_metadata(&mut map)?;
    no_other_fields(&map, PATCH_FIELDS)?;
    if update == saker_secrets::MetadataUpdate::default() {
        return Err(ApiError::bad_request(format!(
            "nothing to change: send at least one of {PATCH_FIELDS}"
        )));
    }
    Ok(update)
}

/// Changes a secret's metadata (description, tags, expiry, rotation period) without a new
/// version: flows keep resolving the same value. SECRET UPDATE. Audited with the caller.
#[utoipa::path(
    patch,
    path = "/api/v1/{tenant}/namespaces/{namespace}/secrets/{key}",
    tag = "Secrets",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "Namespace"),
        ("key" = String, Path, description = "Secret key"),
    ),
    request_body(content = SecretPatchDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "The secret's new metadata", body = SecretMetaView),
        (status = 400, description = "Malformed body (a value, an unknown field, nothing to change) or invalid namespace/key", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "SECRET UPDATE not granted here", body = ErrorBody),
        (status = 404, description = "No such secret (or not visible to the caller)", body = ErrorBody),
        (status = 405, description = "The backend is read-only", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        NoSecretService,
    )
)]
pub(crate) async fn patch(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, ns, key)): Path<(String, String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SecretMetaView>, ApiError> {
    allowed(
        &state,
        &who,
        &tenant,
        &ns,
        Some(&key),
        Action::Update,
        AuditAction::UpdateMetadata,
    )?;
    let update = parse_patch(&body.map_err(body_rejected)?)?;
    let service = service(&state)?;
    let metadata = service
        .update_metadata(&tenant, &namespace(&ns)?, &key, update, &actor(&who))
        .map_err(service_error)?;
    Ok(Json(SecretMetaView::of(&metadata, service.now())))
}

/// The versions kept of a secret, newest first: number, date, author and whether the value
/// is still stored. Never a value. SECRET READ.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/namespaces/{namespace}/secrets/{key}/versions",
    tag = "Secrets",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "Namespace"),
        ("key" = String, Path, description = "Secret key"),
    ),
    responses(
        (status = 200, description = "The kept versions, newest first", body = SecretVersionPage),
        (status = 400, description = "Invalid namespace or key", body = ErrorBody),
        Unauthorized,
        (status = 404, description = "No such secret (or not visible to the caller)", body = ErrorBody),
        (status = 405, description = "The backend keeps no versions (env)", body = ErrorBody),
        NoSecretService,
    )
)]
pub(crate) async fn versions(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, ns, key)): Path<(String, String, String)>,
) -> Result<Json<SecretVersionPage>, ApiError> {
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
    let namespace = namespace(&ns)?;
    let versions = service
        .versions(&tenant, &namespace, &key)
        .map_err(service_error)?;
    let current = service
        .metadata(&tenant, &namespace, &key)
        .map_err(service_error)?
        .map_or(0, |m| m.version);
    let results: Vec<SecretVersionView> =
        versions.iter().map(|v| version_view(v, current)).collect();
    Ok(Json(SecretVersionPage {
        total: results.len() as u64,
        results,
    }))
}

/// `{"version": N}` or nothing.
fn parse_restore(body: &[u8]) -> Result<Option<u64>, ApiError> {
    let mut map = object_body(body, "{\"version\": 2} (or no body at all)", true)?;
    let version = match map.remove("version") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if v >= 1 => Some(v),
            _ => {
                return Err(ApiError::bad_request(
                    "'version' must be a version number from 1: list them with GET \
                     …/secrets/{key}/versions",
                ));
            }
        },
        Some(_) => {
            return Err(ApiError::bad_request(
                "'version' must be a number, e.g. {\"version\": 2}",
            ));
        }
    };
    no_other_fields(&map, "version")?;
    Ok(version)
}

/// Undoes a soft delete; with `{"version": N}`, writes version N's value again as a new
/// version instead (a rollback, which also undoes a delete; the new version's `createdBy` is
/// the caller). SECRET UPDATE. Audited with the caller.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/namespaces/{namespace}/secrets/{key}/restore",
    tag = "Secrets",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "Namespace"),
        ("key" = String, Path, description = "Secret key"),
    ),
    request_body(content = Option<SecretRestoreDoc>, content_type = "application/json", description = "Optional: the version to bring back"),
    responses(
        (status = 200, description = "The secret's new metadata", body = SecretMetaView),
        (status = 400, description = "Malformed body or invalid namespace/key", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "SECRET UPDATE not granted here", body = ErrorBody),
        (status = 404, description = "No such secret (or not visible to the caller)", body = ErrorBody),
        (status = 405, description = "The backend is read-only", body = ErrorBody),
        (status = 409, description = "Not deleted (nothing to restore), revoked, or the version's value is no longer stored", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        NoSecretService,
    )
)]
pub(crate) async fn restore(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, ns, key)): Path<(String, String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SecretMetaView>, ApiError> {
    allowed(
        &state,
        &who,
        &tenant,
        &ns,
        Some(&key),
        Action::Update,
        AuditAction::Restore,
    )?;
    let version = parse_restore(&body.map_err(body_rejected)?)?;
    let service = service(&state)?;
    let namespace = namespace(&ns)?;
    let who = actor(&who);
    let metadata = match version {
        Some(version) => service.rollback(&tenant, &namespace, &key, version, &who),
        None => {
            let current = service
                .metadata(&tenant, &namespace, &key)
                .map_err(service_error)?
                .ok_or_else(|| ApiError::not_found(secret_not_found(&key, &ns)))?;
            match current.state {
                SecretState::Deleted { .. } => service.restore(&tenant, &namespace, &key, &who),
                SecretState::Active => {
                    return Err(conflict(format!(
                        "secret {key} in {ns} is not deleted: there is nothing to restore (to \
                         bring back an older value, send {{\"version\": N}})"
                    )));
                }
                SecretState::Revoked { .. } => {
                    return Err(conflict(format!(
                        "secret {key} in {ns} is revoked, not deleted, and its values are \
                         erased: set a new value with PUT …/namespaces/{ns}/secrets"
                    )));
                }
            }
        }
    }
    .map_err(service_error)?;
    Ok(Json(SecretMetaView::of(&metadata, service.now())))
}

fn conflict(message: String) -> ApiError {
    ApiError {
        status: StatusCode::CONFLICT,
        message,
    }
}

/// `{"reason": "..."}` or nothing.
fn parse_revoke(body: &[u8]) -> Result<Option<String>, ApiError> {
    let mut map = object_body(
        body,
        "{\"reason\": \"leaked in a ticket\"} (or no body at all)",
        true,
    )?;
    let reason = match map.remove("reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) if r.trim().is_empty() => None,
        Some(Value::String(r)) => Some(r),
        Some(_) => {
            return Err(ApiError::bad_request(
                "'reason' must be a string, e.g. {\"reason\": \"leaked in a ticket\"}",
            ));
        }
    };
    no_other_fields(&map, "reason")?;
    Ok(reason)
}

/// Revokes a compromised secret: flows resolving it fail with "revoked" (no fallback to a
/// parent namespace) and every stored version's value is erased, until a new value is set
/// with PUT. SECRET DELETE (as final as destroying the values). Audited with the caller.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/namespaces/{namespace}/secrets/{key}/revoke",
    tag = "Secrets",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "Namespace"),
        ("key" = String, Path, description = "Secret key"),
    ),
    request_body(content = Option<SecretRevokeDoc>, content_type = "application/json", description = "Optional: why"),
    responses(
        (status = 200, description = "The secret's new metadata (state REVOKED)", body = SecretMetaView),
        (status = 400, description = "Malformed body or invalid namespace/key", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "SECRET DELETE not granted here", body = ErrorBody),
        (status = 404, description = "No such secret (or not visible to the caller)", body = ErrorBody),
        (status = 405, description = "The backend is read-only", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        NoSecretService,
    )
)]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, ns, key)): Path<(String, String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SecretMetaView>, ApiError> {
    allowed(
        &state,
        &who,
        &tenant,
        &ns,
        Some(&key),
        Action::Delete,
        AuditAction::Revoke,
    )?;
    let reason = parse_revoke(&body.map_err(body_rejected)?)?;
    let service = service(&state)?;
    let metadata = service
        .revoke(
            &tenant,
            &namespace(&ns)?,
            &key,
            reason.as_deref(),
            &actor(&who),
        )
        .map_err(service_error)?;
    Ok(Json(SecretMetaView::of(&metadata, service.now())))
}

/// Destroys a secret for good: every version and its metadata, whatever its state. It cannot
/// be restored. SECRET DELETE. Audited with the caller.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/namespaces/{namespace}/secrets/{key}/destroy",
    tag = "Secrets",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "Namespace"),
        ("key" = String, Path, description = "Secret key"),
    ),
    responses(
        (status = 204, description = "Destroyed"),
        (status = 400, description = "Invalid namespace or key", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "SECRET DELETE not granted here", body = ErrorBody),
        (status = 404, description = "No such secret (or not visible to the caller)", body = ErrorBody),
        (status = 405, description = "The backend is read-only", body = ErrorBody),
        NoSecretService,
    )
)]
pub(crate) async fn destroy(
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
        AuditAction::Destroy,
    )?;
    let destroyed = service(&state)?
        .destroy(&tenant, &namespace(&ns)?, &key, &actor(&who))
        .map_err(service_error)?;
    if destroyed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(secret_not_found(&key, &ns)))
    }
}
