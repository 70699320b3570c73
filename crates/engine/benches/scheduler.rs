//! Cost of one scheduler tick when nothing is due, over 100 and 1,000 flows that each have a
//! Schedule trigger: what `saker server local` pays every second.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use saker_engine::scheduler::{Scheduler, SchedulerConfig};
use saker_engine::{Engine, EngineParts};
use saker_model::DEFAULT_TENANT;
use saker_store::SqliteStore;

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let start: DateTime<Utc> = "2026-11-22T10:07:00Z".parse().unwrap();
    let mut group = c.benchmark_group("scheduler tick, nothing due");
    for flows in [100, 1000] {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("saker.db")).unwrap());
        let engine = Arc::new(Engine::start(EngineParts::new(store)));
        for i in 0..flows {
            let source = format!(
                "id: f{i}\nnamespace: company.team{}\ntasks:\n  - id: hello\n    type: Log\n    message: hi\ntriggers:\n  - id: daily\n    type: Schedule\n    cron: \"0 9 * * *\"\n",
                i % 10
            );
            engine.deploy(DEFAULT_TENANT, &source).unwrap();
        }
        let scheduler = Scheduler::new(engine, SchedulerConfig::default());
        // The first tick records every trigger's next date (09:00, not due before then).
        scheduler.tick(start).unwrap();
        group.bench_with_input(BenchmarkId::from_parameter(flows), &flows, |b, _| {
            b.iter(|| scheduler.tick(start).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
