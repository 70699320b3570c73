//! The jdbc.duckdb tasks with the real DuckDB (its Python package, from
//! `scripts/peers/duckdb.sh`, named by `SAKER_DUCKDB_PYTHON`): a CSV of `inputFiles` read with
//! `read_csv_auto`, a file written through `{{ outputFiles.<name> }}` and the database
//! stored and opened again (`databaseUri`), DuckDB's types as JSON, every fetchType, Queries,
//! named parameters bound by DuckDB, bad SQL reported with the statement DuckDB refused, and a
//! secret sent as a parameter: the rows masked, the stored rows and database sealed, and no
//! stored byte holding the secret.

mod common;

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use common::data_dir::{DataDir, sealer, storage};
use common::flows::output;
use saker_model::StateType;
use serde_json::json;

const TOKEN: &str = "duckdb-token-Qp4Lx9Vr2m";

/// The engine, or `None` (the test says SKIPPED) when DuckDB is not installed.
fn engine() -> Option<DataDir> {
    if std::env::var_os("SAKER_DUCKDB_PYTHON").is_none() {
        eprintln!("SKIPPED: DuckDB (scripts/peers/duckdb.sh installs it, SAKER_DUCKDB_PYTHON)");
        return None;
    }
    Some(DataDir::start(|dir, parts| {
        parts.secrets = Arc::new(common::KeyedSecrets::new([("TOKEN", TOKEN.to_owned())]));
        parts.sealer = Some(sealer());
        parts.storage = Some(storage(dir));
    }))
}

fn flow(tasks: &str) -> String {
    format!("id: duck\nnamespace: company.team\ntasks:\n{tasks}")
}

/// The bytes of the stored file `uri` (`kestra:///...`), as the storage holds them.
fn stored_bytes(dir: &Path, uri: &str) -> Vec<u8> {
    let path = uri.strip_prefix("kestra:///").expect("a kestra:/// URI");
    let file = common::files_under(&dir.join("storage"))
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(path))
        .unwrap_or_else(|| panic!("{uri} is not in the storage"));
    std::fs::read(file).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_is_loaded_stored_and_queried_with_every_fetch_type() {
    let Some(data) = engine() else { return };
    let done = data
        .run_ok(&flow(
            r#"  - id: load
    type: io.kestra.plugin.jdbc.duckdb.Query
    url: "jdbc:duckdb:"
    inputFiles:
      data.csv: |
        id,name,price
        1,nut,0.5
        2,bolt,1.25
        3,washer,0.1
    outputFiles:
      - names
    outputDbFile: true
    sql: |
      CREATE TABLE items AS SELECT * FROM read_csv_auto('data.csv');
      COPY (SELECT name FROM items ORDER BY id) TO '{{ outputFiles.names }}' (HEADER, DELIMITER ',');
      SELECT count(*) AS n, sum(price) AS total FROM items
    fetchType: FETCH_ONE
  - id: typed
    type: io.kestra.plugin.jdbc.duckdb.Query
    databaseUri: "{{ outputs.load.databaseUri }}"
    timeZoneId: Europe/Paris
    sql: |
      SELECT id, name, CAST(price AS DECIMAL(6, 2)) AS price, DATE '2024-01-02' AS day,
             TIMESTAMP '2024-01-02 03:04:05' AS at,
             TIMESTAMPTZ '2024-01-02 03:04:05+00' AS at_zone,
             '\x01\x02\xFF'::BLOB AS data, [id, id * 10] AS list, {'a': id, 'b': name} AS pair,
             NULL AS nothing
      FROM items WHERE price > :min AND name <> :skip ORDER BY id
    parameters:
      min: 0.2
      skip: "it's"
    fetchType: FETCH
  - id: stored
    type: io.kestra.plugin.jdbc.duckdb.Query
    databaseUri: "{{ outputs.load.databaseUri }}"
    sql: SELECT name FROM items ORDER BY id
    store: true
  - id: again
    type: io.kestra.plugin.jdbc.duckdb.Queries
    url: jdbc:duckdb:names.duckdb
    inputFiles:
      names.csv: "{{ outputs.load.outputFiles.names }}"
    sql: |
      CREATE TABLE n AS SELECT * FROM read_csv_auto('names.csv');
      INSERT INTO n VALUES (:extra);
      SELECT count(*) AS c FROM n;
      SELECT name FROM n ORDER BY name LIMIT 2;
    parameters:
      extra: "a; b"
    fetchType: FETCH
  - id: none
    type: io.kestra.plugin.jdbc.duckdb.Queries
    sql: |
      CREATE TABLE t AS SELECT 1 AS x;
      SELECT x FROM t;
  - id: nothing
    type: io.kestra.plugin.jdbc.duckdb.Query
    sql: SELECT 42 AS answer
"#,
        ))
        .await;
    assert_eq!(
        output(&done, "load", "row"),
        &json!({"n": 3, "total": 1.85})
    );
    let names = output(&done, "load", "outputFiles")["names"]
        .as_str()
        .unwrap();
    assert_eq!(
        String::from_utf8(stored_bytes(data.dir.path(), names)).unwrap(),
        "name\nnut\nbolt\nwasher\n"
    );
    assert!(
        output(&done, "load", "databaseUri")
            .as_str()
            .is_some_and(|u| u.ends_with(".db"))
    );
    assert_eq!(
        output(&done, "typed", "rows"),
        &json!([
            {"id": 1, "name": "nut", "price": 0.5, "day": "2024-01-02",
             "at": "2024-01-02T03:04:05", "at_zone": "2024-01-02T04:04:05+01:00",
             "data": "AQL/", "list": [1, 10], "pair": {"a": 1, "b": "nut"}, "nothing": null},
            {"id": 2, "name": "bolt", "price": 1.25, "day": "2024-01-02",
             "at": "2024-01-02T03:04:05", "at_zone": "2024-01-02T04:04:05+01:00",
             "data": "AQL/", "list": [2, 20], "pair": {"a": 2, "b": "bolt"}, "nothing": null}
        ])
    );
    assert_eq!(output(&done, "typed", "size"), &json!(2));
    assert_eq!(output(&done, "stored", "size"), &json!(3));
    let ion = stored_bytes(
        data.dir.path(),
        output(&done, "stored", "uri").as_str().unwrap(),
    );
    let ion = String::from_utf8(ion).unwrap();
    assert!(
        ion.contains("nut") && ion.contains("washer"),
        "the rows are stored as Ion: {ion}"
    );
    assert_eq!(
        output(&done, "again", "outputs"),
        &json!([
            {"rows": [{"c": 4}], "size": 1},
            {"rows": [{"name": "a; b"}, {"name": "bolt"}], "size": 2}
        ])
    );
    assert_eq!(output(&done, "none", "outputs"), &json!([{}]));
    let nothing = &done.task_run("nothing").unwrap().outputs;
    assert!(
        nothing.get("row").is_none() && nothing.get("rows").is_none(),
        "{nothing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sql_is_reported_with_the_statement_duckdb_refused() {
    let Some(data) = engine() else { return };
    let done = data
        .run(&flow(
            r#"  - id: bad
    type: io.kestra.plugin.jdbc.duckdb.Queries
    sql: |
      CREATE TABLE t (x INTEGER);
      SELEC x FROM t;
"#,
        ))
        .await;
    assert_eq!(done.state.current, StateType::Failed);
    let logs = data.messages(&done);
    assert!(
        logs.iter()
            .any(|l| l.contains("DuckDB refused statement 2 of 2") && l.contains("syntax error")),
        "{logs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outside_the_working_directory_is_refused() {
    let Some(data) = engine() else { return };
    for url in ["jdbc:duckdb:/etc/passwd", "jdbc:duckdb:../other.db"] {
        let done = data
            .run(&flow(&format!(
                "  - id: q\n    type: io.kestra.plugin.jdbc.duckdb.Query\n    url: {url}\n    \
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
async fn a_secret_sent_to_duckdb_is_masked_and_sealed() {
    let Some(data) = engine() else { return };
    let done = data
        .run(&flow(
            r#"  - id: write
    type: io.kestra.plugin.jdbc.duckdb.Queries
    url: jdbc:duckdb:vault.duckdb
    outputDbFile: true
    sql: |
      CREATE TABLE t (token VARCHAR);
      INSERT INTO t VALUES (:token);
      SELECT token, upper(token) AS shout, 'plain' AS other FROM t;
    parameters:
      token: "{{ secret('TOKEN') }}"
    fetchType: STORE
  - id: read
    type: io.kestra.plugin.jdbc.duckdb.Query
    databaseUri: "{{ outputs.write.databaseUri }}"
    sql: SELECT token, upper(token) AS shout FROM t
    fetchType: FETCH_ONE
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "read {{ outputs.read.row.token }} {{ outputs.read.row.shout }}"
  - id: bad
    type: io.kestra.plugin.jdbc.duckdb.Query
    sql: "SELECT '{{ secret('TOKEN') }}' FROM no_such_table"
"#,
        ))
        .await;
    assert_eq!(done.state.current, StateType::Failed);
    let logs = data.messages(&done);
    assert!(logs.iter().any(|l| l == "read **** ****"), "{logs:?}");
    assert!(
        logs.iter()
            .any(|l| l.contains("DuckDB refused the query") && l.contains("no_such_table")),
        "{logs:?}"
    );
    let shown = serde_json::to_string(&done).unwrap() + &logs.join("\n");
    assert!(
        !shown.contains(TOKEN),
        "the execution or its log holds the secret"
    );
    let stored = output(&done, "write", "outputs")[0]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let DataDir { dir, engine, .. } = data;
    drop(engine);
    assert!(
        saker_engine::files::is_sealed_bytes(&stored_bytes(dir.path(), &stored)),
        "the rows read with a secret are stored sealed"
    );
    let files = common::files_under(dir.path());
    assert!(
        files.iter().any(|p| p.ends_with("vault.duckdb")),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kestra_older_working_dir_variable_and_a_missing_extension_are_handled() {
    let Some(data) = engine() else { return };
    let done = data
        .run(&flow(
            r#"  - id: q
    type: io.kestra.plugin.jdbc.duckdb.Query
    communityExtensions: [saker_no_such_extension]
    inputFiles:
      in.csv: "x\n1\n2\n"
    sql: SELECT count(*) AS n FROM read_csv_auto('{{ workingDir }}/in.csv')
    fetchType: FETCH_ONE
"#,
        ))
        .await;
    let levels = data.levels(&done);
    assert_eq!(done.state.current, StateType::Success, "{levels:?}");
    assert_eq!(output(&done, "q", "row"), &json!({"n": 2}));
    assert!(
        levels
            .iter()
            .any(|(level, line)| *level == saker_model::Level::Warn
                && line.contains("extension 'saker_no_such_extension' not loaded")),
        "{levels:?}"
    );
}
