//! The core tasks around an execution, through the engine: `Labels` sets labels later tasks
//! read (never one derived from a secret), `Echo` logs, `log.Fetch` stores and counts the
//! lines of this execution or of one it may read, `Assert` fails naming its false conditions (masked), and
//! `Exit` ends the execution in the state it names, killing what still runs.

mod common;

use std::sync::Arc;
use std::time::Duration;

use saker_crypto::{Keyring, SecretKey};
use saker_engine::{Engine, EngineParts, KeyringSealer};
use saker_model::{DEFAULT_TENANT, Execution, Level, StateType};
use saker_storage::{LocalStorage, StorageUri};
use saker_store::{LogQuery, SqliteStore, Store};
use serde_json::{Map, Value, json};
use tempfile::TempDir;

const TOKEN: &str = "tok-5f1e9a0c7b3d";

/// An engine with the secret TOKEN, a sealer and an internal storage in a folder that lives
/// as long as the returned `TempDir`.
fn engine() -> (Engine, Arc<SqliteStore>, TempDir) {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let storage = tempfile::tempdir().unwrap();
    let mut parts = EngineParts::new(store.clone());
    parts.secrets = Arc::new(common::KeyedSecrets::new([("TOKEN", TOKEN.to_owned())]));
    parts.storage = Some(Arc::new(LocalStorage::new(storage.path())));
    parts.sealer = Some(Arc::new(KeyringSealer::new(Keyring::new(
        SecretKey::generate(),
    ))));
    (Engine::start(parts), store, storage)
}

/// The lines of the file a Fetch task run stored, as JSON objects.
fn fetched(engine: &Engine, e: &Execution, task: &str) -> Vec<Value> {
    let uri = e.task_run(task).unwrap().outputs["uri"].as_str().unwrap();
    assert!(uri.ends_with(".ion"), "{uri}");
    let storage = engine.files().storage().unwrap().clone();
    let bytes = storage
        .get(DEFAULT_TENANT, &StorageUri::parse(uri).unwrap())
        .unwrap();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

async fn start(engine: &Engine, source: &str, inputs: Value) -> Execution {
    let (flow, saved) = engine.deploy(DEFAULT_TENANT, source).unwrap();
    let inputs = match inputs {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    engine
        .create_execution(DEFAULT_TENANT, flow, saved.flow.revision, inputs)
        .unwrap()
}

async fn run(engine: &Engine, source: &str, inputs: Value) -> Execution {
    let execution = start(engine, source, inputs).await;
    tokio::time::timeout(Duration::from_secs(50), engine.wait(&execution.id))
        .await
        .expect("the execution did not end")
        .expect("the execution exists")
}

fn logs(store: &SqliteStore, id: &str) -> Vec<(Level, Option<String>, String)> {
    store
        .list_logs(&LogQuery::new(id))
        .unwrap()
        .into_iter()
        .map(|l| (l.entry.level, l.entry.task_id, l.entry.message))
        .collect()
}

fn messages(store: &SqliteStore, id: &str) -> String {
    logs(store, id)
        .into_iter()
        .map(|(_, _, message)| message)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `source` to its end, checks it FAILED and that its log says `expected`; returns the
/// execution and its log.
async fn fails_saying(
    engine: &Engine,
    store: &SqliteStore,
    source: &str,
    inputs: Value,
    expected: &str,
) -> (Execution, String) {
    let done = run(engine, source, inputs).await;
    assert_eq!(done.state.current, StateType::Failed, "{source}");
    let text = messages(store, &done.id);
    assert!(text.contains(expected), "{expected}: {text}");
    (done, text)
}

fn state_of(e: &Execution, task: &str) -> StateType {
    e.task_run(task)
        .unwrap_or_else(|| panic!("no run of {task}"))
        .state
        .current
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_are_stored_on_the_execution_and_read_by_later_tasks() {
    let (engine, store, _storage) = engine();
    let source = r#"
id: labelled
namespace: company.team
labels:
  team: before
tasks:
  - id: map
    type: io.kestra.plugin.core.execution.Labels
    labels:
      team: "{{ 'da' ~ 'ta' }}"
      run: "{{ taskrun.id }}"
  - id: list
    type: io.kestra.plugin.core.execution.Labels
    labels:
      - key: "{{ 'env' }}"
        value: prod
  - id: json
    type: io.kestra.plugin.core.execution.Labels
    labels: '{"size": 3}'
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{{ labels.team }}/{{ labels.env }}/{{ labels.size }}"
"#;
    let done = run(&engine, source, Value::Null).await;
    assert_eq!(done.state.current, StateType::Success, "{done:?}");
    assert_eq!(
        done.task_run("read").unwrap().outputs["value"],
        "data/prod/3"
    );
    let stored = store.get_execution(&done.id).unwrap().unwrap();
    assert_eq!(stored.labels["team"], "data");
    assert_eq!(stored.labels["env"], "prod");
    assert_eq!(stored.labels["size"], "3");
    assert_eq!(
        stored.labels["run"],
        json!(done.task_run("map").unwrap().id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_derived_from_a_secret_is_refused_naming_it() {
    let (engine, store, _storage) = engine();
    let by_taint = r#"
id: secretlabel
namespace: company.team
tasks:
  - id: labels
    type: io.kestra.plugin.core.execution.Labels
    labels:
      harmless: fine
      token: "prefix-{{ secret('TOKEN') }}"
"#;
    let template = r#"
id: secretlabeljson
namespace: company.team
tasks:
  - id: labels
    type: io.kestra.plugin.core.execution.Labels
    labels: '{"ok": "1", "copied": "{{ secret(''TOKEN'') }}"}'
"#;
    // A value equal to a secret this execution resolved, reaching the task untainted.
    let by_value = r#"
id: secretlabelvalue
namespace: company.team
inputs:
  - id: guess
    type: STRING
tasks:
  - id: use
    type: io.kestra.plugin.core.log.Log
    message: "{{ secret('TOKEN') | length }}"
  - id: labels
    type: io.kestra.plugin.core.execution.Labels
    labels:
      guessed: "{{ inputs.guess }}"
"#;
    for (source, inputs, label) in [
        (by_taint, Value::Null, "token"),
        (template, Value::Null, "copied"),
        (by_value, json!({"guess": TOKEN}), "guessed"),
    ] {
        let expected = format!("label '{label}' is derived from a secret");
        let (done, text) = fails_saying(&engine, &store, source, inputs, &expected).await;
        assert_eq!(state_of(&done, "labels"), StateType::Failed);
        let stored = store.get_execution(&done.id).unwrap().unwrap();
        assert!(stored.labels.get(label).is_none(), "{:?}", stored.labels);
        assert!(stored.labels.get("harmless").is_none());
        assert!(!text.contains(TOKEN), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_labels_and_bad_shapes_are_refused_saying_why() {
    let (engine, store, _storage) = engine();
    let source = r#"
id: systemlabel
namespace: company.team
tasks:
  - id: labels
    type: io.kestra.plugin.core.execution.Labels
    labels:
      system.correlationId: mine
"#;
    let done = run(&engine, source, Value::Null).await;
    assert_eq!(done.state.current, StateType::Failed);
    let text = messages(&store, &done.id);
    assert!(
        text.contains("'system.correlationId' is a system label"),
        "{text}"
    );

    let source = r#"
id: notjson
namespace: company.team
tasks:
  - id: labels
    type: io.kestra.plugin.core.execution.Labels
    labels: "{{ 'not json' }}"
"#;
    let expected = "not a JSON map of labels";
    fails_saying(&engine, &store, source, Value::Null, expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_logs_its_format_at_its_level_with_secrets_masked() {
    let (engine, store, _storage) = engine();
    let source = r#"
id: echo
namespace: company.team
tasks:
  - id: plain
    type: io.kestra.plugin.core.debug.Echo
    format: "hello from {{ flow.id }}"
  - id: warned
    type: io.kestra.plugin.core.debug.Echo
    format: "token {{ secret('TOKEN') }}"
    level: WARN
"#;
    let done = run(&engine, source, Value::Null).await;
    assert_eq!(done.state.current, StateType::Success);
    let lines = logs(&store, &done.id);
    assert!(lines.contains(&(
        Level::Info,
        Some("plain".to_owned()),
        "hello from echo".to_owned()
    )));
    assert!(lines.contains(&(
        Level::Warn,
        Some("warned".to_owned()),
        "token ****".to_owned()
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_stores_and_counts_the_lines_of_earlier_tasks_by_task_and_level() {
    let (engine, _, _storage) = engine();
    let source = r#"
id: fetching
namespace: company.team
tasks:
  - id: one
    type: io.kestra.plugin.core.debug.Echo
    format: first
  - id: two
    type: io.kestra.plugin.core.log.Log
    message: ["second", "third"]
  - id: bad
    type: io.kestra.plugin.core.debug.Echo
    format: "{{ secret('TOKEN') }} went wrong"
    level: ERROR
  - id: quiet
    type: io.kestra.plugin.core.debug.Echo
    format: not counted at INFO
    level: DEBUG
  - id: all
    type: io.kestra.plugin.core.log.Fetch
  - id: some
    type: io.kestra.plugin.core.log.Fetch
    tasksId: [one, bad]
  - id: errors
    type: io.kestra.plugin.core.log.Fetch
    level: ERROR
  - id: debug
    type: io.kestra.plugin.core.log.Fetch
    executionId: "{{ execution.id }}"
    level: DEBUG
"#;
    let done = run(&engine, source, Value::Null).await;
    assert_eq!(done.state.current, StateType::Success, "{done:?}");
    let size = |task: &str| done.task_run(task).unwrap().outputs["size"].clone();
    assert_eq!(size("all"), json!(4));
    assert_eq!(size("some"), json!(2));
    assert_eq!(size("errors"), json!(1));
    assert_eq!(size("debug"), json!(5));

    // The stored file: Kestra's field names, lines as the store holds them (masked).
    let some = fetched(&engine, &done, "some");
    let said: Vec<(&str, &str, &str)> = some
        .iter()
        .map(|l| {
            (
                l["taskId"].as_str().unwrap(),
                l["level"].as_str().unwrap(),
                l["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        said,
        [
            ("one", "INFO", "first"),
            ("bad", "ERROR", "**** went wrong")
        ]
    );
    assert_eq!(some[0]["executionId"], json!(done.id));
    assert_eq!(some[0]["namespace"], "company.team");
    assert_eq!(fetched(&engine, &done, "all").len(), 4);
    assert_eq!(fetched(&engine, &done, "debug").len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetched_lines_holding_a_secret_of_the_fetching_execution_are_stored_sealed() {
    let (engine, _, storage) = engine();
    // Another execution prints the value without knowing it is a secret: its log keeps it.
    let talker = format!(
        "id: talker\nnamespace: company.team.child\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.debug.Echo\n    format: \"said {TOKEN}\"\n"
    );
    let told = run(&engine, &talker, Value::Null).await;
    let fetcher = r#"
id: fetcher
namespace: company.team
inputs:
  - id: target
    type: STRING
tasks:
  - id: knows
    type: io.kestra.plugin.core.log.Log
    message: "{{ secret('TOKEN') | length }}"
  - id: fetch
    type: io.kestra.plugin.core.log.Fetch
    executionId: "{{ inputs.target }}"
    namespace: company.team.child
    flowId: talker
"#;
    let done = run(&engine, fetcher, json!({"target": told.id})).await;
    assert_eq!(done.state.current, StateType::Success, "{done:?}");
    assert_eq!(done.task_run("fetch").unwrap().outputs["size"], json!(1));
    let uri = done.task_run("fetch").unwrap().outputs["uri"]
        .as_str()
        .unwrap();
    let stored = engine
        .files()
        .storage()
        .unwrap()
        .get(DEFAULT_TENANT, &StorageUri::parse(uri).unwrap())
        .unwrap();
    assert!(stored.starts_with(b"\0saker-sealed-file-v1\n"));
    for path in common::files_under(storage.path()) {
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(TOKEN),
            "{} holds the secret",
            path.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_without_an_internal_storage_fails_saying_so() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let engine = Engine::start(EngineParts::new(store.clone()));
    let source = r#"
id: nostorage
namespace: company.team
tasks:
  - id: fetch
    type: io.kestra.plugin.core.log.Fetch
"#;
    let expected = "no internal storage is configured";
    fails_saying(&engine, &store, source, Value::Null, expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_reads_its_namespace_and_those_below_and_refuses_others() {
    let (engine, store, _storage) = engine();
    let echo = |namespace: &str| {
        format!(
            "id: talker\nnamespace: {namespace}\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.debug.Echo\n    format: said\n"
        )
    };
    let other = run(&engine, &echo("company.other"), Value::Null).await;
    let child = run(&engine, &echo("company.team.child"), Value::Null).await;
    let sibling = run(&engine, &echo("company.team"), Value::Null).await;
    let fetcher = r#"
id: fetcher
namespace: company.team
inputs:
  - id: target
    type: STRING
  - id: namespace
    type: STRING
    required: false
tasks:
  - id: fetch
    type: io.kestra.plugin.core.log.Fetch
    executionId: "{{ inputs.target }}"
    namespace: "{{ inputs.namespace ?? '' }}"
    flowId: talker
"#;
    let done = run(
        &engine,
        fetcher,
        json!({"target": child.id, "namespace": "company.team.child"}),
    )
    .await;
    assert_eq!(done.state.current, StateType::Success, "{done:?}");
    assert_eq!(done.task_run("fetch").unwrap().outputs["size"], json!(1));

    // Without a namespace the flow's own is meant: the sibling flow of the same namespace.
    let done = run(&engine, fetcher, json!({"target": sibling.id})).await;
    assert_eq!(done.task_run("fetch").unwrap().outputs["size"], json!(1));

    for (inputs, expected) in [
        (
            json!({"target": other.id, "namespace": "company.other"}),
            "may only fetch the logs of executions in 'company.team' and the namespaces below it, not 'company.other'",
        ),
        (
            json!({"target": other.id}),
            "may only fetch the logs of executions in 'company.team' and the namespaces below it, not 'company.other'",
        ),
        (
            json!({"target": child.id}),
            "is of flow company.team.child.talker, not company.team.talker",
        ),
        (
            json!({"target": "nosuchexecution"}),
            "execution 'nosuchexecution' not found",
        ),
    ] {
        fails_saying(&engine, &store, fetcher, inputs, expected).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assert_passes_when_every_condition_holds() {
    let (engine, _, _storage) = engine();
    let source = r#"
id: asserted
namespace: company.team
tasks:
  - id: check
    type: io.kestra.plugin.core.execution.Assert
    conditions:
      - "{{ 1 < 2 }}"
      - "{{ flow.id == 'asserted' }}"
      - "yes"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: ran
"#;
    let done = run(&engine, source, Value::Null).await;
    assert_eq!(done.state.current, StateType::Success);
    assert_eq!(state_of(&done, "check"), StateType::Success);
    assert_eq!(state_of(&done, "after"), StateType::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assert_fails_naming_its_false_conditions_with_secrets_masked() {
    let (engine, store, _storage) = engine();
    let source = r#"
id: assertfails
namespace: company.team
inputs:
  - id: n
    type: INT
tasks:
  - id: check
    type: io.kestra.plugin.core.execution.Assert
    errorMessage: "checks of {{ flow.id }} failed"
    conditions:
      - "{{ inputs.n == 3 }}"
      # Renders 0; not "false", which the secret's comparison below renders too and so
      # adds to the execution's mask set (every later "false" in its log shows as ****).
      - "{{ inputs.n - 3 }}"
      - "{{ secret('TOKEN') == 'a guess' }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: never
"#;
    let expected = "checks of assertfails failed: 2 of 3 assertion(s) failed: `{{ inputs.n - 3 }}` (rendered '0'), \
             `{{ secret('TOKEN') == 'a guess' }}` (rendered '****')";
    let (done, text) = fails_saying(&engine, &store, source, json!({"n": "3"}), expected).await;
    assert_eq!(state_of(&done, "check"), StateType::Failed);
    assert!(done.task_run("after").is_none());
    assert!(!text.contains("`{{ inputs.n == 3 }}`"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_ends_the_execution_in_its_state_without_running_later_tasks() {
    let (engine, _, _storage) = engine();
    for (state, expected) in [
        ("WARNING", StateType::Warning),
        ("KILLED", StateType::Killed),
        ("FAILED", StateType::Failed),
        ("SUCCESS", StateType::Success),
        ("{{ 'cancelled' }}", StateType::Cancelled),
    ] {
        let source = format!(
            r#"
id: exiting
namespace: company.team
tasks:
  - id: before
    type: io.kestra.plugin.core.debug.Return
    format: ran
  - id: exit
    type: io.kestra.plugin.core.execution.Exit
    state: "{state}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: never
"#
        );
        let done = run(&engine, &source, Value::Null).await;
        assert_eq!(done.state.current, expected, "{state}");
        assert_eq!(state_of(&done, "before"), StateType::Success);
        assert_eq!(state_of(&done, "exit"), expected, "{state}");
        assert!(done.task_run("after").is_none(), "{state}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_kills_a_parallel_sibling_that_still_runs() {
    let (engine, _, _storage) = engine();
    let source = r#"
id: exitparallel
namespace: company.team
tasks:
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: long
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT60S
      - id: branch
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          # Lets the sibling's attempt start before Exit kills it.
          - id: settle
            type: io.kestra.plugin.core.flow.Sleep
            duration: PT1S
          - id: exit
            type: io.kestra.plugin.core.execution.Exit
            state: KILLED
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: never
"#;
    let done = run(&engine, source, Value::Null).await;
    assert_eq!(done.state.current, StateType::Killed);
    assert_eq!(state_of(&done, "exit"), StateType::Killed);
    assert_eq!(state_of(&done, "long"), StateType::Killed);
    assert!(done.task_run("after").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_refuses_a_state_an_execution_cannot_end_in() {
    let (engine, store, _storage) = engine();
    let source = r#"
id: badexit
namespace: company.team
tasks:
  - id: exit
    type: io.kestra.plugin.core.execution.Exit
    state: "{{ 'paused' }}"
"#;
    let expected = "'paused' is not a state an execution can exit in";
    fails_saying(&engine, &store, source, Value::Null, expected).await;
}
