//! Errors as JSON bodies `{"message": "..."}` with a status code; never a stack trace.
//!
//! A 500 never tells the client its cause (a driver's message can name tables, paths,
//! hosts or a value): it answers `internal error (correlation id …)` and logs the cause,
//! passed through the process's mask set, under the same id. That happens in one place,
//! [`ApiError::into_response`], so no route can forget it.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use saker_engine::EngineError;

/// What a client is told when the database is busy ([`ApiError::busy`]).
pub(crate) const BUSY_MESSAGE: &str = "the database is busy; try again";
/// The `Retry-After` of a busy answer, in seconds.
pub(crate) const BUSY_RETRY_AFTER_SECS: u64 = 5;

/// An error answered to an API client.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// 503 with `Retry-After`: the database did not answer in time (a full connection pool,
    /// a statement past its timeout) or every store permit stayed taken
    /// ([`crate::StoreGate`]). The cause is the database's state, not the request.
    pub fn busy() -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: BUSY_MESSAGE.to_owned(),
        }
    }

    fn is_busy(&self) -> bool {
        self.status == StatusCode::SERVICE_UNAVAILABLE && self.message == BUSY_MESSAGE
    }

    /// A 500 whose `cause` goes to the server's log only (see the module's documentation).
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: cause.to_string(),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        if let EngineError::Store(saker_store::StoreError::Busy { reason }) = &e {
            tracing::warn!(%reason, "answered 503: the database is busy");
            return Self::busy();
        }
        if let EngineError::Executor(reason) = &e {
            // The request could not be written for the executor (distributed mode): the
            // database is what carries it, so the answer is the busy database's.
            tracing::warn!(%reason, "answered 503: the request could not be handed to the executor");
            return Self::busy();
        }
        let status = match &e {
            EngineError::InvalidFlow(_) | EngineError::Inputs(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            EngineError::NeedsEncryptionKey(_) => StatusCode::UNPROCESSABLE_ENTITY,
            EngineError::FlowNotFound { .. }
            | EngineError::ExecutionNotFound(_)
            | EngineError::TaskRunNotFound { .. } => StatusCode::NOT_FOUND,
            EngineError::NotPaused { .. }
            | EngineError::NotRestartable { .. }
            | EngineError::NothingToRestart(_)
            | EngineError::NotReplayable { .. } => StatusCode::CONFLICT,
            EngineError::StoredFlowInvalid { .. }
            | EngineError::Store(_)
            | EngineError::Stopped
            | EngineError::Executor(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self {
            status,
            message: e.to_string(),
        }
    }
}

impl From<saker_store::StoreError> for ApiError {
    fn from(e: saker_store::StoreError) -> Self {
        EngineError::Store(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let busy = self.is_busy();
        let message = if self.status == StatusCode::INTERNAL_SERVER_ERROR {
            let id = uuid::Uuid::new_v4().simple().to_string();
            let masks = saker_engine::process_masks().snapshot();
            tracing::error!(correlation_id = %id, cause = %masks.mask(&self.message), "request failed");
            format!("internal error (correlation id {id}): the server's log has the cause")
        } else {
            self.message
        };
        let mut response =
            (self.status, Json(serde_json::json!({ "message": message }))).into_response();
        if busy {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(BUSY_RETRY_AFTER_SECS),
            );
        }
        response
    }
}

/// Turns every error response that is not already JSON (axum's own rejections of a path,
/// query or body, 404 for an unknown route, 405, 413) into our JSON body, so a client always
/// gets `{"message": ...}`. Rejection texts come from the request's shape, never from a
/// stored value.
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        match status {
            StatusCode::NOT_FOUND => "no such route: see /api/v1/openapi.json".to_owned(),
            StatusCode::METHOD_NOT_ALLOWED => {
                "this route does not take this method: see /api/v1/openapi.json".to_owned()
            }
            _ => status
                .canonical_reason()
                .unwrap_or("request failed")
                .to_owned(),
        }
    } else if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!(
            "{text}: request bodies are limited to {} MiB",
            crate::MAX_BODY_BYTES / (1024 * 1024)
        )
    } else {
        text
    };
    let mut response = ApiError { status, message }.into_response();
    // Keep headers such as Allow and WWW-Authenticate; the body and its type are ours.
    for (name, value) in parts.headers.iter() {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_500_answers_a_correlation_id_and_never_its_cause() {
        let cause = "relation \"executions\" does not exist at /var/lib/saker/db";
        let response = ApiError::internal(cause).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body_of(response).await;
        assert!(!body.contains("executions"), "{body}");
        assert!(!body.contains("/var/lib"), "{body}");
        let message = serde_json::from_str::<serde_json::Value>(&body).unwrap()["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            message.starts_with("internal error (correlation id "),
            "{message}"
        );
        // A store error converted by the routes is answered the same way.
        let store = saker_store::StoreError::Corrupt {
            table: "executions",
            id: "abc-123".into(),
            detail: "bad json".into(),
        };
        let body = body_of(ApiError::from(store).into_response()).await;
        assert!(!body.contains("abc-123"), "{body}");
    }

    #[tokio::test]
    async fn a_busy_store_answers_503_with_retry_after_and_no_cause() {
        let store = saker_store::StoreError::Busy {
            reason: "all 2 PostgreSQL connections stayed in use for 500 ms".into(),
        };
        let response = ApiError::from(store).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers()[axum::http::header::RETRY_AFTER],
            BUSY_RETRY_AFTER_SECS.to_string().as_str()
        );
        let body = body_of(response).await;
        assert!(
            body.contains(BUSY_MESSAGE) && !body.contains("PostgreSQL"),
            "{body}"
        );
        // Another 503 is not a busy database and says no Retry-After.
        let other = ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "no secret service configured".into(),
        };
        assert!(
            other
                .into_response()
                .headers()
                .get(axum::http::header::RETRY_AFTER)
                .is_none()
        );
    }

    #[tokio::test]
    async fn other_errors_keep_their_message() {
        let body = body_of(ApiError::not_found("flow a.b not found").into_response()).await;
        assert!(body.contains("flow a.b not found"), "{body}");
    }
}
