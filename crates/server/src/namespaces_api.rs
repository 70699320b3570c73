//! Namespaces: the ones that hold flows, with their parents, as far as the caller may see
//! (NAMESPACE READ). A namespace the caller may not see answers like a missing one (404).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use saker_auth::{Action, Permission};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;

use crate::access::{check, visible};
use crate::doc::Unauthorized;
use crate::openapi::ApiRouter;
use crate::routes::{MaybeCaller, caller};
use crate::schema::{ErrorBody, NamespacePage, NamespaceView};
use crate::{ApiError, AppState};

pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(search_namespaces))
        .routes(routes!(get_namespace))
}

/// Every namespace of `tenant` that holds a flow, and their parents, with flow counts.
fn known_namespaces(state: &AppState, tenant: &str) -> Result<BTreeMap<String, u64>, ApiError> {
    let mut namespaces = BTreeMap::new();
    for flow in state.engine.store().list_flows(tenant, None)? {
        if flow.deleted {
            continue;
        }
        *namespaces.entry(flow.namespace.clone()).or_insert(0) += 1;
        let mut parent = flow.namespace.as_str();
        while let Some((up, _)) = parent.rsplit_once('.') {
            namespaces.entry(up.to_owned()).or_insert(0);
            parent = up;
        }
    }
    Ok(namespaces)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct NamespaceQuery {
    /// Only namespaces whose id contains this text.
    q: Option<String>,
}

/// The namespaces the caller may see.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/namespaces/search",
    tag = "Namespaces",
    params(("tenant" = String, Path, description = "Tenant id"), NamespaceQuery),
    responses(
        (status = 200, description = "Namespaces, sorted", body = NamespacePage),
        Unauthorized,
    )
)]
async fn search_namespaces(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path(tenant): Path<String>,
    Query(query): Query<NamespaceQuery>,
) -> Result<Json<NamespacePage>, ApiError> {
    let shown = visible(caller(&who), &tenant, Permission::Namespace);
    let results: Vec<NamespaceView> = known_namespaces(&state, &tenant)?
        .into_iter()
        .filter(|(id, _)| shown(id))
        .filter(|(id, _)| query.q.as_deref().is_none_or(|q| id.contains(q)))
        .map(|(id, flows)| NamespaceView { id, flows })
        .collect();
    Ok(Json(NamespacePage {
        total: results.len() as u64,
        results,
    }))
}

/// One namespace.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/namespaces/{namespace}",
    tag = "Namespaces",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("namespace" = String, Path, description = "Namespace id"),
    ),
    responses(
        (status = 200, description = "The namespace", body = NamespaceView),
        Unauthorized,
        (status = 404, description = "No flow in it or below it (or not visible to the caller)", body = ErrorBody),
    )
)]
async fn get_namespace(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, namespace)): Path<(String, String)>,
) -> Result<Json<NamespaceView>, ApiError> {
    let missing = || format!("namespace {namespace} not found");
    check(
        caller(&who),
        &tenant,
        Some(&namespace),
        Permission::Namespace,
        Action::Read,
        missing,
    )?;
    let flows = known_namespaces(&state, &tenant)?
        .get(&namespace)
        .copied()
        .ok_or_else(|| ApiError::not_found(missing()))?;
    Ok(Json(NamespaceView {
        id: namespace,
        flows,
    }))
}
