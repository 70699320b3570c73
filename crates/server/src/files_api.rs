//! Downloading an execution's files (`GET …/executions/{executionId}/file?path=kestra:///…`,
//! and `…/file/preview` for their first lines)
//! under EXECUTION READ at the execution's namespace: the path must be one of that
//! execution's files (a FILE input, a task's output file).
//!
//! A file stored sealed (it holds a secret) is not given: the API never returns a secret
//! value (ARCHITECTURE.md, invariant 5), so such a file opens only inside the execution's
//! own tasks, and the download answers 403 saying why.
//!
//! Also how storage and file errors become answers, for this module and the namespace files.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use saker_auth::Action;
use saker_engine::files::{FileError, is_sealed_bytes};
use saker_storage::{StorageError, StorageUri};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_axum::routes;

use crate::doc::Unauthorized;
use crate::executions_api::find_execution;
use crate::openapi::ApiRouter;
use crate::routes::MaybeCaller;
use crate::schema::{ErrorBody, FilePreview};
use crate::{ApiError, AppState};

pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(download_execution_file))
        .routes(routes!(preview_execution_file))
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
    let (uri, bytes) = execution_file(&state, &who, &tenant, &execution_id, &query.path)?;
    Ok(file_response(uri.file_name(), bytes))
}

/// The bytes of file `path` of an execution the caller may read: 404 when the path is not
/// one of that execution's files, 403 when it is stored sealed (it holds a secret).
fn execution_file(
    state: &AppState,
    who: &MaybeCaller,
    tenant: &str,
    execution_id: &str,
    path: &str,
) -> Result<(StorageUri, Vec<u8>), ApiError> {
    let execution = find_execution(state, who, tenant, execution_id, Action::Read)?;
    let uri = StorageUri::parse(path).map_err(storage_error)?;
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
        .get(tenant, &uri)
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
    Ok((uri, bytes))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
struct PreviewQuery {
    /// The file's internal storage URI (`kestra:///…`).
    path: String,
    /// How many lines (rows of a `.ion`/`.jsonl` file) to show, 100 by default, at most
    /// 10,000.
    max_rows: Option<usize>,
}

/// Lines shown when `maxRows` is not given, and at most.
const DEFAULT_PREVIEW_ROWS: usize = 100;
const MAX_PREVIEW_ROWS: usize = 10_000;
/// Bytes read into a preview at most, whatever the number of rows.
const MAX_PREVIEW_BYTES: usize = 1024 * 1024;

/// The beginning of a file of an execution, as Kestra's UI previews it: `type` LIST for rows
/// of a `.ion` or `.jsonl` file (each line parsed as JSON), TEXT for other text; `truncated`
/// when there is more.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/executions/{executionId}/file/preview",
    tag = "Executions",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("executionId" = String, Path, description = "The execution's id"),
        PreviewQuery,
    ),
    responses(
        (status = 200, description = "The file's first lines or rows", body = FilePreview),
        (status = 400, description = "The path is not an internal storage URI", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "The file holds a secret and is stored encrypted: it is opened only for the execution's tasks", body = ErrorBody),
        (status = 404, description = "No such execution (or not visible to the caller), or no such file in it", body = ErrorBody),
        (status = 422, description = "The file is not text: download it", body = ErrorBody),
    )
)]
async fn preview_execution_file(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, execution_id)): Path<(String, String)>,
    Query(query): Query<PreviewQuery>,
) -> Result<Json<FilePreview>, ApiError> {
    let (uri, bytes) = execution_file(&state, &who, &tenant, &execution_id, &query.path)?;
    let rows = query
        .max_rows
        .unwrap_or(DEFAULT_PREVIEW_ROWS)
        .clamp(1, MAX_PREVIEW_ROWS);
    let cut = bytes.len().min(MAX_PREVIEW_BYTES);
    let text = match std::str::from_utf8(&bytes[..cut]) {
        Ok(text) => text,
        // A multi-byte character cut at the limit is not a reason to refuse.
        Err(e) if e.error_len().is_none() && cut < bytes.len() => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => {
            return Err(ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: format!("{uri} is not text and cannot be previewed: download it"),
            });
        }
    };
    let extension = uri
        .file_name()
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let mut lines = text.lines();
    let shown: Vec<&str> = lines.by_ref().take(rows).collect();
    let truncated = lines.next().is_some() || cut < bytes.len();
    let (kind, content) = if matches!(extension.as_str(), "ion" | "jsonl") {
        let rows = shown
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| Value::String((*l).to_owned())))
            .collect();
        ("LIST", Value::Array(rows))
    } else {
        ("TEXT", Value::String(shown.join("\n")))
    };
    Ok(Json(FilePreview {
        extension,
        kind: kind.to_owned(),
        content,
        truncated,
    }))
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
