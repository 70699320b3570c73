//! The jdbc.sqlite tasks on a database of the task's working directory: a table created and
//! filled with named parameters, the database stored (`outputDbFile`) and handed to the next
//! task (`sqliteFile`), every fetchType, a url outside the working directory refused, and a
//! secret written into the database: the stored database is sealed, the rows read from it
//! are masked, and no stored byte holds the secret.

mod common;

use std::sync::Arc;

use base64::Engine as _;
use common::data_dir::{DataDir, sealer, storage};
use common::flows::output;
use saker_model::StateType;
use serde_json::json;

const TOKEN: &str = "sqlite-token-Kd8sV3nQ7e";

fn engine() -> DataDir {
    DataDir::start(|dir, parts| {
        parts.secrets = Arc::new(common::KeyedSecrets::new([("TOKEN", TOKEN.to_owned())]));
        parts.sealer = Some(sealer());
        parts.storage = Some(storage(dir));
    })
}

fn flow(tasks: &str) -> String {
    format!("id: lite\nnamespace: company.team\ntasks:\n{tasks}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_is_filled_stored_and_queried_by_the_next_task() {
    let data = engine();
    let done = data
        .run_ok(&flow(
            r#"  - id: create
    type: io.kestra.plugin.jdbc.sqlite.Queries
    url: jdbc:sqlite:shop.db
    outputDbFile: true
    sql: |
      CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL, data BLOB, note TEXT);
      INSERT INTO items (name, price, data, note) VALUES (:name, :price, x'0102ff', :note);
      INSERT INTO items (name, price) VALUES ('bolt', 0.25);
    parameters:
      name: "nut; and bolt"
      price: 1.5
      note: null
  - id: all
    type: io.kestra.plugin.jdbc.sqlite.Query
    url: jdbc:sqlite:shop.db
    sqliteFile: "{{ outputs.create.databaseUri }}"
    sql: SELECT id, name, price, data, note FROM items ORDER BY id
    fetchType: FETCH
  - id: one
    type: io.kestra.plugin.jdbc.sqlite.Query
    url: jdbc:sqlite:shop.db
    sqliteFile: "{{ outputs.create.databaseUri }}"
    sql: SELECT name FROM items WHERE price > :min
    parameters:
      min: 1
    fetchOne: true
  - id: stored
    type: io.kestra.plugin.jdbc.sqlite.Query
    url: "jdbc:sqlite::memory:"
    sql: SELECT 1 AS n UNION ALL SELECT 2
    fetchType: STORE
  - id: none
    type: io.kestra.plugin.jdbc.sqlite.Queries
    url: jdbc:sqlite:shop.db
    sqliteFile: "{{ outputs.create.databaseUri }}"
    outputDbFile: true
    sql: |
      INSERT INTO items (name) VALUES ('washer') RETURNING id;
      SELECT count(*) FROM items;
  - id: counted
    type: io.kestra.plugin.jdbc.sqlite.Query
    url: jdbc:sqlite:shop.db
    sqliteFile: "{{ outputs.none.databaseUri }}"
    sql: SELECT count(*) AS n FROM items
    fetchType: FETCH_ONE
"#,
        ))
        .await;
    let uri = output(&done, "create", "databaseUri").as_str().unwrap();
    assert!(uri.ends_with("/shop.db"), "{uri}");
    assert_eq!(output(&done, "create", "outputs"), &json!([]));
    assert_eq!(
        output(&done, "all", "rows"),
        &json!([
            {"id": 1, "name": "nut; and bolt", "price": 1.5, "data": "AQL/", "note": null},
            {"id": 2, "name": "bolt", "price": 0.25, "data": null, "note": null}
        ])
    );
    assert_eq!(output(&done, "all", "size"), &json!(2));
    assert_eq!(
        output(&done, "one", "row"),
        &json!({"name": "nut; and bolt"})
    );
    assert_eq!(output(&done, "stored", "size"), &json!(2));
    assert!(
        output(&done, "stored", "uri")
            .as_str()
            .is_some_and(|u| u.starts_with("kestra:///company/team/lite/executions/"))
    );
    // NONE keeps no rows, yet the INSERT ... RETURNING made its change.
    assert_eq!(output(&done, "none", "outputs"), &json!([{}, {}]));
    assert_eq!(output(&done, "counted", "row"), &json!({"n": 3}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outside_the_working_directory_is_refused() {
    let data = engine();
    for url in ["jdbc:sqlite:/etc/passwd", "jdbc:sqlite:../other.db"] {
        let done = data
            .run(&flow(&format!(
                "  - id: q\n    type: io.kestra.plugin.jdbc.sqlite.Query\n    url: {url}\n    \
                 sql: SELECT 1\n    fetchType: FETCH\n"
            )))
            .await;
        assert_eq!(done.state.current, StateType::Failed);
        let logs = data.messages(&done);
        assert!(
            logs.iter()
                .any(|l| l.contains("not a file of the task's working directory")),
            "{logs:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_written_to_a_database_stays_sealed() {
    let data = engine();
    let done = data
        .run_ok(&flow(
            r#"  - id: write
    type: io.kestra.plugin.jdbc.sqlite.Queries
    url: jdbc:sqlite:vault.db
    outputDbFile: true
    sql: |
      CREATE TABLE t (token TEXT);
      INSERT INTO t VALUES (:token);
    parameters:
      token: "{{ secret('TOKEN') }}"
  - id: read
    type: io.kestra.plugin.jdbc.sqlite.Query
    url: jdbc:sqlite:vault.db
    sqliteFile: "{{ outputs.write.databaseUri }}"
    sql: SELECT token, upper(token) AS shout, 'plain' AS other FROM t
    fetchType: FETCH_ONE
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "read {{ outputs.read.row.token }} {{ outputs.read.row.shout }}"
"#,
        ))
        .await;
    let logs = data.messages(&done);
    assert!(logs.iter().any(|l| l == "read **** ****"), "{logs:?}");
    let text = serde_json::to_string(&done).unwrap();
    assert!(!text.contains(TOKEN), "the execution holds the secret");
    let DataDir { dir, engine, .. } = data;
    drop(engine);
    let files = common::files_under(dir.path());
    assert!(
        files.iter().any(|p| p.ends_with("vault.db")),
        "the database is stored: {files:?}"
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(TOKEN);
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        for needle in [TOKEN, &TOKEN.to_uppercase(), b64.trim_end_matches('=')] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{} holds the secret",
                path.display()
            );
        }
    }
}
