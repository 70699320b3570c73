//! The route table and its handlers.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use saker_engine::display_masked;
use saker_model::{Execution, StateType};
use saker_store::{ExecutionFilter, FlowRecord, LogQuery};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use axum::Extension;
use saker_auth::{Action, Permission};

use crate::access::{check, check_create, visible};
use crate::{ApiError, AppState, Caller};

/// The authenticated caller, when the server has users.
pub(crate) type MaybeCaller = Option<Extension<Caller>>;

pub(crate) fn caller(c: &MaybeCaller) -> Option<&Caller> {
    c.as_ref().map(|Extension(c)| c)
}

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/api/v1/{tenant}/flows", post(create_flow))
        .route("/api/v1/{tenant}/flows/{namespace}", get(list_flows))
        .route("/api/v1/{tenant}/flows/{namespace}/{id}", get(get_flow))
        .route("/api/v1/{tenant}/executions", get(search_executions))
        .route(
            "/api/v1/{tenant}/executions/{namespace}/{id}",
            post(create_execution),
        )
        .route("/api/v1/{tenant}/executions/{id}", get(get_execution))
        .route(
            "/api/v1/{tenant}/executions/{id}/kill",
            post(kill_execution),
        )
        .route(
            "/api/v1/{tenant}/executions/{id}/eval/{task_run_id}",
            post(debug_expression),
        )
        .route("/api/v1/{tenant}/logs/{execution_id}", get(list_logs))
        .route(
            "/api/v1/{tenant}/logs/{execution_id}/follow",
            get(crate::follow::follow_logs),
        )
        .route(
            "/api/v1/{tenant}/namespaces/{namespace}/secrets",
            get(crate::secrets_api::list).put(crate::secrets_api::put),
        )
        .route(
            "/api/v1/{tenant}/namespaces/{namespace}/secrets/{key}",
            axum::routing::delete(crate::secrets_api::delete),
        )
        .route(
            "/api/v1/{tenant}/namespaces/{namespace}/inherited-secrets",
            get(crate::secrets_api::inherited),
        )
        .route(
            "/api/v1/{tenant}/auditlogs/search",
            get(crate::audit_api::search),
        )
        .layer(axum::extract::DefaultBodyLimit::max(4 * 1024 * 1024))
        .layer(axum::middleware::from_fn_with_state(
            state.auth.clone(),
            crate::authn::authenticate,
        ))
        .with_state(state)
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "UP" }))
}

fn flow_json(record: &FlowRecord) -> Value {
    json!({
        "id": record.id,
        "namespace": record.namespace,
        "revision": record.revision,
        "tenantId": record.tenant,
        "deleted": record.deleted,
        "source": record.source,
    })
}

async fn create_flow(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path(tenant): Path<String>,
    body: String,
) -> Result<Json<Value>, ApiError> {
    // The namespace decides who may deploy; an invalid flow is refused by `deploy` below.
    if let Ok(flow) = saker_model::parse_flow(&body) {
        check_create(
            caller(&who),
            &tenant,
            &flow.namespace,
            Permission::Flow,
            Action::Create,
        )?;
        let exists = state
            .engine
            .store()
            .get_flow(&tenant, &flow.namespace, &flow.id, None)?
            .is_some();
        if exists {
            check_create(
                caller(&who),
                &tenant,
                &flow.namespace,
                Permission::Flow,
                Action::Update,
            )?;
        }
    }
    let (_, saved) = state.engine.deploy(&tenant, &body)?;
    Ok(Json(flow_json(&saved.flow)))
}

async fn list_flows(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, namespace)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let flows = state.engine.store().list_flows(&tenant, Some(&namespace))?;
    let shown = visible(caller(&who), &tenant, Permission::Flow);
    Ok(Json(Value::Array(
        flows
            .iter()
            .filter(|f| shown(&f.namespace))
            .map(flow_json)
            .collect(),
    )))
}

async fn get_flow(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, namespace, id)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    check(
        caller(&who),
        &tenant,
        Some(&namespace),
        Permission::Flow,
        Action::Read,
        || format!("flow {namespace}.{id} not found"),
    )?;
    let flow = state
        .engine
        .store()
        .get_flow(&tenant, &namespace, &id, None)?
        .ok_or_else(|| ApiError::not_found(format!("flow {namespace}.{id} not found")))?;
    Ok(Json(flow_json(&flow)))
}

/// An execution as the API shows it: sealed values replaced by `****`.
fn execution_json(execution: &Execution) -> Value {
    let mut value = serde_json::to_value(execution).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        for key in ["inputs", "outputs"] {
            if let Some(v) = map.get_mut(key) {
                *v = display_masked(v);
            }
        }
        if let Some(Value::Array(runs)) = map.get_mut("taskRunList") {
            for run in runs {
                if let Some(v) = run.get_mut("outputs") {
                    *v = display_masked(v);
                }
            }
        }
    }
    value
}

async fn create_execution(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, namespace, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    check(
        caller(&who),
        &tenant,
        Some(&namespace),
        Permission::Execution,
        Action::Create,
        || format!("flow {namespace}.{id} not found"),
    )?;
    let inputs = parse_inputs(&headers, &body)?;
    let (flow, record) = state.engine.load_flow(&tenant, &namespace, &id, None)?;
    let execution = state
        .engine
        .create_execution(&tenant, flow, record.revision, inputs)?;
    Ok(Json(execution_json(&execution)))
}

/// Inputs from a JSON object or a URL-encoded form; an empty body means no input.
fn parse_inputs(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return Ok(form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request(
            "the body must be a JSON object of inputs, e.g. {\"day\": \"2026-11-22\"}",
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
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

async fn get_execution(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(execution_json(&find_execution(
        &state,
        &who,
        &tenant,
        &id,
        Action::Read,
    )?)))
}

async fn kill_execution(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let execution = find_execution(&state, &who, &tenant, &id, Action::Update)?;
    if !execution.state.current.is_terminated() {
        state.engine.kill(&id)?;
    }
    Ok(Json(json!({ "id": id, "state": execution.state.current })))
}

/// Seed 000's debug expression: the body is the expression; `secret()` is refused and the
/// result is masked like a log line.
async fn debug_expression(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, id, task_run_id)): Path<(String, String, String)>,
    expression: String,
) -> Result<Json<Value>, ApiError> {
    find_execution(&state, &who, &tenant, &id, Action::Read)?;
    match state.engine.evaluate(&id, &task_run_id, &expression) {
        Ok(result) => Ok(Json(json!({ "result": result }))),
        Err(saker_engine::debug_eval::EvalError::Expression(message)) => Err(ApiError {
            status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            message,
        }),
        Err(saker_engine::debug_eval::EvalError::TaskRunNotFound(run)) => Err(ApiError::not_found(
            format!("task run {run} not found in execution {id}"),
        )),
        Err(e) => Err(ApiError::bad_request(e.to_string())),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchParams {
    namespace: Option<String>,
    flow_id: Option<String>,
    state: Option<String>,
    page: Option<u32>,
    size: Option<u32>,
}

async fn search_executions(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path(tenant): Path<String>,
    Query(params): Query<SearchParams>,
) -> Result<Json<Value>, ApiError> {
    let shown = visible(caller(&who), &tenant, Permission::Execution);
    let mut filter = ExecutionFilter::new(tenant);
    filter.namespace_prefix = params.namespace;
    filter.flow_id = params.flow_id;
    if let Some(s) = params.state {
        let parsed = StateType::parse(&s.to_ascii_uppercase())
            .ok_or_else(|| ApiError::bad_request(format!("unknown state '{s}'")))?;
        filter.states = vec![parsed];
    }
    let size = params.size.unwrap_or(25).clamp(1, 500);
    filter.limit = Some(size);
    filter.offset = params.page.unwrap_or(1).saturating_sub(1) * size;
    // Filtered after paging for now: a page may hold fewer than `size` for a user bound to
    // a few namespaces.
    let executions: Vec<Execution> = state
        .engine
        .store()
        .list_executions(&filter)?
        .into_iter()
        .filter(|e| shown(&e.namespace))
        .collect();
    Ok(Json(json!({
        "results": executions.iter().map(execution_json).collect::<Vec<_>>(),
        "total": executions.len(),
    })))
}

async fn list_logs(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, execution_id)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    find_execution(&state, &who, &tenant, &execution_id, Action::Read)?;
    let store = state.engine.store();
    let mut query = LogQuery::new(execution_id);
    if let Some(level) = params.get("minLevel") {
        query.min_level = Some(
            saker_model::Level::parse(level)
                .ok_or_else(|| ApiError::bad_request(format!("unknown level '{level}'")))?,
        );
    }
    let logs = store.list_logs(&query)?;
    Ok(Json(Value::Array(
        logs.into_iter()
            .map(|l| serde_json::to_value(l.entry).unwrap_or(Value::Null))
            .collect(),
    )))
}
