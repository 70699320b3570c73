//! `server.basic-auth.open-urls` opens only the Webhook trigger routes it covers: every
//! other route of the OpenAPI document answers 401 to a caller without credentials, under
//! the documented open URL, under `/api/v1/main/` and under `/`. In particular the documented
//! prefix `/api/v1/main/executions/webhook/` does not open
//! `POST /api/v1/main/executions/webhook/deploy`, which starts flow `deploy` of namespace
//! `webhook`.

mod common;

use common::*;
use serde_json::Value;

/// The open URL of seed 001, and two that are prefixes of every route of a tenant or of all.
const OPEN_URLS: [&str; 3] = ["/api/v1/main/executions/webhook/", "/api/v1/main/", "/"];

/// The one route an open URL may open: its template, and its tenant-less alias (Kestra's
/// older path, which is the same route for the default tenant).
const WEBHOOK: [&str; 2] = [
    "/api/v1/{tenant}/executions/webhook/{namespace}/{flowId}/{key}",
    "/api/v1/executions/webhook/{namespace}/{flowId}/{key}",
];

/// Routes that need no credentials whatever the configuration: liveness, and accepting an
/// invitation (its code is the credential), also at its tenant-less alias.
const ALWAYS_OPEN: [&str; 3] = [
    "GET /health",
    "POST /api/v1/{tenant}/invitations/{id}/accept",
    "POST /api/v1/invitations/{id}/accept",
];

/// A flow `deploy` in namespace `webhook`: the attack's target, with a Webhook trigger so the
/// open route has something to start.
const TARGET: &str = "id: deploy
namespace: webhook
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: deployed
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: open-sesame-key
";

/// A concrete path for a route template: the attack's names where they fit.
fn concrete(template: &str) -> String {
    template
        .replace("{tenant}", "main")
        .replace("{namespace}", "webhook")
        .replace("{flowId}", "deploy")
        .replace("{key}", "open-sesame-key")
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "deploy"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn executions_of_target(port: u16) -> u64 {
    let (status, body) = http_as(
        port,
        "GET",
        "/api/v1/main/executions?namespace=webhook&flowId=deploy",
        None,
        Some(ADMIN_BASIC),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["total"]
        .as_u64()
        .unwrap()
}

/// A server with users whose only open URL is `open_url`, with [`TARGET`] deployed.
fn server_with_open_url(dir: &std::path::Path, open_url: &str) -> (std::process::Child, u16) {
    let config = write_config(
        dir,
        &format!("{ADMIN_CONFIG}      open-urls:\n        - \"{open_url}\"\n"),
    );
    let port = free_port();
    let server = start_server_with(&dir.join("data"), port, Some(&config));
    let (status, body) = http_as(
        port,
        "POST",
        "/api/v1/main/flows",
        Some(("application/x-yaml", TARGET)),
        Some(ADMIN_BASIC),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    (server, port)
}

#[test]
fn open_urls_open_only_the_webhook_routes_they_cover() {
    for open_url in OPEN_URLS {
        let dir = tempfile::tempdir().unwrap();
        let (server, port) = server_with_open_url(dir.path(), open_url);

        // The attack: the prefix of the webhooks is also that of flow `webhook.deploy`.
        let (status, body) = http(
            port,
            "POST",
            "/api/v1/main/executions/webhook/deploy?wait=true",
            None,
        )
        .unwrap();
        assert_eq!(status, 401, "open URL {open_url}: {body}");
        assert_eq!(executions_of_target(port), 0, "open URL {open_url}");

        // Every route of the document, without credentials.
        let (status, body) =
            http_as(port, "GET", "/api/v1/openapi.json", None, Some(ADMIN_BASIC)).unwrap();
        assert_eq!(status, 200);
        let document: Value = serde_json::from_str(&body).unwrap();
        let mut failures = Vec::new();
        let mut webhook_calls = 0;
        for (template, item) in document["paths"].as_object().unwrap() {
            for method in ["get", "put", "post", "delete", "patch"] {
                if item.get(method).is_none() {
                    continue;
                }
                let method = method.to_ascii_uppercase();
                let route = format!("{method} {template}");
                if ALWAYS_OPEN.contains(&route.as_str()) {
                    continue;
                }
                let (status, body) = http(port, &method, &concrete(template), None).unwrap();
                let opened = WEBHOOK.contains(&template.as_str());
                if opened {
                    webhook_calls += 1;
                }
                if (status == 401) == opened {
                    failures.push(format!("{route} answered {status}: {body}"));
                }
            }
        }
        assert_eq!(
            webhook_calls, 6,
            "GET, POST and PUT of the webhook route and of its alias"
        );
        // The open route does its job: the key is the credential.
        assert_eq!(
            executions_of_target(port),
            6,
            "open URL {open_url}: the webhook calls started the flow"
        );
        stop(server);
        assert!(
            failures.is_empty(),
            "open URL {open_url}: anonymous calls answered otherwise than expected:\n{}",
            failures.join("\n")
        );
    }
}

#[test]
fn an_open_url_ends_at_a_segment_boundary_and_in_its_own_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let (server, port) = server_with_open_url(dir.path(), "/api/v1/main/executions/webhook/web");
    // `…/webhook/web` covers namespace `web` only, not `webhook`.
    let (status, _) = http(
        port,
        "POST",
        "/api/v1/main/executions/webhook/webhook/deploy/open-sesame-key",
        None,
    )
    .unwrap();
    assert_eq!(status, 401);
    let (status, _) = http(
        port,
        "POST",
        "/api/v1/main/executions/webhook/web/deploy/open-sesame-key",
        None,
    )
    .unwrap();
    assert_eq!(status, 404, "covered, and no such flow");
    stop(server);
}
