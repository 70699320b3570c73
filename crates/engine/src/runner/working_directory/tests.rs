//! The start and the end of a `WorkingDirectory` run, driven as the worker drives them (the
//! executor does not send the end's job yet, so the engine cannot run it end to end).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use saker_crypto::{Keyring, SecretKey};
use saker_model::Level;
use saker_storage::{LocalStorage, Storage, StorageUri};

use super::*;
use crate::cancel::Cancellation;
use crate::files::{ExecutionFiles, TaskFiles};
use crate::logs::{LogOrigin, TaskLogger};
use crate::masks::{ExecutionMasks, MaskSource};
use crate::sealing::Protector;
use crate::secrets::{NoSecrets, SecretRequester, TaskSecrets};

const FLOW: &str = r#"
id: f
namespace: company.team
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    outputFiles: ["out/**"]
    cache:
      patterns: ["*.txt"]
      ttl: PT1H
    tasks:
      - id: child
        type: io.kestra.plugin.core.log.Log
        message: hi
"#;

/// One installation: its storage and where attempts work.
struct Host {
    _dir: tempfile::TempDir,
    storage: Arc<LocalStorage>,
    store: Arc<saker_store::SqliteStore>,
    confinement: saker_confine::Confinement,
    files: ExecutionFiles,
}

fn host() -> Host {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(LocalStorage::new(dir.path().join("storage")));
    let store = Arc::new(saker_store::SqliteStore::open(&dir.path().join("saker.db")).unwrap());
    let confinement = saker_confine::Confinement::new(saker_confine::Settings {
        work_root: Some(dir.path().join("work")),
        ..saker_confine::Settings::default()
    });
    let sealer = crate::KeyringSealer::new(Keyring::new(SecretKey::generate()));
    let files = ExecutionFiles::new(
        Some(storage.clone()),
        Protector {
            sealer: Some(Arc::new(sealer)),
        },
    );
    Host {
        _dir: dir,
        storage,
        store,
        confinement,
        files,
    }
}

/// The context of the `WorkingDirectory` run `run` of execution `execution`, in its shared
/// directory.
fn context(host: &Host, execution: &str, run: &str, masks: &Arc<ExecutionMasks>) -> TaskContext {
    context_of(host, execution, run, masks, the_task())
}

fn the_task() -> saker_model::TaskDef {
    let flow = saker_model::validate::parse_flow(FLOW).unwrap();
    flow.find_task("wd").unwrap().clone()
}

fn context_of(
    host: &Host,
    execution: &str,
    run: &str,
    masks: &Arc<ExecutionMasks>,
    task: saker_model::TaskDef,
) -> TaskContext {
    let task = Arc::new(task);
    let secrets = TaskSecrets::new(
        Arc::new(NoSecrets),
        SecretRequester {
            tenant_id: "main".into(),
            namespace: "company.team".into(),
            flow_id: "f".into(),
            execution_id: execution.into(),
            task_run_id: Some(run.into()),
        },
        masks.clone(),
    );
    let origin = LogOrigin {
        tenant_id: "main".into(),
        namespace: "company.team".into(),
        flow_id: "f".into(),
        execution_id: execution.into(),
        task_run_id: Some(run.into()),
        task_id: Some("wd".into()),
        attempt_number: Some(1),
    };
    let logger = TaskLogger::new(origin, Level::Trace, masks.clone(), host.store.clone());
    let mut ctx = TaskContext::new(
        task,
        saker_expr::Context::new(),
        secrets,
        logger,
        Cancellation::new(),
    );
    ctx.files = Some(TaskFiles {
        files: host.files.clone(),
        tenant: "main".into(),
        namespace: "company.team".into(),
        flow_id: "f".into(),
        execution_id: execution.into(),
        task_id: "wd".into(),
        task_run_id: run.into(),
        masks: masks.clone(),
        parent: None,
    });
    ctx.sandbox = Some(host.confinement.shared(execution, run, 1, run));
    ctx
}

fn shared_dir(ctx: &TaskContext) -> std::path::PathBuf {
    let workdir = ctx.sandbox().unwrap().work_dir().unwrap();
    workdir.host_path().to_path_buf()
}

fn log_lines(ctx: TaskContext) -> Vec<String> {
    let (mut logger, _) = ctx.finish();
    logger
        .take_pending()
        .into_iter()
        .map(|l| l.message)
        .collect()
}

fn cache_uri() -> StorageUri {
    StorageUri::from_path("company/team/f/wd/cache/cache.zip").unwrap()
}

fn write(dir: &Path, relative: &str, text: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_end_uploads_output_files_and_the_next_run_starts_from_the_cache() {
    let host = host();
    let masks = Arc::new(ExecutionMasks::default());
    let mut start = context(&host, "E1", "R1", &masks);
    prepare(&mut start, true).await.unwrap();
    assert!(log_lines(start).iter().any(|l| l == "no cache to restore"));

    // What the children left in the shared directory.
    let mut end = context(&host, "E1", "R1", &masks);
    let dir = shared_dir(&end);
    write(&dir, "hello.txt", "kept");
    write(&dir, "out/result.csv", "a,b");
    write(&dir, "other.log", "neither");
    let outcome = finish_working_directory(&mut end).await.unwrap();
    let files = outcome.outputs["outputFiles"].as_object().unwrap();
    assert_eq!(files.keys().collect::<Vec<_>>(), ["out/result.csv"]);
    let uri = StorageUri::parse(files["out/result.csv"].as_str().unwrap()).unwrap();
    assert_eq!(
        uri.path(),
        "company/team/f/executions/E1/tasks/wd/R1/out/result.csv"
    );
    assert_eq!(host.storage.get("main", &uri).unwrap(), b"a,b");
    assert!(host.storage.stat("main", &cache_uri()).unwrap().is_some());

    // The next execution starts with the cached files (and only those).
    let mut next = context(&host, "E2", "R2", &masks);
    prepare(&mut next, true).await.unwrap();
    let dir = shared_dir(&next);
    assert_eq!(std::fs::read(dir.join("hello.txt")).unwrap(), b"kept");
    assert!(!dir.join("other.log").exists());
    assert!(!dir.join("out/result.csv").exists());
    assert!(
        log_lines(next)
            .iter()
            .any(|l| l == "1 file(s) restored from the cache")
    );
    // Nothing changed: the archive is left as it is.
    let mut end = context(&host, "E2", "R2", &masks);
    finish_working_directory(&mut end).await.unwrap();
    let logs = log_lines(end);
    assert!(
        logs.iter().any(|l| l == "the cached files did not change"),
        "{logs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_cache_is_deleted_and_not_restored() {
    let host = host();
    let masks = Arc::new(ExecutionMasks::default());
    let mut end = context(&host, "E1", "R1", &masks);
    write(&shared_dir(&end), "hello.txt", "old");
    finish_working_directory(&mut end).await.unwrap();
    // Written two hours ago, for a ttl of one hour.
    let stored = host.storage.root().join("main").join(cache_uri().path());
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&stored)
        .unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(7200))
        .unwrap();
    let mut next = context(&host, "E2", "R2", &masks);
    prepare(&mut next, true).await.unwrap();
    assert!(!shared_dir(&next).join("hello.txt").exists());
    assert!(host.storage.stat("main", &cache_uri()).unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_secret_files_are_sealed_and_no_cache_is_kept() {
    let host = host();
    let masks = Arc::new(ExecutionMasks::default());
    let secret = "wd-unit-secret-4Hq9";
    masks.add_source(MaskSource::Secret("K".into()), secret);
    let mut end = context(&host, "E1", "R1", &masks);
    let dir = shared_dir(&end);
    write(&dir, "hello.txt", "nothing secret");
    // A child reversed the secret: no mask recognises it.
    write(
        &dir,
        "out/reversed.txt",
        &secret.chars().rev().collect::<String>(),
    );
    let outcome = finish_working_directory(&mut end).await.unwrap();
    let uri = outcome.outputs["outputFiles"]["out/reversed.txt"]
        .as_str()
        .unwrap()
        .to_owned();
    let uri = StorageUri::parse(&uri).unwrap();
    assert!(host.files.is_sealed("main", &uri).unwrap());
    assert!(host.storage.stat("main", &cache_uri()).unwrap().is_none());
    let logs = log_lines(end);
    assert!(
        logs.iter()
            .any(|l| l.starts_with("the cache was not saved: this execution used a secret")),
        "{logs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_cache_properties_are_named() {
    let host = host();
    let masks = Arc::new(ExecutionMasks::default());
    let mut task = the_task();
    for (cache, expected) in [
        (
            serde_json::json!({"ttl": "PT1H"}),
            "property 'cache.patterns': is required",
        ),
        (
            serde_json::json!({"patterns": ["*"], "ttl": "soon"}),
            "property 'cache.ttl'",
        ),
        (
            serde_json::json!({"patterns": ["*"], "size": 3}),
            "'size' is not a property",
        ),
        (serde_json::json!(["*"]), "property 'cache': expected a map"),
    ] {
        task.properties.insert("cache".into(), cache);
        let mut ctx = context_of(&host, "E1", "R1", &masks, task.clone());
        let e = prepare(&mut ctx, true).await.err().unwrap();
        assert!(e.to_string().contains(expected), "{e}");
    }
}
