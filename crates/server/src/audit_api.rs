//! `GET /api/v1/{tenant}/auditlogs/search`: the audit trail of secret accesses, filtered by
//! namespace, key, actor and time; AUDITLOG READ on the tenant. Events never hold a value.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use saker_auth::{Action, Permission};
use saker_store::AuditFilter;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use crate::access::check;
use crate::doc::{NoSecretService, Unauthorized};
use crate::openapi::ApiRouter;
use crate::routes::{MaybeCaller, caller};
use crate::schema::ErrorBody;
use crate::{ApiError, AppState};

pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new().routes(routes!(search))
}

/// One audit event. Never holds a value.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventView {
    /// Position in the trail (a paging cursor for `after`).
    pub seq: i64,
    pub date: DateTime<Utc>,
    pub tenant_id: String,
    pub namespace: Option<String>,
    pub key: Option<String>,
    /// read, write, delete, restore, revoke, rekey, ...
    pub action: String,
    pub actor: String,
    pub service: Option<String>,
    pub execution_id: Option<String>,
    pub flow_id: Option<String>,
    pub task_run_id: Option<String>,
    /// success, denied or failed.
    pub outcome: String,
    pub detail: Option<String>,
    /// This event's link in the SHA-256 hash chain.
    pub hash: String,
}

/// A page of audit events, oldest first.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct AuditPage {
    pub total: u64,
    pub results: Vec<AuditEventView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct AuditParams {
    /// Only events of this namespace and those below it.
    namespace: Option<String>,
    /// Only events of this secret key.
    key: Option<String>,
    /// Only events of this actor, e.g. `api:admin`.
    actor: Option<String>,
    /// Only events at or after this RFC 3339 date-time, e.g. 2026-01-31T00:00:00Z.
    since: Option<DateTime<Utc>>,
    /// Only events at or before this RFC 3339 date-time.
    until: Option<DateTime<Utc>>,
    /// Only events after this sequence number (paging).
    after: Option<i64>,
    /// At most this many events (1 to 1000, default 100; out of range is clamped).
    size: Option<u32>,
}

/// A query string that does not parse, as our JSON error naming the parameter.
fn query_rejected(e: QueryRejection) -> ApiError {
    ApiError::bad_request(format!(
        "{}: since and until are RFC 3339 date-times such as 2026-01-31T00:00:00Z, after and \
         size are whole numbers",
        e.body_text()
    ))
}

/// Searches the audit trail of secret accesses (AUDITLOG READ on the tenant).
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/auditlogs/search",
    tag = "Audit logs",
    params(("tenant" = String, Path, description = "Tenant id"), AuditParams),
    responses(
        (status = 200, description = "Matching events", body = AuditPage),
        (status = 400, description = "Malformed parameter", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "AUDITLOG READ not granted on this tenant", body = ErrorBody),
        NoSecretService,
    )
)]
pub(crate) async fn search(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path(tenant): Path<String>,
    query: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    check(
        caller(&who),
        &tenant,
        None,
        Permission::Auditlog,
        Action::Read,
        String::new,
    )?;
    let Query(params) = query.map_err(query_rejected)?;
    let service = state.secrets.as_ref().ok_or_else(|| ApiError {
        status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
        message: "this server has no secret service configured".into(),
    })?;
    let filter = AuditFilter {
        tenant: Some(tenant),
        namespace: params.namespace,
        key: params.key,
        actor: params.actor,
        since: params.since,
        until: params.until,
        after_seq: params.after,
        limit: Some(params.size.unwrap_or(100).clamp(1, 1000)),
    };
    let records = service
        .audit_log()
        .list_audit(&filter)
        .map_err(saker_engine::EngineError::from)?;
    let results: Vec<AuditEventView> = records
        .into_iter()
        .map(|r| {
            let e = r.event;
            AuditEventView {
                seq: r.seq,
                date: e.timestamp,
                tenant_id: e.tenant,
                namespace: e.namespace,
                key: e.key,
                action: e.action,
                actor: e.actor,
                service: e.service,
                execution_id: e.execution_id,
                flow_id: e.flow_id,
                task_run_id: e.task_run_id,
                outcome: e.outcome,
                detail: e.detail,
                hash: r.hash,
            }
        })
        .collect();
    Ok(Json(AuditPage {
        total: results.len() as u64,
        results,
    }))
}
