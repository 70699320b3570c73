//! The jdbc.postgresql tasks against a real PostgreSQL cluster the test starts
//! (`common/pg.rs`): a table created and filled with named parameters, every fetchType
//! (FETCH, FETCH_ONE, STORE, NONE and the deprecated booleans), PostgreSQL's types as Kestra
//! outputs them, Queries with several statements in one transaction (rolled back on error,
//! or not with `transaction: false`), and credentials from `secret()`: a wrong password and a
//! refused connection fail clearly, and neither the password nor a secret sent as a parameter
//! is in a log line, an output, an error or a stored byte.

mod common;
#[path = "common/pg.rs"]
mod pg;

use std::sync::Arc;

use base64::Engine as _;
use common::data_dir::{DataDir, sealer, storage};
use common::flows::output;
use saker_model::{Execution, StateType};
use serde_json::{Value, json};

const PASSWORD: &str = "pg-pass-Qx7vL2mK9w";
const WRONG: &str = "pg-wrong-Hs4nT8cR3y";
const TOKEN: &str = "pg-token-Wb5jF1pZ6u";

fn engine() -> DataDir {
    DataDir::start(|dir, parts| {
        parts.secrets = Arc::new(common::KeyedSecrets::new([
            ("PG_PASSWORD", PASSWORD.to_owned()),
            ("PG_WRONG", WRONG.to_owned()),
            ("TOKEN", TOKEN.to_owned()),
        ]));
        parts.sealer = Some(sealer());
        parts.storage = Some(storage(dir));
    })
}

/// Asserts that `execution` failed with a log line `says` accepts.
fn failed_saying(data: &DataDir, execution: &Execution, says: impl Fn(&str) -> bool) {
    assert_eq!(execution.state.current, StateType::Failed);
    let logs = data.messages(execution);
    assert!(logs.iter().any(|l| says(l)), "{logs:?}");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A flow of `tasks`, each jdbc task given `connection` (url, username, password lines).
fn flow(connection: &str, tasks: &[&str]) -> String {
    let mut source = String::from("id: sql\nnamespace: company.team\ntasks:\n");
    for task in tasks {
        let mut lines = task.lines();
        source.push_str(&format!("  - {}\n", lines.next().unwrap()));
        let connection = if task.contains(".jdbc.") {
            connection
        } else {
            ""
        };
        for line in connection.lines().chain(lines) {
            source.push_str(&format!("    {line}\n"));
        }
    }
    source
}

#[test]
fn queries_fetch_store_and_type_rows_as_kestra_does() {
    let pg = pg::PgCluster::start();
    pg.create_database("shop");
    let connection = format!(
        "url: jdbc:postgresql://127.0.0.1:{}/shop\nusername: postgres\npassword: unused",
        pg.port()
    );
    runtime().block_on(async {
        let data = engine();
        let done = data
            .run_ok(&flow(
                &connection,
                &[
                    "id: create\ntype: io.kestra.plugin.jdbc.postgresql.Queries\nsql: |\n  \
                     CREATE TYPE mood AS ENUM ('calm', 'busy');\n  \
                     CREATE TABLE people (id serial PRIMARY KEY, name text NOT NULL, \
                     score numeric(10,2), born date, seen timestamptz, at timestamp, \
                     wake time, tags text[], meta jsonb, uid uuid, photo bytea, active boolean, \
                     ratio float8, span interval, mood mood, big numeric, nothing text);",
                    "id: insert\ntype: io.kestra.plugin.jdbc.postgresql.Query\nsql: >-\n  \
                     INSERT INTO people (name, score, born, seen, at, wake, tags, meta, uid, \
                     photo, active, ratio, span, mood, big) VALUES (:name, :score, :born, :seen, \
                     :at, :wake, :tags, :meta, :uid, :photo, :active, :ratio, :span, :mood, :big)\n\
                     parameters:\n  name: Ada\n  score: 12.5\n  born: '1815-12-10'\n  \
                     seen: '2024-01-02T03:04:05Z'\n  at: '2024-01-02 03:04:05.5'\n  \
                     wake: '07:30:00'\n  tags: [a, 'b,c']\n  meta: {k: [1, 2]}\n  \
                     uid: 8d3e4a4e-5b8c-4e0b-9a51-4f1a1d2b3c4d\n  photo: '\\x0102ff'\n  \
                     active: true\n  ratio: 0.25\n  span: 1 year 2 mons 3 days 04:05:06\n  \
                     mood: busy\n  big: '12345678901234567890.123'",
                    "id: second\ntype: io.kestra.plugin.jdbc.postgresql.Query\n\
                     sql: INSERT INTO people (name) VALUES (:name)\nparameters:\n  name: Grace",
                    "id: one\ntype: io.kestra.plugin.jdbc.postgresql.Query\n\
                     sql: SELECT * FROM people WHERE name = :name AND 1::int = 1\n\
                     parameters:\n  name: Ada\nfetchType: FETCH_ONE\ntimeZoneId: Europe/Paris",
                    "id: all\ntype: io.kestra.plugin.jdbc.postgresql.Query\n\
                     sql: SELECT id, name, nothing FROM people ORDER BY id\nfetchType: FETCH",
                    "id: legacy\ntype: io.kestra.plugin.jdbc.postgresql.Query\n\
                     sql: SELECT name FROM people ORDER BY id\nfetchOne: true",
                    "id: none\ntype: io.kestra.plugin.jdbc.postgresql.Query\n\
                     sql: SELECT name FROM people\nfetchType: NONE",
                    "id: several\ntype: io.kestra.plugin.jdbc.postgresql.Queries\nsql: |\n  \
                     SELECT count(*) AS n FROM people;\n  \
                     UPDATE people SET active = false WHERE name = 'Grace';\n  \
                     SELECT name, active FROM people WHERE name = 'Grace';\nfetchType: FETCH",
                    "id: untyped\ntype: io.kestra.plugin.jdbc.postgresql.Query\n\
                     sql: SELECT :word AS word, :n AS n, :none IS NULL AS missing\n\
                     parameters:\n  word: hello\n  n: 7\n  none: null\nfetchType: FETCH_ONE",
                    "id: empty\ntype: io.kestra.plugin.jdbc.postgresql.Query\n\
                     sql: SELECT name FROM people WHERE false\nfetchType: FETCH_ONE",
                    "id: stored\ntype: io.kestra.plugin.jdbc.postgresql.Query\n\
                     sql: SELECT id, name, tags, meta FROM people ORDER BY id\nfetchType: STORE",
                    "id: readback\ntype: io.kestra.plugin.core.log.Log\n\
                     message: \"stored {{ read(outputs.stored.uri) }}\"",
                ],
            ))
            .await;
        let row = output(&done, "one", "row");
        assert_eq!(
            row,
            &json!({
                "id": 1, "name": "Ada", "score": 12.5, "born": "1815-12-10",
                "seen": "2024-01-02T04:04:05+01:00", "at": "2024-01-02T03:04:05.500",
                "wake": "07:30:00", "tags": ["a", "b,c"], "meta": {"k": [1, 2]},
                "uid": "8d3e4a4e-5b8c-4e0b-9a51-4f1a1d2b3c4d", "photo": "AQL/",
                "active": true, "ratio": 0.25, "span": "P1Y2M3DT4H5M6S", "mood": "busy",
                "big": "12345678901234567890.123", "nothing": null
            })
        );
        assert_eq!(output(&done, "one", "size"), &json!(1));
        assert_eq!(
            output(&done, "all", "rows"),
            &json!([
                {"id": 1, "name": "Ada", "nothing": null},
                {"id": 2, "name": "Grace", "nothing": null}
            ])
        );
        assert_eq!(output(&done, "all", "size"), &json!(2));
        assert_eq!(output(&done, "legacy", "row"), &json!({"name": "Ada"}));
        let none = &done.task_run("none").unwrap().outputs;
        assert!(none.is_empty(), "{none:?}");
        assert_eq!(
            output(&done, "several", "outputs"),
            &json!([
                {"rows": [{"n": 2}], "size": 1},
                {"rows": [{"name": "Grace", "active": false}], "size": 1}
            ])
        );
        assert_eq!(
            output(&done, "untyped", "row"),
            &json!({"word": "hello", "n": 7, "missing": true})
        );
        assert_eq!(output(&done, "empty", "row"), &Value::Null);
        assert_eq!(output(&done, "empty", "size"), &json!(0));
        let logs = data.messages(&done);
        assert!(
            logs.iter()
                .any(|l| l.starts_with("Starting query: SELECT id, name, nothing")),
            "{logs:?}"
        );
        let uri = output(&done, "stored", "uri").as_str().unwrap();
        assert!(
            uri.starts_with("kestra:///company/team/sql/executions/") && uri.ends_with(".ion"),
            "{uri}"
        );
        assert_eq!(output(&done, "stored", "size"), &json!(2));
        let ion = logs
            .iter()
            .find_map(|l| l.strip_prefix("stored "))
            .expect("the stored file is logged");
        let rows: Vec<Value> = saker_ion::read_rows(ion.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![
                json!({"id": 1, "name": "Ada", "tags": ["a", "b,c"], "meta": {"k": [1, 2]}}),
                json!({"id": 2, "name": "Grace", "tags": null, "meta": null}),
            ]
        );

        // A failed statement rolls the whole Queries back; without a transaction, what ran
        // before it stays.
        for (transaction, kept) in [("true", 0), ("false", 1)] {
            let failed = data
                .run(&flow(
                    &connection,
                    &[&format!(
                        "id: tx\ntype: io.kestra.plugin.jdbc.postgresql.Queries\n\
                         transaction: {transaction}\nsql: |\n  \
                         INSERT INTO people (name) VALUES ('tx-{transaction}');\n  \
                         SELECT 1 / 0;"
                    )],
                ))
                .await;
            failed_saying(&data, &failed, |l| {
                l.contains("statement 2 of 2")
                    && l.contains("22012")
                    && l.contains("division by zero")
            });
            let counted = data
                .run_ok(&flow(
                    &connection,
                    &[&format!(
                        "id: count\ntype: io.kestra.plugin.jdbc.postgresql.Query\n\
                         sql: SELECT count(*) AS n FROM people WHERE name = 'tx-{transaction}'\n\
                         fetchType: FETCH_ONE"
                    )],
                ))
                .await;
            assert_eq!(output(&counted, "count", "row"), &json!({"n": kept}));
        }

        // A query past the task's timeout is stopped, on the server too (statement_timeout,
        // and the cancel request of a killed task).
        let slow = data
            .run(&flow(
                &connection,
                &["id: slow\ntype: io.kestra.plugin.jdbc.postgresql.Query\n\
                   timeout: PT1S\nsql: SELECT pg_sleep(60)"],
            ))
            .await;
        failed_saying(&data, &slow, |l| {
            l.contains("the task timed out after")
                || (l.contains("57014") && l.contains("statement timeout"))
        });

        // A Query runs one statement and says to use Queries for more.
        let two = data
            .run(&flow(
                &connection,
                &["id: two\ntype: io.kestra.plugin.jdbc.postgresql.Query\n\
                   sql: SELECT 1; SELECT 2"],
            ))
            .await;
        failed_saying(&data, &two, |l| {
            l.contains("holds 2 statements") && l.contains("Queries")
        });
    });
}

#[test]
fn credentials_from_secrets_never_leave_the_connection() {
    let pg = pg::PgCluster::start();
    pg.create_database("vault");
    pg::password_role(&pg, "vault", "app", PASSWORD);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("jdbc:postgresql://127.0.0.1:{}/vault", pg.port());
    let good = format!("url: {url}\nusername: app\npassword: \"{{{{ secret('PG_PASSWORD') }}}}\"");
    let runtime = runtime();
    let _inside = runtime.enter();
    let data = engine();
    let (ok, wrong, refused, in_url, duplicate) = runtime.block_on(async {
        let ok = data
            .run_ok(&flow(
                &good,
                &[
                    "id: who\ntype: io.kestra.plugin.jdbc.postgresql.Query\n\
                     sql: SELECT current_user AS who\nfetchType: FETCH_ONE",
                    "id: echo\ntype: io.kestra.plugin.jdbc.postgresql.Query\n\
                     sql: SELECT :token AS token, upper(:token) AS shout, 'plain' AS other\n\
                     parameters:\n  token: \"{{ secret('TOKEN') }}\"\nfetchType: FETCH_ONE",
                    "id: show\ntype: io.kestra.plugin.core.log.Log\n\
                     message: \"echoed {{ outputs.echo.row.token }} {{ outputs.echo.row.shout }}\"",
                    "id: kept\ntype: io.kestra.plugin.jdbc.postgresql.Query\n\
                     sql: SELECT lower(:token) AS quiet\n\
                     parameters:\n  token: \"{{ secret('TOKEN') }}\"\nfetchType: STORE",
                    "id: file\ntype: io.kestra.plugin.core.log.Log\n\
                     message: \"file {{ read(outputs.kept.uri) }}\"",
                ],
            ))
            .await;
        let wrong = data
            .run(&flow(
                &format!("url: {url}\nusername: app\npassword: \"{{{{ secret('PG_WRONG') }}}}\""),
                &["id: q\ntype: io.kestra.plugin.jdbc.postgresql.Query\nsql: SELECT 1"],
            ))
            .await;
        let refused = data
            .run(&flow(
                &format!(
                    "url: jdbc:postgresql://127.0.0.1:{closed}/vault\nusername: app\n\
                     password: \"{{{{ secret('PG_PASSWORD') }}}}\""
                ),
                &["id: q\ntype: io.kestra.plugin.jdbc.postgresql.Query\nsql: SELECT 1"],
            ))
            .await;
        let in_url = data
            .run(&flow(
                &format!(
                    "url: \"jdbc:postgresql://127.0.0.1:{closed}/vault?user=app&password={{{{ secret('PG_PASSWORD') }}}}\""
                ),
                &["id: q\ntype: io.kestra.plugin.jdbc.postgresql.Query\nsql: SELECT 1"],
            ))
            .await;
        // The server's error detail quotes the value sent: it is masked.
        let duplicate = data
            .run(&flow(
                &good,
                &["id: dup\ntype: io.kestra.plugin.jdbc.postgresql.Queries\nsql: |\n  \
                   CREATE TABLE tokens (t text PRIMARY KEY);\n  \
                   INSERT INTO tokens VALUES (:token);\n  \
                   INSERT INTO tokens VALUES (:token);\n\
                   parameters:\n  token: \"{{ secret('TOKEN') }}\""],
            ))
            .await;
        (ok, wrong, refused, in_url, duplicate)
    });
    assert_eq!(output(&ok, "who", "row"), &json!({"who": "app"}));
    let logs = data.messages(&ok);
    assert!(
        logs.iter().any(|l| l == "echoed **** ****"),
        "the rows answering a secret parameter are masked: {logs:?}"
    );
    assert!(
        logs.iter()
            .any(|l| l.starts_with("file ") && l.contains("****")),
        "the file of rows answering a secret parameter is sealed, read back masked: {logs:?}"
    );

    failed_saying(&data, &wrong, |l| {
        l.contains("cannot connect to PostgreSQL at")
            && l.contains("password authentication failed for user \"app\"")
    });
    failed_saying(&data, &refused, |l| {
        l.contains(&format!(
            "cannot connect to PostgreSQL at jdbc:postgresql://127.0.0.1:{closed}/vault"
        )) && l.to_ascii_lowercase().contains("refused")
    });
    failed_saying(&data, &in_url, |l| {
        l.contains("/vault?user=app&password=****:")
    });

    failed_saying(&data, &duplicate, |l| {
        l.contains("23505") && l.contains("Key (t)=(****) already exists")
    });

    let executions = [&ok, &wrong, &refused, &in_url, &duplicate];
    for execution in executions {
        let text = serde_json::to_string(execution).unwrap();
        for line in data.messages(execution) {
            for secret in [PASSWORD, WRONG, TOKEN] {
                assert!(!line.contains(secret), "a log line holds a secret: {line}");
            }
        }
        for secret in [PASSWORD, WRONG, TOKEN] {
            assert!(!text.contains(secret), "an execution holds a secret");
        }
    }
    let DataDir { dir, engine, .. } = data;
    drop(engine);
    for path in common::files_under(dir.path()) {
        let bytes = std::fs::read(&path).unwrap();
        for secret in [PASSWORD, WRONG, TOKEN] {
            let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
            for needle in [secret, &secret.to_uppercase(), b64.trim_end_matches('=')] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "{} holds a secret",
                    path.display()
                );
            }
        }
    }
}
