//! Log lines on their way out of a task: masked, buffered, and written to the store in
//! batches (at the latest every [`FLUSH_INTERVAL`], so a crash loses at most that much of a
//! running task's output). Followers (`saker flow run`, `execution logs -f`, the SSE
//! endpoint) read them back from the store by sequence number.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use saker_model::{Level, LogEntry};
use saker_store::Store;

use crate::masks::ExecutionMasks;

/// How long a worker keeps log lines before writing them.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// How many lines a worker keeps before writing them.
const FLUSH_LINES: usize = 512;

/// Runs `f`, which may block on the store or the secret service, without holding up a tokio
/// worker thread: on a multi-thread runtime through `block_in_place` (the worker hands its
/// other tasks to another thread first; on a blocking or plain thread it just runs `f`),
/// elsewhere here. A current-thread runtime (some tests) has no other thread to hand its
/// tasks to, and `block_in_place` would panic there, so `f` runs inline as before.
///
/// Why not `spawn_blocking`: a flush must keep its lines pending on failure and in order,
/// and a `secret()` resolves inside a synchronous template render; both want the answer
/// before going on, on the thread they are on.
pub(crate) fn off_worker<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|handle| handle.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Who a log line belongs to.
#[derive(Debug, Clone)]
pub struct LogOrigin {
    pub tenant_id: String,
    pub namespace: String,
    pub flow_id: String,
    pub execution_id: String,
    pub task_run_id: Option<String>,
    pub task_id: Option<String>,
    pub attempt_number: Option<u32>,
}

impl LogOrigin {
    fn entry(&self, level: Level, message: String) -> LogEntry {
        LogEntry {
            tenant_id: self.tenant_id.clone(),
            namespace: self.namespace.clone(),
            flow_id: self.flow_id.clone(),
            execution_id: self.execution_id.clone(),
            task_run_id: self.task_run_id.clone(),
            task_id: self.task_id.clone(),
            attempt_number: self.attempt_number,
            timestamp: Utc::now(),
            level,
            message,
        }
    }
}

/// The log lines of one task attempt.
pub struct TaskLogger {
    origin: LogOrigin,
    min_level: Level,
    masks: Arc<ExecutionMasks>,
    store: Arc<dyn Store>,
    pending: Vec<LogEntry>,
    last_flush: Instant,
}

impl TaskLogger {
    pub fn new(
        origin: LogOrigin,
        min_level: Level,
        masks: Arc<ExecutionMasks>,
        store: Arc<dyn Store>,
    ) -> Self {
        Self {
            origin,
            min_level,
            masks,
            store,
            pending: Vec::new(),
            last_flush: Instant::now(),
        }
    }

    /// Masks and records one line (each line of a multi-line message separately, so every
    /// stored line can be followed and filtered on its own).
    pub fn log(&mut self, level: Level, message: &str) {
        if level < self.min_level {
            return;
        }
        let masked = self.masks.mask(message).into_owned();
        let entry = self.origin.entry(level, masked);
        self.pending.push(entry);
        if self.pending.len() >= FLUSH_LINES || self.last_flush.elapsed() >= FLUSH_INTERVAL {
            self.flush();
        }
    }

    /// Writes the pending lines now. On a store error they stay pending and go with the
    /// task's result instead.
    pub fn flush(&mut self) {
        self.last_flush = Instant::now();
        if self.pending.is_empty() {
            return;
        }
        let store = &self.store;
        let pending = &self.pending;
        match off_worker(|| store.append_logs(pending)) {
            Ok(()) => self.pending.clear(),
            Err(e) => tracing::warn!(error = %e, "could not write log lines yet; retrying later"),
        }
    }

    /// The lines not written yet; the executor writes them with the task run's new state.
    pub fn take_pending(&mut self) -> Vec<LogEntry> {
        std::mem::take(&mut self.pending)
    }
}
