//! Seed 000's debug expression: `POST …/executions/{id}/eval/{taskRunId}` renders the body
//! against what the task run saw (EXECUTION READ on its namespace). `secret()` is refused and
//! the result is masked by taint ranges and by value ([`saker_engine::debug_eval`]).
//!
//! An expression is code a caller sends, so the call is bounded and accounted for:
//!
//! - **Audited.** Every call appends a `debug-expression` event (caller, execution, task
//!   run, SHA-256 of the expression; never the expression, never the result) before anything
//!   is rendered; a call the trail cannot record is refused (503). A refused call (404/403)
//!   is recorded as `denied`.
//! - **Off the runtime.** The render runs on a blocking thread, never on the async workers
//!   that answer other requests, and at most [`DebugLimits::concurrent`] at once; a call
//!   waits for a free slot as long as a render may take, then answers 503 with
//!   `Retry-After`.
//! - **Deadline and cancellation.** It gets [`DebugLimits::timeout`] (422 past it), and the
//!   handler holds a guard that sets the render's cancel flag when the handler future is
//!   dropped, which is what happens when the client goes away.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use saker_auth::{Action, Subject};
use saker_engine::debug_eval::{EvalControl, EvalError};
use saker_store::AuditEvent;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use utoipa_axum::routes;

use crate::doc::Unauthorized;
use crate::executions_api::find_execution;
use crate::openapi::ApiRouter;
use crate::routes::{MaybeCaller, caller};
use crate::schema::{ErrorBody, EvalView};
use crate::{ApiError, AppState, Caller};

pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new().routes(routes!(debug_expression))
}

/// The audit action of a debug-expression call.
pub const DEBUG_EXPRESSION_ACTION: &str = "debug-expression";

/// How long and how many debug expressions may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DebugLimits {
    /// The deadline of one render.
    pub timeout: Duration,
    /// Renders running at once in this process.
    pub concurrent: usize,
}

impl Default for DebugLimits {
    /// 5 s; half the CPUs (at least one), so runaway renders cannot take every core.
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        DebugLimits {
            timeout: Duration::from_secs(5),
            concurrent: (cpus / 2).max(1),
        }
    }
}

/// The limits and the permits of running renders, process-wide.
static LIMITS: OnceLock<(DebugLimits, Arc<Semaphore>)> = OnceLock::new();

/// Sets the limits of debug expressions for this process; call it before serving. `false`
/// when they were already set (by an earlier call or by a first request).
pub fn configure_debug_expressions(limits: DebugLimits) -> bool {
    let permits = Arc::new(Semaphore::new(limits.concurrent.max(1)));
    LIMITS.set((limits, permits)).is_ok()
}

fn limits() -> &'static (DebugLimits, Arc<Semaphore>) {
    LIMITS.get_or_init(|| {
        let limits = DebugLimits::default();
        (limits, Arc::new(Semaphore::new(limits.concurrent)))
    })
}

/// Sets the render's cancel flag when dropped: the handler holds it, so a client that goes
/// away (the server drops the handler future) stops the render it left behind.
struct CancelOnDrop(EvalControl);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel.store(true, Ordering::Relaxed);
    }
}

/// Renders the body against the task run's context; `secret()` is refused and the result is
/// masked (taint ranges and values).
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/executions/{id}/eval/{taskRunId}",
    tag = "Executions",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "Execution id"),
        ("taskRunId" = String, Path, description = "Task run id"),
    ),
    request_body(content = String, content_type = "text/plain", description = "A template, e.g. {{ outputs.first.value }}"),
    responses(
        (status = 200, description = "The rendered text, masked", body = EvalView),
        (status = 400, description = "The execution's flow revision is gone or no longer valid", body = ErrorBody),
        Unauthorized,
        (status = 404, description = "No such execution or task run (or not visible)", body = ErrorBody),
        (status = 422, description = "The expression does not render (secret() is refused), or did not finish before the deadline", body = ErrorBody),
        (status = 503, description = "Too many debug expressions running (see Retry-After), or the audit trail cannot record the call", body = ErrorBody),
    )
)]
async fn debug_expression(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, id, task_run_id)): Path<(String, String, String)>,
    expression: String,
) -> Response {
    let call = Call {
        tenant,
        execution_id: id,
        task_run_id,
        digest: format!("sha256:{:x}", Sha256::digest(expression.as_bytes())),
    };
    let execution = match find_execution(
        &state,
        &who,
        &call.tenant,
        &call.execution_id,
        Action::Read,
    ) {
        Ok(execution) => execution,
        Err(refused) => {
            if let Err(e) = record(&state, &who, &call, None, Outcome::Denied) {
                tracing::error!(error = %e.message, "a refused debug expression could not be audited");
            }
            return refused.into_response();
        }
    };
    let scope = (execution.namespace.as_str(), execution.flow_id.as_str());
    if let Err(e) = record(&state, &who, &call, Some(scope), Outcome::Started) {
        return e.into_response();
    }
    let (limits, permits) = limits();
    // Wait for a free slot as long as a render may take; only then give up.
    let Ok(Ok(permit)) =
        tokio::time::timeout(limits.timeout, permits.clone().acquire_owned()).await
    else {
        return busy();
    };
    let control = EvalControl::new(limits.timeout);
    let _cancel_on_drop = CancelOnDrop(control.clone());
    let engine = state.engine.clone();
    let bounds = control.clone();
    let (id, run) = (call.execution_id.clone(), call.task_run_id.clone());
    let job = tokio::task::spawn_blocking(move || {
        // The permit is given back when the render ends, not when the client gives up.
        let _permit = permit;
        engine.evaluate(&bounds, &id, &run, &expression)
    });
    let outcome = match tokio::time::timeout(limits.timeout, job).await {
        Err(_) => Err(EvalError::TimedOut(limits.timeout)),
        Ok(Err(_)) => {
            return ApiError::internal("a debug expression's worker stopped").into_response();
        }
        Ok(Ok(outcome)) => outcome,
    };
    match outcome {
        Ok(result) => Json(EvalView { result }).into_response(),
        Err(e) => eval_error(e, &call).into_response(),
    }
}

/// What identifies one call in the trail.
struct Call {
    tenant: String,
    execution_id: String,
    task_run_id: String,
    /// `sha256:<hex>` of the expression: enough to tell two calls apart or match a known
    /// expression, without keeping what was asked.
    digest: String,
}

enum Outcome {
    /// Allowed: recorded before the render starts.
    Started,
    Denied,
}

/// Appends the call's event. Without a trail, or when it refuses, the call is refused: an
/// evaluation that could read what a task saw is not done unrecorded.
fn record(
    state: &AppState,
    who: &MaybeCaller,
    call: &Call,
    scope: Option<(&str, &str)>,
    outcome: Outcome,
) -> Result<(), ApiError> {
    let unavailable = |why: &str| {
        tracing::error!(
            reason = why,
            "a debug expression was refused: it could not be audited"
        );
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "the audit trail cannot record this debug expression, so it was not \
                      evaluated; see the server's log"
                .into(),
        }
    };
    let Some(secrets) = state.secrets.as_ref() else {
        return Err(unavailable("this server has no audit trail"));
    };
    let (outcome, detail) = match outcome {
        Outcome::Started => ("success", format!("expression {}", call.digest)),
        Outcome::Denied => (
            "denied",
            format!(
                "expression {}: execution not found or not granted",
                call.digest
            ),
        ),
    };
    let event = AuditEvent {
        timestamp: chrono::Utc::now(),
        tenant: call.tenant.clone(),
        namespace: scope.map(|(ns, _)| ns.to_owned()),
        key: None,
        action: DEBUG_EXPRESSION_ACTION.to_owned(),
        actor: actor(who),
        service: Some("WEBSERVER".to_owned()),
        execution_id: Some(call.execution_id.clone()),
        flow_id: scope.map(|(_, flow)| flow.to_owned()),
        task_run_id: Some(call.task_run_id.clone()),
        outcome: outcome.to_owned(),
        detail: Some(detail),
    };
    secrets
        .audit_log()
        .append_audit(&event)
        .map(drop)
        .map_err(|e| unavailable(&e.to_string()))
}

/// `api:<username>`, as the secret routes record their callers.
fn actor(who: &MaybeCaller) -> String {
    match caller(who).map(|Caller(subject)| subject.as_ref()) {
        Some(Subject::User(p)) => format!("api:{}", p.username),
        Some(Subject::Anonymous) | None => "api:anonymous".to_owned(),
    }
}

/// 503 with `Retry-After`: every render slot stayed taken.
fn busy() -> Response {
    let mut response = ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: "too many debug expressions are running; retry later".into(),
    }
    .into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(limits().0.timeout.as_secs().max(1)),
    );
    response
}

fn eval_error(e: EvalError, call: &Call) -> ApiError {
    let status = match &e {
        EvalError::Expression(_) | EvalError::TimedOut(_) => StatusCode::UNPROCESSABLE_ENTITY,
        EvalError::ExecutionNotFound(_) | EvalError::TaskRunNotFound(_) => StatusCode::NOT_FOUND,
        EvalError::Flow(_) => StatusCode::BAD_REQUEST,
        // Only the handler's guard cancels, and then nobody reads the answer.
        EvalError::Cancelled => StatusCode::SERVICE_UNAVAILABLE,
        EvalError::Store(_) => return ApiError::internal(e),
    };
    let message = match e {
        EvalError::TaskRunNotFound(run) => format!(
            "task run {run} not found in execution {}",
            call.execution_id
        ),
        EvalError::TimedOut(limit) => format!(
            "the expression did not finish within {} ms: it was stopped; simplify it (a \
             recursive jq program, a huge range)",
            limit.as_millis()
        ),
        other => other.to_string(),
    };
    ApiError { status, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dropping_the_handler_future_cancels_the_render() {
        let control = EvalControl::new(Duration::from_secs(3600));
        let seen = control.clone();
        // What the server does to a handler whose client went away: drop its future.
        let handler = tokio::spawn(async move {
            let _cancel_on_drop = CancelOnDrop(control);
            std::future::pending::<()>().await
        });
        tokio::task::yield_now().await;
        assert!(seen.check().is_ok(), "running: not cancelled");
        handler.abort();
        let _ = handler.await;
        assert!(matches!(seen.check(), Err(EvalError::Cancelled)));
    }

    #[test]
    fn a_deadline_is_a_422_that_says_so_and_a_store_error_a_bare_500() {
        let call = Call {
            tenant: "main".into(),
            execution_id: "e1".into(),
            task_run_id: "t1".into(),
            digest: "sha256:00".into(),
        };
        let e = eval_error(EvalError::TimedOut(Duration::from_secs(5)), &call);
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            e.message.contains("did not finish within 5000 ms"),
            "{}",
            e.message
        );
        let e = eval_error(EvalError::TaskRunNotFound("t1".into()), &call);
        assert_eq!(
            (e.status, e.message.as_str()),
            (
                StatusCode::NOT_FOUND,
                "task run t1 not found in execution e1"
            )
        );
        let store = saker_store::StoreError::Corrupt {
            table: "executions",
            id: "e1".into(),
            detail: "bad".into(),
        };
        assert_eq!(
            eval_error(EvalError::Store(store), &call).status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
