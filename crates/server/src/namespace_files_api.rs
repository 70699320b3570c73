//! Namespace files, as Kestra's API has them: `GET|POST|DELETE
//! /api/v1/{tenant}/namespaces/{namespace}/files?path=`, `GET …/files/directory?path=` and
//! `GET …/files/stats?path=`. Stored under `{namespace as path}/_files/` of the internal
//! storage; tasks of the namespace (and of its children) read them with `read('path')` and
//! `namespaceFiles`.
//!
//! Permissions: Kestra's NAMESPACE permission at the namespace, by what is done: READ to get,
//! list and stat, CREATE to upload (a namespace the caller may not see answers 403, since it
//! named it), DELETE to delete. A file or namespace the caller may not see answers like a
//! missing one (404).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use saker_auth::{Action, Permission};
use saker_storage::{FileInfo, FileKind, Storage, StorageUri};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use crate::access::{check, check_create};
use crate::doc::Unauthorized;
use crate::files_api::{file_error, file_response, storage_error};
use crate::openapi::ApiRouter;
use crate::routes::{MaybeCaller, caller};
use crate::schema::ErrorBody;
use crate::{ApiError, AppState};

pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(
            get_namespace_file,
            create_namespace_file,
            delete_namespace_file
        ))
        .routes(routes!(list_namespace_directory))
        .routes(routes!(namespace_file_stats))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct FileQuery {
    /// The file's path among the namespace's files (`/scripts/run.sh` or `scripts/run.sh`).
    path: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DirectoryQuery {
    /// A directory among the namespace's files; the root when absent.
    path: Option<String>,
}

/// Kestra's `FileAttributes`: one file or directory.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileAttributesView {
    pub file_name: String,
    /// `File` or `Directory`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Bytes (0 for a directory).
    pub size: u64,
    /// Milliseconds since the epoch.
    pub last_modified_time: Option<i64>,
    /// Milliseconds since the epoch, where the filesystem records it.
    pub creation_time: Option<i64>,
}

impl FileAttributesView {
    fn of(info: &FileInfo, name: &str) -> Self {
        Self {
            file_name: name.to_owned(),
            kind: info.kind.as_str().to_owned(),
            size: info.size,
            last_modified_time: info.modified.map(|d| d.timestamp_millis()),
            creation_time: info.created.map(|d| d.timestamp_millis()),
        }
    }
}

/// The storage and the URI of `path` among `namespace`'s files (its root for an empty path),
/// after checking the namespace id and `action` on NAMESPACE.
fn resolve<'s>(
    state: &'s AppState,
    who: &MaybeCaller,
    (tenant, namespace): (&str, &str),
    path: &str,
    action: Action,
) -> Result<(&'s std::sync::Arc<dyn Storage>, StorageUri), ApiError> {
    saker_model::ids::check_namespace(namespace)
        .map_err(|e| ApiError::bad_request(format!("namespace '{namespace}' {e}")))?;
    if action == Action::Create {
        check_create(
            caller(who),
            tenant,
            namespace,
            Permission::Namespace,
            action,
        )?;
    } else {
        check(
            caller(who),
            tenant,
            Some(namespace),
            Permission::Namespace,
            action,
            || format!("namespace file {path} not found"),
        )?;
    }
    let root = StorageUri::namespace_files(namespace).map_err(storage_error)?;
    let relative = path.trim_start_matches('/');
    let uri = if relative.is_empty() {
        root
    } else {
        root.join(relative).map_err(storage_error)?
    };
    let storage = state.engine.files().storage().map_err(file_error)?;
    Ok((storage, uri))
}

/// The content of a namespace file.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/namespaces/{namespace}/files",
    tag = "Files",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "The namespace"),
        FileQuery,
    ),
    responses(
        (status = 200, description = "The file's bytes", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, description = "Invalid namespace or path, or the path is a directory", body = ErrorBody),
        Unauthorized,
        (status = 404, description = "No such file (or not visible to the caller)", body = ErrorBody),
    )
)]
async fn get_namespace_file(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, namespace)): Path<(String, String)>,
    Query(query): Query<FileQuery>,
) -> Result<Response, ApiError> {
    let (storage, uri) = resolve(
        &state,
        &who,
        (&tenant, &namespace),
        &query.path,
        Action::Read,
    )?;
    let bytes = storage.get(&tenant, &uri).map_err(storage_error)?;
    Ok(file_response(uri.file_name(), bytes))
}

/// Uploads a namespace file (multipart part `fileContent`), replacing one at the same path.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/namespaces/{namespace}/files",
    tag = "Files",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "The namespace"),
        FileQuery,
    ),
    request_body(content = Object, content_type = "multipart/form-data", description = "The file as the part `fileContent`"),
    responses(
        (status = 204, description = "Stored"),
        (status = 400, description = "Invalid namespace, path or body", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "NAMESPACE CREATE not granted here", body = ErrorBody),
        (status = 413, description = "The file is larger than the server accepts", body = ErrorBody),
    )
)]
async fn create_namespace_file(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, namespace)): Path<(String, String)>,
    Query(query): Query<FileQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let (storage, uri) = resolve(
        &state,
        &who,
        (&tenant, &namespace),
        &query.path,
        Action::Create,
    )?;
    if query.path.trim_start_matches('/').is_empty() {
        return Err(ApiError::bad_request(
            "give the file's path, e.g. ?path=/scripts/run.sh",
        ));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|t| t.starts_with("multipart/form-data"))
        .ok_or_else(|| {
            ApiError::bad_request("send the file as multipart/form-data, in the part 'fileContent'")
        })?;
    let part = crate::inputs_body::multipart_parts(content_type, body)
        .await?
        .into_iter()
        .find(|p| p.name == "fileContent")
        .ok_or_else(|| ApiError::bad_request("the multipart body has no part 'fileContent'"))?;
    storage
        .put(&tenant, &uri, &part.bytes)
        .map_err(storage_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a namespace file or directory.
#[utoipa::path(
    delete,
    path = "/api/v1/{tenant}/namespaces/{namespace}/files",
    tag = "Files",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "The namespace"),
        FileQuery,
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Invalid namespace or path", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "NAMESPACE DELETE not granted here", body = ErrorBody),
        (status = 404, description = "No such file (or not visible to the caller)", body = ErrorBody),
    )
)]
async fn delete_namespace_file(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, namespace)): Path<(String, String)>,
    Query(query): Query<FileQuery>,
) -> Result<StatusCode, ApiError> {
    let (storage, uri) = resolve(
        &state,
        &who,
        (&tenant, &namespace),
        &query.path,
        Action::Delete,
    )?;
    if query.path.trim_start_matches('/').is_empty() {
        return Err(ApiError::bad_request(
            "give the path of a file or directory to delete",
        ));
    }
    if storage.delete(&tenant, &uri).map_err(storage_error)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "namespace file {} not found",
            query.path
        )))
    }
}

/// The entries of a directory of namespace files.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/namespaces/{namespace}/files/directory",
    tag = "Files",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "The namespace"),
        DirectoryQuery,
    ),
    responses(
        (status = 200, description = "Entries, sorted by name", body = Vec<FileAttributesView>),
        (status = 400, description = "Invalid namespace or path, or the path is a file", body = ErrorBody),
        Unauthorized,
        (status = 404, description = "No such directory (or not visible to the caller)", body = ErrorBody),
    )
)]
async fn list_namespace_directory(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, namespace)): Path<(String, String)>,
    Query(query): Query<DirectoryQuery>,
) -> Result<Json<Vec<FileAttributesView>>, ApiError> {
    let path = query.path.unwrap_or_default();
    let (storage, uri) = resolve(&state, &who, (&tenant, &namespace), &path, Action::Read)?;
    let is_root = path.trim_start_matches('/').is_empty();
    if !is_root
        && storage
            .stat(&tenant, &uri)
            .map_err(storage_error)?
            .is_none()
    {
        return Err(ApiError::not_found(format!("directory {path} not found")));
    }
    let entries = storage.list(&tenant, &uri).map_err(storage_error)?;
    Ok(Json(
        entries
            .iter()
            .map(|info| FileAttributesView::of(info, info.uri.file_name()))
            .collect(),
    ))
}

/// The attributes of a namespace file or directory (the root when no path is given).
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/namespaces/{namespace}/files/stats",
    tag = "Files",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "The namespace"),
        DirectoryQuery,
    ),
    responses(
        (status = 200, description = "The file's attributes", body = FileAttributesView),
        (status = 400, description = "Invalid namespace or path", body = ErrorBody),
        Unauthorized,
        (status = 404, description = "No such file (or not visible to the caller)", body = ErrorBody),
    )
)]
async fn namespace_file_stats(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, namespace)): Path<(String, String)>,
    Query(query): Query<DirectoryQuery>,
) -> Result<Json<FileAttributesView>, ApiError> {
    let path = query.path.unwrap_or_default();
    let (storage, uri) = resolve(&state, &who, (&tenant, &namespace), &path, Action::Read)?;
    match storage.stat(&tenant, &uri).map_err(storage_error)? {
        Some(info) => Ok(Json(FileAttributesView::of(&info, uri.file_name()))),
        // The root of a namespace without files yet, as Kestra shows it.
        None if path.trim_start_matches('/').is_empty() => Ok(Json(FileAttributesView {
            file_name: "_files".into(),
            kind: FileKind::Directory.as_str().into(),
            size: 0,
            last_modified_time: None,
            creation_time: None,
        })),
        None => Err(ApiError::not_found(format!(
            "namespace file {path} not found"
        ))),
    }
}
