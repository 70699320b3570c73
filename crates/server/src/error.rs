//! Errors as JSON bodies `{"message": "..."}` with a status code; never a stack trace.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use saker_engine::EngineError;

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
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let status = match &e {
            EngineError::InvalidFlow(_) | EngineError::Inputs(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            EngineError::NeedsEncryptionKey(_) => StatusCode::UNPROCESSABLE_ENTITY,
            EngineError::FlowNotFound { .. } => StatusCode::NOT_FOUND,
            EngineError::StoredFlowInvalid { .. }
            | EngineError::Store(_)
            | EngineError::Stopped => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, "request failed");
        }
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
        (
            self.status,
            Json(serde_json::json!({ "message": self.message })),
        )
            .into_response()
    }
}
