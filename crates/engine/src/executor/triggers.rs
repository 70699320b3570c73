//! Flow triggers, the executor's half: after a batch of events, every execution that ended
//! in it is offered to the flows that listen (`flow_trigger.rs` decides); each trigger that
//! fires starts an execution of its flow, in the same batch, with its `inputs` rendered
//! against the ended execution and `trigger` variables naming it.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value as Json};

use saker_model::{Execution, ExecutionTrigger, Flow, TriggerDef};

use super::{Executor, Live, Outbox, Owned};
use crate::flow_trigger::{self, Listeners, Windows};
use crate::new_execution::{self, Request};

/// What the executor keeps between batches for Flow triggers.
#[derive(Default)]
pub(super) struct FlowTriggerState {
    listeners: Listeners,
    windows: Windows,
}

impl Executor {
    /// Offers the executions that ended in this batch to the listening flows.
    pub(super) fn fire_flow_triggers(
        &self,
        live: &mut HashMap<String, Live>,
        outbox: &mut Outbox,
        state: &mut FlowTriggerState,
    ) {
        // An execution a trigger starts can itself end in a later batch, never in this one.
        let ended = std::mem::take(&mut outbox.ended);
        for (flow, execution) in ended {
            let listeners: Vec<(Arc<Flow>, u32)> = state
                .listeners
                .of(
                    self.store.as_ref(),
                    &execution.tenant_id,
                    &self.flows_generation,
                )
                .iter()
                .map(|l| (l.flow.clone(), l.revision))
                .collect();
            for (listener, revision) in listeners {
                for trigger in listener
                    .triggers
                    .iter()
                    .filter(|t| t.type_name == TriggerDef::FLOW_TYPE && !t.disabled)
                {
                    let mut render = |template: &str| {
                        self.outputs
                            .render_value(&flow, &execution, &Json::String(template.to_owned()))
                            .map(|(v, _)| v.as_str().unwrap_or_default().to_owned())
                    };
                    match flow_trigger::fires(
                        &mut state.windows,
                        &listener,
                        trigger,
                        &execution,
                        &mut render,
                    ) {
                        Ok(true) => self.start_listener(
                            live, outbox, &flow, &execution, &listener, revision, trigger,
                        ),
                        Ok(false) => {}
                        Err(e) => tracing::warn!(
                            flow = %format!("{}.{}", listener.namespace, listener.id),
                            trigger = %trigger.id,
                            error = %e,
                            "a Flow trigger's condition could not be decided; it does not fire"
                        ),
                    }
                }
            }
        }
    }

    /// Starts an execution of `listener` for `ended`, its inputs rendered against `ended`.
    #[allow(clippy::too_many_arguments)]
    fn start_listener(
        &self,
        live: &mut HashMap<String, Live>,
        outbox: &mut Outbox,
        upstream: &Flow,
        ended: &Execution,
        listener: &Arc<Flow>,
        revision: u32,
        trigger: &TriggerDef,
    ) {
        let name = format!("{}.{}", listener.namespace, listener.id);
        let raw = trigger
            .properties
            .get("inputs")
            .cloned()
            .unwrap_or(Json::Object(Map::new()));
        let (inputs, seal) = match self.outputs.render_value(upstream, ended, &raw) {
            Ok((Json::Object(map), tainted)) => {
                let seal: Vec<String> = if tainted {
                    map.keys().cloned().collect()
                } else {
                    Vec::new()
                };
                (map, seal)
            }
            Ok(_) => (Map::new(), Vec::new()),
            Err(e) => {
                // Kestra logs "invalid inputs" and starts nothing.
                tracing::warn!(flow = %name, trigger = %trigger.id, error = %e, "a Flow trigger's inputs do not render; the flow is not started");
                return;
            }
        };
        let mut variables = Map::new();
        variables.insert("executionId".into(), ended.id.clone().into());
        variables.insert("namespace".into(), ended.namespace.clone().into());
        variables.insert("flowId".into(), ended.flow_id.clone().into());
        variables.insert("flowRevision".into(), ended.flow_revision.into());
        variables.insert("state".into(), ended.state.current.as_str().into());
        let execution = new_execution::build(
            &self.outputs.protector,
            &self.files,
            Request {
                tenant: &ended.tenant_id,
                flow: listener,
                revision,
                inputs,
                uploads: Vec::new(),
                trigger: Some(ExecutionTrigger {
                    id: trigger.id.clone(),
                    type_name: TriggerDef::FLOW_TYPE.into(),
                    variables,
                }),
                labels: Map::new(),
                correlation_id: None,
                seal_inputs: &seal,
            },
        );
        let execution = match execution {
            Ok(e) => e,
            Err(e) => {
                // An input error quotes the value it refused: not one rendered from a secret.
                let e = match e {
                    crate::engine::EngineError::Inputs(_) if !seal.is_empty() => {
                        "its inputs do not fit the flow's declared inputs (not shown: derived from a secret)"
                            .to_owned()
                    }
                    other => other.to_string(),
                };
                tracing::warn!(flow = %name, trigger = %trigger.id, error = %e, "a Flow trigger could not start its flow");
                return;
            }
        };
        let id = execution.id.clone();
        outbox.writes.push(Owned::Created(execution.clone()));
        self.metrics.execution_started();
        live.insert(
            id.clone(),
            Live {
                flow: listener.clone(),
                execution: super::SharedExecution::new(execution),
                killing: false,
                exit: None,
                retry_new: None,
                watchers: Vec::new(),
            },
        );
        self.admit(live, outbox, &id);
    }
}
