//! Logs of an execution: the whole list, or followed live ([`crate::follow`]). Lines are
//! masked before they are stored, so what is read here is already safe to show.

use axum::Json;
use axum::extract::{Path, Query, State};
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
    find_execution(&state, &who, &tenant, &execution_id, Action::Read)?;
    let mut query = LogQuery::new(execution_id);
    if let Some(level) = params.min_level {
        query.min_level = Some(
            saker_model::Level::parse(&level)
                .ok_or_else(|| ApiError::bad_request(format!("unknown level '{level}'")))?,
        );
    }
    query.task_run_id = params.task_run_id;
    let logs = state.engine.store().list_logs(&query)?;
    Ok(Json(
        logs.into_iter()
            .map(|l| serde_json::to_value(l.entry).unwrap_or(Value::Null))
            .collect(),
    ))
}
