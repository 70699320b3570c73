//! `saker bench --config`: the distributed bench refuses a configuration that does not name
//! PostgreSQL, and runs a handful of executions on an executor and two workers started as
//! processes of this binary against a throwaway PostgreSQL (no timing is asserted: the
//! figures depend on the machine).

mod common;

#[path = "../../store/tests/common/pg.rs"]
mod pg;

use common::*;

#[test]
fn the_distributed_bench_refuses_a_configuration_without_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(dir.path(), "saker:\n  repository:\n    type: sqlite\n");
    let (ok, _, err) = saker_cli(&data, &config, &["bench", "--executions", "1"], "");
    assert!(!ok, "the bench ran on SQLite: {err}");
    assert!(
        err.contains("repository.type: postgres") && err.contains("datasources.postgres.url"),
        "{err}"
    );
}

#[test]
fn the_distributed_bench_runs_executions_on_separate_services() {
    let cluster = pg::PgCluster::start();
    let url = cluster.create_database("saker");
    let jdbc = url.replace("postgres://postgres@", "jdbc:postgresql://");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Small pools: four processes share the test cluster's 60 connections.
    let config = write_config(
        dir.path(),
        &format!(
            "saker:\n  repository: {{type: postgres}}\n  queue: {{type: postgres}}\n  \
             encryption: {{secret-key: \"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=\"}}\n  \
             server: {{liveness: {{interval: 200ms, timeout: 2s, initial-delay: 1s, \
             heartbeat-interval: 200ms}}}}\n\
             datasources:\n  postgres: {{url: \"{jdbc}\", username: postgres, \
             maximum-pool-size: 3}}\n"
        ),
    );
    let (ok, out, err) = saker_cli(
        &data,
        &config,
        &[
            "bench",
            "--executions",
            "6",
            "--in-flight",
            "3",
            "--idle-seconds",
            "1",
        ],
        "",
    );
    assert!(ok, "the bench failed: {err}\n{out}");
    assert!(
        out.contains("1 executor, 2 workers, 6 executions, 3 in flight"),
        "{out}"
    );
    assert!(out.contains("executions:        6 (6 SUCCESS)"), "{out}");
    // Both tasks of every execution ran: the gap between them was measured six times.
    assert!(out.contains("task end → next task start: p50"), "{out}");
    assert!(out.contains("(n=6)"), "{out}");
    assert!(out.contains("per service: executor"), "{out}");
    assert!(out.contains("worker-2"), "{out}");
}
