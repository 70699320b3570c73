//! The core storage tasks through the engine (`io.kestra.plugin.core.storage.{Write, Size,
//! Split, Concat, Delete, Reverse, PurgeCurrentExecutionFiles}`): a file written, measured,
//! cut and joined back, reversed; deleted once and then missing; every file of the execution
//! purged; another execution's file refused; and a secret written to a file stays
//! sealed through Split, Concat and the serdes conversions, never in clear under the data
//! directory nor in the log.

mod common;

use base64::Engine as _;
use common::data_dir::{DataDir, sealer, storage};
use saker_model::{DEFAULT_TENANT, Execution, StateType};
use saker_storage::StorageUri;
use serde_json::{Value, json};

const K: &str = "storage-secret-Hq4Tn9Lp";

fn start() -> DataDir {
    DataDir::start(|dir, parts| {
        parts.storage = Some(storage(dir));
        parts.sealer = Some(sealer());
        parts.secrets = std::sync::Arc::new(common::KeyedSecrets::new([("K", K.to_owned())]));
    })
}

fn output(done: &Execution, task: &str, name: &str) -> Value {
    done.task_run(task).unwrap().outputs[name].clone()
}

/// True when the storage holds a file at `uri` (a `kestra:///` URI as a task outputs it).
fn stored(data: &DataDir, uri: &Value) -> bool {
    let uri = StorageUri::parse(uri.as_str().unwrap()).unwrap();
    let storage = data.engine.files().storage().unwrap().clone();
    storage.stat(DEFAULT_TENANT, &uri).unwrap().is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_is_written_measured_split_and_joined_back() {
    let data = start();
    let done = data
        .run_ok(
            r#"id: files
namespace: company.team
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    extension: txt
    content: "a\nb\nc\nd\ne\n"
  - id: size
    type: io.kestra.plugin.core.storage.Size
    uri: "{{ outputs.write.uri }}"
  - id: split
    type: io.kestra.plugin.core.storage.Split
    from: "{{ outputs.write.uri }}"
    rows: 2
  - id: parts
    type: io.kestra.plugin.core.storage.Split
    from: "{{ outputs.write.uri }}"
    partitions: 2
  - id: concat
    type: io.kestra.plugin.core.storage.Concat
    files: "{{ outputs.split.uris | toJson }}"
    extension: .txt
  - id: concat_list
    type: io.kestra.plugin.core.storage.Concat
    files:
      - "{{ outputs.parts.uris[1] }}"
      - "{{ outputs.parts.uris[0] }}"
    separator: "--\n"
  - id: show
    type: io.kestra.plugin.core.log.Log
    message:
      - "joined={{ read(outputs.concat.uri) }}"
      - "reordered={{ read(outputs.concat_list.uri) }}"
      - "first={{ read(outputs.split.uris[0]) }}"
"#,
        )
        .await;
    let write_uri = output(&done, "write", "uri");
    assert!(
        write_uri.as_str().unwrap().ends_with("/write.txt"),
        "{write_uri}"
    );
    assert_eq!(output(&done, "size", "size"), json!(10));
    let uris = output(&done, "split", "uris");
    assert_eq!(uris.as_array().unwrap().len(), 3, "{uris}");
    assert!(
        uris[0].as_str().unwrap().ends_with("/write-0.txt"),
        "{uris}"
    );
    assert_eq!(output(&done, "parts", "uris").as_array().unwrap().len(), 2);
    let messages = data.messages(&done);
    for expected in [
        "joined=a\nb\nc\nd\ne\n",
        "reordered=d\ne\n--\na\nb\nc\n--\n",
        "first=a\nb\n",
    ] {
        assert!(
            messages.iter().any(|m| m == expected),
            "{expected:?} not in {messages:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_is_reversed_and_the_executions_files_purged() {
    let data = start();
    let done = data
        .run_ok(
            r#"id: purge
namespace: company.team
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    extension: .txt
    content: "1\n2\n3\n"
  - id: reverse
    type: io.kestra.plugin.core.storage.Reverse
    from: "{{ outputs.write.uri }}"
    separator: ";"
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "reversed={{ read(outputs.reverse.uri) }}"
  - id: purge
    type: io.kestra.plugin.core.storage.PurgeExecution
"#,
        )
        .await;
    assert!(data.messages(&done).contains(&"reversed=3;2;1;".to_owned()));
    let reversed = output(&done, "reverse", "uri");
    assert!(reversed.as_str().unwrap().ends_with("/write-reversed.txt"));
    let purged = output(&done, "purge", "uris");
    assert_eq!(
        purged,
        json!([
            output(&done, "reverse", "uri"),
            output(&done, "write", "uri")
        ])
    );
    for uri in purged.as_array().unwrap() {
        assert!(!stored(&data, uri), "{uri}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_a_file_of_its_execution_only() {
    let data = start();
    let done = data
        .run_ok(
            r#"id: del
namespace: company.team
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: "x"
  - id: delete
    type: io.kestra.plugin.core.storage.Delete
    uri: "{{ outputs.write.uri }}"
  - id: again
    type: io.kestra.plugin.core.storage.Delete
    uri: "{{ outputs.write.uri }}"
"#,
        )
        .await;
    assert_eq!(output(&done, "delete", "deleted"), json!(true));
    assert_eq!(output(&done, "again", "deleted"), json!(false));
    assert_eq!(output(&done, "again", "uri"), output(&done, "write", "uri"));
    assert!(!stored(&data, &output(&done, "write", "uri")));

    let missing = data
        .run(
            "id: del2\nnamespace: company.team\ntasks:\n  - id: write\n    type: io.kestra.plugin.core.storage.Write\n    content: x\n  - id: delete\n    type: io.kestra.plugin.core.storage.Delete\n    uri: \"{{ outputs.write.uri }}.gone\"\n    errorOnMissing: true\n",
        )
        .await;
    assert_eq!(missing.state.current, StateType::Failed);
    assert!(
        data.messages(&missing)
            .iter()
            .any(|m| m.contains("does not exist"))
    );

    // Another execution's file stays where it is.
    let other = output(&done, "write", "uri");
    let keep = data
        .run_ok(
            "id: keep\nnamespace: company.team\ntasks:\n  - id: write\n    type: io.kestra.plugin.core.storage.Write\n    content: keep me\n",
        )
        .await;
    let kept = output(&keep, "write", "uri");
    let refused = data
        .run(&format!(
            "id: thief\nnamespace: company.team\ntasks:\n  - id: delete\n    type: io.kestra.plugin.core.storage.Delete\n    uri: {}\n",
            kept.as_str().unwrap()
        ))
        .await;
    assert_eq!(refused.state.current, StateType::Failed);
    let messages = data.messages(&refused);
    assert!(
        messages
            .iter()
            .any(|m| m.contains("does not belong to this execution")),
        "{messages:?} ({other})"
    );
    assert!(stored(&data, &kept));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_written_to_a_file_stays_sealed_through_every_file_task() {
    let data = start();
    let done = data
        .run_ok(
            r#"id: secret_files
namespace: company.team
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    extension: .csv
    content: |
      user,token
      ada,{{ secret('K') }}
      grace,plain
  - id: split
    type: io.kestra.plugin.core.storage.Split
    from: "{{ outputs.write.uri }}"
    rows: 2
  - id: concat
    type: io.kestra.plugin.core.storage.Concat
    files: "{{ outputs.split.uris | toJson }}"
  - id: to_ion
    type: io.kestra.plugin.serdes.csv.CsvToIon
    from: "{{ outputs.concat.uri }}"
  - id: to_json
    type: io.kestra.plugin.serdes.json.IonToJson
    from: "{{ outputs.to_ion.uri }}"
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "json={{ read(outputs.to_json.uri) }}"
"#,
        )
        .await;
    // read() of a sealed file is secret as a whole: the log shows none of it.
    let messages = data.messages(&done);
    assert!(messages.iter().any(|m| m == "json=****"), "{messages:?}");
    assert!(!messages.iter().any(|m| m.contains(K)), "{messages:?}");
    // Every file the tasks made is sealed, and opens to what Kestra would hold.
    let files = data.engine.files();
    let json_uri = StorageUri::parse(output(&done, "to_json", "uri").as_str().unwrap()).unwrap();
    let opened = files.open(DEFAULT_TENANT, &done.id, &json_uri).unwrap();
    assert!(opened.sealed);
    assert_eq!(
        String::from_utf8_lossy(&opened.bytes),
        format!(
            "{{\"user\":\"ada\",\"token\":\"{K}\"}}\n{{\"user\":\"grace\",\"token\":\"plain\"}}\n"
        )
    );
    let mut made = vec![
        output(&done, "write", "uri"),
        output(&done, "concat", "uri"),
        output(&done, "to_ion", "uri"),
    ];
    made.extend(
        output(&done, "split", "uris")
            .as_array()
            .unwrap()
            .iter()
            .cloned(),
    );
    for uri in made {
        let uri = StorageUri::parse(uri.as_str().unwrap()).unwrap();
        assert!(files.is_sealed(DEFAULT_TENANT, &uri).unwrap(), "{uri}");
    }
    drop(data.engine);

    let b64 = base64::engine::general_purpose::STANDARD.encode(K);
    let paths = common::files_under(data.dir.path());
    assert!(paths.iter().any(|p| p.ends_with("write.csv")), "{paths:?}");
    for path in paths {
        let bytes = std::fs::read(&path).unwrap();
        for needle in [K, b64.trim_end_matches('=')] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{} holds the secret",
                path.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversion_failing_on_a_secret_file_does_not_quote_it() {
    let data = start();
    // Errors name the row, never its content (the log's masking is a second net, not the
    // reason the secret is absent).
    for (task, content, extra, expected) in [
        (
            "io.kestra.plugin.serdes.json.IonToJson",
            "{token: \\\"{{ secret('K') }}\\\" oops}",
            "",
            "property 'from': row 1 is not valid Ion (text or binary); check the file is one of Kestra's Ion files",
        ),
        (
            "io.kestra.plugin.serdes.json.JsonToIon",
            "{\\\"token\\\": {{ secret('K') }}}",
            "",
            "property 'from': line 1 is not JSON (with 'newLine: true', the default, each line is one JSON value; set 'newLine: false' for a JSON document)",
        ),
        (
            "io.kestra.plugin.serdes.csv.CsvToIon",
            "a\\n{{ secret('K') }},x\\n",
            "\n    errorOnDifferentFieldCount: true",
            "property 'from': CSV record 2 has a different number of fields than the first row (errorOnDifferentFieldCount is true)",
        ),
    ] {
        let done = data
            .run(&format!(
                "id: bad_secret\nnamespace: company.team\ntasks:\n  - id: write\n    type: io.kestra.plugin.core.storage.Write\n    content: \"{content}\"\n  - id: convert\n    type: {task}\n    from: \"{{{{ outputs.write.uri }}}}\"{extra}\n"
            ))
            .await;
        assert_eq!(done.state.current, StateType::Failed, "{task}");
        let messages = data.messages(&done);
        assert!(
            messages.iter().any(|m| m == expected),
            "{task}: {messages:?}"
        );
        assert!(
            !messages.iter().any(|m| m.contains(K)),
            "{task}: {messages:?}"
        );
    }
}
