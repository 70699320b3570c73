//! Triggers: what the scheduler remembers of each Schedule trigger (when it is next due), as
//! far as the caller may see (FLOW READ), under Kestra's `GET …/triggers/search`.

use axum::Json;
use axum::extract::{Path, Query, State};
use saker_auth::Permission;
use saker_auth::namespace::covers;
use saker_store::TriggerState;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;

use crate::access::visible;
use crate::doc::Unauthorized;
use crate::openapi::ApiRouter;
use crate::routes::{MaybeCaller, caller};
use crate::schema::{ErrorBody, TriggerContextView, TriggerPage, TriggerStateView};
use crate::{ApiError, AppState};

pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new().routes(routes!(search_triggers))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
struct SearchParams {
    /// Only this namespace and its children.
    namespace: Option<String>,
    /// Only the triggers of this flow.
    flow_id: Option<String>,
    /// Page number, from 1.
    #[param(minimum = 1)]
    page: Option<u32>,
    /// Page size, 1 to 500 (default 25).
    #[param(minimum = 1, maximum = 500)]
    size: Option<u32>,
}

/// The scheduled triggers the caller may see, by namespace, flow and trigger id, a page at
/// a time, each with the date it is next due.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/triggers/search",
    tag = "Triggers",
    params(("tenant" = String, Path, description = "Tenant id"), SearchParams),
    responses(
        (status = 200, description = "A page of triggers", body = TriggerPage),
        (status = 400, description = "Malformed parameter", body = ErrorBody),
        Unauthorized,
    )
)]
async fn search_triggers(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path(tenant): Path<String>,
    Query(params): Query<SearchParams>,
) -> Result<Json<TriggerPage>, ApiError> {
    let shown = visible(caller(&who), &tenant, Permission::Flow);
    let matching: Vec<TriggerState> = state
        .engine
        .store()
        .trigger_states(&tenant)?
        .into_iter()
        .filter(|s| shown(&s.namespace))
        .filter(|s| {
            params
                .namespace
                .as_deref()
                .is_none_or(|ns| covers(ns, &s.namespace))
        })
        .filter(|s| params.flow_id.as_deref().is_none_or(|f| s.flow_id == f))
        .collect();
    let page = crate::paging::window(params.page, params.size);
    Ok(Json(TriggerPage {
        total: matching.len() as u64,
        results: matching
            .into_iter()
            .skip(page.offset as usize)
            .take(page.size as usize)
            .map(|s| TriggerStateView {
                trigger_context: TriggerContextView {
                    tenant_id: s.tenant,
                    namespace: s.namespace,
                    flow_id: s.flow_id,
                    trigger_id: s.trigger_id,
                    next_execution_date: s.next_date,
                    updated_date: s.updated_at,
                },
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use saker_auth::namespace::covers;

    /// The `namespace` filter takes a namespace and its children, never a mere prefix.
    #[test]
    fn a_namespace_filter_takes_children_not_prefixes() {
        assert!(covers("company", "company.team"));
        assert!(covers("company.team", "company.team"));
        assert!(!covers("company.t", "company.team"));
        assert!(!covers("company", "companyx"));
        assert!(!covers("company.team", "company"));
    }
}
