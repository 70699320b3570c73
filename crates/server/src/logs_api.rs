//! Logs of an execution: the whole list, or followed live ([`crate::follow`]). Lines are
//! masked before they are stored, so what is read here is already safe to show.

use std::fmt::Write as _;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use saker_auth::Action;
use saker_store::LogQuery;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_axum::routes;

use crate::doc::Unauthorized;
use crate::executions_api::find_execution;
use crate::openapi::ApiRouter;
use crate::routes::MaybeCaller;
use crate::schema::{ErrorBody, LogView};
use crate::{ApiError, AppState};

pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_logs))
        .routes(routes!(download_logs))
        .routes(routes!(crate::follow::follow_logs))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
struct LogParams {
    /// Only lines at this level or more severe: TRACE, DEBUG, INFO, WARN or ERROR.
    min_level: Option<String>,
    /// Only lines of this task run.
    task_run_id: Option<String>,
}

/// Every log line of an execution, in order.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/logs/{executionId}",
    tag = "Logs",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("executionId" = String, Path, description = "Execution id"),
        LogParams,
    ),
    responses(
        (status = 200, description = "The log lines", body = Vec<LogView>),
        (status = 400, description = "Unknown level", body = ErrorBody),
        Unauthorized,
        (status = 404, description = "No such execution (or not visible to the caller)", body = ErrorBody),
    )
)]
async fn list_logs(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, execution_id)): Path<(String, String)>,
    Query(params): Query<LogParams>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let logs = read_logs(&state, &who, &tenant, execution_id, params)?;
    Ok(Json(
        logs.into_iter()
            .map(|l| serde_json::to_value(l.entry).unwrap_or(Value::Null))
            .collect(),
    ))
}

/// Every log line of an execution as text, one line each (`TIMESTAMP LEVEL [TASK] MESSAGE`),
/// to save as a file: what Kestra's clients (the `kestra` Python package) read once an
/// execution has ended.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/logs/{executionId}/download",
    tag = "Logs",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("executionId" = String, Path, description = "Execution id"),
        LogParams,
    ),
    responses(
        (status = 200, description = "The log lines as text, masked", content_type = "text/plain", body = String),
        (status = 400, description = "Unknown level", body = ErrorBody),
        Unauthorized,
        (status = 404, description = "No such execution (or not visible to the caller)", body = ErrorBody),
    )
)]
async fn download_logs(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, execution_id)): Path<(String, String)>,
    Query(params): Query<LogParams>,
) -> Result<Response, ApiError> {
    let logs = read_logs(&state, &who, &tenant, execution_id.clone(), params)?;
    let mut text = String::new();
    for log in logs {
        let entry = log.entry;
        let _ = write!(
            text,
            "{} {:<5} ",
            entry
                .timestamp
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            entry.level.as_str()
        );
        if let Some(task) = &entry.task_id {
            let _ = write!(text, "[{task}] ");
        }
        text.push_str(&entry.message);
        text.push('\n');
    }
    // The id is Saker's own (base 62): safe in a header.
    let disposition = format!("attachment; filename=\"{execution_id}.log\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        text,
    )
        .into_response())
}

/// The stored (already masked) lines of an execution the caller may read.
fn read_logs(
    state: &AppState,
    who: &MaybeCaller,
    tenant: &str,
    execution_id: String,
    params: LogParams,
) -> Result<Vec<saker_store::StoredLog>, ApiError> {
    find_execution(state, who, tenant, &execution_id, Action::Read)?;
    let mut query = LogQuery::new(execution_id);
    if let Some(level) = params.min_level {
        query.min_level = Some(
            saker_model::Level::parse(&level)
                .ok_or_else(|| ApiError::bad_request(format!("unknown level '{level}'")))?,
        );
    }
    query.task_run_id = params.task_run_id;
    Ok(state.engine.store().list_logs(&query)?)
}
