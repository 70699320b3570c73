//! The mask set of each running execution: every secret resolved in it, every SECRET input
//! and every tainted string the expression engine produced. Everything a task emits passes
//! through it before it is stored or shown. It only grows while the execution runs.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use saker_mask::{MaskSet, SharedMaskSet};

/// Every value masked by any execution of this process since it started. Saker's own log
/// (the tracing output) passes through it, so a secret that reaches a diagnostic by accident
/// is still masked. It only grows, by the number of distinct secret values seen.
pub fn process_masks() -> &'static SharedMaskSet {
    static PROCESS: OnceLock<SharedMaskSet> = OnceLock::new();
    PROCESS.get_or_init(SharedMaskSet::default)
}

/// The growing mask set of one execution.
#[derive(Default)]
pub struct ExecutionMasks {
    set: SharedMaskSet,
}

impl ExecutionMasks {
    /// Adds values to mask (here and process-wide); rebuilds only for new values.
    pub fn add<'a>(&self, values: impl IntoIterator<Item = &'a str>) {
        let values: Vec<&str> = values.into_iter().filter(|v| !v.is_empty()).collect();
        if values.is_empty() {
            return;
        }
        self.set.extend(&values);
        process_masks().extend(&values);
    }

    /// `text` with every masked value (and its encodings) replaced by `****`.
    pub fn mask<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match self.set.snapshot().mask(text) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            Cow::Owned(s) => Cow::Owned(s),
        }
    }

    /// The current set, for a streaming masker.
    pub fn snapshot(&self) -> MaskSet {
        self.set.snapshot()
    }
}

impl std::fmt::Debug for ExecutionMasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutionMasks")
            .field("values", &self.snapshot().len())
            .finish()
    }
}

/// The mask sets of the executions running in this process, by execution id.
#[derive(Debug, Default)]
pub struct MaskRegistry {
    by_execution: Mutex<HashMap<String, Arc<ExecutionMasks>>>,
}

impl MaskRegistry {
    /// The mask set of an execution, created empty on first use.
    pub fn get(&self, execution_id: &str) -> Arc<ExecutionMasks> {
        let mut map = self.by_execution.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(execution_id.to_owned()).or_default().clone()
    }

    /// Forgets an execution's set once it has ended.
    pub fn remove(&self, execution_id: &str) {
        let mut map = self.by_execution.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(execution_id);
    }
}
