//! The HTTP tasks against a real HTTP server the test starts on 127.0.0.1: what the server
//! received (method, headers, basic auth, body), what the tasks output, a failed status
//! (and `allowFailed`), a download read back with `read()`, and a secret in the URI and a
//! header that reaches the server but no log line, output or stored byte.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use saker_crypto::{Keyring, SecretKey};
use saker_engine::{Engine, EngineParts, KeyringSealer};
use saker_model::{DEFAULT_TENANT, Execution, StateType};
use saker_storage::LocalStorage;
use saker_store::{LogQuery, SqliteStore, Store};
use serde_json::{Map, Value, json};

const K: &str = "http-secret-Vt7q2Lp9";

/// What the server received, one entry a request.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path_and_query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// Starts the server; returns its base URL and what it receives.
async fn serve() -> (String, Log) {
    let seen: Log = Arc::default();
    let app = axum::Router::new().fallback({
        let seen = seen.clone();
        move |request: axum::extract::Request| {
            let seen = seen.clone();
            async move { answer(request, &seen).await }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

/// `/echo` answers with what it received as JSON, `/missing` with 404, `/file.csv` with a
/// CSV attachment, `/empty` with nothing, `/moved` redirects to `/echo` and `/away` to
/// it on another host name (`localhost`), `/login` sets a session cookie.
async fn answer(request: axum::extract::Request, seen: &Log) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, 1 << 20).await.unwrap().to_vec();
    let entry = Seen {
        method: parts.method.to_string(),
        path_and_query: parts.uri.path_and_query().unwrap().to_string(),
        headers: parts.headers.clone(),
        body,
    };
    seen.lock().unwrap().push(entry.clone());
    match parts.uri.path() {
        "/echo" => (
            [(header::CONTENT_TYPE, "application/json")],
            json!({
                "method": entry.method,
                "query": parts.uri.query().unwrap_or_default(),
                "body": String::from_utf8_lossy(&entry.body),
            })
            .to_string(),
        )
            .into_response(),
        "/missing" => (StatusCode::NOT_FOUND, "no such thing").into_response(),
        "/file.csv" => (
            [(
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"report.csv\"",
            )],
            "a,b\n1,2\n",
        )
            .into_response(),
        "/empty" => Response::new(Body::empty()),
        "/login" => (
            [(header::SET_COOKIE, "session=sess-8f3k2m9q; HttpOnly")],
            "welcome",
        )
            .into_response(),
        "/away" => {
            let port = parts.uri.port_u16().or_else(|| {
                let host = parts.headers[header::HOST].to_str().ok()?;
                host.rsplit(':').next()?.parse().ok()
            });
            let location = format!("http://localhost:{}/echo?from=away", port.unwrap());
            (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
        }
        "/moved" => (StatusCode::FOUND, [(header::LOCATION, "/echo?from=moved")]).into_response(),
        _ => StatusCode::BAD_REQUEST.into_response(),
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
    store: Arc<SqliteStore>,
    engine: Engine,
}

fn start() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let store = Arc::new(SqliteStore::open(&data.join("saker.db")).unwrap());
    let mut parts = EngineParts::new(store.clone());
    parts.secrets = Arc::new(common::KeyedSecrets::new([("K", K.to_owned())]));
    parts.sealer = Some(Arc::new(KeyringSealer::new(Keyring::new(
        SecretKey::generate(),
    ))));
    parts.storage = Some(Arc::new(LocalStorage::new(data.join("storage"))));
    Setup {
        _dir: dir,
        data,
        store,
        engine: Engine::start(parts),
    }
}

impl Setup {
    async fn run(&self, tasks: &str) -> Execution {
        let source = format!("id: f\nnamespace: company.team\ntasks:\n{tasks}");
        let (flow, saved) = self.engine.deploy(DEFAULT_TENANT, &source).unwrap();
        let execution = self
            .engine
            .create_execution(DEFAULT_TENANT, flow, saved.flow.revision, Map::new())
            .unwrap();
        tokio::time::timeout(Duration::from_secs(30), self.engine.wait(&execution.id))
            .await
            .expect("the execution did not end")
            .unwrap()
    }

    async fn run_ok(&self, tasks: &str) -> Execution {
        let done = self.run(tasks).await;
        assert_eq!(
            done.state.current,
            StateType::Success,
            "{:?}",
            self.logs(&done)
        );
        done
    }

    fn logs(&self, execution: &Execution) -> Vec<String> {
        self.store
            .list_logs(&LogQuery::new(&execution.id))
            .unwrap()
            .into_iter()
            .map(|l| l.entry.message)
            .collect()
    }
}

fn output<'e>(execution: &'e Execution, task: &str, name: &str) -> &'e Value {
    &execution.task_run(task).unwrap().outputs[name]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_sends_its_headers_and_basic_auth_and_outputs_the_answer() {
    let (base, seen) = serve().await;
    let s = start();
    let done = s
        .run_ok(&format!(
            "  - id: get\n    type: io.kestra.plugin.core.http.Request\n    uri: \"{base}/echo?x=1\"\n    \
             headers:\n      X-Trace: \"trace-{{{{ 40 + 2 }}}}\"\n    auth:\n      type: BASIC\n      \
             username: ada\n      password: lovelace\n  \
             - id: show\n    type: io.kestra.plugin.core.debug.Return\n    \
             format: \"{{{{ outputs.get.code }}}} {{{{ fromJson(outputs.get.body).query }}}}\"\n"
        ))
        .await;
    let request = seen.lock().unwrap()[0].clone();
    assert_eq!(request.method, "GET");
    assert_eq!(request.path_and_query, "/echo?x=1");
    assert_eq!(request.headers["x-trace"], "trace-42");
    let basic = base64::engine::general_purpose::STANDARD.encode("ada:lovelace");
    assert_eq!(request.headers["authorization"], format!("Basic {basic}"));
    assert_eq!(output(&done, "get", "code"), 200);
    assert_eq!(output(&done, "get", "uri"), &format!("{base}/echo?x=1"));
    assert_eq!(
        output(&done, "get", "headers")["content-type"],
        json!(["application/json"])
    );
    let body: Value = serde_json::from_str(output(&done, "get", "body").as_str().unwrap()).unwrap();
    assert_eq!(body["method"], "GET");
    assert_eq!(output(&done, "show", "value"), "200 x=1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_sends_its_json_body_and_form_data_is_url_encoded() {
    let (base, seen) = serve().await;
    let s = start();
    let done = s
        .run_ok(&format!(
            "  - id: post\n    type: io.kestra.plugin.fs.http.Request\n    uri: {base}/echo\n    \
             method: POST\n    contentType: application/json\n    \
             body: '{{\"title\": \"Kestra Pen\"}}'\n    auth:\n      type: BEARER\n      token: tok-123\n  \
             - id: form\n    type: io.kestra.plugin.core.http.Request\n    uri: {base}/echo\n    \
             method: POST\n    formData:\n      user: ada lovelace\n      n: 3\n"
        ))
        .await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].headers["content-type"], "application/json");
    assert_eq!(seen[0].headers["authorization"], "Bearer tok-123");
    assert_eq!(seen[0].body, br#"{"title": "Kestra Pen"}"#);
    assert_eq!(
        seen[1].headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(seen[1].body, b"user=ada+lovelace&n=3");
    let body: Value =
        serde_json::from_str(output(&done, "post", "body").as_str().unwrap()).unwrap();
    assert_eq!(body["body"], r#"{"title": "Kestra Pen"}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_status_fails_the_task_unless_allowed() {
    let (base, _seen) = serve().await;
    let s = start();
    let failed = s
        .run(&format!(
            "  - id: get\n    type: io.kestra.plugin.core.http.Request\n    uri: {base}/missing\n"
        ))
        .await;
    assert_eq!(failed.state.current, StateType::Failed);
    let logs = s.logs(&failed);
    assert!(
        logs.iter()
            .any(|l| l.contains("answered 404 Not Found") && l.contains("allowFailed")),
        "{logs:?}"
    );
    let allowed = s
        .run_ok(&format!(
            "  - id: get\n    type: io.kestra.plugin.core.http.Request\n    uri: {base}/missing\n    \
             options:\n      allowFailed: true\n"
        ))
        .await;
    assert_eq!(output(&allowed, "get", "code"), 404);
    assert_eq!(output(&allowed, "get", "body"), "no such thing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_is_stored_and_read_by_the_next_task() {
    let (base, _seen) = serve().await;
    let s = start();
    let done = s
        .run_ok(&format!(
            "  - id: dl\n    type: io.kestra.plugin.core.http.Download\n    uri: {base}/file.csv\n  \
             - id: show\n    type: io.kestra.plugin.core.debug.Return\n    \
             format: \"{{{{ read(outputs.dl.uri) }}}}\"\n"
        ))
        .await;
    let uri = output(&done, "dl", "uri").as_str().unwrap();
    assert!(
        uri.starts_with("kestra:///company/team/f/executions/"),
        "{uri}"
    );
    assert!(uri.ends_with("/report.csv"), "{uri}");
    assert_eq!(output(&done, "dl", "code"), 200);
    assert_eq!(output(&done, "dl", "length"), 8);
    assert_eq!(output(&done, "show", "value"), "a,b\n1,2\n");

    let empty = s
        .run(&format!(
            "  - id: dl\n    type: io.kestra.plugin.core.http.Download\n    uri: {base}/empty\n"
        ))
        .await;
    assert_eq!(empty.state.current, StateType::Failed);
    assert!(
        s.logs(&empty)
            .iter()
            .any(|l| l.contains("failOnEmptyResponse")),
        "{:?}",
        s.logs(&empty)
    );
    let accepted = s
        .run_ok(&format!(
            "  - id: dl\n    type: io.kestra.plugin.core.http.Download\n    uri: {base}/empty\n    \
             failOnEmptyResponse: false\n"
        ))
        .await;
    assert_eq!(output(&accepted, "dl", "length"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_in_the_uri_and_a_header_reaches_the_server_and_nothing_else() {
    let (base, seen) = serve().await;
    let s = start();
    let done = s
        .run_ok(&format!(
            "  - id: req\n    type: io.kestra.plugin.core.http.Request\n    \
             uri: \"{base}/echo?token={{{{ secret('K') }}}}\"\n    \
             headers:\n      X-Api-Key: \"{{{{ secret('K') }}}}\"\n  \
             - id: dl\n    type: io.kestra.plugin.core.http.Download\n    \
             uri: \"{base}/echo?token={{{{ secret('K') }}}}\"\n  \
             - id: show\n    type: io.kestra.plugin.core.log.Log\n    \
             message: \"answer {{{{ outputs.req.body }}}} file {{{{ read(outputs.dl.uri) }}}} uri {{{{ outputs.req.uri }}}}\"\n"
        ))
        .await;
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].path_and_query, format!("/echo?token={K}"));
        assert_eq!(seen[0].headers["x-api-key"], K);
        assert_eq!(seen[1].path_and_query, format!("/echo?token={K}"));
    }
    let logs = s.logs(&done);
    assert!(
        logs.iter()
            .any(|l| l.starts_with("answer ") && l.contains("****")),
        "{logs:?}"
    );
    // A request that fails names its URI masked.
    let failed = s
        .run(&format!(
            "  - id: req\n    type: io.kestra.plugin.core.http.Request\n    \
             uri: \"{base}/missing?token={{{{ secret('K') }}}}\"\n"
        ))
        .await;
    assert_eq!(failed.state.current, StateType::Failed);
    let failed_logs = s.logs(&failed);
    assert!(
        failed_logs
            .iter()
            .any(|l| l.contains("/missing?token=****") && l.contains("404")),
        "{failed_logs:?}"
    );
    for execution in [&done, &failed] {
        let text = serde_json::to_string(execution).unwrap();
        assert!(!text.contains(K), "an execution holds the secret");
        for line in s.logs(execution) {
            assert!(!line.contains(K), "a log line holds the secret");
        }
    }
    drop(s.engine);

    // Every byte under the data directory: storage, database, write-ahead log.
    let b64 = base64::engine::general_purpose::STANDARD.encode(K);
    let paths = common::files_under(&s.data);
    assert!(
        paths
            .iter()
            .any(|p| p.components().any(|c| c.as_os_str() == "dl")),
        "{paths:?}"
    );
    for path in paths {
        let bytes = std::fs::read(&path).unwrap();
        for (name, needle) in [
            ("secret", K),
            ("base64 of the secret", b64.trim_end_matches('=')),
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{} holds the {name}",
                path.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_fails_with_the_cause_and_the_uri_masked() {
    let s = start();
    let done = s
        .run(
            "  - id: req\n    type: io.kestra.plugin.core.http.Request\n    \
             uri: \"http://127.0.0.1:1/x?token={{ secret('K') }}\"\n",
        )
        .await;
    assert_eq!(done.state.current, StateType::Failed);
    let logs = s.logs(&done);
    assert!(
        logs.iter()
            .any(|l| l.contains("GET http://127.0.0.1:1/x?token=****: ")
                && l.to_ascii_lowercase().contains("connect")),
        "{logs:?}"
    );
    assert!(logs.iter().all(|l| !l.contains(K)), "{logs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_form_sends_text_fields_and_files_of_the_execution() {
    let (base, seen) = serve().await;
    let s = start();
    s.run_ok(&format!(
        "  - id: dl\n    type: io.kestra.plugin.core.http.Download\n    uri: {base}/file.csv\n  \
         - id: upload\n    type: io.kestra.plugin.core.http.Request\n    uri: {base}/echo\n    \
         method: POST\n    contentType: multipart/form-data\n    formData:\n      title: pen\n      \
         file: \"{{{{ outputs.dl.uri }}}}\"\n      named:\n        name: data.csv\n        \
         content: \"{{{{ outputs.dl.uri }}}}\"\n"
    ))
    .await;
    let upload = seen.lock().unwrap()[1].clone();
    let content_type = upload.headers["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("multipart/form-data; boundary="),
        "{content_type}"
    );
    let body = String::from_utf8(upload.body).unwrap();
    for expected in [
        "name=\"title\"\r\n\r\npen\r\n",
        "name=\"file\"; filename=\"report.csv\"",
        "name=\"named\"; filename=\"data.csv\"",
    ] {
        assert!(body.contains(expected), "{expected:?} not in {body:?}");
    }
    assert_eq!(body.matches("a,b\n1,2\n").count(), 2, "{body:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed_unless_told_not_to() {
    let (base, seen) = serve().await;
    let s = start();
    let done = s
        .run_ok(&format!(
            "  - id: follow\n    type: io.kestra.plugin.core.http.Request\n    uri: {base}/moved\n  \
             - id: stay\n    type: io.kestra.plugin.core.http.Request\n    uri: {base}/moved\n    \
             options:\n      followRedirects: false\n    \
             sslOptions:\n      insecureTrustAllCertificates: true\n"
        ))
        .await;
    // Turning certificate checks off is said in the task's log.
    assert!(
        s.logs(&done)
            .iter()
            .any(|l| l.contains("certificate is not checked")),
        "{:?}",
        s.logs(&done)
    );
    assert_eq!(output(&done, "follow", "code"), 200);
    assert_eq!(output(&done, "stay", "code"), 302);
    assert_eq!(
        output(&done, "stay", "headers")["location"],
        json!(["/echo?from=moved"])
    );
    let paths: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.path_and_query.clone())
        .collect();
    assert_eq!(paths, ["/moved", "/echo?from=moved", "/moved"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_to_a_request_holding_a_secret_is_sealed_even_when_it_does_not_echo_it() {
    let (base, _seen) = serve().await;
    let s = start();
    let done = s
        .run_ok(&format!(
            "  - id: req\n    type: io.kestra.plugin.core.http.Request\n    uri: {base}/echo?plain=1\n    \
             auth:\n      type: BEARER\n      token: \"{{{{ secret('K') }}}}\"\n  \
             - id: login\n    type: io.kestra.plugin.core.http.Request\n    uri: {base}/login\n    \
             auth:\n      type: BASIC\n      username: ann\n      password: \"{{{{ secret('K') }}}}\"\n  \
             - id: plain\n    type: io.kestra.plugin.core.http.Request\n    uri: {base}/echo?plain=2\n  \
             - id: probe\n    type: io.kestra.plugin.core.log.Log\n    message: \"kind application/json\"\n  \
             - id: use\n    type: io.kestra.plugin.core.debug.Return\n    \
             format: \"{{{{ fromJson(outputs.req.body).query }}}}\"\n"
        ))
        .await;
    // The server was handed the secret and may answer with it in any form.
    for name in ["body", "uri"] {
        assert!(
            output(&done, "req", name).get("$sealed").is_some(),
            "{name}: {:?}",
            output(&done, "req", name)
        );
    }
    assert_eq!(output(&done, "req", "code"), 200);
    // The same request without a secret is kept as it is.
    assert!(output(&done, "plain", "body").is_string());
    // A cookie set in answer to a secret is a credential derived from it.
    let cookie = &output(&done, "login", "headers")["set-cookie"][0];
    assert!(cookie.get("$sealed").is_some(), "{cookie:?}");
    assert!(
        s.logs(&done).contains(&"kind application/json".to_owned()),
        "{:?}",
        s.logs(&done)
    );
    // A sealed answer is opened for the tasks that read it (and sealed again there).
    assert!(output(&done, "use", "value").get("$sealed").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_holding_a_secret_is_not_redirected_to_another_host() {
    let (base, seen) = serve().await;
    let s = start();
    let plain = s
        .run_ok(&format!(
            "  - id: req\n    type: io.kestra.plugin.core.http.Request\n    uri: {base}/away\n"
        ))
        .await;
    assert_eq!(output(&plain, "req", "code"), 200);
    assert_eq!(seen.lock().unwrap().len(), 2, "followed to localhost");
    let secret = s
        .run(&format!(
            "  - id: req\n    type: io.kestra.plugin.core.http.Request\n    uri: {base}/away\n    \
             headers:\n      X-Api-Key: \"{{{{ secret('K') }}}}\"\n"
        ))
        .await;
    assert_eq!(secret.state.current, StateType::Failed);
    let logs = s.logs(&secret);
    assert!(
        logs.iter().any(|l| l.contains("redirects to another host")),
        "{logs:?}"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "the redirect was not followed");
    assert_eq!(seen[2].path_and_query, "/away");
}
