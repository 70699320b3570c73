//! Deploying many flows at once, as Kestra's CLI (`flow namespace update`) and its deploy
//! actions do: `POST /flows/{namespace}` makes a namespace hold exactly the flows of a
//! multi-document YAML body (unless `delete=false`), `POST /flows/bulk` deploys flows of any
//! namespaces.
//!
//! Every document is parsed and every permission checked before anything is stored, so a
//! body with one invalid flow, or one flow the caller may not write, changes nothing.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use saker_auth::{Action, Permission};
use saker_model::Flow;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;

use crate::access::check_create;
use crate::doc::Unauthorized;
use crate::flows_api::flow_view;
use crate::openapi::ApiRouter;
use crate::routes::{MaybeCaller, caller};
use crate::schema::{ErrorBody, FlowView};
use crate::{ApiError, AppState};

pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(update_namespace))
        .routes(routes!(bulk_update))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct NamespaceParams {
    /// Delete the namespace's flows the body does not hold (default true, as in Kestra).
    delete: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct BulkParams {
    /// With `namespace`: delete that namespace's flows the body does not hold (default true).
    delete: Option<bool>,
    /// The namespace whose other flows `delete` removes; without it nothing is deleted.
    namespace: Option<String>,
}

/// Makes `namespace` hold the flows of the body: each is deployed (an unchanged one keeps
/// its revision), and, unless `delete=false`, the namespace's other flows are deleted (not
/// those of its children). Every flow of the body must be in `namespace`. Needs FLOW CREATE
/// and UPDATE there, and DELETE when something is deleted.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/flows/{namespace}",
    tag = "Flows",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "The namespace the body replaces"),
        NamespaceParams,
    ),
    request_body(content = String, content_type = "application/x-yaml", description = "Flows as YAML documents separated by `---` lines"),
    responses(
        (status = 200, description = "The flows of the body, as stored", body = Vec<FlowView>),
        (status = 400, description = "More documents than the server takes in one request", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "Not allowed in this namespace", body = ErrorBody),
        (status = 422, description = "An invalid flow, a flow of another namespace, or one id twice", body = ErrorBody),
    )
)]
async fn update_namespace(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, namespace)): Path<(String, String)>,
    Query(params): Query<NamespaceParams>,
    body: String,
) -> Result<Json<Vec<FlowView>>, ApiError> {
    let flows = parse_all(&body)?;
    if let Some((flow, _)) = flows.iter().find(|(f, _)| f.namespace != namespace) {
        return Err(unprocessable(format!(
            "flow {}.{} is not in namespace {namespace}: a namespace update holds only that \
             namespace's flows (deploy others with POST …/flows/bulk)",
            flow.namespace, flow.id
        )));
    }
    let stale = if params.delete.unwrap_or(true) {
        stale_flows(&state, &tenant, &namespace, &flows)?
    } else {
        Vec::new()
    };
    authorize(&who, &tenant, &flows, &namespace, !stale.is_empty())?;
    deploy(&state, &tenant, &flows, &namespace, &stale)
}

/// Deploys the flows of the body, whatever their namespaces; with `namespace` (and unless
/// `delete=false`), that namespace's flows the body does not hold are deleted.
#[utoipa::path(
    post,
    path = "/api/v1/{tenant}/flows/bulk",
    tag = "Flows",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        BulkParams,
    ),
    request_body(content = String, content_type = "application/x-yaml", description = "Flows as YAML documents separated by `---` lines"),
    responses(
        (status = 200, description = "The flows of the body, as stored", body = Vec<FlowView>),
        (status = 400, description = "More documents than the server takes in one request", body = ErrorBody),
        Unauthorized,
        (status = 403, description = "Not allowed in a namespace of the body", body = ErrorBody),
        (status = 422, description = "An invalid flow, or one id twice", body = ErrorBody),
    )
)]
async fn bulk_update(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path(tenant): Path<String>,
    Query(params): Query<BulkParams>,
    body: String,
) -> Result<Json<Vec<FlowView>>, ApiError> {
    let flows = parse_all(&body)?;
    let (namespace, stale) = match &params.namespace {
        Some(namespace) if params.delete.unwrap_or(true) => (
            namespace.clone(),
            stale_flows(&state, &tenant, namespace, &flows)?,
        ),
        _ => (String::new(), Vec::new()),
    };
    authorize(&who, &tenant, &flows, &namespace, !stale.is_empty())?;
    deploy(&state, &tenant, &flows, &namespace, &stale)
}

/// Every document parsed, with its source; all the problems of all of them in one 422.
fn parse_all(body: &str) -> Result<Vec<(Flow, String)>, ApiError> {
    let documents =
        saker_model::split_documents(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let mut flows = Vec::new();
    let mut problems = Vec::new();
    for document in documents {
        // An empty body is one empty document: it deploys nothing.
        if document.text.trim().is_empty() {
            continue;
        }
        match saker_model::parse_flow(document.text) {
            Ok(flow) => flows.push((flow, document.source().to_owned())),
            Err(diagnostics) => {
                problems.extend(document.place(diagnostics).iter().map(ToString::to_string))
            }
        }
    }
    if !problems.is_empty() {
        return Err(unprocessable(format!(
            "invalid flows, nothing was stored:\n{}",
            problems.join("\n")
        )));
    }
    let mut seen = BTreeSet::new();
    for (flow, _) in &flows {
        if !seen.insert((flow.namespace.as_str(), flow.id.as_str())) {
            return Err(unprocessable(format!(
                "flow {}.{} is in the body twice: keep one",
                flow.namespace, flow.id
            )));
        }
    }
    Ok(flows)
}

/// The ids of `namespace`'s stored flows (not its children's) that `flows` does not hold.
fn stale_flows(
    state: &AppState,
    tenant: &str,
    namespace: &str,
    flows: &[(Flow, String)],
) -> Result<Vec<String>, ApiError> {
    let kept: BTreeSet<&str> = flows
        .iter()
        .filter(|(f, _)| f.namespace == namespace)
        .map(|(f, _)| f.id.as_str())
        .collect();
    Ok(state
        .engine
        .store()
        .list_flows(tenant, Some(namespace))?
        .into_iter()
        .filter(|f| !f.deleted && f.namespace == namespace && !kept.contains(f.id.as_str()))
        .map(|f| f.id)
        .collect())
}

/// FLOW CREATE and UPDATE in every namespace of the body, DELETE in `namespace` when
/// something goes: checked before anything changes.
fn authorize(
    who: &MaybeCaller,
    tenant: &str,
    flows: &[(Flow, String)],
    namespace: &str,
    deletes: bool,
) -> Result<(), ApiError> {
    let namespaces: BTreeSet<&str> = flows.iter().map(|(f, _)| f.namespace.as_str()).collect();
    for ns in namespaces {
        for action in [Action::Create, Action::Update] {
            check_create(caller(who), tenant, ns, Permission::Flow, action)?;
        }
    }
    if deletes {
        check_create(
            caller(who),
            tenant,
            namespace,
            Permission::Flow,
            Action::Delete,
        )?;
    }
    Ok(())
}

fn deploy(
    state: &AppState,
    tenant: &str,
    flows: &[(Flow, String)],
    namespace: &str,
    stale: &[String],
) -> Result<Json<Vec<FlowView>>, ApiError> {
    let mut stored = Vec::with_capacity(flows.len());
    for (_, source) in flows {
        let (_, saved) = state.engine.deploy(tenant, source)?;
        stored.push(flow_view(&saved.flow));
    }
    for id in stale {
        if state.engine.store().delete_flow(tenant, namespace, id)? {
            tracing::info!(
                tenant,
                namespace,
                flow = id,
                "flow deleted by a namespace update"
            );
        }
    }
    Ok(Json(stored))
}

fn unprocessable(message: String) -> ApiError {
    ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message,
    }
}
