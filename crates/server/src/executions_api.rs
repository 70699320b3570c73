//! Executions: create with typed inputs, get, search, kill (the debug expression is
//! `debug_api`).
//! EXECUTION permissions at the execution's namespace; an execution the caller may not see
//! answers exactly like a missing one (404). Sealed values are shown as `****`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use saker_auth::{Action, Permission};
use saker_engine::display_masked;
use saker_model::{Execution, StateType};
use saker_store::ExecutionFilter;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::IntoParams;
use utoipa_axum::routes;

use crate::access::{check, scopes};
use crate::doc::Unauthorized;
use crate::openapi::ApiRouter;
use crate::routes::{MaybeCaller, caller};
use crate::schema::{ErrorBody, ExecutionPage, ExecutionView, KillView};
use crate::{ApiError, AppState};

pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(search_executions))
        .routes(routes!(search_executions_kestra))
        .routes(routes!(create_execution))
        .routes(routes!(get_execution, delete_execution))
        .routes(routes!(kill_execution))
        .routes(routes!(crate::follow_execution::follow_execution))
}

/// An execution as the API shows it: sealed values replaced by `****`.
pub(crate) fn execution_json(execution: &Execution) -> Value {
    let mut value = serde_json::to_value(execution).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        for key in ["inputs", "outputs"] {
            if let Some(v) = map.get_mut(key) {
                *v = display_masked(v);
            }
        }
        if let Some(Value::Array(runs)) = map.get_mut("taskRunList") {
            for run in runs {
                // What a flowable decided is the engine's own bookkeeping, not Kestra's shape.
                if let Value::Object(fields) = run {
                    fields.remove("resolved");
                }
                // Outputs, and a loop's iteration value, may be sealed.
                for key in ["outputs", "value"] {
                    if let Some(v) = run.get_mut(key) {
                        *v = display_masked(v);
                    }
                }
            }
        }
    }
    value
}

/// Starts an execution of the latest revision of a flow.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/executions/{namespace}/{id}",
    tag = "Executions",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "The flow's namespace"),
        ("id" = String, Path, description = "The flow's id"),
        CreateParams,
    ),
    request_body(
        description = "Inputs by name: a JSON object, a URL-encoded form or multipart/form-data \
                       (text parts, and a part with a file name for each FILE input). Empty \
                       for none.",
        content(
            (Object = "application/json"),
            (Object = "application/x-www-form-urlencoded"),
            (Object = "multipart/form-data"),
        )
    ),
    responses(
        (status = 200, description = "The created execution (ended, with wait=true)", body = ExecutionView),
        (status = 400, description = "Malformed body or label", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "EXECUTION CREATE not granted here", body = ErrorBody),
        (status = 404, description = "No such flow (or not visible to the caller)", body = ErrorBody),
        (status = 422, description = "Inputs do not match the flow's declared inputs", body = ErrorBody),
    )
)]
async fn create_execution(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, namespace, id)): Path<(String, String, String)>,
    Query(params): Query<CreateParams>,
    headers: HeaderMap,
    permit: Option<axum::Extension<crate::store_gate::HeldPermit>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    check(
        caller(&who),
        &tenant,
        Some(&namespace),
        Permission::Execution,
        Action::Create,
        || format!("flow {namespace}.{id} not found"),
    )?;
    let labels = parse_labels(params.labels.as_deref().unwrap_or(""))?;
    let (inputs, files) = crate::inputs_body::parse_inputs(&headers, body).await?;
    let (flow, record) = state.engine.load_flow(&tenant, &namespace, &id, None)?;
    let execution = state.engine.create_execution_with_files(
        &tenant,
        flow,
        record.revision,
        inputs,
        labels,
        files,
    )?;
    if params.wait.unwrap_or(false) {
        // Kestra's `wait=true`: answer once the execution has ended. The store work is done:
        // the wait holds no store permit.
        if let Some(axum::Extension(permit)) = &permit {
            permit.give_back();
        }
        if let Some(ended) = state.engine.wait(&execution.id).await {
            return Ok(Json(execution_json(&ended)));
        }
    }
    Ok(Json(execution_json(&execution)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CreateParams {
    /// Answer only once the execution has ended (Kestra's `wait`).
    wait: Option<bool>,
    /// Labels as `key:value`, comma-separated (e.g. `team:data,env:prod`); `system.*` keys
    /// are reserved.
    labels: Option<String>,
}

/// `key:value,key:value` as a label map; a malformed item or a `system.` key is refused.
fn parse_labels(text: &str) -> Result<Map<String, Value>, ApiError> {
    let mut labels = Map::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (key, value) = item.split_once(':').ok_or_else(|| {
            ApiError::bad_request(format!("label '{item}' is not key:value, e.g. team:data"))
        })?;
        let key = key.trim();
        if key.is_empty() {
            return Err(ApiError::bad_request(format!("label '{item}' has no key")));
        }
        if key.starts_with("system.") {
            return Err(ApiError::bad_request(format!(
                "label '{key}': system.* labels are set by Saker, not by callers"
            )));
        }
        labels.insert(key.to_owned(), Value::String(value.trim().to_owned()));
    }
    Ok(labels)
}

/// The execution `id` of `tenant` if the caller may do `action` on it; another tenant's
/// execution, or one the caller may not see, is "not found" like a missing one.
pub(crate) fn find_execution(
    state: &AppState,
    who: &MaybeCaller,
    tenant: &str,
    id: &str,
    action: Action,
) -> Result<Execution, ApiError> {
    let missing = || format!("execution {id} not found");
    let execution = state
        .engine
        .store()
        .get_execution(id)?
        .filter(|e| e.tenant_id == tenant)
        .ok_or_else(|| ApiError::not_found(missing()))?;
    check(
        caller(who),
        tenant,
        Some(&execution.namespace),
        Permission::Execution,
        action,
        missing,
    )?;
    Ok(execution)
}

/// One execution with its task runs.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/executions/{id}",
    tag = "Executions",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "Execution id"),
    ),
    responses(
        (status = 200, description = "The execution", body = ExecutionView),
        Unauthorized,
        (status = 404, description = "No such execution (or not visible to the caller)", body = ErrorBody),
    )
)]
async fn get_execution(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let execution = find_execution(&state, &who, &tenant, &id, Action::Read)?;
    Ok(Json(execution_json(&execution)))
}

/// Asks a running execution to stop; an ended one is left as it is. `DELETE`, as Kestra.
#[utoipa::path(
    delete,
    path = "/api/v1/{tenant}/executions/{id}/kill",
    tag = "Executions",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "Execution id"),
    ),
    responses(
        (status = 200, description = "Kill requested (or the execution had already ended)", body = KillView),
        Unauthorized,
        (status = 403, description = "EXECUTION UPDATE not granted here", body = ErrorBody),
        (status = 404, description = "No such execution (or not visible to the caller)", body = ErrorBody),
    )
)]
async fn kill_execution(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<KillView>, ApiError> {
    let execution = find_execution(&state, &who, &tenant, &id, Action::Update)?;
    if !execution.state.current.is_terminated() {
        state.engine.kill(&id)?;
    }
    Ok(Json(KillView {
        id,
        state: execution.state.current.as_str().to_owned(),
    }))
}

/// Deletes an ended execution with its task runs and logs (a running one must be killed
/// first: 409).
#[utoipa::path(
    delete,
    path = "/api/v1/{tenant}/executions/{id}",
    tag = "Executions",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "Execution id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        Unauthorized,
        (status = 403, description = "EXECUTION DELETE not granted here", body = ErrorBody),
        (status = 404, description = "No such execution (or not visible to the caller)", body = ErrorBody),
        (status = 409, description = "The execution has not ended: kill it first", body = ErrorBody),
    )
)]
async fn delete_execution(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let execution = find_execution(&state, &who, &tenant, &id, Action::Delete)?;
    if !execution.state.current.is_terminated() {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            message: format!(
                "execution {id} is {}: kill it first (DELETE …/executions/{id}/kill)",
                execution.state.current.as_str()
            ),
        });
    }
    if state.engine.store().delete_execution(&id)? {
        tracing::info!(tenant, execution = id, "execution deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("execution {id} not found")))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
struct SearchParams {
    /// Only this namespace and its children.
    namespace: Option<String>,
    /// Only executions of this flow.
    flow_id: Option<String>,
    /// Only executions in this state (CREATED, RUNNING, SUCCESS, FAILED, ...).
    state: Option<String>,
    /// Page number, from 1.
    #[param(minimum = 1)]
    page: Option<u32>,
    /// Page size, 1 to 500 (default 25).
    #[param(minimum = 1, maximum = 500)]
    size: Option<u32>,
}

/// Executions the caller may see, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/executions",
    tag = "Executions",
    params(("tenant" = String, Path, description = "Tenant id"), SearchParams),
    responses(
        (status = 200, description = "A page of executions (task runs left out)", body = ExecutionPage),
        (status = 400, description = "Unknown state or malformed parameter", body = ErrorBody),
        Unauthorized,
    )
)]
async fn search_executions(
    state: State<AppState>,
    who: MaybeCaller,
    tenant: Path<String>,
    params: Query<SearchParams>,
) -> Result<Json<Value>, ApiError> {
    search(state, who, tenant, params)
}

/// The same search under Kestra's path, so Kestra's clients find it.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/executions/search",
    tag = "Executions",
    params(("tenant" = String, Path, description = "Tenant id"), SearchParams),
    responses(
        (status = 200, description = "A page of executions (task runs left out)", body = ExecutionPage),
        (status = 400, description = "Unknown state or malformed parameter", body = ErrorBody),
        Unauthorized,
    )
)]
async fn search_executions_kestra(
    state: State<AppState>,
    who: MaybeCaller,
    tenant: Path<String>,
    params: Query<SearchParams>,
) -> Result<Json<Value>, ApiError> {
    search(state, who, tenant, params)
}

fn search(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path(tenant): Path<String>,
    Query(params): Query<SearchParams>,
) -> Result<Json<Value>, ApiError> {
    let mut filter = ExecutionFilter::new(tenant.clone());
    // Filtered in the store before paging, so a page is full whatever the caller may see.
    filter.namespace_scopes = scopes(caller(&who), &tenant, Permission::Execution);
    filter.namespace_prefix = params.namespace;
    filter.flow_id = params.flow_id;
    if let Some(s) = params.state {
        let parsed = StateType::parse(&s.to_ascii_uppercase())
            .ok_or_else(|| ApiError::bad_request(format!("unknown state '{s}'")))?;
        filter.states = vec![parsed];
    }
    let page = crate::paging::window(params.page, params.size);
    filter.limit = Some(page.size);
    filter.offset = page.offset;
    let executions = state.engine.store().list_executions(&filter)?;
    let total = state.engine.store().count_executions(&filter)?;
    Ok(Json(json!({
        "results": executions.iter().map(execution_json).collect::<Vec<_>>(),
        "total": total,
    })))
}
