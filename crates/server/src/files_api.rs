//! Downloading an execution's files (`GET …/executions/{executionId}/file?path=kestra:///…`)
//! under EXECUTION READ at the execution's namespace: the path must be one of that
//! execution's files (a FILE input, a task's output file).
//!
//! A file stored sealed (it holds a secret) is not given: the API never returns a secret
//! value (ARCHITECTURE.md, invariant 5), so such a file opens only inside the execution's
//! own tasks, and the download answers 403 saying why.
//!
//! Also how storage and file errors become answers, for this module and the namespace files.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use saker_auth::Action;
use saker_engine::files::{FileError, is_sealed_bytes};
use saker_storage::{StorageError, StorageUri};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;

use crate::doc::Unauthorized;
use crate::executions_api::find_execution;
use crate::openapi::ApiRouter;
use crate::routes::MaybeCaller;
use crate::schema::ErrorBody;
use crate::{ApiError, AppState};

pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new().routes(routes!(download_execution_file))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct FileQuery {
    /// The file's internal storage URI (`kestra:///…`).
    path: String,
}

/// Downloads a file of an execution.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/executions/{executionId}/file",
    tag = "Executions",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("executionId" = String, Path, description = "The execution's id"),
        FileQuery,
    ),
    responses(
        (status = 200, description = "The file's bytes", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, description = "The path is not an internal storage URI", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "The file holds a secret and is stored encrypted: it is opened only for the execution's tasks", body = ErrorBody),
        (status = 404, description = "No such execution (or not visible to the caller), or no such file in it", body = ErrorBody),
    )
)]
async fn download_execution_file(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, execution_id)): Path<(String, String)>,
    Query(query): Query<FileQuery>,
) -> Result<Response, ApiError> {
    let execution = find_execution(&state, &who, &tenant, &execution_id, Action::Read)?;
    let uri = StorageUri::parse(&query.path).map_err(storage_error)?;
    let folder = StorageUri::execution(&execution.namespace, &execution.flow_id, &execution.id)
        .map_err(storage_error)?;
    if !uri.is_under(&folder) {
        return Err(ApiError::not_found(format!(
            "{uri} is not a file of execution {execution_id}"
        )));
    }
    let bytes = state
        .engine
        .files()
        .storage()
        .map_err(file_error)?
        .get(&tenant, &uri)
        .map_err(storage_error)?;
    if is_sealed_bytes(&bytes) {
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            message: format!(
                "{uri} holds a secret and is stored encrypted; the API never returns secret \
                 values: read it in a task of the execution"
            ),
        });
    }
    Ok(file_response(uri.file_name(), bytes))
}

/// A file's bytes as an attachment named `name`.
pub(crate) fn file_response(name: &str, bytes: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    // Only characters that need no quoting in the header; the rest becomes '_'.
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// What a storage error answers.
pub(crate) fn storage_error(e: StorageError) -> ApiError {
    let status = match &e {
        StorageError::NotFound { .. } => StatusCode::NOT_FOUND,
        StorageError::InvalidUri { .. }
        | StorageError::InvalidPath { .. }
        | StorageError::WrongKind { .. } => StatusCode::BAD_REQUEST,
        StorageError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        StorageError::Escape { .. } | StorageError::Io { .. } | StorageError::Interrupted(_) => {
            return ApiError::internal(e);
        }
    };
    ApiError {
        status,
        message: e.to_string(),
    }
}

/// What an engine file error answers.
pub(crate) fn file_error(e: FileError) -> ApiError {
    match e {
        FileError::Storage(e) => storage_error(e),
        FileError::NoStorage => ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: e.to_string(),
        },
        FileError::Sealing { .. } | FileError::NeedsEncryptionKey { .. } => ApiError::internal(e),
        FileError::OtherExecution { .. }
        | FileError::NamespaceNotAllowed { .. }
        | FileError::UnsupportedScheme { .. } => ApiError::bad_request(e.to_string()),
    }
}
