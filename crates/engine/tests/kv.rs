//! The KV store through the worker: kv.Set, kv.Get, kv.Delete, kv.GetKeys and `kv()` in the
//! tasks of real flows, run one task after another by the worker (`run_job`) on a SQLite
//! file with the engine's sealer, so that each test can look at the store between tasks and
//! at every stored byte; and once through a whole engine (`Engine::deploy`, the executor).

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use saker_crypto::{Keyring, SecretKey};
use saker_engine::masks::MaskRegistry;
use saker_engine::queue::WorkerJob;
use saker_engine::worker::{WorkerDeps, run_job};
use saker_engine::{KeyringSealer, SecretSource, ValueSealer};
use saker_model::{Execution, Flow, StateType, TaskRun};
use saker_store::{KvStore, LogQuery, SqliteStore, Store};
use serde_json::{Value, json};

const SECRET: &str = "kv-c0py-0f-a-s3cret-9b1e";

struct Harness {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    store: Arc<SqliteStore>,
    deps: WorkerDeps,
}

/// The end of one execution: its task runs and its log lines.
struct Run {
    execution: Execution,
    logs: Vec<String>,
}

impl Run {
    fn state(&self, task: &str) -> StateType {
        self.execution.task_run(task).unwrap().state.current
    }

    fn output(&self, task: &str, name: &str) -> Value {
        self.execution.task_run(task).unwrap().outputs[name].clone()
    }
}

fn harness(sealer: Option<Arc<dyn ValueSealer>>) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let store = Arc::new(SqliteStore::open(&path.join("saker.db")).unwrap());
    let secrets: Arc<dyn SecretSource> =
        Arc::new(common::KeyedSecrets::new([("S", SECRET.to_owned())]));
    let deps = WorkerDeps {
        store: store.clone(),
        registry: saker_engine::runner::Registry::builtin(),
        secrets,
        masks: Arc::new(MaskRegistry::default()),
        globals: Arc::default(),
        protector: saker_engine::sealing::Protector { sealer },
        running: Arc::new(Mutex::new(Default::default())),
        cancelled_early: Arc::default(),
        concurrency: 1,
        confinement: saker_confine::Confinement::new(saker_confine::Settings::default()),
        expression_limits: saker_expr::Limits::default(),
        files: saker_engine::files::ExecutionFiles::new(
            None,
            saker_engine::sealing::Protector { sealer: None },
        ),
    };
    Harness {
        _dir: dir,
        dir: path,
        store,
        deps,
    }
}

fn keyring_sealer() -> Option<Arc<dyn ValueSealer>> {
    Some(Arc::new(KeyringSealer::new(Keyring::new(
        SecretKey::generate(),
    ))))
}

impl Harness {
    /// Runs the flow's tasks in order, as the executor would, until one fails.
    async fn run(&self, source: &str) -> Run {
        let flow: Arc<Flow> = Arc::new(saker_model::parse_flow(source).unwrap_or_else(|d| {
            panic!(
                "{}",
                d.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        }));
        let mut execution = Execution::new("main", &flow.namespace, &flow.id, 1);
        execution.state.transition(StateType::Running);
        self.store.create_execution(&execution).unwrap();
        for task in &flow.tasks {
            let mut run = TaskRun::new(&execution, &task.id);
            run.state.transition(StateType::Running);
            let job = WorkerJob {
                flow: flow.clone(),
                execution: Arc::new(execution.clone()),
                task: Arc::new(task.clone()),
                task_run: run.clone(),
                attempt: 1,
                working_directory: None,
                check: false,
            };
            let result = run_job(&self.deps, job).await;
            self.store.append_logs(&result.logs).unwrap();
            run.state.transition(result.state);
            run.outputs = result.outputs;
            self.store.save_task_run(&run).unwrap();
            execution.task_run_list.push(run);
            if result.state == StateType::Failed {
                break;
            }
        }
        let logs = self
            .store
            .list_logs(&LogQuery::new(&execution.id))
            .unwrap()
            .into_iter()
            .map(|l| l.entry.message)
            .collect();
        self.deps.masks.remove(&execution.id);
        Run { execution, logs }
    }

    /// Every byte the store left on disk (database, WAL, shared memory).
    fn stored_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(&self.dir).unwrap() {
            let path = entry.unwrap().path();
            bytes.extend(std::fs::read(Path::new(&path)).unwrap());
        }
        bytes
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_reads_what_kv_set_wrote_and_the_tasks_manage_keys() {
    let h = harness(keyring_sealer());
    let run = h
        .run(
            r#"
id: kv_flow
namespace: company.team
tasks:
  - id: set
    type: io.kestra.plugin.core.kv.Set
    key: greeting
    value: "hello from {{ flow.id }}"
  - id: set_number
    type: io.kestra.plugin.core.kv.Set
    key: count
    kvType: NUMBER
    value: "41"
  - id: set_elsewhere
    type: io.kestra.plugin.core.kv.Set
    key: shared
    namespace: company
    value: {"hosts": ["a", "b"]}
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ kv('greeting') }} / {{ kv('count') + 1 }} / {{ kv('shared', namespace='company').hosts | join(',') }}"
  - id: get
    type: io.kestra.plugin.core.kv.Get
    key: count
  - id: keys
    type: io.kestra.plugin.core.kv.GetKeys
  - id: delete
    type: io.kestra.plugin.core.kv.Delete
    key: greeting
  - id: delete_again
    type: io.kestra.plugin.core.kv.Delete
    key: greeting
  - id: missing
    type: io.kestra.plugin.core.kv.Get
    key: greeting
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "gone: {{ kv('greeting', errorOnMissing=false) is null }}"
"#,
        )
        .await;
    assert!(
        run.logs
            .iter()
            .any(|l| l == "hello from kv_flow / 42 / a,b"),
        "{:?}",
        run.logs
    );
    assert_eq!(run.output("get", "value"), json!(41));
    assert_eq!(run.output("keys", "keys"), json!(["count", "greeting"]));
    assert_eq!(run.output("delete", "deleted"), json!(true));
    assert_eq!(run.output("delete_again", "deleted"), json!(false));
    assert_eq!(run.output("missing", "value"), Value::Null);
    assert!(run.logs.iter().any(|l| l == "gone: true"), "{:?}", run.logs);
    let stored = h
        .store
        .get_kv("main", "company", "shared")
        .unwrap()
        .unwrap();
    assert!(!stored.sealed);
    assert_eq!(stored.kv_type.as_str(), "JSON");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_of_a_secret_is_sealed_at_rest_and_masked_when_read() {
    let h = harness(keyring_sealer());
    let run = h
        .run(
            r#"
id: copy
namespace: company.team
tasks:
  - id: copy
    type: io.kestra.plugin.core.kv.Set
    key: copied
    value: "{{ secret('S') }}"
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "copy: {{ kv('copied') }}"
"#,
        )
        .await;
    assert_eq!(run.state("log"), StateType::Success);
    assert!(run.logs.iter().any(|l| l == "copy: ****"), "{:?}", run.logs);
    let entry = h
        .store
        .get_kv("main", "company.team", "copied")
        .unwrap()
        .unwrap();
    assert!(entry.sealed && entry.value.contains("$sealed"));

    // Another execution, whose mask set never saw the secret, reads it back tainted: masked
    // in logs, and the kv.Get output is sealed in turn.
    let later = h
        .run(
            r#"
id: reader
namespace: company.team
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "later: {{ kv('copied') | upper }} {{ kv('copied') | length }}"
  - id: get
    type: io.kestra.plugin.core.kv.Get
    key: copied
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.get.value }}"
"#,
        )
        .await;
    assert!(
        later.logs.iter().any(|l| l == "later: **** ****"),
        "{:?}",
        later.logs
    );
    assert!(later.output("get", "value").get("$sealed").is_some());
    assert!(later.output("echo", "value").get("$sealed").is_some());

    let bytes = h.stored_bytes();
    for leaked in [SECRET.to_owned(), SECRET.to_uppercase()] {
        assert!(!contains(&bytes, &leaked), "a stored byte holds the secret");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_sealer_a_secret_copy_is_refused_not_stored() {
    let h = harness(None);
    let run = h
        .run(
            r#"
id: copy
namespace: company.team
tasks:
  - id: copy
    type: io.kestra.plugin.core.kv.Set
    key: copied
    value: "prefix {{ secret('S') }}"
"#,
        )
        .await;
    assert_eq!(run.state("copy"), StateType::Failed);
    assert!(
        run.logs
            .iter()
            .any(|l| l.contains("configure encryption.secret-key")),
        "{:?}",
        run.logs
    );
    assert_eq!(
        h.store.get_kv("main", "company.team", "copied").unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_properties_and_missing_keys_fail_with_clear_errors() {
    let h = harness(keyring_sealer());
    let cases = [
        (
            "key: 'not valid!'\n    value: x",
            "Set",
            "'not valid!' is not a valid KV key",
        ),
        (
            "key: k\n    value: x\n    kvType: \"{{ 'TEXT' }}\"",
            "Set",
            "unknown type 'TEXT'",
        ),
        (
            "key: k\n    value: abc\n    kvType: NUMBER",
            "Set",
            "kvType NUMBER",
        ),
        (
            "key: k\n    value: x\n    ttl: \"{{ 'soon' }}\"",
            "Set",
            "ttl 'soon'",
        ),
        (
            "key: \"{{ secret('S') }}\"\n    value: x",
            "Set",
            "derived from a secret",
        ),
        (
            "key: nope\n    errorOnMissing: true",
            "Get",
            "no key 'nope' in namespace 'company.team'",
        ),
        (
            "key: nope\n    errorOnMissing: true",
            "Delete",
            "no key 'nope' in namespace 'company.team'",
        ),
    ];
    for (props, kind, expected) in cases {
        let run = h
            .run(&format!(
                "id: bad\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.kv.{kind}\n    {props}\n"
            ))
            .await;
        assert_eq!(run.state("t"), StateType::Failed, "{props}");
        assert!(
            run.logs.iter().any(|l| l.contains(expected)),
            "{props}: {:?}",
            run.logs
        );
    }
    let run = h
        .run(
            "id: bad\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ kv('nope') }}\"\n",
        )
        .await;
    assert!(
        run.logs
            .iter()
            .any(|l| l.contains("no key 'nope' in namespace 'company.team'")),
        "{:?}",
        run.logs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwrite_false_keeps_the_value_and_an_expired_key_is_free_again() {
    let h = harness(keyring_sealer());
    let run = h
        .run(
            r#"
id: keep
namespace: company.team
tasks:
  - id: first
    type: io.kestra.plugin.core.kv.Set
    key: k
    value: first
  - id: second
    type: io.kestra.plugin.core.kv.Set
    key: k
    value: second
    overwrite: false
"#,
        )
        .await;
    assert_eq!(run.state("second"), StateType::Failed);
    assert!(
        run.logs.iter().any(|l| l.contains("already exists")),
        "{:?}",
        run.logs
    );
    assert_eq!(
        h.store
            .get_kv("main", "company.team", "k")
            .unwrap()
            .unwrap()
            .value,
        "\"first\""
    );

    // An entry whose ttl has passed reads as missing: write one that expired already.
    let mut expired = h
        .store
        .get_kv("main", "company.team", "k")
        .unwrap()
        .unwrap();
    expired.expires_at = Some(expired.updated_at - chrono::TimeDelta::seconds(1));
    h.store.put_kv(&expired, true).unwrap();
    let run = h
        .run(
            r#"
id: again
namespace: company.team
tasks:
  - id: read
    type: io.kestra.plugin.core.log.Log
    message: "{{ kv('k', errorOnMissing=false) ?? 'expired' }}"
  - id: set
    type: io.kestra.plugin.core.kv.Set
    key: k
    value: fresh
    overwrite: false
    ttl: PT1H
"#,
        )
        .await;
    assert!(run.logs.iter().any(|l| l == "expired"), "{:?}", run.logs);
    assert_eq!(run.state("set"), StateType::Success);
    let entry = h
        .store
        .get_kv("main", "company.team", "k")
        .unwrap()
        .unwrap();
    assert!(entry.expires_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_runs_a_flow_whose_log_reads_what_kv_set_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("saker.db")).unwrap());
    let mut parts = saker_engine::EngineParts::new(store.clone());
    parts.secrets = Arc::new(common::KeyedSecrets::new([("S", SECRET.to_owned())]));
    parts.sealer = keyring_sealer();
    let engine = saker_engine::Engine::start(parts);
    let (flow, saved) = engine
        .deploy(
            "main",
            r#"
id: kv_engine
namespace: company.team
tasks:
  - id: set
    type: io.kestra.plugin.core.kv.Set
    key: k
    value: "value of {{ flow.id }}"
  - id: copy
    type: kv.Set
    key: copied
    value: "{{ secret('S') }}"
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ kv('k') }} / {{ kv('copied') }}"
"#,
        )
        .unwrap();
    let execution = engine
        .create_execution("main", flow, saved.flow.revision, Default::default())
        .unwrap();
    let done = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        engine.wait(&execution.id),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(done.state.current, StateType::Success);
    let logs: Vec<String> = store
        .list_logs(&LogQuery::new(&done.id))
        .unwrap()
        .into_iter()
        .map(|l| l.entry.message)
        .collect();
    assert!(
        logs.iter().any(|l| l == "value of kv_engine / ****"),
        "{logs:?}"
    );
    drop(engine);
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(!contains(&bytes, SECRET), "a stored byte holds the secret");
}
