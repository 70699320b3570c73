//! `saker bench --flowables`: what the engine itself costs per iteration of a flowable. Each
//! case runs one flow, on a fresh embedded store in a temporary data directory, `--runs`
//! times:
//!
//! - a `ForEach` over 1,000 values, one `Return` task per value, `concurrencyLimit: 1`
//!   (one iteration after the other), `0` (all at once) and `4`;
//! - a `Parallel` of 100 branches, one `Return` task each.
//!
//! Figures come from the recorded state histories, not from a timer around the run: the total
//! is the execution's CREATED to its end, the task time is how long at least one task attempt
//! was running (the union of the attempts' RUNNING → end intervals, taken on the worker's
//! clock; for a sequential loop that is their sum), and the orchestration overhead is the
//! rest (planning, recording in the store, handing jobs over) divided by the number of
//! iterations. An attempt starts when the worker takes the job, so building the task's
//! variables (the outputs of every run before it) counts as task time: `ms/iteration`, the
//! total divided by the iterations, is the whole cost. Each figure is the median of the runs.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use saker_engine::{Engine, EngineParts};
use saker_model::{DEFAULT_TENANT, Execution, StateType};
use saker_store::SqliteStore;
use serde_json::Map;

use crate::app::runtime;

/// The id of the task every iteration runs.
const LEAF: &str = "leaf";

/// One flow to measure.
struct Case {
    name: String,
    source: String,
    /// How many leaf task runs one execution must have.
    iterations: usize,
}

/// What one execution of a case measured, in milliseconds.
struct Measure {
    total_ms: f64,
    task_ms: f64,
}

impl Measure {
    fn overhead_per_iteration_ms(&self, iterations: usize) -> f64 {
        (self.total_ms - self.task_ms) / iterations as f64
    }
}

pub fn run(runs: usize) -> anyhow::Result<ExitCode> {
    if runs == 0 {
        bail!("--runs must be at least 1");
    }
    let cases = [
        foreach_case(1_000, 1),
        foreach_case(1_000, 0),
        // Between the two: a result usually arrives while another iteration's job still
        // holds the execution's snapshot (see docs/performance.md).
        foreach_case(1_000, 4),
        parallel_case(100),
    ];
    println!(
        "{:<34} {:>5} {:>10} {:>10} {:>15} {:>22}",
        "case", "runs", "total ms", "task ms", "ms/iteration", "overhead ms/iteration"
    );
    for case in &cases {
        let measures = measure_case(case, runs)?;
        let total = median(measures.iter().map(|m| m.total_ms));
        let task = median(measures.iter().map(|m| m.task_ms));
        let overhead = median(
            measures
                .iter()
                .map(|m| m.overhead_per_iteration_ms(case.iterations)),
        );
        println!(
            "{:<34} {:>5} {:>10.1} {:>10.1} {:>15.3} {:>22.3}",
            case.name,
            runs,
            total,
            task,
            total / case.iterations as f64,
            overhead
        );
    }
    println!(
        "(medians; ms/iteration = total / iterations; overhead = (total - task) / iterations, \
         where task time is the worker's attempts, building each task's variables included)"
    );
    Ok(ExitCode::SUCCESS)
}

fn foreach_case(values: usize, concurrency_limit: usize) -> Case {
    let list: Vec<String> = (0..values).map(|i| format!("\"v{i}\"")).collect();
    let source = format!(
        r#"
id: foreach
namespace: saker.bench
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    concurrencyLimit: {concurrency_limit}
    values: [{}]
    tasks:
      - id: {LEAF}
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ taskrun.value }}}}"
"#,
        list.join(", ")
    );
    Case {
        name: format!("ForEach x{values}, concurrencyLimit {concurrency_limit}"),
        source,
        iterations: values,
    }
}

fn parallel_case(branches: usize) -> Case {
    let mut source = String::from(
        r#"
id: parallel
namespace: saker.bench
tasks:
  - id: branches
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
"#,
    );
    for i in 0..branches {
        // Each branch its own task id, as a real Parallel has.
        source.push_str(&format!(
            "      - id: {LEAF}{i}\n        type: io.kestra.plugin.core.debug.Return\n        format: \"branch {i}\"\n"
        ));
    }
    Case {
        name: format!("Parallel x{branches}"),
        source,
        iterations: branches,
    }
}

/// Runs `case` `runs` times, one execution after the other, on an engine of its own.
fn measure_case(case: &Case, runs: usize) -> anyhow::Result<Vec<Measure>> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(&dir.path().join("bench.db"))?);
    let rt = runtime()?;
    rt.block_on(async {
        let engine = Engine::start(EngineParts::new(store));
        let (flow, saved) = engine.deploy(DEFAULT_TENANT, &case.source)?;
        let mut measures = Vec::with_capacity(runs);
        for _ in 0..runs {
            let execution = engine.create_execution(
                DEFAULT_TENANT,
                flow.clone(),
                saved.flow.revision,
                Map::new(),
            )?;
            let done = engine
                .wait(&execution.id)
                .await
                .with_context(|| format!("{}: the execution vanished", case.name))?;
            measures.push(measure(case, &done)?);
        }
        anyhow::Ok(measures)
    })
}

/// The total and task time of one ended execution, refusing one that did not run every
/// iteration to SUCCESS (its figures would not be comparable).
fn measure(case: &Case, done: &Execution) -> anyhow::Result<Measure> {
    if done.state.current != StateType::Success {
        bail!("{}: the execution ended {}", case.name, done.state.current);
    }
    let leaves = done
        .task_run_list
        .iter()
        .filter(|r| r.task_id.starts_with(LEAF))
        .count();
    if leaves != case.iterations {
        bail!(
            "{}: {leaves} task runs instead of {}",
            case.name,
            case.iterations
        );
    }
    let (Some(start), Some(end)) = (done.state.start_date(), done.state.end_date()) else {
        bail!("{}: the execution has no start or end date", case.name);
    };
    let attempts: Vec<(DateTime<Utc>, DateTime<Utc>)> = done
        .task_run_list
        .iter()
        .flat_map(|r| &r.attempts)
        .filter_map(|a| Some((a.state.start_date()?, a.state.end_date()?)))
        .collect();
    Ok(Measure {
        total_ms: millis(end - start),
        task_ms: millis(busy(attempts)),
    })
}

/// How long at least one of `intervals` was open: overlapping attempts count once.
fn busy(mut intervals: Vec<(DateTime<Utc>, DateTime<Utc>)>) -> chrono::TimeDelta {
    intervals.sort_unstable();
    let mut total = chrono::TimeDelta::zero();
    let mut open: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
    for (start, end) in intervals {
        open = match open {
            Some((s, e)) if start <= e => Some((s, e.max(end))),
            Some((s, e)) => {
                total += e - s;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((s, e)) = open {
        total += e - s;
    }
    total
}

fn millis(d: chrono::TimeDelta) -> f64 {
    d.num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_unstable_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + chrono::TimeDelta::milliseconds(ms)
    }

    #[test]
    fn overlapping_attempts_count_once() {
        let intervals = vec![(at(0), at(10)), (at(5), at(20)), (at(30), at(35))];
        assert_eq!(busy(intervals), chrono::TimeDelta::milliseconds(25));
        assert_eq!(busy(Vec::new()), chrono::TimeDelta::zero());
    }

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), 2.0);
        assert_eq!(median([4.0, 1.0, 2.0, 3.0].into_iter()), 2.5);
    }

    #[test]
    fn cases_parse_as_flows() {
        // The flowable and its leaves: one leaf task for a ForEach, one per Parallel branch.
        for (case, tasks) in [(foreach_case(3, 0), 2), (parallel_case(3), 4)] {
            let flow = saker_model::parse_flow(&case.source)
                .unwrap_or_else(|e| panic!("{}: {e:?}", case.name));
            assert_eq!(flow.all_tasks().len(), tasks, "{}", case.name);
        }
    }
}
