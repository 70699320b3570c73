//! The route table and the OpenAPI document are one thing: every API module returns an
//! [`ApiRouter`] whose handlers carry `#[utoipa::path]`, so a route cannot be served without
//! being documented, and the document (served at `/api/v1/openapi.json`) cannot name a
//! route that is not served. The authorization-matrix test reads the same document.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDoc, SecurityRequirement};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

/// A router that collects the OpenAPI description of its routes.
pub(crate) type ApiRouter = OpenApiRouter<AppState>;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Saker API",
        description = "Kestra-shaped REST API of Saker. Secret values are write-only: no \
                       endpoint returns one. With `server.basic-auth` configured every \
                       endpoint but `/health` and the `open-urls` needs HTTP Basic \
                       credentials or a bearer API token. A caller refused on something \
                       it may not even see gets the same 404 as for a missing item; a caller \
                       refused on something it named itself (a create) gets 403."
    ),
    modifiers(&Security),
    tags(
        (name = "Flows", description = "Flows as YAML, with revisions"),
        (name = "Executions", description = "Start, follow, kill and inspect executions"),
        (name = "Logs", description = "Execution logs (masked before they are stored)"),
        (name = "Namespaces", description = "Namespaces the caller may see"),
        (name = "Files", description = "Namespace files (NAMESPACE permission)"),
        (name = "Triggers", description = "When each Schedule trigger is next due (FLOW READ)"),
        (name = "Secrets", description = "Secret metadata out, values in, never a value back"),
        (name = "KV store", description = "Values of a namespace's KV store; one derived from a secret reads as ****"),
        (name = "Audit logs", description = "The tamper-evident audit trail"),
        (name = "Users", description = "Users, their passwords and API tokens (tenant-wide USER permission)"),
        (name = "Roles", description = "Sets of permission × action (ROLE permission)"),
        (name = "Bindings", description = "A role given to a user on a tenant or a namespace and its children"),
        (name = "Invitations", description = "Invite by email; accepted without credentials, once, before expiry"),
        (name = "Plugins", description = "The task and trigger types this server runs, with their properties"),
        (name = "Services", description = "The service instances of the deployment and their states (SERVICE READ)"),
        (name = "Health", description = "Liveness"),
    )
)]
struct ApiDoc;

/// Declares Basic and bearer authentication, required everywhere by default.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basicAuth",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        openapi.security = Some(vec![
            SecurityRequirement::new("basicAuth", Vec::<String>::new()),
            SecurityRequirement::new("bearerAuth", Vec::<String>::new()),
        ]);
    }
}

/// Every API route with its documentation.
pub(crate) fn api_routes() -> ApiRouter {
    ApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::routes::routes())
        .merge(crate::flows_api::routes())
        .merge(crate::flows_deploy_api::routes())
        .merge(crate::plugins_api::routes())
        .merge(crate::executions_api::routes())
        .merge(crate::executions_control_api::routes())
        .merge(crate::files_api::routes())
        .merge(crate::debug_api::routes())
        .merge(crate::logs_api::routes())
        .merge(crate::namespaces_api::routes())
        .merge(crate::namespace_files_api::routes())
        .merge(crate::secrets_api::routes())
        .merge(crate::secret_manager_api::routes())
        .merge(crate::secrets_lifecycle_api::routes())
        .merge(crate::kv_api::routes())
        .merge(crate::audit_api::routes())
        .merge(crate::iam_api::routes())
        .merge(crate::webhook_api::routes())
        .merge(crate::triggers_api::routes())
        .merge(crate::services_api::routes())
}

/// The OpenAPI 3.1 document of every route this server serves.
pub fn openapi() -> OpenApiDoc {
    with_busy_answers(api_routes().into_openapi())
}

/// Every operation but `/health` goes through the [`crate::StoreGate`] and so may answer
/// 503 when the database is busy: added here once rather than on each operation (an
/// operation's own 503, such as "no users", gets the busy case in its description).
pub(crate) fn with_busy_answers(mut doc: OpenApiDoc) -> OpenApiDoc {
    for (path, item) in doc.paths.paths.iter_mut() {
        if path == "/health" {
            continue;
        }
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            crate::doc::add_busy(&mut operation.responses);
        }
    }
    doc
}
