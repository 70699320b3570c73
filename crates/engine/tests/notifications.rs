//! The incoming-webhook notification tasks (Slack, Discord, Teams, ...) against a real HTTP
//! server the test starts on 127.0.0.1: the JSON each posts, a webhook URL taken from a
//! secret that reaches the server but no log line, output or stored byte, and the errors
//! (a payload that is not JSON, a webhook that refuses the message) saying what is wrong.

mod common;

use std::sync::{Arc, Mutex};

use axum::body::to_bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use saker_model::{Execution, StateType};
use serde_json::{Value, json};

const K: &str = "hooks-T0ken-Zq8Rw3Lm";

/// What the server received: path, content type and body of each request.
type Seen = Arc<Mutex<Vec<(String, String, Value)>>>;

/// `/services/...` accepts any JSON (as Slack does, answering `ok`); `/refuse` answers 400
/// `invalid_payload`.
async fn serve() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = axum::Router::new().fallback({
        let seen = seen.clone();
        move |request: axum::extract::Request| {
            let seen = seen.clone();
            async move {
                let (parts, body) = request.into_parts();
                let body = to_bytes(body, 1 << 20).await.unwrap();
                let content_type = parts
                    .headers
                    .get(header::CONTENT_TYPE)
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                seen.lock()
                    .unwrap()
                    .push((parts.uri.path().to_owned(), content_type, json));
                let answer: Response = if parts.uri.path() == "/refuse" {
                    (StatusCode::BAD_REQUEST, "invalid_payload").into_response()
                } else {
                    "ok".into_response()
                };
                answer
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

use common::data_dir::DataDir as Setup;

fn start() -> Setup {
    Setup::start(|_, parts| {
        parts.secrets = Arc::new(common::KeyedSecrets::new([("K", K.to_owned())]));
        parts.sealer = Some(common::data_dir::sealer());
    })
}

async fn run(setup: &Setup, source: &str) -> (Execution, Vec<String>) {
    let done = setup.run(source).await;
    let lines = setup.messages(&done);
    (done, lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_receive_their_json_and_a_secret_url_is_never_shown() {
    let (base, seen) = serve().await;
    let setup = start();
    let flow = format!(
        r#"
id: notify
namespace: company.team
tasks:
  - id: slack
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: "{base}/services/{{{{ secret('K') }}}}"
    payload: |
      {{"text": "flow {{{{ flow.id }}}} ran"}}
  - id: slack-text
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: "{base}/services/{{{{ secret('K') }}}}"
    messageText: "plain text"
  - id: discord
    type: io.kestra.plugin.notifications.discord.DiscordIncomingWebhook
    url: "{base}/discord"
    payload: '{{"content": "hello"}}'
  - id: teams
    type: io.kestra.plugin.notifications.teams.TeamsIncomingWebhook
    url: "{base}/teams"
    payload: '{{"text": "hello teams"}}'
"#
    );
    let (done, lines) = run(&setup, &flow).await;
    assert_eq!(done.state.current, StateType::Success, "{lines:?}");
    let seen = seen.lock().unwrap().clone();
    let path = format!("/services/{K}");
    assert_eq!(
        seen,
        vec![
            (
                path.clone(),
                "application/json".to_owned(),
                json!({"text": "flow notify ran"})
            ),
            (
                path,
                "application/json".to_owned(),
                json!({"text": "plain text"})
            ),
            (
                "/discord".to_owned(),
                "application/json".to_owned(),
                json!({"content": "hello"})
            ),
            (
                "/teams".to_owned(),
                "application/json".to_owned(),
                json!({"text": "hello teams"})
            ),
        ]
    );
    assert!(
        lines.contains(&format!("Slack notification sent to {base}/services/****")),
        "{lines:?}"
    );
    assert!(lines.iter().all(|l| !l.contains(K)), "{lines:?}");
    drop(setup.engine);
    for path in common::files_under(setup.dir.path()) {
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(K),
            "{} holds the secret",
            path.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_message_and_a_payload_that_is_not_json_fail_saying_why() {
    let (base, seen) = serve().await;
    let setup = start();
    let (done, lines) = run(
        &setup,
        &format!(
            r#"
id: refused
namespace: company.team
tasks:
  - id: slack
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: "{base}/refuse?token={{{{ secret('K') }}}}"
    payload: '{{"text": "x"}}'
"#
        ),
    )
    .await;
    assert_eq!(done.state.current, StateType::Failed, "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains(&format!(
            "Slack webhook {base}/refuse?token=**** answered 400 Bad Request: invalid_payload"
        ))),
        "{lines:?}"
    );
    assert!(lines.iter().all(|l| !l.contains(K)), "{lines:?}");

    let (done, lines) = run(
        &setup,
        &format!(
            r#"
id: not-json
namespace: company.team
tasks:
  - id: teams
    type: io.kestra.plugin.notifications.teams.TeamsIncomingWebhook
    url: "{base}/teams"
    payload: "hello, not json"
"#
        ),
    )
    .await;
    assert_eq!(done.state.current, StateType::Failed, "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("property 'payload': is not JSON")),
        "{lines:?}"
    );
    // Only the refused message reached the server.
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kestras_newer_package_names_run_the_same_tasks() {
    let (base, seen) = serve().await;
    let setup = start();
    let names = [
        (
            "io.kestra.plugin.slack.notifications.SlackIncomingWebhook",
            "Slack",
        ),
        ("io.kestra.plugin.slack.SlackIncomingWebhook", "Slack"),
        ("io.kestra.plugin.discord.DiscordIncomingWebhook", "Discord"),
        (
            "io.kestra.plugin.microsoft365.teams.TeamsIncomingWebhook",
            "Teams",
        ),
        (
            "io.kestra.plugin.googleworkspace.chat.GoogleChatIncomingWebhook",
            "Google Chat",
        ),
    ];
    let mut flow = String::from("id: aliases\nnamespace: company.team\ntasks:\n");
    for (i, (name, _)) in names.iter().enumerate() {
        flow.push_str(&format!(
            "  - id: t{i}\n    type: {name}\n    url: \"{base}/hook/{i}/{{{{ secret('K') }}}}\"\n    payload: '{{\"text\": \"via {name}\"}}'\n"
        ));
    }
    let (done, lines) = run(&setup, &flow).await;
    assert_eq!(done.state.current, StateType::Success, "{lines:?}");
    let seen = seen.lock().unwrap().clone();
    let expected: Vec<(String, String, Value)> = names
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            (
                format!("/hook/{i}/{K}"),
                "application/json".to_owned(),
                json!({ "text": format!("via {name}") }),
            )
        })
        .collect();
    assert_eq!(seen, expected);
    for (i, (_, service)) in names.iter().enumerate() {
        let line = format!("{service} notification sent to {base}/hook/{i}/****");
        assert!(lines.contains(&line), "{line} not in {lines:?}");
    }
    assert!(lines.iter().all(|l| !l.contains(K)), "{lines:?}");
}
