//! Counters of what this process's engine did, for the `/metrics` endpoint (Prometheus
//! text format). Cheap atomics, updated by the executor; nothing here holds a value of a
//! flow.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use saker_model::StateType;

/// More Prometheus text for a `/metrics` endpoint, beside the engine's counters (a service
/// of distributed mode adds its own: queue depth, claim latency, heartbeats).
pub trait MetricsSource: Send + Sync {
    /// The lines, in Prometheus text exposition format. May read a database: call it off
    /// the async runtime.
    fn prometheus(&self) -> String;
}

impl MetricsSource for crate::Engine {
    fn prometheus(&self) -> String {
        self.metrics().prometheus()
    }
}

/// The engine's counters since the process started.
#[derive(Debug, Default)]
pub struct Metrics {
    executions_started: AtomicU64,
    ended_success: AtomicU64,
    ended_warning: AtomicU64,
    ended_failed: AtomicU64,
    ended_killed: AtomicU64,
    task_attempts: AtomicU64,
    task_retries: AtomicU64,
    running: AtomicU64,
}

impl Metrics {
    pub(crate) fn execution_started(&self) {
        self.executions_started.fetch_add(1, Ordering::Relaxed);
        self.running.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn execution_ended(&self, state: StateType) {
        let counter = match state {
            StateType::Success => &self.ended_success,
            StateType::Warning => &self.ended_warning,
            StateType::Killed => &self.ended_killed,
            _ => &self.ended_failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let _ = self
            .running
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    pub(crate) fn attempt_dispatched(&self) {
        self.task_attempts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retry_scheduled(&self) {
        self.task_retries.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters in Prometheus text exposition format.
    pub fn prometheus(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP saker_executions_started_total Executions started by this process."
        );
        let _ = writeln!(out, "# TYPE saker_executions_started_total counter");
        let _ = writeln!(
            out,
            "saker_executions_started_total {}",
            get(&self.executions_started)
        );
        let _ = writeln!(
            out,
            "# HELP saker_executions_ended_total Executions ended, by final state."
        );
        let _ = writeln!(out, "# TYPE saker_executions_ended_total counter");
        for (state, counter) in [
            ("SUCCESS", &self.ended_success),
            ("WARNING", &self.ended_warning),
            ("FAILED", &self.ended_failed),
            ("KILLED", &self.ended_killed),
        ] {
            let _ = writeln!(
                out,
                "saker_executions_ended_total{{state=\"{state}\"}} {}",
                get(counter)
            );
        }
        let _ = writeln!(
            out,
            "# HELP saker_executions_running Executions running in this process."
        );
        let _ = writeln!(out, "# TYPE saker_executions_running gauge");
        let _ = writeln!(out, "saker_executions_running {}", get(&self.running));
        let _ = writeln!(
            out,
            "# HELP saker_task_attempts_total Task attempts sent to workers."
        );
        let _ = writeln!(out, "# TYPE saker_task_attempts_total counter");
        let _ = writeln!(
            out,
            "saker_task_attempts_total {}",
            get(&self.task_attempts)
        );
        let _ = writeln!(
            out,
            "# HELP saker_task_retries_total Task attempts scheduled again after a failure."
        );
        let _ = writeln!(out, "# TYPE saker_task_retries_total counter");
        let _ = writeln!(out, "saker_task_retries_total {}", get(&self.task_retries));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_in_the_exposition() {
        let m = Metrics::default();
        m.execution_started();
        m.execution_started();
        m.execution_ended(StateType::Success);
        m.attempt_dispatched();
        let text = m.prometheus();
        assert!(text.contains("saker_executions_started_total 2"), "{text}");
        assert!(
            text.contains("saker_executions_ended_total{state=\"SUCCESS\"} 1"),
            "{text}"
        );
        assert!(text.contains("saker_executions_running 1"), "{text}");
        assert!(text.contains("saker_task_attempts_total 1"), "{text}");
    }
}
