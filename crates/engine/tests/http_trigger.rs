//! The HTTP trigger (`io.kestra.plugin.core.http.Trigger`, here under its alias
//! `io.kestra.plugin.fs.http.Trigger`) against a real HTTP server the test starts on
//! 127.0.0.1, with the trigger's ticks driven by the test at chosen instants (no waiting on
//! the clock): it polls at its `interval`, starts the flow only when `responseCondition`
//! holds, hands the answer over as `trigger.code`/`headers`/`body`/`uri`, stops after an
//! execution ended in a `stopAfter` state; a secret in its URI and a header reaches the server
//! but no log line, execution or stored byte (the server echoes it in its body: masked).

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use saker_engine::http_trigger::HttpTriggers;
use saker_engine::trigger::{TriggerRequester, TriggerSecrets};
use saker_engine::{Engine, EngineParts};
use saker_model::{DEFAULT_TENANT, StateType};
use saker_store::SqliteStore;
use serde_json::json;
use zeroize::Zeroizing;

const KEY: &str = "api-key-Jt5Wq8Lz3Rv";

/// The scheduler's secrets: `API_KEY` only, and who asked.
#[derive(Default)]
struct Secrets {
    asked: Mutex<Vec<String>>,
}

impl TriggerSecrets for Secrets {
    fn resolve(
        &self,
        requester: &TriggerRequester,
        key: &str,
        _namespace: Option<&str>,
    ) -> Result<Zeroizing<String>, String> {
        self.asked
            .lock()
            .unwrap()
            .push(requester.trigger_id.clone());
        match key {
            "API_KEY" => Ok(Zeroizing::new(KEY.to_owned())),
            _ => Err(format!("secret '{key}' not found")),
        }
    }
}

/// The server: `/status` answers 401 without the key (query and header), else
/// `{"ready": <from the third call on>, "echo": <the key>}` with an `x-server` header;
/// `/broken` answers 500. Counts the calls.
async fn serve() -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new()
        .route(
            "/status",
            axum::routing::get({
                let calls = calls.clone();
                move |query: axum::extract::RawQuery, headers: HeaderMap| {
                    let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                    async move { status(n, query.0, &headers) }
                }
            }),
        )
        .route(
            "/broken",
            axum::routing::get({
                let calls = calls.clone();
                move || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    async { (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response() }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, calls)
}

fn status(n: usize, query: Option<String>, headers: &HeaderMap) -> Response {
    let header_ok = headers.get("x-api-key").and_then(|v| v.to_str().ok()) == Some(KEY);
    if query.as_deref() != Some(&format!("key={KEY}")) || !header_ok {
        return (StatusCode::UNAUTHORIZED, "no key").into_response();
    }
    (
        [("content-type", "application/json"), ("x-server", "local")],
        json!({ "ready": n >= 2, "echo": KEY }).to_string(),
    )
        .into_response()
}

struct Setup {
    dir: tempfile::TempDir,
    engine: Arc<Engine>,
    triggers: HttpTriggers,
    secrets: Arc<Secrets>,
}

/// The server, and an engine with its HTTP triggers on a data directory of its own.
async fn setup() -> (Setup, String, Arc<AtomicUsize>) {
    let (base, calls) = serve().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("saker.db")).unwrap());
    let mut parts = EngineParts::new(store);
    parts.sealer = Some(common::data_dir::sealer());
    parts.storage = Some(common::data_dir::storage(dir.path()));
    let engine = Arc::new(Engine::start(parts));
    let secrets = Arc::new(Secrets::default());
    let triggers = HttpTriggers::new(engine.clone(), Some(secrets.clone()));
    let setup = Setup {
        dir,
        engine,
        triggers,
        secrets,
    };
    (setup, base, calls)
}

impl Setup {
    fn deploy(&self, source: &str) {
        self.engine.deploy(DEFAULT_TENANT, source).unwrap();
    }
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
}

fn stored_bytes_hold(dir: &Path, needle: &str) -> Vec<String> {
    common::files_under(dir)
        .into_iter()
        .filter(|f| {
            let bytes = std::fs::read(f).unwrap();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
        .map(|f| f.display().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_at_its_interval_fires_when_the_condition_holds_and_stops_after() {
    let (s, base, calls) = setup().await;
    s.deploy(&format!(
                r#"
id: poll
namespace: company.team
tasks:
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ trigger.code }}}} {{{{ json(trigger.body).ready }}}} {{{{ json(trigger.body).echo }}}} {{{{ trigger.headers['x-server'][0] }}}} {{{{ trigger.uri }}}}"
triggers:
  - id: http
    type: io.kestra.plugin.fs.http.Trigger
    uri: "{base}/status?key={{{{ secret('API_KEY') }}}}"
    headers:
      X-Api-Key: "{{{{ secret('API_KEY') }}}}"
    interval: PT10S
    responseCondition: "{{{{ response.statusCode == 200 and json(response.body).ready }}}}"
    stopAfter:
      - SUCCESS
"#
    ));
    // A new trigger polls at once; the answer is not ready yet.
    assert!(s.triggers.tick(at(0)).await.unwrap().is_empty());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Not due before its interval.
    assert!(s.triggers.tick(at(5)).await.unwrap().is_empty());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Due again: ready, the flow starts.
    let fired = s.triggers.tick(at(10)).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].trigger_id, "http");
    assert!(s.secrets.asked.lock().unwrap().iter().all(|t| t == "http"));
    let done = common::flows::wait(&s.engine, &fired[0].execution_id).await;
    let messages = common::flows::messages(s.engine.store().as_ref(), &done.id);
    assert_eq!(done.state.current, StateType::Success, "{messages:?}");
    let trigger = done.trigger.as_ref().unwrap();
    assert_eq!(trigger.type_name, "io.kestra.plugin.core.http.Trigger");
    assert_eq!(
        common::flows::output(&done, "show", "value"),
        &json!(format!("200 true **** local {base}/status?key=****"))
    );
    // It ended SUCCESS, which is in stopAfter: no more polls.
    assert!(s.triggers.tick(at(20)).await.unwrap().is_empty());
    assert!(s.triggers.tick(at(30)).await.unwrap().is_empty());
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // The key reached the server, and nothing Saker keeps.
    let execution = serde_json::to_string(&done).unwrap();
    assert!(!execution.contains(KEY), "{execution}");
    assert!(!messages.join("\n").contains(KEY));
    assert_eq!(
        stored_bytes_hold(s.dir.path(), KEY),
        Vec::<String>::new(),
        "files holding the key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_status_fires_nothing_under_the_default_condition() {
    let (s, base, calls) = setup().await;
    s.deploy(&format!(
        r#"
id: broken
namespace: company.team
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ trigger.code }}}}"
triggers:
  - id: http
    type: io.kestra.plugin.core.http.Trigger
    uri: "{base}/broken"
    interval: PT1M
"#
    ));
    assert!(s.triggers.tick(at(0)).await.unwrap().is_empty());
    assert!(s.triggers.tick(at(60)).await.unwrap().is_empty());
    // Both polls reached the server; the default condition (status < 400) held for none.
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_trigger_polls_afresh_and_a_disabled_one_not_at_all() {
    let (s, base, calls) = setup().await;
    let flow = |interval: &str, disabled: bool| {
        format!(
            "id: change\nnamespace: company.team\ntasks:\n  - id: log\n    type: Log\n    message: hi\ntriggers:\n  - id: http\n    type: io.kestra.plugin.core.http.Trigger\n    uri: \"{base}/broken\"\n    interval: {interval}\n    disabled: {disabled}\n"
        )
    };
    s.deploy(&flow("PT1H", false));
    s.triggers.tick(at(0)).await.unwrap();
    s.triggers.tick(at(60)).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // A new definition polls at once.
    s.deploy(&flow("PT2H", false));
    s.triggers.tick(at(61)).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    s.engine
        .deploy(DEFAULT_TENANT, &flow("PT2H", true))
        .unwrap();
    s.triggers.tick(at(100_000)).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
