//! How long mask sets hold values (issue 11): an execution's derived values mask its output
//! while it runs and are held by no mask set once it ended, whichever way it ended; the
//! process-wide set holds only raw secrets.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use saker_engine::masks::MaskRegistry;
use saker_engine::{
    Engine, EngineParts, ResolvedSecret, SecretRequester, SecretSource, process_masks,
};
use saker_model::{DEFAULT_TENANT, Execution, StateType};
use saker_store::{LogQuery, SqliteStore, Store};
use serde_json::Map;
use zeroize::Zeroizing;

const K: &str = "lifetime-secret-value-7";

fn engine() -> (Engine, Arc<SqliteStore>, Arc<MaskRegistry>) {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let mut parts = EngineParts::new(store.clone());
    parts.secrets = Arc::new(common::KeyedSecrets::new([("K", K.to_owned())]));
    // These tests look into the registry the worker fills, which it shares with the caller
    // only in process (over the wire the worker keeps its own and drops a set on `Ended`).
    parts.wire = false;
    let masks = parts.masks.clone();
    (Engine::start(parts), store, masks)
}

async fn start(engine: &Engine, source: &str) -> Execution {
    let (flow, saved) = engine.deploy(DEFAULT_TENANT, source).unwrap();
    engine
        .create_execution(DEFAULT_TENANT, flow, saved.flow.revision, Map::new())
        .unwrap()
}

async fn wait(engine: &Engine, id: &str) -> Execution {
    tokio::time::timeout(Duration::from_secs(30), engine.wait(id))
        .await
        .expect("the execution did not end")
        .expect("the execution exists")
}

/// The value task `derive` of [`DERIVING`] adds to its execution's set: not the secret, not
/// one of its encodings, so only the execution's own set can mask it.
fn derived(execution_id: &str) -> String {
    format!("{}-{execution_id}", &K[..6])
}

/// Derives a value in a template, then prints it again from a process that rebuilt it
/// without any template.
const DERIVING: &str = r#"id: derive
namespace: company.team
tasks:
  - id: derive
    type: io.kestra.plugin.core.log.Log
    message: "{{ (secret('K') | slice(0, 6)) ~ '-' ~ execution.id }}"
  - id: again
    type: io.kestra.plugin.scripts.shell.Commands
    env:
      K: "{{ secret('K') }}"
    commands:
      - echo "again $(printf %s "$K" | cut -c1-6)-{{ execution.id }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derived_values_mask_while_running_and_are_dropped_at_the_end() {
    let (engine, store, masks) = engine();
    let execution = start(&engine, DERIVING).await;
    let done = wait(&engine, &execution.id).await;
    assert_eq!(done.state.current, StateType::Success);
    let value = derived(&done.id);

    // While it ran, its set masked the derived value where a process printed it.
    let logs = store.list_logs(&LogQuery::new(&done.id)).unwrap();
    let again: Vec<&str> = logs
        .iter()
        .filter(|l| l.entry.task_id.as_deref() == Some("again"))
        .map(|l| l.entry.message.as_str())
        .collect();
    assert_eq!(again, ["again ****"]);
    assert!(logs.iter().all(|l| !l.entry.message.contains(&value)));

    // Ended: no set holds it any more; the process-wide set holds the raw secret only.
    assert_eq!(masks.live_count(), 0);
    assert!(!masks.holds_anywhere(&value));
    assert!(process_masks().holds(K));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_killed_executions_drop_their_sets_too() {
    let (engine, store, masks) = engine();
    let failing = start(
        &engine,
        "id: failing\nnamespace: company.team\ntasks:\n  - id: derive\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ (secret('K') | slice(0, 6)) ~ '-' ~ execution.id }}\"\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n",
    )
    .await;
    let killed = start(
        &engine,
        "id: killed\nnamespace: company.team\ntasks:\n  - id: derive\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ (secret('K') | slice(0, 6)) ~ '-' ~ execution.id }}\"\n  - id: long\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands: ['echo started', 'sleep 30']\n",
    )
    .await;
    for _ in 0..400 {
        let logs = store.list_logs(&LogQuery::new(&killed.id)).unwrap();
        if logs.iter().any(|l| l.entry.message == "started") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Running: its set holds the derived value.
    assert!(masks.execution_holds(&killed.id, &derived(&killed.id)));
    engine.kill(&killed.id).unwrap();

    assert_eq!(
        wait(&engine, &failing.id).await.state.current,
        StateType::Failed
    );
    assert_eq!(
        wait(&engine, &killed.id).await.state.current,
        StateType::Killed
    );
    assert_eq!(masks.live_count(), 0);
    for id in [&failing.id, &killed.id] {
        assert!(!masks.holds_anywhere(&derived(id)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_executions_leave_only_the_raw_secret_in_the_process_set() {
    let (engine, _store, masks) = engine();
    let source = "id: soak\nnamespace: company.team\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ secret('K') ~ '-' ~ execution.id }}\"\n";
    let mut ids = Vec::new();
    for _ in 0..40 {
        ids.push(start(&engine, source).await.id);
    }
    for id in &ids {
        assert_eq!(wait(&engine, id).await.state.current, StateType::Success);
    }
    assert_eq!(masks.live_count(), 0);
    assert_eq!(process_masks().held_count(), 1);
    assert!(process_masks().holds(K));
    for id in &ids {
        assert!(!masks.holds_anywhere(&format!("{K}-{id}")));
    }
}

/// A secret rotated between two executions, then deleted.
struct Rotating {
    version: AtomicUsize,
    deleted: Mutex<bool>,
}

impl SecretSource for Rotating {
    fn resolve(
        &self,
        _r: &SecretRequester,
        key: &str,
        _ns: Option<&str>,
    ) -> Result<ResolvedSecret, String> {
        if *self.deleted.lock().unwrap() {
            return Err(format!("secret '{key}' not found"));
        }
        let v = self.version.load(Ordering::SeqCst);
        Ok(Zeroizing::new(format!("rotating-value-v{v}")).into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_or_deleted_secret_leaves_the_process_set() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let source = Arc::new(Rotating {
        version: AtomicUsize::new(1),
        deleted: Mutex::new(false),
    });
    let mut parts = EngineParts::new(store);
    parts.secrets = source.clone();
    let engine = Engine::start(parts);
    let flow = "id: rot\nnamespace: company.team\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ secret('R') }}\"\n";

    let first = start(&engine, flow).await;
    assert_eq!(
        wait(&engine, &first.id).await.state.current,
        StateType::Success
    );
    assert!(process_masks().holds("rotating-value-v1"));

    source.version.store(2, Ordering::SeqCst);
    let second = start(&engine, flow).await;
    assert_eq!(
        wait(&engine, &second.id).await.state.current,
        StateType::Success
    );
    assert!(
        !process_masks().holds("rotating-value-v1"),
        "the old value is dropped"
    );
    assert!(process_masks().holds("rotating-value-v2"));

    *source.deleted.lock().unwrap() = true;
    let third = start(&engine, flow).await;
    assert_eq!(
        wait(&engine, &third.id).await.state.current,
        StateType::Failed
    );
    assert!(
        !process_masks().holds("rotating-value-v2"),
        "a deleted secret is dropped"
    );
}
