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

/// [`start`], with the execution-summary tasks, which read executions from the store.
fn start_with_summaries() -> Setup {
    Setup::start(|_, parts| {
        parts.secrets = Arc::new(common::KeyedSecrets::new([("K", K.to_owned())]));
        parts.sealer = Some(common::data_dir::sealer());
        parts.registry = parts
            .registry
            .clone()
            .with_execution_notifications(parts.store.clone());
    })
}

/// The only request the server received.
fn only(seen: &Seen) -> (String, Value) {
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let (path, _, body) = seen.into_iter().next().unwrap();
    (path, body)
}

/// Kestra's own blueprints give SlackExecution a `payload`, which the task accepts from the
/// incoming webhook and replaces with the summary: it validates, runs, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_execution_accepts_the_inherited_payload_and_sends_the_summary() {
    let (base, seen) = serve().await;
    let setup = start_with_summaries();
    let flow = format!(
        r#"
id: blueprint
namespace: company.team
tasks:
  - id: alert
    type: io.kestra.plugin.slack.notifications.SlackExecution
    url: "{base}/hook"
    payload: "The workflow execution {{{{ execution.id }}}} failed"
"#
    );
    let (done, lines) = run(&setup, &flow).await;
    assert_eq!(done.state.current, StateType::Success, "{lines:?}");
    assert!(
        lines.iter().any(|l| l.starts_with("payload is not sent")),
        "{lines:?}"
    );
    let (path, body) = only(&seen);
    assert_eq!(path, "/hook");
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .starts_with("*[company.team] blueprint"),
        "{body}"
    );
    assert!(
        !body.to_string().contains("The workflow execution"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_execution_in_errors_reports_the_task_that_failed() {
    let (base, seen) = serve().await;
    let setup = start_with_summaries();
    let flow = format!(
        r#"
id: summary
namespace: company.team
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: fine
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: broken on purpose
errors:
  - id: alert
    type: io.kestra.plugin.slack.notifications.SlackExecution
    url: "{base}/services/{{{{ secret('K') }}}}"
    customMessage: "on-call: look at {{{{ flow.id }}}}"
    customFields:
      Team: data
      Attempts: 3
"#
    );
    let (done, lines) = run(&setup, &flow).await;
    assert_eq!(done.state.current, StateType::Failed, "{lines:?}");
    assert!(
        lines.contains(&format!("Slack notification sent to {base}/services/****")),
        "{lines:?}"
    );
    let (path, body) = only(&seen);
    assert_eq!(path, format!("/services/{K}"));
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with("*[company.team] summary ➛ RUNNING*\n> Failed on task `boom` after 0:00:"),
        "{text}"
    );
    assert_eq!(
        body["blocks"][0]["text"]["text"],
        "on-call: look at summary"
    );
    assert_eq!(body["blocks"][1]["text"]["text"], text);
    let attachment = &body["attachments"][0];
    assert_eq!(attachment["color"], "danger");
    let start = done.state.start_date().unwrap().timestamp();
    assert_eq!(attachment["ts"], start);
    let fields: Vec<(String, Value)> = attachment["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["title"].as_str().unwrap().to_owned(), f["value"].clone()))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("Namespace".to_owned(), json!("company.team")),
            ("Flow ID".to_owned(), json!("summary")),
            ("Execution ID".to_owned(), json!(done.id)),
            ("Execution Status".to_owned(), json!("RUNNING")),
            ("Team".to_owned(), json!("data")),
            ("Attempts".to_owned(), json!(3)),
            ("Final task ID".to_owned(), json!("boom")),
        ]
    );
    assert!(lines.iter().all(|l| !l.contains(K)), "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_execution_reports_another_execution_of_its_namespace_only() {
    let (base, seen) = serve().await;
    let setup = start_with_summaries();
    let (reported, lines) = run(
        &setup,
        "id: nightly\nnamespace: company.team.etl\ntasks:\n  - id: load\n    type: io.kestra.plugin.core.log.Log\n    message: loaded\n",
    )
    .await;
    assert_eq!(reported.state.current, StateType::Success, "{lines:?}");
    let reporter = |namespace: &str| {
        format!(
            "id: report\nnamespace: {namespace}\ntasks:\n  - id: alert\n    type: io.kestra.plugin.notifications.slack.SlackExecution\n    url: \"{base}/hook\"\n    executionId: {}\n    channel: \"#alerts\"\n",
            reported.id
        )
    };
    let (done, lines) = run(&setup, &reporter("company.team")).await;
    assert_eq!(done.state.current, StateType::Success, "{lines:?}");
    let (_, body) = only(&seen);
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with("*[company.team.etl] nightly ➛ SUCCESS*\n> Succeeded after 0:00:"),
        "{text}"
    );
    assert_eq!(body["channel"], "#alerts");
    let attachment = &body["attachments"][0];
    assert_eq!(attachment["color"], "good");
    let fields = attachment["fields"].as_array().unwrap();
    assert_eq!(fields[2]["value"], json!(reported.id));
    assert_eq!(fields.last().unwrap()["value"], "load");

    // A flow of another namespace may not read it; nothing is sent.
    let (done, lines) = run(&setup, &reporter("company.other")).await;
    assert_eq!(done.state.current, StateType::Failed, "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains(&format!(
            "property 'executionId': execution '{}' is of namespace 'company.team.etl'",
            reported.id
        ))),
        "{lines:?}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_execution_reports_the_execution_whose_end_triggered_it() {
    let (base, seen) = serve().await;
    let setup = start_with_summaries();
    // A monitoring flow of another namespace, as Kestra documents the *Execution tasks.
    let monitor = format!(
        r#"
id: monitor
namespace: system.monitoring
tasks:
  - id: alert
    type: io.kestra.plugin.microsoft365.teams.TeamsExecution
    url: "{base}/teams"
    executionId: "{{{{ trigger.executionId }}}}"
    activityTitle: Kestra Teams notification
    customFields:
      Owner: data-team
triggers:
  - id: on-failure
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [FAILED]
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: company.team
        flowId: fragile
"#
    );
    setup
        .engine
        .deploy(saker_model::DEFAULT_TENANT, &monitor)
        .unwrap();
    let (failed, lines) = run(
        &setup,
        "id: fragile\nnamespace: company.team\ntasks:\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n",
    )
    .await;
    assert_eq!(failed.state.current, StateType::Failed, "{lines:?}");
    // The monitor runs once the failure is recorded: wait for what it sends.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while seen.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (path, card) = only(&seen);
    assert_eq!(path, "/teams");
    assert_eq!(card["@type"], "MessageCard");
    assert_eq!(card["themeColor"], "0076D7");
    let summary = card["summary"].as_str().unwrap();
    assert!(
        summary
            .starts_with("*[company.team] fragile ➛ FAILED*\n> Failed on task `boom` after 0:00:"),
        "{summary}"
    );
    let section = &card["sections"][0];
    assert_eq!(section["activityTitle"], "Kestra Teams notification");
    assert_eq!(
        section["facts"],
        json!([
            {"name": "Namespace", "value": "company.team"},
            {"name": "Job", "value": "fragile"},
            {"name": "Execution", "value": failed.id},
            {"name": "Status", "value": "FAILED"},
            {"name": "Owner", "value": "data-team"},
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_execution_sends_its_embeds_and_content() {
    let (base, seen) = serve().await;
    let setup = start_with_summaries();
    let flow = format!(
        r#"
id: chatty
namespace: company.team
tasks:
  - id: work
    type: io.kestra.plugin.core.log.Log
    message: working
  - id: alert
    type: io.kestra.plugin.notifications.discord.DiscordExecution
    url: "{base}/discord/{{{{ secret('K') }}}}"
    username: Kestra
    content: "Run finished:"
    embedList:
      - title: Discord Notification
        color: [255, 0, 16]
    customFields:
      Region: eu
"#
    );
    let (done, lines) = run(&setup, &flow).await;
    assert_eq!(done.state.current, StateType::Success, "{lines:?}");
    let (path, message) = only(&seen);
    assert_eq!(path, format!("/discord/{K}"));
    assert_eq!(message["username"], "Kestra");
    assert_eq!(message["content"], format!("Run finished: {}", done.id));
    let description = format!(
        "Namespace: company.team\nFlow ID: chatty\nExecution ID: {}\nExecution Status: RUNNING\nRegion: eu",
        done.id
    );
    let embeds = message["embeds"].as_array().unwrap();
    assert_eq!(embeds.len(), 2, "{embeds:?}");
    assert_eq!(embeds[0]["title"], "Discord Notification");
    assert_eq!(embeds[0]["color"], (255 << 16) + 16);
    for embed in embeds {
        assert_eq!(embed["description"], description.as_str());
        let footer = embed["footer"]["text"].as_str().unwrap();
        assert!(footer.starts_with("Succeeded after 0:00:"), "{footer}");
    }
    assert!(
        lines.contains(&format!("Discord notification sent to {base}/discord/****")),
        "{lines:?}"
    );
}
