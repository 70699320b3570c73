//! Retry behaviour CREATE_NEW_EXECUTION: a failed task whose retry asks for it does not get a
//! new attempt; its execution ends (FAILED, as it would without a retry) and, once the
//! policy's delay has passed, a new execution of the same flow revision starts with the same
//! inputs (sealed ones sealed again for the new id), labels and trigger. Its
//! `system.executionAttempt` label counts the executions, and bounds them as the policy's
//! `maxAttempt` does; `system.originalId` names the first.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;

use saker_model::{Execution, Flow};

use super::{Event, Executor, Live, Outbox, Owned};

/// The label counting the executions of a CREATE_NEW_EXECUTION retry (1 for the first).
pub(crate) const ATTEMPT_LABEL: &str = "system.executionAttempt";
/// The label naming the first execution of such a chain.
pub(crate) const ORIGINAL_LABEL: &str = "system.originalId";

/// Which execution of a CREATE_NEW_EXECUTION chain `execution` is, from 1.
pub(crate) fn execution_attempt(execution: &Execution) -> u32 {
    execution
        .labels
        .get(ATTEMPT_LABEL)
        .and_then(|v| {
            v.as_str()
                .and_then(|s| s.parse().ok())
                .or(v.as_u64().map(|n| n as u32))
        })
        .unwrap_or(1)
}

impl Executor {
    /// Starts the new execution after `delay` (sent back as an event).
    pub(super) fn schedule_new_execution(
        &self,
        flow: Arc<Flow>,
        ended: Execution,
        delay: Duration,
    ) {
        let events = self.events.clone();
        self.runtime.spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = events.send(Event::RetryExecution {
                flow,
                ended: Box::new(ended),
            });
        });
    }

    /// The delay is over: the new execution of the chain starts.
    pub(super) fn on_retry_execution(
        &self,
        live: &mut HashMap<String, Live>,
        outbox: &mut Outbox,
        flow: Arc<Flow>,
        ended: &Execution,
    ) {
        let mut next = Execution::new(
            &ended.tenant_id,
            &ended.namespace,
            &ended.flow_id,
            ended.flow_revision,
        );
        next.trigger = ended.trigger.clone();
        let inputs = self.outputs.protector.reseal(
            (&ended.id, "inputs"),
            (&next.id, "inputs"),
            &Json::Object(ended.inputs.clone()),
        );
        if let Json::Object(inputs) = inputs {
            next.inputs = inputs;
        }
        next.labels = ended.labels.clone();
        let original = ended
            .labels
            .get(ORIGINAL_LABEL)
            .cloned()
            .unwrap_or_else(|| Json::String(ended.id.clone()));
        next.labels.insert(ORIGINAL_LABEL.into(), original);
        next.labels.insert(
            ATTEMPT_LABEL.into(),
            Json::String((execution_attempt(ended) + 1).to_string()),
        );
        let id = next.id.clone();
        outbox.writes.push(Owned::Created(next.clone()));
        self.metrics.execution_started();
        live.insert(
            id.clone(),
            Live {
                flow,
                execution: super::shared::SharedExecution::new(next),
                killing: false,
                exit: None,
                retry_new: None,
                watchers: Vec::new(),
            },
        );
        self.admit(live, outbox, &id);
    }
}
