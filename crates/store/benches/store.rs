//! The store's share of one execution of a two-task flow: create, two task runs each saved
//! three times (CREATED, RUNNING, SUCCESS), two log lines, the final save.
//!
//! Two shapes, on a file database in WAL mode as `saker server local` uses it:
//! - `per_step`: one `write` batch per engine step (8 transactions), what an engine that
//!   commits every state change as it happens pays;
//! - `one_batch`: everything in a single `write` (1 transaction), the floor.
//!
//! The engine's goal (≥ 500 executions/s on 2 cores) leaves it 2 ms per execution in total;
//! the store's part should stay well under 1 ms.
//!
//! Also the reads that run while an execution is watched: loading it whole, and the empty
//! poll of a log follower that is up to date.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use saker_model::execution::{
    DEFAULT_TENANT, Execution, Level, LogEntry, StateType, TaskRun, TaskRunAttempt,
};
use saker_store::{LogQuery, SqliteStore, Store, Write};

fn log(execution: &Execution, task_run: &TaskRun, message: &str) -> LogEntry {
    LogEntry {
        tenant_id: execution.tenant_id.clone(),
        namespace: execution.namespace.clone(),
        flow_id: execution.flow_id.clone(),
        execution_id: execution.id.clone(),
        task_run_id: Some(task_run.id.clone()),
        task_id: Some(task_run.task_id.clone()),
        attempt_number: Some(1),
        timestamp: chrono::Utc::now(),
        level: Level::Info,
        message: message.to_owned(),
    }
}

fn moved(task_run: &TaskRun, state: StateType) -> TaskRun {
    let mut next = task_run.clone();
    next.state.transition(state);
    if let Some(attempt) = next.attempts.last_mut() {
        attempt.state.transition(state);
    }
    next
}

/// Every document one execution produces, in the order the engine writes them.
struct Run {
    created: Execution,
    running: Execution,
    finished: Execution,
    /// Per task: created, running, success.
    tasks: Vec<[TaskRun; 3]>,
    logs: Vec<[LogEntry; 1]>,
}

fn simulate() -> Run {
    let created = Execution::new(DEFAULT_TENANT, "company.team", "bench", 1);
    let mut running = created.clone();
    running.state.transition(StateType::Running);
    let mut tasks = Vec::new();
    let mut logs = Vec::new();
    for task_id in ["first", "second"] {
        let mut tr = TaskRun::new(&created, task_id);
        tr.attempts.push(TaskRunAttempt {
            state: tr.state.clone(),
        });
        let run = moved(&tr, StateType::Running);
        let mut done = moved(&run, StateType::Success);
        done.outputs
            .insert("value".into(), serde_json::json!("some output"));
        logs.push([log(&created, &done, "Hello from the benchmark flow")]);
        tasks.push([tr, run, done]);
    }
    let mut finished = running.clone();
    finished.state.transition(StateType::Success);
    Run {
        created,
        running,
        finished,
        tasks,
        logs,
    }
}

fn per_step(store: &dyn Store, run: &Run) {
    let [a0, a1, a2] = &run.tasks[0];
    let [b0, b1, b2] = &run.tasks[1];
    let steps: [&[Write<'_>]; 8] = [
        &[Write::CreateExecution(&run.created)],
        &[Write::SaveExecution(&run.running), Write::SaveTaskRun(a0)],
        &[Write::SaveTaskRun(a1)],
        &[Write::SaveTaskRun(a2), Write::AppendLogs(&run.logs[0])],
        &[Write::SaveTaskRun(b0)],
        &[Write::SaveTaskRun(b1)],
        &[Write::SaveTaskRun(b2), Write::AppendLogs(&run.logs[1])],
        &[Write::SaveExecution(&run.finished)],
    ];
    for step in steps {
        store.write(step).expect("benchmark write");
    }
}

fn one_batch(store: &dyn Store, run: &Run) {
    let [a0, a1, a2] = &run.tasks[0];
    let [b0, b1, b2] = &run.tasks[1];
    store
        .write(&[
            Write::CreateExecution(&run.created),
            Write::SaveExecution(&run.running),
            Write::SaveTaskRun(a0),
            Write::SaveTaskRun(a1),
            Write::SaveTaskRun(a2),
            Write::AppendLogs(&run.logs[0]),
            Write::SaveTaskRun(b0),
            Write::SaveTaskRun(b1),
            Write::SaveTaskRun(b2),
            Write::AppendLogs(&run.logs[1]),
            Write::SaveExecution(&run.finished),
        ])
        .expect("benchmark write");
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("bench.db")).expect("open store");
    let mut group = c.benchmark_group("two_task_execution");
    // Fresh ids each iteration (built outside the timed part): the database grows as it
    // would in a real run instead of updating the same rows.
    group.bench_function("per_step", |b| {
        b.iter_batched(
            simulate,
            |run| per_step(black_box(&store), &run),
            criterion::BatchSize::SmallInput,
        );
    });
    group.bench_function("one_batch", |b| {
        b.iter_batched(
            simulate,
            |run| one_batch(black_box(&store), &run),
            criterion::BatchSize::SmallInput,
        );
    });
    group.finish();

    let run = simulate();
    one_batch(&store, &run);
    let mut reads = c.benchmark_group("reads");
    reads.bench_function("get_execution", |b| {
        b.iter(|| {
            store
                .get_execution(black_box(&run.created.id))
                .expect("read")
        });
    });
    let seen = store
        .list_logs(&LogQuery::new(&run.created.id))
        .expect("read");
    let follow = LogQuery {
        after_seq: seen.last().map(|l| l.seq),
        ..LogQuery::new(&run.created.id)
    };
    reads.bench_function("follow_logs_idle", |b| {
        b.iter(|| store.list_logs(black_box(&follow)).expect("read"));
    });
    reads.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
