//! SendGridMailSend against a local HTTP server standing in for SendGrid's v3 API (the
//! runner is given its base URL, as `SAKER_SENDGRID_API_URL` gives it to a server): the JSON
//! body SendGrid documents, the API key as a bearer token that reaches the server and no log
//! line, output or stored byte, and a refused key failing with SendGrid's answer.

mod common;

use std::sync::{Arc, Mutex};

use axum::body::to_bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use common::data_dir::DataDir;
use saker_engine::runner::SendGridMailSend;
use saker_model::{DEFAULT_TENANT, StateType};
use saker_storage::StorageUri;
use serde_json::{Value, json};

const KEY: &str = "SG.test-Key-Vq81Lx0Zr";
const SENDGRID: &str = "io.kestra.plugin.notifications.sendgrid.SendGridMailSend";

/// What the server received: path, Authorization header and JSON body of each request.
type Seen = Arc<Mutex<Vec<(String, String, Value)>>>;

/// Answers 202 with an empty body and an `X-Message-Id`, as SendGrid does, to the right
/// key; 401 with SendGrid's error JSON to any other.
async fn serve() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = axum::Router::new().fallback({
        let seen = seen.clone();
        move |request: axum::extract::Request| {
            let seen = seen.clone();
            async move {
                let (parts, body) = request.into_parts();
                let body = to_bytes(body, 1 << 20).await.unwrap();
                let auth = parts
                    .headers
                    .get(header::AUTHORIZATION)
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let authorized = auth == format!("Bearer {KEY}");
                seen.lock()
                    .unwrap()
                    .push((parts.uri.path().to_owned(), auth, json));
                let answer: Response = if authorized {
                    (StatusCode::ACCEPTED, [("x-message-id", "msg-42")], "").into_response()
                } else {
                    (
                        StatusCode::UNAUTHORIZED,
                        r#"{"errors":[{"message":"The provided authorization grant is invalid, expired, or revoked"}]}"#,
                    )
                        .into_response()
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

fn start(base: &str) -> DataDir {
    let base = base.to_owned();
    DataDir::start(move |dir, parts| {
        parts.secrets = Arc::new(common::KeyedSecrets::new([
            ("SENDGRID_KEY", KEY.to_owned()),
            ("OLD_KEY", "SG.revoked-Key-Pp27".to_owned()),
        ]));
        parts.sealer = Some(common::data_dir::sealer());
        parts.storage = Some(common::data_dir::storage(dir));
        parts
            .registry
            .register(SENDGRID, Arc::new(SendGridMailSend::with_api_url(&base)));
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mail_reaches_the_api_as_sendgrid_documents_it_and_the_key_is_never_shown() {
    let (base, seen) = serve().await;
    let data = start(&base);
    let uri = StorageUri::namespace_files("company.team")
        .unwrap()
        .join("report.csv")
        .unwrap();
    let storage = data.engine.files().storage().unwrap().clone();
    storage.put(DEFAULT_TENANT, &uri, b"a,b\n1,2\n").unwrap();
    let flow = format!(
        r#"
id: sendgrid
namespace: company.team
tasks:
  - id: send
    type: {SENDGRID}
    sendgridApiKey: "{{{{ secret('SENDGRID_KEY') }}}}"
    from: Saker <saker@example.com>
    to:
      - ada@example.com
      - bob@example.com
    cc:
      - carol@example.com
    subject: "Flow {{{{ flow.id }}}} ran"
    textContent: plain body
    htmlContent: "<p>html body</p>"
    attachments:
      - name: report.csv
        uri: "{uri}"
        contentType: text/csv
"#
    );
    let done = data.run(&flow).await;
    let lines = data.messages(&done);
    assert_eq!(done.state.current, StateType::Success, "{lines:?}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (path, auth, body) = &seen[0];
    assert_eq!(path, "/v3/mail/send");
    assert_eq!(auth, &format!("Bearer {KEY}"));
    let csv = base64::engine::general_purpose::STANDARD.encode(b"a,b\n1,2\n");
    assert_eq!(
        body,
        &json!({
            "personalizations": [{
                "to": [{"email": "ada@example.com"}, {"email": "bob@example.com"}],
                "cc": [{"email": "carol@example.com"}],
                "subject": "Flow sendgrid ran",
            }],
            "from": {"email": "saker@example.com", "name": "Saker"},
            "subject": "Flow sendgrid ran",
            "content": [
                {"type": "text/plain", "value": "plain body"},
                {"type": "text/html", "value": "<p>html body</p>"},
            ],
            "attachments": [{
                "content": csv,
                "filename": "report.csv",
                "type": "text/csv",
                "disposition": "attachment",
            }],
        })
    );
    let run = done.task_run("send").unwrap();
    assert_eq!(run.outputs["statusCode"], 202);
    assert_eq!(run.outputs["body"], "");
    assert_eq!(run.outputs["headers"]["x-message-id"], "msg-42");
    assert!(lines.iter().all(|l| !l.contains(KEY)), "{lines:?}");
    assert!(!serde_json::to_string(&done).unwrap().contains(KEY));
    let dir = data.dir;
    drop(data.engine);
    for path in common::files_under(dir.path()) {
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(KEY),
            "{} holds the key",
            path.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_fails_with_sendgrids_answer_and_without_the_key() {
    let (base, seen) = serve().await;
    let data = start(&base);
    let done = data
        .run(&format!(
            r#"
id: refused
namespace: company.team
tasks:
  - id: send
    type: {SENDGRID}
    sendgridApiKey: "{{{{ secret('OLD_KEY') }}}}"
    from: saker@example.com
    to: [ada@example.com]
    textContent: hello
"#
        ))
        .await;
    let lines = data.messages(&done);
    assert_eq!(done.state.current, StateType::Failed, "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains(&format!(
            "SendGrid {base}/v3/mail/send answered 401 Unauthorized: {{\"errors\""
        ))),
        "{lines:?}"
    );
    assert!(
        lines.iter().all(|l| !l.contains("SG.revoked-Key-Pp27")),
        "{lines:?}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);

    // Without a body SendGrid sends nothing: refused before any request.
    let done = data
        .run(&format!(
            "id: nobody\nnamespace: company.team\ntasks:\n  - id: send\n    type: {SENDGRID}\n    sendgridApiKey: k\n    from: a@example.com\n    to: [b@example.com]\n"
        ))
        .await;
    let lines = data.messages(&done);
    assert_eq!(done.state.current, StateType::Failed, "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("property 'htmlContent': or textContent is required")),
        "{lines:?}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}
