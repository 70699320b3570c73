//! Kestra's namespace file tasks through the engine (`io.kestra.plugin.core.namespace.
//! {UploadFiles, DownloadFiles, DeleteFiles}`): an execution's files and a working
//! directory's files uploaded as namespace files (renamed, under a destination, with each
//! `conflict` rule), downloaded into a later execution's files and deleted; a flow touching
//! only the namespaces it may (download from its own and its parents, write to its own and
//! its children); and a file derived from a secret never uploaded.

mod common;

use std::sync::Arc;

use common::data_dir::DataDir;
use saker_model::{DEFAULT_TENANT, Execution};
use saker_storage::{Storage, StorageUri};
use serde_json::{Value, json};

const K: &str = "nsfile-secret-Tw3Hy6Bq";

fn start() -> DataDir {
    DataDir::with_secret("K", K)
}

fn output(done: &Execution, task: &str, name: &str) -> Value {
    done.task_run(task).unwrap().outputs[name].clone()
}

fn storage_of(data: &DataDir) -> Arc<dyn Storage> {
    data.engine.files().storage().unwrap().clone()
}

/// The namespace files of `namespace`, relative path → content.
fn namespace_files(data: &DataDir, namespace: &str) -> Vec<(String, String)> {
    let root = StorageUri::namespace_files(namespace).unwrap();
    let storage = storage_of(data);
    storage
        .list_files(DEFAULT_TENANT, &root)
        .unwrap()
        .into_iter()
        .map(|info| {
            let bytes = storage.get(DEFAULT_TENANT, &info.uri).unwrap();
            (
                info.uri.relative_to(&root).unwrap().to_owned(),
                String::from_utf8(bytes).unwrap(),
            )
        })
        .collect()
}

const UPLOAD: &str = r#"id: upload
namespace: company.team
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    extension: .py
    content: print("hello")
  - id: renamed
    type: io.kestra.plugin.core.namespace.UploadFiles
    namespace: company.team
    files:
      /scripts/main.py: "{{ outputs.write.uri }}"
  - id: listed
    type: io.kestra.plugin.core.namespace.UploadFiles
    namespace: "{{ flow.namespace }}.child"
    destination: /lib
    files:
      - "{{ outputs.write.uri }}"
  - id: from_workdir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: local
        type: io.kestra.plugin.core.storage.LocalFiles
        inputs:
          conf/app.yml: "level: debug"
          conf/skip.txt: skipped
      - id: upload_glob
        type: io.kestra.plugin.core.namespace.UploadFiles
        namespace: company.team
        files:
          - "conf/*.yml"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_go_up_come_back_down_and_are_deleted() {
    let data = start();
    let up = data.run_ok(UPLOAD).await;
    let written = output(&up, "write", "uri");
    let name = written.as_str().unwrap().rsplit('/').next().unwrap();
    assert_eq!(
        namespace_files(&data, "company.team"),
        [
            ("conf/app.yml".to_owned(), "level: debug".to_owned()),
            ("scripts/main.py".to_owned(), "print(\"hello\")".to_owned()),
        ]
    );
    assert_eq!(
        namespace_files(&data, "company.team.child"),
        [(format!("lib/{name}"), "print(\"hello\")".to_owned())]
    );
    assert_eq!(
        output(&up, "renamed", "files"),
        json!({"/scripts/main.py": "kestra:///company/team/_files/scripts/main.py"})
    );

    // A second upload: ERROR refuses an existing file, SKIP leaves it.
    let conflict = |rule: &str| {
        format!(
            "id: again\nnamespace: company.team\ntasks:\n  - id: write\n    type: io.kestra.plugin.core.storage.Write\n    content: changed\n  - id: up\n    type: io.kestra.plugin.core.namespace.UploadFiles\n    namespace: company.team\n    conflict: {rule}\n    files:\n      scripts/main.py: \"{{{{ outputs.write.uri }}}}\"\n"
        )
    };
    let refused = data.run(&conflict("ERROR")).await;
    data.failed_saying(
        &refused,
        "namespace file 'scripts/main.py' already exists in namespace 'company.team' and \
         conflict is ERROR: delete it first, or set conflict: OVERWRITE",
    );
    let skipped = data.run_ok(&conflict("SKIP")).await;
    assert_eq!(output(&skipped, "up", "files"), json!({}));
    assert!(
        namespace_files(&data, "company.team")
            .contains(&("scripts/main.py".to_owned(), "print(\"hello\")".to_owned()))
    );

    let down = data
        .run_ok(
            r#"id: download
namespace: company.team
tasks:
  - id: down
    type: io.kestra.plugin.core.namespace.DownloadFiles
    namespace: company.team
    files:
      - "/scripts/**"
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "{{ read(outputs.down.files['/scripts/main.py']) }}"
  - id: delete
    type: io.kestra.plugin.core.namespace.DeleteFiles
    namespace: company.team
    files: "**.py"
"#,
        )
        .await;
    let files = output(&down, "down", "files");
    assert_eq!(files.as_object().unwrap().len(), 1, "{files}");
    assert!(
        files["/scripts/main.py"]
            .as_str()
            .unwrap()
            .starts_with(&format!(
                "kestra:///company/team/download/executions/{}/",
                down.id
            ))
    );
    assert!(
        data.messages(&down)
            .contains(&"print(\"hello\")".to_owned())
    );
    assert_eq!(
        namespace_files(&data, "company.team"),
        [("conf/app.yml".to_owned(), "level: debug".to_owned())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_touches_only_the_namespaces_it_may() {
    let data = start();
    let storage = storage_of(&data);
    for namespace in ["company", "company.other"] {
        let uri = StorageUri::namespace_files(namespace)
            .unwrap()
            .join("shared.txt")
            .unwrap();
        storage.put(DEFAULT_TENANT, &uri, b"shared").unwrap();
    }
    let task = |kind: &str, namespace: &str| {
        format!(
            "id: reach\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.namespace.{kind}\n    namespace: {namespace}\n    files: \"**\"\n"
        )
    };
    // Down from a parent: allowed.
    let parent = data.run_ok(&task("DownloadFiles", "company")).await;
    assert_eq!(
        output(&parent, "t", "files")
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["/shared.txt"]
    );
    let sibling = data.run(&task("DownloadFiles", "company.other")).await;
    data.failed_saying(
        &sibling,
        "property 'namespace': 'company.other' is not allowed: a flow of namespace \
         'company.team' may download the namespace files of its own namespace or a parent of it",
    );
    for (kind, namespace) in [("DeleteFiles", "company"), ("DeleteFiles", "company.other")] {
        let done = data.run(&task(kind, namespace)).await;
        data.failed_saying(
            &done,
            &format!(
                "property 'namespace': '{namespace}' is not allowed: a flow of namespace \
                 'company.team' may upload or delete the namespace files of its own namespace \
                 or a child of it"
            ),
        );
    }
    assert_eq!(namespace_files(&data, "company").len(), 1);
    assert_eq!(namespace_files(&data, "company.other").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_derived_from_a_secret_is_never_uploaded() {
    let data = start();
    let sealed = data
        .run(
            r#"id: leak
namespace: company.team
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: "token={{ secret('K') }}"
  - id: up
    type: io.kestra.plugin.core.namespace.UploadFiles
    namespace: company.team
    files:
      leaked.txt: "{{ outputs.write.uri }}"
"#,
        )
        .await;
    data.failed_saying(
        &sealed,
        "the file of 'files.leaked.txt' derives from a secret: namespace files are stored in \
         clear and readable by every flow of namespace \
         'company.team', so it is not uploaded",
    );
    // A working directory's file, once the execution has used a secret.
    let workdir = data
        .run(
            r#"id: leak_workdir
namespace: company.team
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: local
        type: io.kestra.plugin.core.storage.LocalFiles
        inputs:
          out.txt: "{{ secret('K') | base64encode }}"
      - id: up
        type: io.kestra.plugin.core.namespace.UploadFiles
        namespace: company.team
        files: ["*.txt"]
"#,
        )
        .await;
    data.failed_saying(
        &workdir,
        "file 'out.txt' of the working directory may derive from a secret (the execution has \
         used one, and a process may have written it there): namespace files are stored in clear and readable by every flow of namespace \
         'company.team', so it is not uploaded",
    );
    assert!(namespace_files(&data, "company.team").is_empty());
    for done in [&sealed, &workdir] {
        assert!(!data.messages(done).iter().any(|m| m.contains(K)));
    }
    data.assert_no_file_holds(K);
}
