//! `GET /api/v1/instance/services`: the service instances of the deployment (distributed
//! mode): on PostgreSQL every registered process, on SQLite this process alone.
//! SERVICE READ on the server's default tenant: the deployment is not any one tenant's, and
//! the route has no tenant in its path.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use saker_auth::{Action, Permission};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::access::check;
use crate::doc::Unauthorized;
use crate::openapi::ApiRouter;
use crate::routes::{MaybeCaller, caller};
use crate::schema::ErrorBody;
use crate::{ApiError, AppState};

pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new().routes(routes!(list_services))
}

/// One service instance.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceInstanceView {
    pub id: String,
    /// EXECUTOR, WORKER, SCHEDULER, WEBSERVER or STANDALONE.
    #[serde(rename = "type")]
    pub service_type: String,
    /// CREATED, RUNNING, DISCONNECTED, TERMINATING, TERMINATED_GRACEFULLY,
    /// TERMINATED_FORCED, NOT_RUNNING or EMPTY.
    pub state: String,
    pub host: String,
    pub started_at: DateTime<Utc>,
    pub last_heartbeat: DateTime<Utc>,
    /// When the state last changed.
    pub state_changed_at: DateTime<Utc>,
    /// The worker group a worker serves; absent for the default group.
    pub worker_group: Option<String>,
    /// The jobs it holds now: one attempt of one task run each (workers only).
    pub jobs: Vec<HeldJobView>,
}

/// A job an instance holds.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeldJobView {
    pub job_id: String,
    pub execution_id: String,
    pub task_run_id: String,
    pub attempt: u32,
}

/// Every service instance, oldest first (SERVICE READ).
#[utoipa::path(
    get,
    path = "/api/v1/instance/services",
    tag = "Services",
    responses(
        (status = 200, description = "The service instances", body = Vec<ServiceInstanceView>),
        Unauthorized,
        (status = 403, description = "SERVICE READ not granted", body = ErrorBody),
    )
)]
async fn list_services(
    State(state): State<AppState>,
    who: MaybeCaller,
) -> Result<Json<Vec<ServiceInstanceView>>, ApiError> {
    check(
        caller(&who),
        &state.default_tenant,
        None,
        Permission::Service,
        Action::Read,
        String::new,
    )?;
    let instances = state.services.list_instances()?;
    Ok(Json(
        instances
            .into_iter()
            .map(|instance| ServiceInstanceView {
                id: instance.id,
                service_type: instance.service_type.as_str().to_owned(),
                state: instance.state.as_str().to_owned(),
                host: instance.host,
                started_at: instance.started_at,
                last_heartbeat: instance.last_heartbeat,
                state_changed_at: instance.state_changed_at,
                worker_group: instance.worker_group,
                jobs: instance
                    .jobs
                    .into_iter()
                    .map(|job| HeldJobView {
                        job_id: job.job_id,
                        execution_id: job.execution_id,
                        task_run_id: job.task_run_id,
                        attempt: job.attempt,
                    })
                    .collect(),
            })
            .collect(),
    ))
}
