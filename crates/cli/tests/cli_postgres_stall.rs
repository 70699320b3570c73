//! `saker server local` on a PostgreSQL database that stalls (another session holds an
//! ACCESS EXCLUSIVE lock on `executions`): `/health` keeps answering, API calls that need
//! the table answer 503 once the pool's wait or the statement timeout has passed instead of
//! hanging, and answer 200 again once the lock is gone.

mod common;

#[path = "../../store/tests/common/pg.rs"]
mod pg;

use common::*;

const SEARCH: &str = "/api/v1/main/executions/search";

#[test]
fn a_stalled_database_answers_503_while_health_answers() {
    let cluster = pg::PgCluster::start();
    let url = cluster.create_database("saker");
    let jdbc = url.replace("postgres://postgres@", "jdbc:postgresql://");
    let dir = tempfile::tempdir().unwrap();
    // Two connections, half a second of waiting for one, 1.5 s per statement: every call
    // below is answered well within the test client's own 10 s read timeout.
    let config = write_config(
        dir.path(),
        &format!(
            "saker:\n  repository:\n    type: postgres\ndatasources:\n  postgres:\n    url: {jdbc}\n    username: postgres\n    maximum-pool-size: 2\n    connection-timeout: 500\n    statement-timeout: 1500\n"
        ),
    );
    let port = free_port();
    let server = start_server_with(&dir.path().join("data"), port, Some(&config));
    assert_eq!(http(port, "GET", SEARCH, None).unwrap().0, 200);

    let mut locker = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut held = locker.transaction().unwrap();
    held.batch_execute("LOCK TABLE executions IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    // More calls than connections: two wait on the lock until their statement times out,
    // the others wait for a connection until the pool's wait is over.
    let calls: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(move || http(port, "GET", SEARCH, None)))
        .collect();
    let mut watcher = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    eventually("no call waits on the lock", || {
        let waiting: i64 = watcher
            .query_one("SELECT count(*) FROM pg_locks WHERE NOT granted", &[])
            .map_err(|e| e.to_string())?
            .get(0);
        if waiting > 0 {
            Ok(())
        } else {
            Err("nothing waits".to_owned())
        }
    });
    // The database stalls; the server does not.
    let (status, body) = http(port, "GET", "/health", None).unwrap();
    assert_eq!(status, 200, "{body}");
    for call in calls {
        let (status, body) = call.join().unwrap().unwrap();
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("the database is busy"), "{body}");
    }

    held.rollback().unwrap();
    let (status, body) = http(port, "GET", SEARCH, None).unwrap();
    assert_eq!(status, 200, "{body}");
    stop(server);
}
