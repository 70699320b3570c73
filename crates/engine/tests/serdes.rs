//! The serdes conversions through the engine: CSV and JSON files converted to Kestra's Ion
//! files and back (`io.kestra.plugin.serdes.{csv,json}.*`), each result a file of its task run
//! read back with `read()`; Kestra's older names; and a file of another execution refused.

mod common;

use common::data_dir::{DataDir, sealer, storage};
use saker_model::StateType;
use serde_json::Value;

fn start() -> DataDir {
    DataDir::start(|dir, parts| {
        parts.storage = Some(storage(dir));
        parts.sealer = Some(sealer());
    })
}

fn uri(done: &saker_model::Execution, task: &str) -> String {
    match &done.task_run(task).unwrap().outputs["uri"] {
        Value::String(s) => s.clone(),
        other => panic!("{task}'s uri is {other:?}"),
    }
}

const CSV_CHAIN: &str = r#"id: convert
namespace: company.team
tasks:
  - id: csv
    type: io.kestra.plugin.core.storage.Write
    extension: .csv
    content: |
      id;name;note
      1;Ada;"first; with separator"
      2;Grace;"quoted ""word"""
  - id: to_ion
    type: io.kestra.plugin.serdes.csv.CsvToIon
    from: "{{ outputs.csv.uri }}"
    fieldSeparator: ";"
  - id: to_json
    type: io.kestra.plugin.serdes.json.IonToJson
    from: "{{ outputs.to_ion.uri }}"
  - id: back_to_csv
    type: io.kestra.plugin.serdes.csv.IonToCsv
    from: "{{ outputs.to_ion.uri }}"
    fieldSeparator: ";"
  - id: show
    type: io.kestra.plugin.core.log.Log
    message:
      - "ion={{ read(outputs.to_ion.uri) }}"
      - "json={{ read(outputs.to_json.uri) }}"
      - "csv={{ read(outputs.back_to_csv.uri) }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_becomes_ion_then_json_and_back_to_csv() {
    let data = start();
    let done = data.run_ok(CSV_CHAIN).await;
    let messages = data.messages(&done);
    let line = |prefix: &str| {
        messages
            .iter()
            .find_map(|m| m.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix} line in {messages:?}"))
            .to_owned()
    };
    // CSV fields are text, as Kestra reads them; one Ion row per line.
    let ion = line("ion=");
    assert_eq!(ion.lines().count(), 2, "{ion}");
    let rows: Vec<Value> = saker_ion::read_rows(ion.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows[0],
        serde_json::json!({"id": "1", "name": "Ada", "note": "first; with separator"})
    );
    assert_eq!(
        line("json="),
        "{\"id\":\"1\",\"name\":\"Ada\",\"note\":\"first; with separator\"}\n\
         {\"id\":\"2\",\"name\":\"Grace\",\"note\":\"quoted \\\"word\\\"\"}\n"
    );
    assert_eq!(
        line("csv="),
        "id;name;note\n1;Ada;\"first; with separator\"\n2;Grace;\"quoted \"\"word\"\"\"\n"
    );
    assert!(
        uri(&done, "to_ion").ends_with("/csv.ion"),
        "{}",
        uri(&done, "to_ion")
    );
    assert!(uri(&done, "to_json").ends_with("/csv.jsonl"));
    assert!(uri(&done, "back_to_csv").ends_with("/csv.csv"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_document_goes_through_ion_under_kestras_older_names() {
    let data = start();
    let done = data
        .run_ok(
            r#"id: json
namespace: company.team
tasks:
  - id: doc
    type: io.kestra.plugin.core.storage.Write
    extension: .json
    content: '[{"n": 1, "price": 12.5, "tags": ["a", "b"], "ok": true, "none": null}, {"n": 2}]'
  - id: to_ion
    type: io.kestra.plugin.serdes.json.JsonReader
    from: "{{ outputs.doc.uri }}"
    newLine: false
  - id: to_json
    type: io.kestra.plugin.serdes.json.JsonWriter
    from: "{{ outputs.to_ion.uri }}"
    newLine: false
  - id: to_csv
    type: io.kestra.plugin.serdes.csv.CsvWriter
    from: "{{ outputs.to_ion.uri }}"
    header: false
    alwaysDelimitText: true
  - id: show
    type: io.kestra.plugin.core.log.Log
    message:
      - "json={{ read(outputs.to_json.uri) }}"
      - "csv={{ read(outputs.to_csv.uri) }}"
"#,
        )
        .await;
    let messages = data.messages(&done);
    assert!(
        messages.contains(
            &"json=[{\"n\":1,\"price\":12.5,\"tags\":[\"a\",\"b\"],\"ok\":true,\"none\":null},{\"n\":2}]"
                .to_owned()
        ),
        "{messages:?}"
    );
    assert!(
        messages.contains(
            &"csv=\"1\",\"12.5\",\"[\"\"a\"\",\"\"b\"\"]\",\"true\",\"\"\n\"2\"\n".to_owned()
        ),
        "{messages:?}"
    );
    assert!(uri(&done, "to_json").ends_with("/doc.json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_with_an_error_naming_what_is_wrong() {
    let data = start();
    for (content, task, extra, expected) in [
        (
            "{a: 1}\\n{a: ]\\n",
            "io.kestra.plugin.serdes.json.IonToJson",
            "",
            "row 2 is not valid Ion",
        ),
        (
            "{\\\"a\\\": 1}\\nnot json\\n",
            "io.kestra.plugin.serdes.json.JsonToIon",
            "",
            "line 2 is not JSON",
        ),
        (
            "a,b\\n1,2,3\\n",
            "io.kestra.plugin.serdes.csv.CsvToIon",
            "\n    errorOnDifferentFieldCount: true",
            "CSV record 2 has a different number of fields",
        ),
        (
            "a,b\\n",
            "io.kestra.plugin.serdes.csv.CsvToIon",
            "\n    charset: ISO-8859-1",
            "'ISO-8859-1' is not yet available",
        ),
    ] {
        let source = format!(
            "id: bad\nnamespace: company.team\ntasks:\n  - id: src\n    type: io.kestra.plugin.core.storage.Write\n    content: \"{content}\"\n  - id: convert\n    type: {task}\n    from: \"{{{{ outputs.src.uri }}}}\"{extra}\n"
        );
        let done = data.run(&source).await;
        assert_eq!(done.state.current, StateType::Failed, "{task}");
        let messages = data.messages(&done);
        assert!(
            messages.iter().any(|m| m.contains(expected)),
            "{task}: {expected:?} not in {messages:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_another_execution_is_refused() {
    let data = start();
    let first = data
        .run_ok(
            "id: one\nnamespace: company.team\ntasks:\n  - id: src\n    type: io.kestra.plugin.core.storage.Write\n    content: \"{a: 1}\"\n",
        )
        .await;
    let theirs = uri(&first, "src");
    let done = data
        .run(&format!(
            "id: two\nnamespace: company.team\ntasks:\n  - id: steal\n    type: io.kestra.plugin.serdes.json.IonToJson\n    from: \"{theirs}\"\n"
        ))
        .await;
    assert_eq!(done.state.current, StateType::Failed);
    let messages = data.messages(&done);
    assert!(
        messages
            .iter()
            .any(|m| m.contains("does not belong to this execution")),
        "{messages:?}"
    );
}
