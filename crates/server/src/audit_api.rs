//! `GET /api/v1/{tenant}/auditlogs/search`: the audit trail of secret accesses, filtered by
//! namespace, key, actor and time; AUDITLOG READ on the tenant. Events never hold a value.

use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use saker_auth::{Action, Permission};
use saker_store::AuditFilter;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::check;
use crate::routes::{MaybeCaller, caller};
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
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

pub async fn search(
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
