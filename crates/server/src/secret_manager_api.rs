//! A namespace's own secret backend (issue 15 item 4): `PUT`, `GET` and `DELETE
//! /api/v1/{tenant}/namespaces/{namespace}/secret-manager`. The body is the backend part of a
//! `secret:` section as JSON (`{"type": "vault", "vault": {...}, "read-only": true}`); it is
//! validated (errors name the key), sealed with the instance key, audited with the caller,
//! and never answered back but with its credentials blanked (`"****"`).
//!
//! Permissions are SECRET's at the namespace, as for the secrets it will hold: UPDATE to set,
//! READ to show, DELETE to remove. A namespace the caller may not see answers 404.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use saker_auth::Action;
use saker_secrets::{AuditAction, NamespaceBackendError};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::doc::{NoSecretService, Unauthorized};
use crate::openapi::ApiRouter;
use crate::request::{body_rejected, object_body};
use crate::routes::MaybeCaller;
use crate::schema::ErrorBody;
use crate::secrets_api::{actor, allowed, namespace, service};
use crate::{ApiError, AppState};

pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new().routes(routes!(set, show, remove))
}

/// A namespace's backend: `type`, `read-only` and the backend's own section, keyed by its
/// type (`vault`, `aws-secret-manager`, ...), exactly as under `secret:` in the configuration
/// file. Answers show every credential as `"****"`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)] // documents the body, which is read as JSON and validated by the service
pub struct SecretManagerDoc {
    /// vault, aws-secret-manager, google-secret-manager, azure-key-vault, elasticsearch,
    /// 1password or doppler.
    #[serde(rename = "type")]
    backend: String,
    /// True: writes through Saker are refused; the external system is the source of truth.
    #[serde(rename = "read-only")]
    read_only: Option<bool>,
}

const EXAMPLE: &str =
    "{\"type\": \"vault\", \"vault\": {\"address\": \"...\", \"token\": {\"token\": \"...\"}}}";

fn manager_error(e: NamespaceBackendError) -> ApiError {
    let status = match &e {
        NamespaceBackendError::Invalid(_) | NamespaceBackendError::Unusable(_) => {
            StatusCode::BAD_REQUEST
        }
        NamespaceBackendError::NotEnabled => StatusCode::SERVICE_UNAVAILABLE,
        NamespaceBackendError::Storage(saker_store::StoreError::Busy { .. }) => {
            return ApiError::busy();
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError {
        status,
        message: e.to_string(),
    }
}

fn no_backend(ns: &str) -> ApiError {
    ApiError::not_found(format!("namespace {ns} has no secret backend of its own"))
}

/// Gives the namespace (and its children) its own secret backend. Needs SECRET UPDATE.
#[utoipa::path(
    put,
    path = "/api/v1/{tenant}/namespaces/{namespace}/secret-manager",
    tag = "Secrets",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "Namespace"),
    ),
    request_body(content = SecretManagerDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "The configuration, credentials blanked", body = SecretManagerDoc),
        (status = 400, description = "Malformed body, invalid namespace, or an invalid configuration (the message names the key)", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "SECRET UPDATE not granted here", body = ErrorBody),
        (status = 404, description = "Namespace not visible to the caller", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        NoSecretService,
    )
)]
pub(crate) async fn set(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, ns)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    allowed(
        &state,
        &who,
        &tenant,
        &ns,
        None,
        Action::Update,
        AuditAction::Write,
    )?;
    let document = Value::Object(object_body(&body.map_err(body_rejected)?, EXAMPLE, false)?);
    let service = service(&state)?;
    let namespace = namespace(&ns)?;
    let shown = service
        .set_namespace_backend(&tenant, &namespace, document, &actor(&who))
        .map_err(manager_error)?;
    Ok(Json(shown))
}

/// The namespace's own backend configuration, credentials blanked. Needs SECRET READ.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/namespaces/{namespace}/secret-manager",
    tag = "Secrets",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "Namespace"),
    ),
    responses(
        (status = 200, description = "The configuration, credentials blanked", body = SecretManagerDoc),
        (status = 400, description = "Invalid namespace", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "SECRET READ not granted here", body = ErrorBody),
        (status = 404, description = "No backend of its own, or namespace not visible to the caller", body = ErrorBody),
        NoSecretService,
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, ns)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    allowed(
        &state,
        &who,
        &tenant,
        &ns,
        None,
        Action::Read,
        AuditAction::Read,
    )?;
    let service = service(&state)?;
    let namespace = namespace(&ns)?;
    service
        .namespace_backend(&tenant, &namespace)
        .map_err(manager_error)?
        .map(Json)
        .ok_or_else(|| no_backend(&ns))
}

/// Removes the namespace's own backend: it falls back to its parents' or the instance's.
/// Needs SECRET DELETE.
#[utoipa::path(
    delete,
    path = "/api/v1/{tenant}/namespaces/{namespace}/secret-manager",
    tag = "Secrets",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "Namespace"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Invalid namespace", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "SECRET DELETE not granted here", body = ErrorBody),
        (status = 404, description = "No backend of its own, or namespace not visible to the caller", body = ErrorBody),
        NoSecretService,
    )
)]
pub(crate) async fn remove(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, ns)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    allowed(
        &state,
        &who,
        &tenant,
        &ns,
        None,
        Action::Delete,
        AuditAction::Delete,
    )?;
    let service = service(&state)?;
    let namespace = namespace(&ns)?;
    if service
        .remove_namespace_backend(&tenant, &namespace, &actor(&who))
        .map_err(manager_error)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(no_backend(&ns))
    }
}
