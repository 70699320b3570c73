//! `GET /api/v1/{tenant}/auditlogs/search`: the audit trail of secret accesses, filtered by
//! namespace, key, actor and time; AUDITLOG READ on the tenant. Events never hold a value.

use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use saker_auth::{Action, Permission};
use saker_store::AuditFilter;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use crate::access::check;
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
    pub date: String,
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
    namespace: Option<String>,
    key: Option<String>,
    actor: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    /// Only events after this sequence number (paging).
    after: Option<i64>,
    size: Option<u32>,
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
        (status = 401, description = "No or wrong credentials", body = ErrorBody),
        (status = 403, description = "AUDITLOG READ not granted on this tenant", body = ErrorBody),
    )
)]
pub(crate) async fn search(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path(tenant): Path<String>,
    Query(params): Query<AuditParams>,
) -> Result<Json<Value>, ApiError> {
    check(
        caller(&who),
        &tenant,
        None,
        Permission::Auditlog,
        Action::Read,
        String::new,
    )?;
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
    let results: Vec<Value> = records
        .iter()
        .map(|r| {
            let e = &r.event;
            json!({
                "seq": r.seq,
                "date": e.timestamp,
                "tenantId": e.tenant,
                "namespace": e.namespace,
                "key": e.key,
                "action": e.action,
                "actor": e.actor,
                "service": e.service,
                "executionId": e.execution_id,
                "flowId": e.flow_id,
                "taskRunId": e.task_run_id,
                "outcome": e.outcome,
                "detail": e.detail,
                "hash": r.hash,
            })
        })
        .collect();
    Ok(Json(json!({ "total": results.len(), "results": results })))
}
