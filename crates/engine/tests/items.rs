//! Kestra's item tasks through the engine (`io.kestra.plugin.core.storage.{FilterItems,
//! DeduplicateItems}`): rows of an Ion file kept or dropped by a condition rendered with the
//! row's fields as variables, the last row of each key kept, errors on a row handled as
//! `errorOrNullBehavior` says, and a file holding a secret filtered into a sealed file whose
//! secret is never in the log nor in clear under the data directory.

mod common;

use common::data_dir::DataDir;
use saker_model::{DEFAULT_TENANT, Execution, StateType};
use saker_storage::StorageUri;
use serde_json::{Value, json};

const K: &str = "items-secret-Vb7Qz2Mw";

fn start() -> DataDir {
    DataDir::with_secret("K", K)
}

fn output(done: &Execution, task: &str, name: &str) -> Value {
    done.task_run(task).unwrap().outputs[name].clone()
}

/// A flow writing `csv`, converting it to Ion, then running `tasks` (which read
/// `outputs.ion.uri`) and logging `read()` of the file of each task named in `show`.
fn flow(csv: &str, tasks: &str, show: &[&str]) -> String {
    let csv: String = csv.lines().map(|l| format!("      {l}\n")).collect();
    let show: String = show
        .iter()
        .map(|t| format!("      - \"{t}={{{{ read(outputs.{t}.uri) }}}}\"\n"))
        .collect();
    format!(
        "id: items\nnamespace: company.team\nvariables:\n  product_id: from-the-flow\ntasks:\n  - id: csv\n    type: io.kestra.plugin.core.storage.Write\n    extension: .csv\n    content: |\n{csv}  - id: ion\n    type: io.kestra.plugin.serdes.csv.CsvToIon\n    from: \"{{{{ outputs.csv.uri }}}}\"\n{tasks}  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message:\n{show}"
    )
}

const ORDERS: &str = "order_id,customer,product_id\n1,kelly@example.com,20\n2,miguel@example.net,14\n3,kelly@example.com,20\n4,jessica@example.com,12\n5,jessica@example.com,20\n";

/// The rows of an Ion file's text as a task logged it.
fn rows(messages: &[String], task: &str) -> Vec<Value> {
    let text = messages
        .iter()
        .find_map(|m| m.strip_prefix(&format!("{task}=")))
        .unwrap_or_else(|| panic!("no {task}= line in {messages:?}"));
    saker_ion::read_rows(text.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap()
}

fn ids(rows: &[Value]) -> Vec<&str> {
    rows.iter()
        .map(|r| r["order_id"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_are_kept_or_dropped_by_a_condition_on_their_fields() {
    let data = start();
    let done = data
        .run_ok(&flow(
            ORDERS,
            r#"  - id: include
    type: io.kestra.plugin.core.storage.FilterItems
    from: "{{ outputs.ion.uri }}"
    filterCondition: "{{ (product_id | number) == 20 }}"
  - id: exclude
    type: io.kestra.core.tasks.storages.FilterItems
    from: "{{ outputs.ion.uri }}"
    filterCondition: "{{ customer == 'kelly@example.com' }}"
    filterType: EXCLUDE
"#,
            &["include", "exclude"],
        ))
        .await;
    let messages = data.messages(&done);
    // The row's `product_id` hides the flow's variable of the same name for the render.
    assert_eq!(ids(&rows(&messages, "include")), ["1", "3", "5"]);
    assert_eq!(ids(&rows(&messages, "exclude")), ["2", "4", "5"]);
    assert_eq!(output(&done, "include", "processedItemsTotal"), json!(5));
    assert_eq!(output(&done, "include", "droppedItemsTotal"), json!(2));
    assert_eq!(output(&done, "exclude", "droppedItemsTotal"), json!(2));
    // Kept rows come out as they were written.
    assert_eq!(
        rows(&messages, "include")[0],
        json!({"order_id": "1", "customer": "kelly@example.com", "product_id": "20"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_row_of_each_key_is_kept_in_the_files_order() {
    let data = start();
    let done = data
        .run_ok(&flow(
            ORDERS,
            r#"  - id: dedup
    type: io.kestra.plugin.core.storage.DeduplicateItems
    from: "{{ outputs.ion.uri }}"
    expr: "{{ customer }}"
  - id: by_product
    type: io.kestra.core.tasks.storages.DeduplicateItems
    from: "{{ outputs.ion.uri }}"
    expr: "{{ product_id }}"
"#,
            &["dedup", "by_product"],
        ))
        .await;
    let messages = data.messages(&done);
    assert_eq!(ids(&rows(&messages, "dedup")), ["2", "3", "5"]);
    assert_eq!(ids(&rows(&messages, "by_product")), ["2", "4", "5"]);
    assert_eq!(output(&done, "dedup", "numKeys"), json!(3));
    assert_eq!(output(&done, "dedup", "processedItemsTotal"), json!(5));
    assert_eq!(output(&done, "dedup", "droppedItemsTotal"), json!(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_condition_failing_on_a_row_fails_or_decides_as_told() {
    let data = start();
    let condition = "{{ (product_id | number) > 15 }}";
    let csv = "order_id,product_id\n1,20\n2,not-a-number\n3,12\n";
    let task = |behavior: &str| {
        format!(
            "  - id: filter\n    type: io.kestra.plugin.core.storage.FilterItems\n    from: \"{{{{ outputs.ion.uri }}}}\"\n    filterCondition: \"{condition}\"\n{behavior}"
        )
    };
    let failed = data.run(&flow(csv, &task(""), &["filter"])).await;
    assert_eq!(failed.state.current, StateType::Failed);
    let messages = data.messages(&failed);
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("property 'filterCondition': failed on row 2: ")),
        "{messages:?}"
    );
    for (behavior, kept) in [("INCLUDE", vec!["1", "2"]), ("EXCLUDE", vec!["1"])] {
        let done = data
            .run_ok(&flow(
                csv,
                &task(&format!("    errorOrNullBehavior: {behavior}\n")),
                &["filter"],
            ))
            .await;
        assert_eq!(
            ids(&rows(&data.messages(&done), "filter")),
            kept,
            "{behavior}"
        );
    }
    let bad = data
        .run(&flow(
            csv,
            &task("    filterType: \"{{ 'KEEP' }}\"\n"),
            &["filter"],
        ))
        .await;
    data.failed_saying(
        &bad,
        "property 'filterType': 'KEEP' is none of INCLUDE, EXCLUDE",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_holding_a_secret_is_filtered_into_a_sealed_file() {
    let data = start();
    let secret_csv = "order_id,token\n1,{{ secret('K') }}\n2,plain-token\n";
    let done = data
        .run_ok(&flow(
            secret_csv,
            r#"  - id: filter
    type: io.kestra.plugin.core.storage.FilterItems
    from: "{{ outputs.ion.uri }}"
    filterCondition: "{{ token != 'plain-token' }}"
  - id: dedup
    type: io.kestra.plugin.core.storage.DeduplicateItems
    from: "{{ outputs.ion.uri }}"
    expr: "{{ token }}"
"#,
            &["filter", "dedup"],
        ))
        .await;
    let messages = data.messages(&done);
    assert!(messages.iter().any(|m| m == "filter=****"), "{messages:?}");
    assert!(!messages.iter().any(|m| m.contains(K)), "{messages:?}");
    let files = data.engine.files();
    for task in ["filter", "dedup"] {
        let uri = StorageUri::parse(output(&done, task, "uri").as_str().unwrap()).unwrap();
        assert!(files.is_sealed(DEFAULT_TENANT, &uri).unwrap(), "{task}");
    }
    let uri = StorageUri::parse(output(&done, "filter", "uri").as_str().unwrap()).unwrap();
    let opened = files.open(DEFAULT_TENANT, &done.id, &uri).unwrap();
    let kept: Vec<Value> = saker_ion::read_rows(opened.bytes.as_slice())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kept, [json!({"order_id": "1", "token": K})]);

    // An expression failing on a row of the sealed file does not quote the row.
    let failed = data
        .run(&flow(
            secret_csv,
            "  - id: filter\n    type: io.kestra.plugin.core.storage.FilterItems\n    from: \"{{ outputs.ion.uri }}\"\n    filterCondition: \"{{ token | number }}\"\n",
            &["filter"],
        ))
        .await;
    data.failed_saying(
        &failed,
        "property 'filterCondition': failed on row 1 (the file is secret, so the cause, which \
         may quote the row, is not shown)",
    );
    assert!(!data.messages(&failed).iter().any(|m| m.contains(K)));
    data.assert_no_file_holds(K);
}
