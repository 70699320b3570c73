//! `WorkingDirectory` and `LocalFiles` through the engine: the tasks of a `WorkingDirectory`
//! share one directory, so a `LocalFiles` task's `inputs` reach the shell task after it and
//! its `outputs` upload what the tasks before it wrote, read back with `read()` later; the
//! `WorkingDirectory`'s `inputFiles` and `namespaceFiles` are there before its first task;
//! and a secret in any of those files is never stored in plaintext, not even transformed by
//! a process.

mod common;

use std::sync::Arc;

use saker_model::{DEFAULT_TENANT, Execution, StateType};
use saker_storage::StorageUri;
use serde_json::{Map, Value};

const K: &str = "wd-secret-Pq7Lx2Vn9";

use common::data_dir::DataDir as Data;

/// An engine on a data directory of its own, with the secret `K`, a sealing key and a
/// storage under the data directory.
fn data_dir() -> Data {
    Data::start(|dir, parts| {
        parts.secrets = Arc::new(common::KeyedSecrets::new([("K", K.to_owned())]));
        parts.sealer = Some(common::data_dir::sealer());
        parts.storage = Some(common::data_dir::storage(dir));
    })
}

fn output<'e>(execution: &'e Execution, task: &str, name: &str) -> &'e Value {
    &execution.task_run(task).unwrap().outputs[name]
}

const SHARED: &str = r#"
id: shared
namespace: company.team
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    inputFiles:
      from-wd.txt: "staged by the WorkingDirectory"
    tasks:
      - id: write
        type: io.kestra.plugin.core.storage.LocalFiles
        inputs:
          hello.txt: "hello from {{ flow.id }}"
          deep/er.txt: deeper
      - id: use
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - mkdir -p out
          - for f in hello.txt from-wd.txt deep/er.txt; do cat $f; echo; done | tr '\n' '+' > out/joined.txt
          - echo kept > out/skip.log
      - id: collect
        type: io.kestra.plugin.core.storage.LocalFiles
        outputs:
          - "out/*.txt"
          - hello.txt
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.collect.uris['out/joined.txt']) }}|{{ read(outputs.collect.uris['hello.txt']) }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_of_a_working_directory_share_its_files() {
    let data = data_dir();
    let done = data.run_ok(SHARED).await;
    let uris = output(&done, "collect", "uris").as_object().unwrap();
    let mut names: Vec<&str> = uris.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["hello.txt", "out/joined.txt"]);
    for uri in uris.values() {
        assert!(
            uri.as_str()
                .unwrap()
                .starts_with("kestra:///company/team/shared/executions/")
        );
    }
    assert_eq!(
        output(&done, "after", "value"),
        "hello from shared+staged by the WorkingDirectory+deeper+|hello from shared"
    );
    // The first LocalFiles uploads nothing: it has no `outputs`.
    assert_eq!(output(&done, "write", "uris"), &Value::Object(Map::new()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_working_directory_stages_its_namespace_files_before_its_tasks() {
    let data = data_dir();
    let storage = data.engine.files().storage().unwrap().clone();
    let root = StorageUri::namespace_files("company.team").unwrap();
    for (path, content) in [("conf/a.txt", "namespace a"), ("conf/b.md", "skipped")] {
        storage
            .put(
                DEFAULT_TENANT,
                &root.join(path).unwrap(),
                content.as_bytes(),
            )
            .unwrap();
    }
    let done = data
        .run_ok(
            r#"
id: ns
namespace: company.team
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    namespaceFiles:
      include: ["conf/**"]
      exclude: ["**.md"]
    inputFiles:
      conf/over.txt: "{{ 40 + 2 }}"
    tasks:
      - id: look
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - cat conf/a.txt; echo; cat conf/over.txt; echo
          - if [ -e conf/b.md ]; then echo md-present; else echo md-absent; fi
"#,
        )
        .await;
    let logs = data.messages(&done);
    for expected in ["namespace a", "42", "md-absent"] {
        assert!(logs.iter().any(|l| l == expected), "{expected}: {logs:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_files_outside_a_working_directory_uploads_its_own_inputs() {
    let data = data_dir();
    let done = data
        .run_ok(
            r#"
id: alone
namespace: company.team
tasks:
  - id: make
    type: io.kestra.plugin.core.storage.LocalFiles
    inputs: '{"a/x.csv": "1,2", "y.txt": "why"}'
    outputs: ["**.csv"]
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.make.uris['a/x.csv']) }}"
"#,
        )
        .await;
    let uris = output(&done, "make", "uris").as_object().unwrap();
    assert_eq!(uris.len(), 1, "{uris:?}");
    assert_eq!(output(&done, "show", "value"), "1,2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_file_properties_fail_with_the_property_named() {
    let data = data_dir();
    let cases = [
        (
            "  - id: t\n    type: io.kestra.plugin.core.storage.LocalFiles\n    inputs:\n      ../escape.txt: x\n",
            "property 'inputs'",
        ),
        (
            "  - id: t\n    type: io.kestra.plugin.core.storage.LocalFiles\n    inputs: '[1, 2]'\n",
            "property 'inputs'",
        ),
    ];
    for (tasks, expected) in cases {
        let source = format!("id: bad\nnamespace: company.team\ntasks:\n{tasks}");
        let done = data.run(&source).await;
        assert_eq!(done.state.current, StateType::Failed, "{source}");
        let logs = data.messages(&done);
        assert!(
            logs.iter().any(|l| l.contains(expected)),
            "{expected}: {logs:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_in_a_shared_directory_is_never_stored_in_plaintext() {
    let data = data_dir();
    let done = data
        .run_ok(
            r#"
id: leak
namespace: company.team
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    inputFiles:
      staged.txt: "staged={{ secret('K') }}"
    tasks:
      - id: write
        type: io.kestra.plugin.core.storage.LocalFiles
        inputs:
          written.txt: "written={{ secret('K') }}"
      - id: transform
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - cat staged.txt; echo; cat written.txt; echo
          - rev staged.txt > reversed.txt
          - echo plain > plain.txt
      - id: collect
        type: io.kestra.plugin.core.storage.LocalFiles
        outputs: ["*.txt"]
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "{{ read(outputs.collect.uris['written.txt']) }}"
"#,
        )
        .await;
    let logs = data.messages(&done);
    for expected in ["staged=****", "written=****"] {
        assert!(logs.iter().any(|l| l == expected), "{expected}: {logs:?}");
    }
    // Every file collected from the shared directory is sealed, the reversed secret (which
    // no mask recognises) and the plain file included: a process there had the secret.
    let collect = done.task_run("collect").unwrap();
    let folder =
        StorageUri::task_run("company.team", "leak", &done.id, "collect", &collect.id).unwrap();
    let files = data.engine.files();
    for name in ["staged.txt", "written.txt", "reversed.txt", "plain.txt"] {
        let uri = folder.join(name).unwrap();
        assert!(files.is_sealed(DEFAULT_TENANT, &uri).unwrap(), "{name}");
    }
    let opened = files
        .open(
            DEFAULT_TENANT,
            &done.id,
            &folder.join("reversed.txt").unwrap(),
        )
        .unwrap();
    let reversed: String = format!("staged={K}").chars().rev().collect();
    assert_eq!(opened.bytes.as_slice(), reversed.as_bytes());
    drop(data.engine);

    // Every byte under the data directory: storage, database, write-ahead log.
    let paths = common::files_under(data.dir.path());
    assert!(
        paths.iter().any(|p| p.ends_with("reversed.txt")),
        "{paths:?}"
    );
    let reversed_secret: String = K.chars().rev().collect();
    for path in paths {
        let bytes = std::fs::read(&path).unwrap();
        for (name, needle) in [("secret", K), ("reversed secret", reversed_secret.as_str())] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{} holds the {name}",
                path.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_working_directory_uploads_its_output_files_after_its_last_task() {
    let data = data_dir();
    let done = data
        .run_ok(
            r#"
id: out
namespace: company.team
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    outputFiles: ["out/**"]
    tasks:
      - id: make
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - mkdir -p out/sub && printf 'made' > out/sub/a.txt && printf 'no' > b.txt
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.wd.outputFiles['out/sub/a.txt']) }}"
"#,
        )
        .await;
    let files = output(&done, "wd", "outputFiles").as_object().unwrap();
    assert_eq!(files.keys().collect::<Vec<_>>(), ["out/sub/a.txt"]);
    assert_eq!(output(&done, "show", "value"), "made");
}
