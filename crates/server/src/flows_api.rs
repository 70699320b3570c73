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

/// Validates flows without storing them: one or more YAML documents separated by `---`
/// lines, one answer each, with line numbers of the whole body. At most
/// [`saker_model::MAX_DOCUMENTS`] documents; more is a 400. Needs only authentication
/// (nothing stored is read).
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/flows/validate",
    tag = "Flows",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body(content = String, content_type = "application/x-yaml", description = "One or more flows"),
    responses(
        (status = 200, description = "One entry per document; `constraints` is null when valid", body = Vec<FlowValidation>),
        (status = 400, description = "More documents than the server validates in one request", body = ErrorBody),
        Unauthorized,
    )
)]
async fn validate_flows(
    Path(_tenant): Path<String>,
    body: String,
) -> Result<Json<Vec<FlowValidation>>, ApiError> {
    let documents =
        saker_model::split_documents(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Json(
        documents
            .into_iter()
            .enumerate()
            .map(|(index, doc)| match saker_model::parse_flow(doc.text) {
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
                        doc.place(diagnostics)
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("\n"),
                    ),
                },
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use axum::extract::Path;

    use super::validate_flows;

    /// The constraints of each document of `body`, as the route answers them.
    async fn constraints(body: &str) -> Vec<Option<String>> {
        let answer = validate_flows(Path("main".to_owned()), body.to_owned())
            .await
            .expect("within the document limit");
        answer.0.into_iter().map(|v| v.constraints).collect()
    }

    #[tokio::test]
    async fn each_document_is_answered_with_line_numbers_of_the_whole_body() {
        let body = "id: a\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n---\n\n---\nid: b\nnamespace: company.team\ntasks: []\n";
        let answers = constraints(body).await;
        assert_eq!(answers.len(), 2);
        assert_eq!(answers[0], None);
        let second = answers[1].as_deref().expect("the second flow is invalid");
        assert!(second.starts_with("12:8: "), "{second}");
    }

    #[tokio::test]
    async fn an_empty_body_is_one_empty_flow_and_too_many_documents_a_400() {
        let empty = constraints("").await;
        assert!(
            empty[0]
                .as_deref()
                .is_some_and(|c| c.contains("the flow is empty"))
        );
        let body = "id: a\n---\n".repeat(saker_model::MAX_DOCUMENTS + 1);
        let err = validate_flows(Path("main".to_owned()), body)
            .await
            .unwrap_err();
        assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST);
        assert!(
            err.message.contains("more than 1000 YAML documents"),
            "{}",
            err.message
        );
    }
}
