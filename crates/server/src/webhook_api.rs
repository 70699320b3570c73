//! The Webhook trigger: `GET|POST|PUT …/executions/webhook/{namespace}/{flowId}/{key}` starts
//! the flow whose enabled `io.kestra.plugin.core.trigger.Webhook` trigger has that `key`.
//!
//! The flow sees the request as `trigger.body` (JSON when the body parses as JSON, else its
//! text; null when empty), `trigger.headers` (header name → list of values, without
//! `Authorization`, `Cookie` and `Proxy-Authorization`) and `trigger.parameters` (query
//! parameters, name → list of values), with `trigger.id` naming the trigger that matched.
//!
//! A key may be a template, typically `{{ secret('WEBHOOK_KEY') }}`: it is rendered by the
//! engine's trigger code with only `flow` in scope, and its secrets are resolved through
//! [`AppState::trigger_secrets`], which acts as the SCHEDULER (triggers are its business; the
//! WEBSERVER never resolves a value), so each resolution is audited. The rendered key is
//! compared with the presented one in constant time and zeroed once compared.
//!
//! An unknown flow, a flow without an enabled Webhook trigger, a key that does not match or
//! cannot be rendered, and a namespace the caller may not see all get the same 404 body, so
//! the endpoint tells nothing to someone without the key. With credentials, EXECUTION CREATE
//! on the namespace is needed; without (the path in `server.basic-auth.open-urls`), the key is
//! the only credential.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use saker_auth::{Action, Permission};
use saker_auth::{LoginThrottle, ThrottleKey, ThrottlePolicy};
use saker_engine::EngineError;
use saker_engine::trigger::{WEBHOOK, render_webhook_key, webhook_triggers};
use saker_model::ExecutionTrigger;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;
use utoipa_axum::routes;

use crate::access::check;

use crate::executions_api::execution_json;
use crate::openapi::ApiRouter;
use crate::routes::OpenCaller;
use crate::schema::{ErrorBody, ExecutionView};
use crate::{ApiError, AppState};

pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new().routes(routes!(webhook_get, webhook_post, webhook_put))
}

/// The one answer for every request that does not start an execution, whatever the reason.
const NOT_FOUND: &str = "no webhook trigger of this flow matches this key";

/// Request headers never passed to the execution: credentials.
const WITHHELD_HEADERS: [header::HeaderName; 3] = [
    header::AUTHORIZATION,
    header::COOKIE,
    header::PROXY_AUTHORIZATION,
];

/// The path parameters.
type HookPath = Path<(String, String, String, String)>;

/// Starts the flow whose Webhook trigger has this key; a body, if any, becomes `trigger.body`
/// as for POST (Kestra reads one on GET too).
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/executions/webhook/{namespace}/{flowId}/{key}",
    tag = "Executions",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "The flow's namespace"),
        ("flowId" = String, Path, description = "The flow's id"),
        ("key" = String, Path, description = "The key of one of the flow's Webhook triggers"),
    ),
    request_body(
        description = "Usually none. JSON becomes `trigger.body` as JSON, other text as a string.",
        content(
            (Object = "application/json"),
            (String = "text/plain"),
        )
    ),
    responses(
        (status = 200, description = "The created execution", body = ExecutionView),
        (status = 401, description = "No or wrong credentials (the path is not an open URL)", body = ErrorBody),
        (status = 403, description = "EXECUTION CREATE not granted here", body = ErrorBody),
        (status = 404, description = "No such flow, no enabled Webhook trigger with this key, or not visible to the caller: one answer for all", body = ErrorBody),
        (status = 422, description = "The flow has required inputs without defaults", body = ErrorBody),
        (status = 429, description = "Too many calls without credentials from this address matched nothing; retry later", body = ErrorBody),
    )
)]
async fn webhook_get(
    State(state): State<AppState>,
    who: OpenCaller,
    Path((tenant, namespace, flow_id, key)): HookPath,
    uri: Uri,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Request::new(uri, &extensions, headers, body);
    webhook(state, who, tenant, namespace, flow_id, key, request)
}

/// Starts the flow whose Webhook trigger has this key; the body becomes `trigger.body`.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/executions/webhook/{namespace}/{flowId}/{key}",
    tag = "Executions",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "The flow's namespace"),
        ("flowId" = String, Path, description = "The flow's id"),
        ("key" = String, Path, description = "The key of one of the flow's Webhook triggers"),
    ),
    request_body(
        description = "Anything: JSON becomes `trigger.body` as JSON, other text as a string.",
        content(
            (Object = "application/json"),
            (String = "text/plain"),
        )
    ),
    responses(
        (status = 200, description = "The created execution", body = ExecutionView),
        (status = 401, description = "No or wrong credentials (the path is not an open URL)", body = ErrorBody),
        (status = 403, description = "EXECUTION CREATE not granted here", body = ErrorBody),
        (status = 404, description = "No such flow, no enabled Webhook trigger with this key, or not visible to the caller: one answer for all", body = ErrorBody),
        (status = 422, description = "The flow has required inputs without defaults", body = ErrorBody),
        (status = 429, description = "Too many calls without credentials from this address matched nothing; retry later", body = ErrorBody),
    )
)]
async fn webhook_post(
    State(state): State<AppState>,
    who: OpenCaller,
    Path((tenant, namespace, flow_id, key)): HookPath,
    uri: Uri,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Request::new(uri, &extensions, headers, body);
    webhook(state, who, tenant, namespace, flow_id, key, request)
}

/// Starts the flow whose Webhook trigger has this key; the body becomes `trigger.body`.
#[utoipa::path(
    put,
    path = "/api/v1/{tenant}/executions/webhook/{namespace}/{flowId}/{key}",
    tag = "Executions",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "The flow's namespace"),
        ("flowId" = String, Path, description = "The flow's id"),
        ("key" = String, Path, description = "The key of one of the flow's Webhook triggers"),
    ),
    request_body(
        description = "Anything: JSON becomes `trigger.body` as JSON, other text as a string.",
        content(
            (Object = "application/json"),
            (String = "text/plain"),
        )
    ),
    responses(
        (status = 200, description = "The created execution", body = ExecutionView),
        (status = 401, description = "No or wrong credentials (the path is not an open URL)", body = ErrorBody),
        (status = 403, description = "EXECUTION CREATE not granted here", body = ErrorBody),
        (status = 404, description = "No such flow, no enabled Webhook trigger with this key, or not visible to the caller: one answer for all", body = ErrorBody),
        (status = 422, description = "The flow has required inputs without defaults", body = ErrorBody),
        (status = 429, description = "Too many calls without credentials from this address matched nothing; retry later", body = ErrorBody),
    )
)]
async fn webhook_put(
    State(state): State<AppState>,
    who: OpenCaller,
    Path((tenant, namespace, flow_id, key)): HookPath,
    uri: Uri,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Request::new(uri, &extensions, headers, body);
    webhook(state, who, tenant, namespace, flow_id, key, request)
}

/// What the flow gets to see of the request, and where it came from.
struct Request {
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    /// The client's address, for the miss throttle.
    address: Option<String>,
}

impl Request {
    fn new(uri: Uri, extensions: &Extensions, headers: HeaderMap, body: Bytes) -> Self {
        let address = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        Self {
            uri,
            headers,
            body,
            address,
        }
    }
}

/// The miss throttle: an address that keeps presenting wrong keys (or unknown flows) without
/// credentials is answered 429 for a while, before any key is rendered, so an open webhook URL cannot be
/// used to guess keys or to grow the audit trail with secret reads.
pub fn webhook_miss_throttle() -> LoginThrottle {
    LoginThrottle::new(ThrottlePolicy {
        max_failures: 20,
        window: Duration::from_secs(10 * 60),
        lockout: Duration::from_secs(60),
        max_lockout: Duration::from_secs(60 * 60),
    })
}

/// 429 with `Retry-After`, as for throttled logins.
fn throttled(retry_after: Duration) -> Response {
    let seconds = retry_after.as_secs().max(1);
    let mut response = ApiError {
        status: StatusCode::TOO_MANY_REQUESTS,
        message: format!(
            "too many webhook calls from this address matched no trigger; retry in {seconds} s"
        ),
    }
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

fn webhook(
    state: AppState,
    who: OpenCaller,
    tenant: String,
    namespace: String,
    flow_id: String,
    key: String,
    request: Request,
) -> Response {
    // Only callers without credentials are throttled (open URLs, or a server without
    // users): an authenticated caller is accountable and its requests are attributed.
    let keys: Vec<ThrottleKey> = match &who.0 {
        None => request
            .address
            .clone()
            .map(ThrottleKey::Address)
            .into_iter()
            .collect(),
        Some(_) => Vec::new(),
    };
    if let Some(wait) = state.webhook_misses.check(&keys) {
        return throttled(wait);
    }
    match start(&state, who, tenant, namespace, flow_id, key, &request) {
        Ok(execution) => execution.into_response(),
        Err(e) => {
            if e.status == StatusCode::NOT_FOUND {
                state.webhook_misses.record_failure(&keys);
            }
            e.into_response()
        }
    }
}

fn start(
    state: &AppState,
    who: OpenCaller,
    tenant: String,
    namespace: String,
    flow_id: String,
    key: String,
    request: &Request,
) -> Result<Json<Value>, ApiError> {
    let not_found = || ApiError::not_found(NOT_FOUND);
    // With credentials, the caller needs EXECUTION CREATE here; without (an open URL, or a
    // server without users), the key compared below is the only credential.
    if let Some(caller) = &who.0 {
        check(
            Some(caller),
            &tenant,
            Some(&namespace),
            Permission::Execution,
            Action::Create,
            || NOT_FOUND.to_owned(),
        )?;
    }
    let (flow, record) = match state.engine.load_flow(&tenant, &namespace, &flow_id, None) {
        Ok(found) => found,
        Err(EngineError::FlowNotFound { .. }) => return Err(not_found()),
        Err(e @ EngineError::StoredFlowInvalid { .. }) => {
            tracing::warn!(error = %e, "webhook call for a flow that no longer validates");
            return Err(not_found());
        }
        Err(e) => return Err(e.into()),
    };
    // Every trigger's key is rendered and compared, so the time taken does not tell which
    // one (if any) matched.
    let mut matched = None;
    for trigger in webhook_triggers(&flow) {
        let expected =
            match render_webhook_key(&tenant, &flow, trigger, state.trigger_secrets.as_deref()) {
                Ok(expected) => expected,
                Err(error) => {
                    tracing::warn!(
                        flow = %format_args!("{}.{}", flow.namespace, flow.id),
                        trigger = %trigger.id,
                        %error,
                        "the key of a webhook trigger cannot be rendered; calls to it get 404"
                    );
                    continue;
                }
            };
        let equal: bool = expected.as_bytes().ct_eq(key.as_bytes()).into();
        if equal && !expected.is_empty() && matched.is_none() {
            matched = Some(trigger);
        }
    }
    let trigger = matched.ok_or_else(not_found)?;
    let execution = state.engine.create_execution_triggered(
        &tenant,
        flow.clone(),
        record.revision,
        Map::new(),
        ExecutionTrigger {
            id: trigger.id.clone(),
            type_name: WEBHOOK.to_owned(),
            variables: trigger_variables(request),
        },
    )?;
    Ok(Json(execution_json(&execution)))
}

/// `body`, `headers` and `parameters` as the flow sees them under `trigger`.
fn trigger_variables(request: &Request) -> Map<String, Value> {
    let mut variables = Map::new();
    variables.insert("body".into(), body_value(&request.body));
    variables.insert("headers".into(), headers_value(&request.headers));
    variables.insert(
        "parameters".into(),
        parameters_value(request.uri.query().unwrap_or("")),
    );
    variables
}

/// JSON when the body parses as JSON, else its text; null when empty.
fn body_value(body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Header name (lower case) → its values in order, credentials left out.
fn headers_value(headers: &HeaderMap) -> Value {
    let mut out = Map::new();
    for name in headers.keys() {
        if WITHHELD_HEADERS.contains(name) {
            continue;
        }
        let values = headers
            .get_all(name)
            .iter()
            .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        out.insert(name.as_str().to_owned(), Value::Array(values));
    }
    Value::Object(out)
}

/// Query parameter name → its values in order.
fn parameters_value(query: &str) -> Value {
    let mut out = Map::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let entry = out
            .entry(name.into_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = entry {
            values.push(Value::String(value.into_owned()));
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bodies_are_json_when_they_parse_else_text() {
        assert_eq!(body_value(b""), Value::Null);
        assert_eq!(
            body_value(br#"{"a": [1, 2]}"#),
            serde_json::json!({"a": [1, 2]})
        );
        assert_eq!(
            body_value(b"plain words"),
            Value::String("plain words".into())
        );
    }

    #[test]
    fn credentials_are_not_passed_and_repeated_headers_are_kept() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic eDp5"),
        );
        headers.insert(header::COOKIE, HeaderValue::from_static("session=abc"));
        headers.insert(
            header::PROXY_AUTHORIZATION,
            HeaderValue::from_static("Basic eDp5"),
        );
        headers.append("x-tag", HeaderValue::from_static("one"));
        headers.append("x-tag", HeaderValue::from_static("two"));
        let value = headers_value(&headers);
        assert_eq!(value, serde_json::json!({"x-tag": ["one", "two"]}));
    }

    #[test]
    fn parameters_keep_every_value() {
        assert_eq!(
            parameters_value("a=1&b=x%20y&a=2"),
            serde_json::json!({"a": ["1", "2"], "b": ["x y"]})
        );
        assert_eq!(parameters_value(""), serde_json::json!({}));
    }
}
