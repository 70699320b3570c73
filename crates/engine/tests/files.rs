//! Files through the engine: a FILE input, an `outputFiles` entry and a namespace file are
//! read back with `read()`; another execution's file is refused; `namespaceFiles` and
//! `inputFiles` reach the working directory; and a file holding a secret is stored sealed,
//! so no byte under the data directory (storage and SQLite file) holds the secret.

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use saker_crypto::{Keyring, SecretKey};
use saker_engine::files::InputUpload;
use saker_engine::{Engine, EngineParts, KeyringSealer};
use saker_model::{DEFAULT_TENANT, Execution, StateType};
use saker_storage::{LocalStorage, StorageUri};
use saker_store::{LogQuery, SqliteStore, Store};
use serde_json::{Map, Value};

const K: &str = "file-secret-Zq8x3Wm1";

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
    async fn run(&self, source: &str, uploads: Vec<InputUpload>) -> Execution {
        let (flow, saved) = self.engine.deploy(DEFAULT_TENANT, source).unwrap();
        let execution = self
            .engine
            .create_execution_with_files(
                DEFAULT_TENANT,
                flow,
                saved.flow.revision,
                Map::new(),
                Map::new(),
                uploads,
            )
            .unwrap();
        tokio::time::timeout(Duration::from_secs(30), self.engine.wait(&execution.id))
            .await
            .expect("the execution did not end")
            .unwrap()
    }

    /// [`run`](Self::run), checking that the execution succeeded.
    async fn run_ok(&self, source: &str, uploads: Vec<InputUpload>) -> Execution {
        let done = self.run(source, uploads).await;
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
async fn a_file_input_is_stored_under_its_execution_and_read_back() {
    let s = start();
    let done = s
        .run_ok(
            "id: f\nnamespace: company.team\ninputs:\n  - id: data\n    type: FILE\ntasks:\n  \
             - id: show\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ read(inputs.data) }}|{{ fileSize(inputs.data) }}\"\n",
            vec![InputUpload {
                input: "data".into(),
                file_name: "../../hello.txt".into(),
                bytes: b"hello file".to_vec(),
            }],
        )
        .await;
    let uri = done.inputs["data"].as_str().unwrap();
    assert_eq!(
        uri,
        format!(
            "kestra:///company/team/f/executions/{}/inputs/data/hello.txt",
            done.id
        )
    );
    assert_eq!(output(&done, "show", "value"), "hello file|10");
    assert!(
        s.data
            .join("storage/main/company/team/f/executions")
            .join(&done.id)
            .join("inputs/data/hello.txt")
            .is_file()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_input_must_be_uploaded_and_a_text_input_cannot_be_a_file() {
    let s = start();
    let (flow, saved) = s
        .engine
        .deploy(
            DEFAULT_TENANT,
            "id: f\nnamespace: company.team\ninputs:\n  - id: data\n    type: FILE\n  - id: name\n    type: STRING\n    required: false\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
        )
        .unwrap();
    let e = s
        .engine
        .create_execution(
            DEFAULT_TENANT,
            flow.clone(),
            saved.flow.revision,
            Map::new(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("input 'data' is required: upload a file"), "{e}");
    let mut inputs = Map::new();
    inputs.insert(
        "data".into(),
        "kestra:///company/team/f/executions/OTHER/inputs/data/a.txt".into(),
    );
    let e = s
        .engine
        .create_execution(DEFAULT_TENANT, flow.clone(), saved.flow.revision, inputs)
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not a file of this execution"), "{e}");
    let e = s
        .engine
        .create_execution_with_files(
            DEFAULT_TENANT,
            flow,
            saved.flow.revision,
            Map::new(),
            Map::new(),
            vec![
                InputUpload {
                    input: "data".into(),
                    file_name: "a.txt".into(),
                    bytes: b"a".to_vec(),
                },
                InputUpload {
                    input: "name".into(),
                    file_name: "n.txt".into(),
                    bytes: b"n".to_vec(),
                },
            ],
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("input 'name' is not a FILE input"), "{e}");
    // The refused execution left no file behind.
    let stored = common::files_under(&s.data.join("storage"));
    assert!(stored.is_empty(), "{stored:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_file_is_read_by_the_next_task_and_others_are_refused() {
    let s = start();
    let done = s
        .run_ok(
            "id: f\nnamespace: company.team\ntasks:\n  - id: write\n    type: io.kestra.plugin.scripts.shell.Commands\n    outputFiles:\n      - \"*.txt\"\n      - \"**.csv\"\n    commands:\n      - printf 'from shell' > out.txt\n      - mkdir -p sub && printf 'a,b' > sub/data.csv && printf 'no' > sub/skip.txt\n  - id: use\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ read(outputs.write.outputFiles['out.txt']) }} {{ read(outputs.write.outputFiles['sub/data.csv']) }}\"\n",
            Vec::new(),
        )
        .await;
    let files = output(&done, "write", "outputFiles").as_object().unwrap();
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(names, ["out.txt", "sub/data.csv"]);
    let write = done.task_run("write").unwrap();
    assert_eq!(
        files["out.txt"],
        format!(
            "kestra:///company/team/f/executions/{}/tasks/write/{}/out.txt",
            done.id, write.id
        )
    );
    assert_eq!(output(&done, "use", "value"), "from shell a,b");

    // Another execution of another flow cannot read them.
    let other = s
        .run(
            &format!(
                "id: g\nnamespace: company.team\ntasks:\n  - id: steal\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{{{ read('{}') }}}}\"\n",
                files["out.txt"].as_str().unwrap()
            ),
            Vec::new(),
        )
        .await;
    assert_eq!(other.state.current, StateType::Failed);
    let logs = s.logs(&other).join("\n");
    assert!(logs.contains("does not belong to this execution"), "{logs}");
    assert!(!logs.contains("from shell"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_files_are_read_and_staged() {
    let s = start();
    let storage = s.engine.files().storage().unwrap().clone();
    let root = StorageUri::namespace_files("company.team").unwrap();
    for (path, content) in [
        ("conf/app.txt", "namespace says hi"),
        ("scripts/run.sh", "echo from-script"),
        ("scripts/skip.sh", "echo skipped"),
    ] {
        storage
            .put(
                DEFAULT_TENANT,
                &root.join(path).unwrap(),
                content.as_bytes(),
            )
            .unwrap();
    }
    let parent = StorageUri::namespace_files("company").unwrap();
    storage
        .put(
            DEFAULT_TENANT,
            &parent.join("top.txt").unwrap(),
            b"parent file",
        )
        .unwrap();
    let done = s
        .run_ok(
            "id: f\nnamespace: company.team\ntasks:\n  - id: read\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ read('conf/app.txt') }}/{{ read('top.txt', namespace='company') }}/{{ fileExists('nope.txt') }}\"\n  - id: staged\n    type: io.kestra.plugin.scripts.shell.Commands\n    namespaceFiles:\n      enabled: true\n      include:\n        - \"scripts/**\"\n      exclude:\n        - \"**skip.sh\"\n    commands:\n      - sh scripts/run.sh\n      - if [ -e scripts/skip.sh ]; then echo skip-present; else echo skip-absent; fi\n      - if [ -e conf/app.txt ]; then echo conf-present; else echo conf-absent; fi\n",
            Vec::new(),
        )
        .await;
    assert_eq!(
        output(&done, "read", "value"),
        "namespace says hi/parent file/false"
    );
    let logs = s.logs(&done);
    for expected in ["from-script", "skip-absent", "conf-absent"] {
        assert!(logs.iter().any(|l| l == expected), "{expected}: {logs:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_file_holding_a_secret_is_never_stored_in_plaintext() {
    let s = start();
    let done = s
        .run_ok(
            "id: f\nnamespace: company.team\ntasks:\n  - id: write\n    type: io.kestra.plugin.scripts.shell.Commands\n    inputFiles:\n      token.txt: \"token={{ secret('K') }}\"\n      plain.txt: nothing secret\n    outputFiles:\n      - \"*.txt\"\n    commands:\n      - cat token.txt\n      - cp token.txt copy.txt\n  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message: \"copy: {{ read(outputs.write.outputFiles['copy.txt']) }}\"\n",
            Vec::new(),
        )
        .await;
    let logs = s.logs(&done);
    assert!(logs.iter().any(|l| l == "token=****"), "{logs:?}");
    assert!(logs.iter().any(|l| l == "copy: ****"), "{logs:?}");
    // The task handed a secret to its process: every output file is sealed.
    let files = s.engine.files();
    let write = done.task_run("write").unwrap();
    let folder = StorageUri::task_run("company.team", "f", &done.id, "write", &write.id).unwrap();
    for name in ["token.txt", "copy.txt", "plain.txt"] {
        let uri = folder.join(name).unwrap();
        assert!(files.is_sealed(DEFAULT_TENANT, &uri).unwrap(), "{name}");
    }
    let opened = files
        .open(DEFAULT_TENANT, &done.id, &folder.join("copy.txt").unwrap())
        .unwrap();
    assert_eq!(opened.bytes.as_slice(), format!("token={K}").as_bytes());
    drop(s.engine);

    // Every byte under the data directory: storage, database, write-ahead log.
    let b64 = base64::engine::general_purpose::STANDARD.encode(K);
    let paths = common::files_under(&s.data);
    assert!(paths.iter().any(|p| p.ends_with("copy.txt")), "{paths:?}");
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
