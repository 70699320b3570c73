//! The executor's copy of a running execution, shared copy-on-write with the jobs that carry
//! it as their snapshot.
//!
//! Every job carries the execution as it was when the job was queued. Cloning it for each
//! step cost O(task runs), so a loop of n iterations cost O(n²): at 1,000 iterations, most
//! of the executor's time. Shared, a step hands out the same `Arc` the executor holds; the
//! executor copies only when it changes an execution that a queued or running job still
//! holds (`Arc::make_mut`). A sequential loop never copies: its one job has ended, and been
//! dropped, by the time its result arrives.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use saker_model::Execution;

/// A running execution: reads go to the shared copy, writes copy it first if a job holds it.
#[derive(Debug)]
pub(super) struct SharedExecution(Arc<Execution>);

impl SharedExecution {
    pub(super) fn new(execution: Execution) -> Self {
        SharedExecution(Arc::new(execution))
    }

    /// The snapshot a job carries: the execution as it is now, without a copy.
    pub(super) fn snapshot(&self) -> Arc<Execution> {
        self.0.clone()
    }

    /// The execution itself, for the end of its life here (copied only if a job still
    /// holds it).
    pub(super) fn into_inner(self) -> Execution {
        Arc::unwrap_or_clone(self.0)
    }
}

impl Deref for SharedExecution {
    type Target = Execution;

    fn deref(&self) -> &Execution {
        &self.0
    }
}

impl DerefMut for SharedExecution {
    fn deref_mut(&mut self) -> &mut Execution {
        Arc::make_mut(&mut self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_keeps_what_it_saw_and_the_execution_moves_on() {
        let mut live = SharedExecution::new(Execution::new("main", "company.team", "f", 1));
        let before = live.snapshot();
        assert!(
            Arc::ptr_eq(&before, &live.snapshot()),
            "no copy to hand out"
        );
        live.labels.insert("k".into(), "v".into());
        assert!(
            before.labels.is_empty(),
            "the job's snapshot did not change"
        );
        assert_eq!(live.labels["k"], "v");
        drop(before);
        let alone = live.snapshot();
        let address = Arc::as_ptr(&alone);
        drop(alone);
        live.labels.insert("k2".into(), "v2".into());
        assert_eq!(
            Arc::as_ptr(&live.snapshot()),
            address,
            "no job holds it: changed in place"
        );
    }
}
