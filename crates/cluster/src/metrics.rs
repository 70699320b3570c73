//! What one service process of distributed mode measures, for its `/metrics` endpoint
//! (Prometheus text, beside the engine's counters): the depth of the job queue, how long
//! jobs waited to be claimed, and its heartbeats, missed ones included. Cheap atomics,
//! updated by the threads of this crate and by the heartbeat loop; every line carries the
//! labels `service` and `instance`. Nothing here holds a value of a flow.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use saker_engine::metrics::MetricsSource;
use saker_store::services::ServiceType;
use saker_store::services::coordinator::Decisions;

use crate::Db;

/// The upper bounds (seconds) of the claim latency histogram's buckets.
const CLAIM_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How much later than `heartbeat-interval` a heartbeat may come before it counts as late:
/// half the interval, at least a second (a busy machine is not a missed heartbeat).
pub fn late_margin(heartbeat_interval: Duration) -> Duration {
    (heartbeat_interval / 2).max(Duration::from_secs(1))
}

/// The metrics of one service instance.
pub struct ServiceMetrics {
    service: String,
    instance: String,
    /// Where the queue depth is read at each scrape (executors and workers).
    queue: Option<Db>,
    claim_buckets: [AtomicU64; CLAIM_BUCKETS.len()],
    claim_count: AtomicU64,
    claim_micros: AtomicU64,
    heartbeats: AtomicU64,
    heartbeats_failed: AtomicU64,
    heartbeats_late: AtomicU64,
    declared_gone: AtomicU64,
}

impl ServiceMetrics {
    /// The metrics of instance `instance` of `service`; `queue` is read for the queue depth
    /// gauge at each scrape, when given.
    pub fn new(service: ServiceType, instance: &str, queue: Option<Db>) -> Self {
        Self {
            service: service.as_str().to_ascii_lowercase(),
            instance: instance.to_owned(),
            queue,
            claim_buckets: Default::default(),
            claim_count: AtomicU64::new(0),
            claim_micros: AtomicU64::new(0),
            heartbeats: AtomicU64::new(0),
            heartbeats_failed: AtomicU64::new(0),
            heartbeats_late: AtomicU64::new(0),
            declared_gone: AtomicU64::new(0),
        }
    }

    /// A job claimed `latency` after it was queued.
    pub fn job_claimed(&self, latency: Duration) {
        let seconds = latency.as_secs_f64();
        for (bound, bucket) in CLAIM_BUCKETS.iter().zip(&self.claim_buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.claim_count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.claim_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// A heartbeat recorded; `late` when it came more than the interval and its margin
    /// after the previous one.
    pub fn heartbeat(&self, late: bool) {
        self.heartbeats.fetch_add(1, Ordering::Relaxed);
        if late {
            self.heartbeats_late.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A heartbeat that did not reach the database.
    pub fn heartbeat_failed(&self) {
        self.heartbeats_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// A coordinator round of this instance: the instances it declared gone (alive before,
    /// DISCONNECTED or NOT_RUNNING after).
    pub fn coordinated(&self, decisions: &Decisions) {
        let gone = decisions
            .transitions
            .iter()
            .filter(|t| t.from.is_alive() && !t.to.is_alive())
            .count();
        self.declared_gone.fetch_add(gone as u64, Ordering::Relaxed);
    }

    fn labels(&self) -> String {
        format!(
            "service=\"{}\",instance=\"{}\"",
            escape(&self.service),
            escape(&self.instance)
        )
    }

    fn queue_depth(&self, out: &mut String, labels: &str) {
        let Some(db) = self.queue else { return };
        header(
            out,
            "saker_queue_depth",
            "gauge",
            "Jobs QUEUED and not yet claimed, by worker group (\"\" is the default group).",
        );
        match db.queue_depth() {
            Ok(depths) => {
                if !depths.iter().any(|(group, _)| group.is_none()) {
                    let _ = writeln!(out, "saker_queue_depth{{{labels},worker_group=\"\"}} 0");
                }
                for (group, depth) in depths {
                    let group = escape(group.as_deref().unwrap_or(""));
                    let _ = writeln!(
                        out,
                        "saker_queue_depth{{{labels},worker_group=\"{group}\"}} {depth}"
                    );
                }
            }
            Err(error) => {
                // No line: a gauge that is absent is better than one that is wrong.
                tracing::warn!(%error, "cannot read the queue depth for /metrics");
            }
        }
    }
}

impl MetricsSource for ServiceMetrics {
    /// Reads the queue depth from the database: call it off the async runtime.
    fn prometheus(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let labels = self.labels();
        let mut out = String::new();
        self.queue_depth(&mut out, &labels);
        if self.service == "worker" {
            header(
                &mut out,
                "saker_job_claim_latency_seconds",
                "histogram",
                "Time from a job's queueing to its first claim by this worker.",
            );
            for (bound, bucket) in CLAIM_BUCKETS.iter().zip(&self.claim_buckets) {
                let _ = writeln!(
                    out,
                    "saker_job_claim_latency_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                    get(bucket)
                );
            }
            let count = get(&self.claim_count);
            let _ = writeln!(
                out,
                "saker_job_claim_latency_seconds_bucket{{{labels},le=\"+Inf\"}} {count}"
            );
            let sum = get(&self.claim_micros) as f64 / 1e6;
            let _ = writeln!(out, "saker_job_claim_latency_seconds_sum{{{labels}}} {sum}");
            let _ = writeln!(
                out,
                "saker_job_claim_latency_seconds_count{{{labels}}} {count}"
            );
        }
        header(
            &mut out,
            "saker_heartbeats_total",
            "counter",
            "Heartbeats this instance recorded.",
        );
        let _ = writeln!(
            out,
            "saker_heartbeats_total{{{labels}}} {}",
            get(&self.heartbeats)
        );
        header(
            &mut out,
            "saker_heartbeats_missed_total",
            "counter",
            "Heartbeats that failed, or came later than heartbeat-interval and its margin.",
        );
        for (reason, counter) in [
            ("failed", &self.heartbeats_failed),
            ("late", &self.heartbeats_late),
        ] {
            let _ = writeln!(
                out,
                "saker_heartbeats_missed_total{{{labels},reason=\"{reason}\"}} {}",
                get(counter)
            );
        }
        if matches!(self.service.as_str(), "executor" | "standalone") {
            header(
                &mut out,
                "saker_instances_declared_gone_total",
                "counter",
                "Service instances this instance's liveness coordinator declared gone.",
            );
            let _ = writeln!(
                out,
                "saker_instances_declared_gone_total{{{labels}}} {}",
                get(&self.declared_gone)
            );
        }
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value as the exposition format quotes it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use saker_store::services::ServiceState;
    use saker_store::services::coordinator::Transition;

    #[test]
    fn claims_fill_the_buckets_at_and_above_their_latency() {
        let m = ServiceMetrics::new(ServiceType::Worker, "w1", None);
        m.job_claimed(Duration::from_millis(3));
        m.job_claimed(Duration::from_secs(60));
        let text = m.prometheus();
        let line = |le: &str| {
            format!(
                "saker_job_claim_latency_seconds_bucket{{service=\"worker\",instance=\"w1\",le=\"{le}\"}}"
            )
        };
        assert!(text.contains(&format!("{} 0\n", line("0.0025"))), "{text}");
        assert!(text.contains(&format!("{} 1\n", line("0.005"))), "{text}");
        assert!(text.contains(&format!("{} 1\n", line("30"))), "{text}");
        assert!(text.contains(&format!("{} 2\n", line("+Inf"))), "{text}");
        assert!(
            text.contains(
                "saker_job_claim_latency_seconds_count{service=\"worker\",instance=\"w1\"} 2\n"
            ),
            "{text}"
        );
        assert!(
            !text.contains("saker_instances_declared_gone_total"),
            "{text}"
        );
    }

    #[test]
    fn heartbeats_and_declared_instances_are_counted() {
        let m = ServiceMetrics::new(ServiceType::Executor, "e\"1", None);
        m.heartbeat(false);
        m.heartbeat(true);
        m.heartbeat_failed();
        let transition = |from, to| Transition {
            instance_id: "x".into(),
            from,
            to,
        };
        m.coordinated(&Decisions {
            transitions: vec![
                transition(ServiceState::Running, ServiceState::Disconnected),
                transition(ServiceState::Disconnected, ServiceState::NotRunning),
            ],
            jobs: Vec::new(),
        });
        let text = m.prometheus();
        let labels = "service=\"executor\",instance=\"e\\\"1\"";
        for line in [
            format!("saker_heartbeats_total{{{labels}}} 2\n"),
            format!("saker_heartbeats_missed_total{{{labels},reason=\"failed\"}} 1\n"),
            format!("saker_heartbeats_missed_total{{{labels},reason=\"late\"}} 1\n"),
            format!("saker_instances_declared_gone_total{{{labels}}} 1\n"),
        ] {
            assert!(text.contains(&line), "{line} in {text}");
        }
        assert!(!text.contains("saker_job_claim_latency"), "{text}");
    }

    #[test]
    fn a_late_heartbeat_has_a_margin_of_at_least_a_second() {
        assert_eq!(
            late_margin(Duration::from_millis(200)),
            Duration::from_secs(1)
        );
        assert_eq!(late_margin(Duration::from_secs(10)), Duration::from_secs(5));
    }
}
