//! Flows: create from YAML, get, update, delete, list by namespace, validate.
//! FLOW permissions at the flow's namespace; a flow in a namespace the caller may not see
//! answers exactly like a missing one (404).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use saker_auth::{Action, Permission};
use saker_model::Flow;
use saker_store::FlowRecord;
use utoipa_axum::routes;

use crate::access::{check, check_create, visible};
use crate::doc::Unauthorized;
use crate::openapi::ApiRouter;
use crate::routes::{MaybeCaller, caller};
use crate::schema::{ErrorBody, FlowValidation, FlowView};
use crate::{ApiError, AppState};

pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(create_flow))
        .routes(routes!(validate_flows))
        .routes(routes!(list_flows))
        .routes(routes!(get_flow, update_flow, delete_flow))
}

pub(crate) fn flow_view(record: &FlowRecord) -> FlowView {
    FlowView {
        id: record.id.clone(),
        namespace: record.namespace.clone(),
        revision: record.revision,
        tenant_id: record.tenant.clone(),
        deleted: record.deleted,
        source: record.source.clone(),
    }
}

fn not_found(namespace: &str, id: &str) -> String {
    format!("flow {namespace}.{id} not found")
}

/// Parses `source`, refusing it with 422 and every diagnostic when it is not a valid flow.
fn parse(source: &str) -> Result<Flow, ApiError> {
    saker_model::parse_flow(source).map_err(|diagnostics| ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message: format!(
            "invalid flow:\n{}",
            diagnostics
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    })
}

/// Deploys a flow from its YAML source (a new revision; unchanged source keeps the
/// revision). Needs FLOW CREATE in the flow's namespace, and FLOW UPDATE when it exists.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/flows",
    tag = "Flows",
    params(("tenant" = String, Path, description = "Tenant id, `main` by default")),
    request_body(content = String, content_type = "application/x-yaml", description = "The flow's YAML source"),
    responses(
        (status = 200, description = "The stored revision", body = FlowView),
        Unauthorized,
        (status = 403, description = "Not allowed in this namespace", body = ErrorBody),
        (status = 422, description = "Invalid flow, with every problem as LINE:COL: message", body = ErrorBody),
    )
)]
async fn create_flow(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path(tenant): Path<String>,
    body: String,
) -> Result<Json<FlowView>, ApiError> {
    let flow = parse(&body)?;
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
    let (_, saved) = state.engine.deploy(&tenant, &body)?;
    Ok(Json(flow_view(&saved.flow)))
}

/// Updates a flow from its YAML source; its `id` and `namespace` must be the path's.
#[utoipa::path(
    put,
    path = "/api/v1/{tenant}/flows/{namespace}/{id}",
    tag = "Flows",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "The flow's namespace"),
        ("id" = String, Path, description = "The flow's id"),
    ),
    request_body(content = String, content_type = "application/x-yaml", description = "The flow's new YAML source"),
    responses(
        (status = 200, description = "The stored revision", body = FlowView),
        Unauthorized,
        (status = 403, description = "FLOW UPDATE not granted here", body = ErrorBody),
        (status = 404, description = "No such flow (or not visible to the caller)", body = ErrorBody),
        (status = 422, description = "Invalid flow, or its id/namespace differ from the path", body = ErrorBody),
    )
)]
async fn update_flow(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, namespace, id)): Path<(String, String, String)>,
    body: String,
) -> Result<Json<FlowView>, ApiError> {
    check(
        caller(&who),
        &tenant,
        Some(&namespace),
        Permission::Flow,
        Action::Update,
        || not_found(&namespace, &id),
    )?;
    state
        .engine
        .store()
        .get_flow(&tenant, &namespace, &id, None)?
        .ok_or_else(|| ApiError::not_found(not_found(&namespace, &id)))?;
    let flow = parse(&body)?;
    if flow.namespace != namespace || flow.id != id {
        return Err(ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: format!(
                "the body is flow {}.{}, not {namespace}.{id}: to rename a flow, create the new \
                 one and delete the old",
                flow.namespace, flow.id
            ),
        });
    }
    let (_, saved) = state.engine.deploy(&tenant, &body)?;
    Ok(Json(flow_view(&saved.flow)))
}

/// Deletes a flow (its executions stay).
#[utoipa::path(
    delete,
    path = "/api/v1/{tenant}/flows/{namespace}/{id}",
    tag = "Flows",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "The flow's namespace"),
        ("id" = String, Path, description = "The flow's id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        Unauthorized,
        (status = 403, description = "FLOW DELETE not granted here", body = ErrorBody),
        (status = 404, description = "No such flow (or not visible to the caller)", body = ErrorBody),
    )
)]
async fn delete_flow(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, namespace, id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    check(
        caller(&who),
        &tenant,
        Some(&namespace),
        Permission::Flow,
        Action::Delete,
        || not_found(&namespace, &id),
    )?;
    if state.engine.store().delete_flow(&tenant, &namespace, &id)? {
        tracing::info!(tenant, namespace, flow = id, "flow deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(not_found(&namespace, &id)))
    }
}

/// The flows of a namespace and its children that the caller may see.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/flows/{namespace}",
    tag = "Flows",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "Namespace; its children are included"),
    ),
    responses(
        (status = 200, description = "The latest revision of each flow", body = Vec<FlowView>),
        Unauthorized,
    )
)]
async fn list_flows(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, namespace)): Path<(String, String)>,
) -> Result<Json<Vec<FlowView>>, ApiError> {
    let flows = state.engine.store().list_flows(&tenant, Some(&namespace))?;
    let shown = visible(caller(&who), &tenant, Permission::Flow);
    Ok(Json(
        flows
            .iter()
            .filter(|f| !f.deleted && shown(&f.namespace))
            .map(flow_view)
            .collect(),
    ))
}

/// The latest revision of a flow.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/flows/{namespace}/{id}",
    tag = "Flows",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "The flow's namespace"),
        ("id" = String, Path, description = "The flow's id"),
    ),
    responses(
        (status = 200, description = "The flow", body = FlowView),
        Unauthorized,
        (status = 404, description = "No such flow (or not visible to the caller)", body = ErrorBody),
    )
)]
async fn get_flow(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, namespace, id)): Path<(String, String, String)>,
) -> Result<Json<FlowView>, ApiError> {
    check(
        caller(&who),
        &tenant,
        Some(&namespace),
        Permission::Flow,
        Action::Read,
        || not_found(&namespace, &id),
    )?;
    let flow = state
        .engine
        .store()
        .get_flow(&tenant, &namespace, &id, None)?
        .ok_or_else(|| ApiError::not_found(not_found(&namespace, &id)))?;
    Ok(Json(flow_view(&flow)))
}

/// Validates flows without storing them: one or more YAML documents separated by `---`,
/// one answer each. Needs only authentication (nothing stored is read).
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/flows/validate",
    tag = "Flows",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body(content = String, content_type = "application/x-yaml", description = "One or more flows"),
    responses(
        (status = 200, description = "One entry per document; `constraints` is null when valid", body = Vec<FlowValidation>),
        Unauthorized,
    )
)]
async fn validate_flows(Path(_tenant): Path<String>, body: String) -> Json<Vec<FlowValidation>> {
    Json(
        split_documents(&body)
            .into_iter()
            .enumerate()
            .map(|(index, source)| match saker_model::parse_flow(&source) {
                Ok(flow) => FlowValidation {
                    index,
                    flow: Some(flow.id),
                    namespace: Some(flow.namespace),
                    constraints: None,
                },
                Err(diagnostics) => FlowValidation {
                    index,
                    flow: None,
                    namespace: None,
                    constraints: Some(
                        diagnostics
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("\n"),
                    ),
                },
            })
            .collect(),
    )
}

/// The documents of a multi-document YAML text. Each keeps blank lines in place of the ones
/// before it, so diagnostics carry line numbers of the whole body.
fn split_documents(body: &str) -> Vec<String> {
    let mut documents = vec![String::new()];
    for (number, line) in body.lines().enumerate() {
        if line.trim_end() == "---" {
            documents.push("\n".repeat(number + 1));
        } else if let Some(last) = documents.last_mut() {
            last.push_str(line);
            last.push('\n');
        }
    }
    documents.retain(|d| !d.trim().is_empty());
    if documents.is_empty() {
        documents.push(String::new());
    }
    documents
}

#[cfg(test)]
mod tests {
    use super::split_documents;

    #[test]
    fn documents_keep_their_line_numbers() {
        let docs = split_documents("id: a\n---\nid: b\nnamespace: x\n---\n");
        assert_eq!(docs.len(), 2);
        let third = split_documents("a: 1\n---\nb: 2\n---\nc: 3\n");
        assert_eq!(third[2], "\n\n\n\nc: 3\n");
        assert_eq!(docs[0], "id: a\n");
        assert_eq!(docs[1], "\n\nid: b\nnamespace: x\n");
        assert_eq!(split_documents(""), vec![String::new()]);
    }
}
