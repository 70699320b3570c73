//! Acting on an execution that exists, as Kestra's API does: resume a paused one (with its
//! `onResume` inputs), restart a failed one from its failed task runs (same execution), and
//! replay one from a chosen task run (a new execution), and set labels on an ended one. Resume and restart need EXECUTION
//! UPDATE at the execution's namespace, replay EXECUTION CREATE (it starts an execution); one
//! the caller may not see answers 404 like a missing one.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use saker_auth::Action;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_axum::routes;

use crate::doc::Unauthorized;
use crate::executions_api::{execution_json, find_execution};
use crate::openapi::ApiRouter;
use crate::routes::MaybeCaller;
use crate::schema::{ErrorBody, ExecutionView, LabelBody};
use crate::{ApiError, AppState};

pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(resume_execution))
        .routes(routes!(restart_execution))
        .routes(routes!(replay_execution))
        .routes(routes!(set_labels))
}

/// Resumes a PAUSED execution. The body holds the `onResume` inputs of the paused `Pause`
/// (a JSON object, a URL-encoded form or `multipart/form-data`, as when creating an
/// execution); they are checked against its declared inputs and become its `onResume`
/// output. 204 as Kestra; 409 when the execution is not paused.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/executions/{id}/resume",
    tag = "Executions",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "Execution id"),
    ),
    request_body(
        content = Object,
        description = "The `onResume` inputs (JSON object, form or multipart)",
        content_type = "application/json"
    ),
    responses(
        (status = 204, description = "Resumed"),
        (status = 400, description = "The body cannot be read, or sends a file", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "EXECUTION UPDATE not granted here", body = ErrorBody),
        (status = 404, description = "No such execution (or not visible to the caller)", body = ErrorBody),
        (status = 409, description = "The execution is not PAUSED", body = ErrorBody),
        (status = 422, description = "The inputs do not match the pause's onResume inputs", body = ErrorBody),
    )
)]
async fn resume_execution(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    find_execution(&state, &who, &tenant, &id, Action::Update)?;
    let (inputs, files) = crate::inputs_body::parse_inputs(&headers, body).await?;
    if let Some(file) = files.first() {
        return Err(ApiError::bad_request(format!(
            "input '{}': files cannot be given to resume an execution; send onResume inputs as text",
            file.input
        )));
    }
    state.engine.resume(&id, inputs)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Restarts a FAILED or KILLED execution from its failed (and killed) task runs: the same
/// execution runs again from there, its earlier task runs kept. Answers the execution as it
/// is once restarted (RUNNING). 409 for an execution in any other state.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/executions/{id}/restart",
    tag = "Executions",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "Execution id"),
    ),
    responses(
        (status = 200, description = "Restarted", body = ExecutionView),
        Unauthorized,
        (status = 403, description = "EXECUTION UPDATE not granted here", body = ErrorBody),
        (status = 404, description = "No such execution (or not visible to the caller)", body = ErrorBody),
        (status = 409, description = "The execution is not FAILED or KILLED, or has no failed task run", body = ErrorBody),
    )
)]
async fn restart_execution(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    find_execution(&state, &who, &tenant, &id, Action::Update)?;
    state.engine.restart(&id)?;
    // As the restart recorded it (the caller was allowed to act on it just above).
    let restarted = state
        .engine
        .store()
        .get_execution(&id)?
        .ok_or_else(|| ApiError::not_found(format!("execution {id} not found")))?;
    Ok(Json(execution_json(&restarted)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ReplayParams {
    /// The task run to replay from (Kestra's `taskRunId`): the new execution keeps the task
    /// runs that came before it and runs again from it.
    #[serde(rename = "taskRunId")]
    #[param(rename = "taskRunId")]
    task_run_id: Option<String>,
}

/// Replays an ended execution from one of its task runs: a new execution of the same flow
/// revision with the same inputs and labels (`system.replay`, `system.originalId` added),
/// holding the task runs before the chosen one, which runs again. Answers the new execution.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/executions/{id}/replay",
    tag = "Executions",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "Execution id"),
        ReplayParams,
    ),
    responses(
        (status = 200, description = "The new execution", body = ExecutionView),
        (status = 400, description = "No taskRunId given", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "EXECUTION CREATE not granted here", body = ErrorBody),
        (status = 404, description = "No such execution or task run (or not visible to the caller)", body = ErrorBody),
        (status = 409, description = "The execution has not ended", body = ErrorBody),
    )
)]
async fn replay_execution(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, id)): Path<(String, String)>,
    Query(params): Query<ReplayParams>,
) -> Result<Json<Value>, ApiError> {
    find_execution(&state, &who, &tenant, &id, Action::Create)?;
    let task_run_id = params.task_run_id.ok_or_else(|| {
        ApiError::bad_request(
            "taskRunId is required: the task run to replay from (see the execution's taskRunList)",
        )
    })?;
    let replayed = state.engine.replay(&id, &task_run_id)?;
    Ok(Json(execution_json(&replayed)))
}

/// Labels a request may set at most, and the longest key or value.
const MAX_LABELS: usize = 100;
const MAX_LABEL_LENGTH: usize = 1024;

/// Adds labels to an ended execution, or replaces those of the same key (Kestra's rule: a
/// running execution's labels are its flow's and tasks'). `system.` labels are Saker's own.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/executions/{id}/labels",
    tag = "Executions",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "Execution id"),
    ),
    request_body(content = Vec<LabelBody>, description = "The labels to set", content_type = "application/json"),
    responses(
        (status = 200, description = "The execution with its labels", body = ExecutionView),
        (status = 400, description = "The body is not a list of labels, or a label is empty, too long, or a system. label", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "EXECUTION UPDATE not granted here", body = ErrorBody),
        (status = 404, description = "No such execution (or not visible to the caller)", body = ErrorBody),
        (status = 409, description = "The execution has not ended", body = ErrorBody),
    )
)]
async fn set_labels(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let execution = find_execution(&state, &who, &tenant, &id, Action::Update)?;
    // Parsed here, whatever the content type, so that every bad body is the documented 400.
    let labels: Vec<LabelBody> = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be a JSON list of {{\"key\": \"…\", \"value\": \"…\"}} objects \
             (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if labels.len() > MAX_LABELS {
        return Err(ApiError::bad_request(format!(
            "{} labels: at most {MAX_LABELS} at once",
            labels.len()
        )));
    }
    for label in &labels {
        if label.key.trim().is_empty() {
            return Err(ApiError::bad_request("a label's key cannot be empty"));
        }
        if label.key.len() > MAX_LABEL_LENGTH || label.value.len() > MAX_LABEL_LENGTH {
            return Err(ApiError::bad_request(format!(
                "label '{}': keys and values are at most {MAX_LABEL_LENGTH} bytes",
                label.key.chars().take(64).collect::<String>()
            )));
        }
        if label.key.starts_with("system.") {
            return Err(ApiError::bad_request(format!(
                "label '{}': labels starting with 'system.' are Saker's own",
                label.key
            )));
        }
    }
    if !execution.state.current.is_terminated() {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            message: format!(
                "execution {id} is {}: labels can be set once it has ended",
                execution.state.current.as_str()
            ),
        });
    }
    // The executor may still be finishing it (afterExecution, listeners): wait until it has
    // let go, so that its last write cannot undo this one.
    if tokio::time::timeout(LET_GO, state.engine.wait(&id))
        .await
        .is_err()
    {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            message: format!(
                "execution {id} is still being finished (afterExecution, listeners): try again"
            ),
        });
    }
    let mut execution = state
        .engine
        .store()
        .get_execution(&id)?
        .ok_or_else(|| ApiError::not_found(format!("execution {id} not found")))?;
    for label in labels {
        execution
            .labels
            .insert(label.key, Value::String(label.value));
    }
    state.engine.store().save_execution(&execution)?;
    Ok(Json(execution_json(&execution)))
}

/// How long setting labels waits for the executor to let go of an ended execution.
const LET_GO: std::time::Duration = std::time::Duration::from_secs(10);
