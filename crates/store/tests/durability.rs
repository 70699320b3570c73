//! What survives closing, crashing and bad files: reopen, unclean close, a killed writer
//! process, corrupt rows, a schema from the future, a file that is not a database.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{execution, log, task_run, transition};
use rusqlite::Connection;
use saker_model::execution::{Level, StateType};
use saker_store::{ExecutionFilter, LogQuery, SqliteStore, Store, StoreError, Write};

/// Writes one complete small execution in one batch and returns its id.
fn write_one(store: &dyn Store, n: usize) -> String {
    let mut e = execution("company.team", "durable");
    let mut tr = task_run(&e, "t");
    transition(&mut tr, StateType::Success);
    e.task_run_list.push(tr.clone());
    e.state.transition(StateType::Success);
    let lines = [log(&e, Some(&tr), Level::Info, &format!("line {n}"))];
    store
        .write(&[Write::CreateExecution(&e), Write::AppendLogs(&lines)])
        .unwrap();
    e.id
}

fn assert_complete(store: &dyn Store, id: &str) {
    let e = store
        .get_execution(id)
        .unwrap()
        .unwrap_or_else(|| panic!("execution {id} was committed but is missing"));
    assert_eq!(e.state.current, StateType::Success);
    assert_eq!(e.task_run_list.len(), 1);
    assert_eq!(store.list_logs(&LogQuery::new(id)).unwrap().len(), 1);
}

fn integrity_ok(path: &Path) {
    let conn = Connection::open(path).unwrap();
    let result: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(result, "ok");
}

#[test]
fn everything_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    let (flow, exec, logs) = {
        let s = SqliteStore::open(&path).unwrap();
        s.save_flow("main", "ns", "f", "v1").unwrap();
        let flow = s.save_flow("main", "ns", "f", "v2").unwrap().flow;
        let mut e = execution("ns", "f");
        e.task_run_list.push(task_run(&e, "a"));
        e.task_run_list.push(task_run(&e, "b"));
        s.create_execution(&e).unwrap();
        s.append_logs(&[log(&e, None, Level::Warn, "kept")])
            .unwrap();
        let logs = s.list_logs(&LogQuery::new(&e.id)).unwrap();
        (flow, e, logs)
    };
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.get_flow("main", "ns", "f", None).unwrap(), Some(flow));
    assert_eq!(s.flow_revisions("main", "ns", "f").unwrap().len(), 2);
    assert_eq!(s.get_execution(&exec.id).unwrap(), Some(exec));
    assert_eq!(
        s.list_logs(&LogQuery::new(&logs[0].entry.execution_id))
            .unwrap(),
        logs
    );

    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SqliteStore::schema_version());
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn commits_survive_an_unclean_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    let writer_path = path.clone();
    let ids = std::thread::spawn(move || {
        let s = SqliteStore::open(&writer_path).unwrap();
        let ids: Vec<String> = (0..50).map(|n| write_one(&s, n)).collect();
        // Never closed: no checkpoint, the WAL is left as a crash would leave it.
        std::mem::forget(s);
        ids
    })
    .join()
    .unwrap();
    assert!(
        dir.path().join("saker.db-wal").exists(),
        "the WAL is still there"
    );

    let s = SqliteStore::open(&path).unwrap();
    for id in &ids {
        assert_complete(&s, id);
    }
    let all = ExecutionFilter {
        limit: None,
        ..ExecutionFilter::new("main")
    };
    assert_eq!(s.list_executions(&all).unwrap().len(), ids.len());
    drop(s);
    integrity_ok(&path);
}

#[test]
fn a_clean_close_checkpoints_and_removes_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    let wal = dir.path().join("saker.db-wal");
    let s = SqliteStore::open(&path).unwrap();
    let id = write_one(&s, 0);
    assert!(wal.exists());
    // The checkpoint thread and every reader must close their connections for the writer's
    // close to be the last one, which folds the WAL into the database and deletes it.
    drop(s);
    assert!(!wal.exists(), "a connection outlived the store");
    assert_complete(&SqliteStore::open(&path).unwrap(), &id);
}

const CHILD_DB: &str = "SAKER_STORE_TEST_CHILD_DB";
const COMMITTED: &str = "committed ";

/// Run by `a_killed_writer_loses_no_commit` in a child process: writes executions until
/// killed (or a bound is reached), printing each id once its commit returned.
#[test]
#[ignore = "helper run in a child process by a_killed_writer_loses_no_commit"]
fn child_writer_until_killed() {
    use std::io::Write as _;
    let path = std::env::var(CHILD_DB).expect("only meant to run as a child process");
    let s = SqliteStore::open(Path::new(&path)).unwrap();
    let mut out = std::io::stdout().lock();
    for n in 0..100_000 {
        let id = write_one(&s, n);
        writeln!(out, "{COMMITTED}{id}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn a_killed_writer_loses_no_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_writer_until_killed",
            "--nocapture",
        ])
        .env(CHILD_DB, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut reported = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(id) = line.strip_prefix(COMMITTED) {
            reported.push(id.to_owned());
            if reported.len() == 300 {
                // SIGKILL while the child keeps writing: no destructor, no checkpoint.
                child.kill().unwrap();
                break;
            }
        }
    }
    child.wait().unwrap();
    assert_eq!(
        reported.len(),
        300,
        "the child stopped before it was killed"
    );

    let s = SqliteStore::open(&path).unwrap();
    for id in &reported {
        assert_complete(&s, id);
    }
    drop(s);
    integrity_ok(&path);
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    drop(SqliteStore::open(&path).unwrap());
    let future = SqliteStore::schema_version() + 1;
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", future)
        .unwrap();

    let err = SqliteStore::open(&path).err().expect("must refuse");
    assert!(
        matches!(err, StoreError::SchemaTooNew { found, supported }
            if found == future && supported == SqliteStore::schema_version()),
        "{err}"
    );
    assert!(err.to_string().contains("newer"), "{err}");
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, future, "the database is left untouched");
}

#[test]
fn a_file_that_is_not_a_database_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    let garbage = b"this is not an SQLite database, just some text long enough".repeat(40);
    std::fs::write(&path, &garbage).unwrap();
    let err = SqliteStore::open(&path).err().expect("must refuse");
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        garbage,
        "the file is left as it was"
    );

    let missing_dir = dir.path().join("no/such/dir/saker.db");
    let err = SqliteStore::open(&missing_dir).err().expect("must refuse");
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
}

#[test]
fn corrupt_rows_are_errors_naming_table_and_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    let s = SqliteStore::open(&path).unwrap();
    let mut e = execution("ns", "f");
    let tr = task_run(&e, "t");
    e.task_run_list.push(tr.clone());
    s.create_execution(&e).unwrap();
    s.append_logs(&[log(&e, None, Level::Info, "x")]).unwrap();
    let seq = s.list_logs(&LogQuery::new(&e.id)).unwrap()[0].seq;
    s.save_flow("main", "ns", "f", "v1").unwrap();

    let raw = Connection::open(&path).unwrap();
    let expect_corrupt = |err: StoreError, table: &str, id: &str| match &err {
        StoreError::Corrupt {
            table: t, id: i, ..
        } if *t == table && i.contains(id) => {}
        _ => panic!("expected a corrupt-row error on {table} {id}, got {err}"),
    };

    // A task run document of the wrong shape.
    raw.execute(
        "UPDATE task_runs SET doc = '{\"id\": 7}' WHERE id = ?1",
        [&tr.id],
    )
    .unwrap();
    expect_corrupt(s.get_execution(&e.id).unwrap_err(), "task_runs", &tr.id);

    // An execution document that is not JSON at all.
    raw.execute(
        "UPDATE executions SET doc = '{not json' WHERE id = ?1",
        [&e.id],
    )
    .unwrap();
    expect_corrupt(s.get_execution(&e.id).unwrap_err(), "executions", &e.id);
    expect_corrupt(
        s.list_executions(&ExecutionFilter::new("main"))
            .unwrap_err(),
        "executions",
        &e.id,
    );

    // A log line whose secret-looking text must not reach the error message.
    raw.execute(
        "UPDATE logs SET doc = '{\"message\": \"hunter2\", \"level\": \"hunter2\"}' WHERE seq = ?1",
        [seq],
    )
    .unwrap();
    let err = s.list_logs(&LogQuery::new(&e.id)).unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    expect_corrupt(err, "logs", &seq.to_string());

    // A timestamp no date can hold.
    raw.execute("UPDATE flows SET created_at = ?1", [i64::MAX])
        .unwrap();
    expect_corrupt(
        s.get_flow("main", "ns", "f", None).unwrap_err(),
        "flows",
        "f@1",
    );

    // The store still works for everything else.
    let fresh = execution("ns", "f");
    s.create_execution(&fresh).unwrap();
    assert!(s.get_execution(&fresh.id).unwrap().is_some());
}
