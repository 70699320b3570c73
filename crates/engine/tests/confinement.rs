//! Invariant 7: a task cannot read what Saker did not hand it. A shell task hunts for
//! Saker's environment through /proc, for the data directory, the key file, the configuration
//! file and another execution's working directory; nothing of them may reach its logs or
//! outputs. Also: no confinement means no task process (unless `tasks.confinement: none`),
//! and recovery removes what interrupted attempts left in their working directories.
//! Needs bubblewrap (`scripts/test.sh` installs it).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use saker_confine::{Confinement, Mode, Settings};
use saker_engine::{Engine, EngineParts};
use saker_model::{DEFAULT_TENANT, Execution, StateType};
use saker_store::{LogQuery, SqliteStore, Store};
use serde_json::Map;

const KEY_CANARY: &str = "KEY-CANARY-b64-4b1d9e";
const DB_CANARY: &str = "DB-CANARY-rows-77aa1";
const CONFIG_CANARY: &str = "CONFIG-CANARY-pass-5c3f";
const OTHER_CANARY: &str = "OTHER-EXECUTION-CANARY-90e2";

/// A host laid out like a Saker installation: a data directory with a key and a database, a
/// configuration file, and the work root inside the data directory (the CLI's default).
struct Host {
    _dir: tempfile::TempDir,
    root: PathBuf,
    data: PathBuf,
    config: PathBuf,
}

impl Host {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let data = root.join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join("encryption.key"), KEY_CANARY).unwrap();
        std::fs::write(data.join("saker.db"), DB_CANARY).unwrap();
        let config = root.join("application.yml");
        std::fs::write(&config, CONFIG_CANARY).unwrap();
        Self {
            _dir: dir,
            root,
            data,
            config,
        }
    }

    fn work_root(&self) -> PathBuf {
        self.data.join("work")
    }

    /// What the CLI hands the confinement. The host's directory is bound into sandboxes like
    /// a system directory, so that hiding must cover the Saker paths under it.
    fn settings(&self) -> Settings {
        let mut settings = Settings {
            work_root: Some(self.work_root()),
            ..Settings::default()
        };
        settings.read_only.push(self.root.clone());
        settings.hide(&self.data);
        settings.hide(&self.config);
        settings.hide(self.data.join("encryption.key"));
        settings
    }
}

fn engine_with(settings: Settings) -> (Engine, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let mut parts = EngineParts::new(store.clone());
    parts.confinement = Confinement::new(settings);
    (Engine::start(parts), store)
}

fn start(engine: &Engine, source: &str) -> Execution {
    let (flow, saved) = engine.deploy(DEFAULT_TENANT, source).unwrap();
    engine
        .create_execution(DEFAULT_TENANT, flow, saved.flow.revision, Map::new())
        .unwrap()
}

async fn finish(engine: &Engine, id: &str) -> Execution {
    tokio::time::timeout(Duration::from_secs(60), engine.wait(id))
        .await
        .expect("the execution did not end")
        .expect("the execution exists")
}

/// Every log line and output of an execution, as one text.
fn everything_shown(store: &SqliteStore, done: &Execution) -> String {
    let mut text = String::new();
    for log in store.list_logs(&LogQuery::new(&done.id)).unwrap() {
        text.push_str(&log.entry.message);
        text.push('\n');
    }
    text.push_str(&serde_json::to_string(done).unwrap());
    text
}

/// Polls the host until `what` holds (a task's process writes in the background).
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let wait = async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .unwrap_or_else(|_| panic!("never: {what}"));
}

fn files_named(root: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == name) {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_finds_nothing_of_saker_nor_of_other_executions() {
    let host = Host::new();
    let (engine, store) = engine_with(host.settings());

    // Another execution keeps a file in its working directory while the hunt runs.
    let other = start(
        &engine,
        &format!(
            "id: other\nnamespace: company.other\ntasks:\n  - id: keep\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands:\n      - echo {OTHER_CANARY} > canary.txt\n      - sleep 60\n"
        ),
    );
    let work_root = host.work_root();
    until("the other execution wrote its file", || {
        !files_named(&work_root.join(&other.id), "canary.txt").is_empty()
    })
    .await;

    let root = host.root.display();
    let data = host.data.display();
    let work = work_root.display();
    let other_dir = work_root.join(&other.id);
    let hunt = [
        "cat /proc/$PPID/environ | tr '\\\\0' '\\\\n'".to_owned(),
        "cat /proc/1/environ | tr '\\\\0' '\\\\n'".to_owned(),
        "ls /proc".to_owned(),
        "for p in /proc/[0-9]*; do tr '\\\\0' ' ' < $p/cmdline; echo; readlink $p/exe $p/cwd; done"
            .to_owned(),
        format!("ls -la {data} {root}"),
        format!(
            "cat {data}/encryption.key {data}/saker.db {}",
            host.config.display()
        ),
        format!("cat {}/*/canary.txt; ls -R {work}", other_dir.display()),
        "find / -name canary.txt -o -name encryption.key -o -name saker.db 2>/dev/null".to_owned(),
        "echo HUNT-DONE".to_owned(),
    ];
    let mut source = "id: hunt\nnamespace: company.team\ntasks:\n  - id: hunt\n    type: io.kestra.plugin.scripts.shell.Commands\n    failFast: false\n    commands:\n".to_owned();
    for line in &hunt {
        source.push_str(&format!("      - \"{line}\"\n"));
    }
    let hunted = finish(&engine, &start(&engine, &source).id).await;
    let shown = everything_shown(&store, &hunted);
    assert_eq!(hunted.state.current, StateType::Success, "{shown}");
    assert!(shown.contains("HUNT-DONE"), "{shown}");
    for (name, canary) in [
        ("the key file", KEY_CANARY),
        ("the database", DB_CANARY),
        ("the configuration file", CONFIG_CANARY),
        ("another execution's file", OTHER_CANARY),
    ] {
        assert!(!shown.contains(canary), "the task read {name}:\n{shown}");
    }
    // Not even their names: `ls` and `find` list nothing of the data directory.
    for name in ["encryption.key", "saker.db", "canary.txt"] {
        assert!(
            !shown
                .lines()
                .any(|l| l.ends_with(name) && !l.starts_with("cat") && !l.contains("find /")),
            "the task listed {name}:\n{shown}"
        );
    }
    // Nothing of Saker's process: its environment, its executable, its command line.
    for (key, value) in std::env::vars() {
        let shared =
            ["PATH", "LANG", "LANGUAGE", "TZ"].contains(&key.as_str()) || key.starts_with("LC_");
        if !shared && value.len() >= 4 {
            assert!(
                !shown.contains(&format!("{key}={value}")),
                "the task read Saker's environment variable {key}"
            );
        }
    }
    let exe = std::env::current_exe().unwrap();
    let exe = exe.file_name().unwrap().to_string_lossy();
    assert!(
        !shown.contains(exe.as_ref()),
        "the task saw Saker's executable:\n{shown}"
    );

    engine.kill(&other.id).unwrap();
    let killed = finish(&engine, &other.id).await;
    assert_eq!(killed.state.current, StateType::Killed);
    until("the killed attempt's directory is removed", || {
        !other_dir.exists()
    })
    .await;
}

const TOUCHING_FLOW: &str = "id: touch\nnamespace: company.team\ntasks:\n  - id: touch\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands:\n      - echo started-unconfined\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_confinement_no_task_process_starts_unless_none_is_chosen() {
    let host = Host::new();
    let mut settings = host.settings();
    settings.bubblewrap = PathBuf::from("/nonexistent/saker-test/bwrap");
    let (engine, store) = engine_with(settings.clone());
    let refused = finish(&engine, &start(&engine, TOUCHING_FLOW).id).await;
    let shown = everything_shown(&store, &refused);
    assert_eq!(refused.state.current, StateType::Failed, "{shown}");
    assert!(!shown.contains("started-unconfined"), "{shown}");
    assert!(
        shown.contains("tasks.confinement") && shown.contains("apt-get install bubblewrap"),
        "{shown}"
    );
    assert!(shown.contains("/nonexistent/saker-test/bwrap"), "{shown}");

    settings.mode = Mode::None;
    let (engine, store) = engine_with(settings);
    let ran = finish(&engine, &start(&engine, TOUCHING_FLOW).id).await;
    let shown = everything_shown(&store, &ran);
    assert_eq!(ran.state.current, StateType::Success, "{shown}");
    assert!(shown.contains("started-unconfined"), "{shown}");
}

#[test]
fn recovery_removes_the_directories_of_interrupted_attempts() {
    let host = Host::new();
    let db = host.root.join("recover.db");
    let source = "id: slow\nnamespace: company.team\ntasks:\n  - id: slow\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands:\n      - echo left-behind > leftover.txt\n      - echo attempt-running\n      - sleep 60\n";

    // A first process starts the attempt and stops abruptly.
    let first = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let work_root = host.work_root();
    let id = first.block_on(async {
        let store = Arc::new(SqliteStore::open(&db).unwrap());
        let mut parts = EngineParts::new(store);
        parts.confinement = Confinement::new(host.settings());
        let engine = Engine::start(parts);
        let execution = start(&engine, source);
        let dir = work_root.join(&execution.id);
        until("the attempt wrote its file", || {
            !files_named(&dir, "leftover.txt").is_empty()
        })
        .await;
        std::mem::forget(engine);
        execution.id
    });
    first.shutdown_background();
    // What a kill -9 leaves: the dropped attempt removed its directory on the way down, so
    // put back what a crash would have left.
    let left = work_root.join(&id).join("left-1");
    std::fs::create_dir_all(&left).unwrap();
    std::fs::write(left.join("leftover.txt"), "left-behind").unwrap();

    let second = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    second.block_on(async {
        let store = Arc::new(SqliteStore::open(&db).unwrap());
        let mut parts = EngineParts::new(store.clone());
        parts.confinement = Confinement::new(host.settings());
        let engine = Engine::start(parts);
        assert_eq!(engine.recover().unwrap(), 1);
        assert!(
            !left.exists(),
            "the interrupted attempt's directory is still there"
        );
        // The new attempt runs in a fresh directory of its own.
        until("the new attempt runs", || {
            files_named(&work_root.join(&id), "leftover.txt")
                .iter()
                .any(|f| !f.starts_with(&left))
        })
        .await;
        engine.kill(&id).unwrap();
        finish(&engine, &id).await;
    });
}
