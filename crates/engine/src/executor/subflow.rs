//! Subflows, the executor's half: a `Subflow` run whose call the worker rendered starts a
//! child execution here (stored in the same batch as the parent's change, and advanced by
//! this executor like any other); when the child ends, the parent's run ends with it
//! (`wait`), its outputs being `executionId`, `state` and the child flow's `outputs`.
//!
//! Values a secret produced stay sealed on the way: the parent's sealed inputs are opened
//! only to be coerced and sealed again for the child, and the child's sealed outputs are
//! sealed again for the parent.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use serde_json::{Map, Value as Json};

use saker_model::{Execution, ExecutionTrigger, Flow, Level, StateType, SubflowCall, TaskRun};

use super::{ExecutionKey, Executor, Live, Outbox, Owned, system_log};
use crate::new_execution::{self, Request};
use crate::worker::subflow_inputs_path;

/// The trigger type a child execution records.
pub(crate) const SUBFLOW_TYPE: &str = "io.kestra.plugin.core.flow.Subflow";

impl Executor {
    /// Starts the child of the `Subflow` run `run_id` of execution `parent_id`, whose call
    /// the worker has just rendered. A child that cannot start fails the run.
    pub(super) fn start_subflow(
        &self,
        live: &mut HashMap<String, Live>,
        outbox: &mut Outbox,
        parent_id: &str,
        run_id: &str,
    ) {
        let Some(p) = live.get(parent_id) else {
            return;
        };
        let Some(run) = p.execution.task_run_by_id(run_id) else {
            return;
        };
        let Some(call) = run.resolved.as_ref().and_then(|r| r.subflow.clone()) else {
            return;
        };
        let started = self.child_execution(&p.execution, run, &call, &run.task_id, None);
        let (child, flow) = match started {
            Ok(started) => started,
            Err(message) => {
                self.end_parent_run(
                    live,
                    outbox,
                    parent_id,
                    run_id,
                    StateType::Failed,
                    None,
                    Some(message),
                );
                return;
            }
        };
        let child_id = child.id.clone();
        outbox.writes.push(Owned::Created(child.clone()));
        self.metrics.execution_started();
        live.insert(
            child_id.clone(),
            Live {
                flow,
                execution: super::SharedExecution::new(child),
                killing: false,
                exit: None,
                retry_new: None,
                watchers: Vec::new(),
            },
        );
        let mut outputs = Map::new();
        outputs.insert("executionId".into(), Json::String(child_id.clone()));
        if call.wait {
            if let Some(run) = live.get_mut(parent_id).and_then(|p| {
                p.execution
                    .task_run_list
                    .iter_mut()
                    .find(|r| r.id == run_id)
            }) {
                run.outputs = outputs;
                let changed = vec![run.clone()];
                self.advance(live, outbox, parent_id, Vec::new(), changed);
            }
        } else {
            self.end_parent_run(
                live,
                outbox,
                parent_id,
                run_id,
                StateType::Success,
                Some(outputs),
                None,
            );
        }
        self.admit(live, outbox, &child_id);
    }

    /// Builds the child execution: its flow from the store, the parent's inputs opened,
    /// coerced and sealed again, its labels, its trigger naming the parent.
    /// `sealed_by` is the task whose worker sealed the call's inputs (the Subflow or
    /// ForEachItem task); `iteration` the batch of a ForEachItem.
    pub(super) fn child_execution(
        &self,
        parent: &Execution,
        run: &TaskRun,
        call: &SubflowCall,
        sealed_by: &str,
        iteration: Option<usize>,
    ) -> Result<(Execution, Arc<Flow>), String> {
        let record = self
            .store
            .get_flow(&parent.tenant_id, &call.namespace, &call.flow_id, call.revision)
            .map_err(|e| format!("cannot load subflow {}.{}: {e}", call.namespace, call.flow_id))?
            .ok_or_else(|| {
                let revision = call.revision.map(|r| format!(" revision {r}")).unwrap_or_default();
                format!(
                    "subflow {}.{}{revision} not found: deploy it first (saker flow deploy, or the API)",
                    call.namespace, call.flow_id
                )
            })?;
        let flow = saker_model::parse_flow(&record.source).map_err(|_| {
            format!(
                "the stored subflow {}.{} revision {} no longer validates",
                call.namespace, call.flow_id, record.revision
            )
        })?;
        let sealed_at = format!("outputs.{}", subflow_inputs_path(sealed_by));
        let mut inputs = Map::new();
        let mut seal = Vec::new();
        for (name, value) in &call.inputs {
            if crate::sealing::contains_sealed(value) {
                let plain = self.outputs.protector.open_plain(
                    &parent.id,
                    &format!("{sealed_at}.{name}"),
                    value,
                )?;
                seal.push(name.clone());
                inputs.insert(name.clone(), plain);
            } else {
                inputs.insert(name.clone(), value.clone());
            }
        }
        let mut labels = Map::new();
        if call.inherit_labels {
            for (k, v) in &parent.labels {
                labels.insert(k.clone(), v.clone());
            }
        }
        for (k, v) in &call.labels {
            labels.insert(k.clone(), v.clone());
        }
        let mut variables = Map::new();
        variables.insert("executionId".into(), parent.id.clone().into());
        variables.insert("namespace".into(), parent.namespace.clone().into());
        variables.insert("flowId".into(), parent.flow_id.clone().into());
        variables.insert("flowRevision".into(), parent.flow_revision.into());
        variables.insert("taskRunId".into(), run.id.clone().into());
        if let Some(iteration) = iteration {
            variables.insert("taskRunIteration".into(), iteration.into());
        }
        let correlation = parent
            .labels
            .get("system.correlationId")
            .and_then(Json::as_str)
            .map(str::to_owned)
            .or_else(|| Some(parent.id.clone()));
        let child = new_execution::build(
            &self.outputs.protector,
            &self.files,
            Request {
                tenant: &parent.tenant_id,
                flow: &flow,
                revision: record.revision,
                inputs,
                uploads: Vec::new(),
                trigger: Some(ExecutionTrigger {
                    id: run.task_id.clone(),
                    type_name: SUBFLOW_TYPE.into(),
                    variables,
                }),
                labels,
                correlation_id: correlation,
                seal_inputs: &seal,
            },
        )
        .map_err(|e| {
            // An input error quotes the value it refused: not one opened from a seal.
            let why = match e {
                crate::engine::EngineError::Inputs(_) if !seal.is_empty() => {
                    "its inputs do not fit the flow's declared inputs (not shown: some are derived \
                     from a secret)"
                        .to_owned()
                }
                other => other.to_string(),
            };
            format!(
                "cannot start subflow {}.{}: {why}",
                call.namespace, call.flow_id
            )
        })?;
        Ok((child, Arc::new(flow)))
    }

    /// A child execution ended: its parent's run ends with it, if the parent waits.
    pub(super) fn on_child_end(
        &self,
        live: &mut HashMap<String, Live>,
        outbox: &mut Outbox,
        child_flow: &Flow,
        child: &Execution,
    ) {
        let Some(trigger) = child
            .trigger
            .as_deref()
            .filter(|t| t.type_name == SUBFLOW_TYPE)
        else {
            return;
        };
        let (Some(parent_id), Some(run_id)) = (
            trigger.variables.get("executionId").and_then(Json::as_str),
            trigger.variables.get("taskRunId").and_then(Json::as_str),
        ) else {
            return;
        };
        let Some(p) = live.get(parent_id) else {
            return;
        };
        let Some(run) = p.execution.task_run_by_id(run_id) else {
            return;
        };
        if run.resolved.as_ref().is_some_and(|r| r.subflow.is_none()) {
            // A ForEachItem's `<id>_items` run: one of its batches ended.
            let (parent_id, run_id) = (parent_id.to_owned(), run_id.to_owned());
            self.on_item_child_end(live, outbox, child, &parent_id, &run_id);
            return;
        }
        let waits = run.state.current == StateType::Running
            && run
                .resolved
                .as_ref()
                .and_then(|r| r.subflow.as_ref())
                .is_some_and(|c| c.wait);
        if !waits {
            return;
        }
        let transmit = run
            .resolved
            .as_ref()
            .and_then(|r| r.subflow.as_ref())
            .is_some_and(|c| c.transmit_failed);
        let task = p.flow.find_task(&run.task_id);
        let (allow_failure, allow_warning) =
            task.map_or((false, false), |t| (t.allow_failure, t.allow_warning));
        let mut state = guess_state(child.state.current, transmit, allow_failure, allow_warning);
        let mut outputs = Map::new();
        outputs.insert("executionId".into(), child.id.clone().into());
        outputs.insert("state".into(), child.state.current.as_str().into());
        let outputs_path = format!("outputs.{}.outputs", run.task_id);
        let written = task
            .and_then(|t| t.properties.get("outputs"))
            .filter(|_| child_flow.outputs.is_empty())
            .cloned();
        let mut error = None;
        let child_outputs = match written {
            // Kestra's deprecated Subflow `outputs`, for a child flow that declares none:
            // rendered against the child execution.
            Some(written) => match self.outputs.render_value(child_flow, child, &written) {
                Ok((value, tainted)) => {
                    self.seal_rendered(parent_id, &outputs_path, value, tainted)
                }
                Err(e) => {
                    // As in Kestra, outputs that do not render fail the task.
                    state = StateType::Failed;
                    error = Some(format!("the subflow's outputs could not be rendered: {e}"));
                    Json::Object(Map::new())
                }
            },
            None => self.outputs.protector.reseal(
                (&child.id, "outputs"),
                (parent_id, &outputs_path),
                &Json::Object(child.outputs.clone()),
            ),
        };
        outputs.insert("outputs".into(), child_outputs);
        let (parent_id, run_id) = (parent_id.to_owned(), run_id.to_owned());
        self.end_parent_run(
            live,
            outbox,
            &parent_id,
            &run_id,
            state,
            Some(outputs),
            error,
        );
    }

    /// A rendered map kept as the parent's outputs: when a secret went into the render,
    /// each of its values is sealed.
    fn seal_rendered(&self, execution_id: &str, path: &str, value: Json, tainted: bool) -> Json {
        match value {
            Json::Object(map) if tainted => Json::Object(
                map.into_iter()
                    .map(|(k, v)| {
                        let text = match &v {
                            Json::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        let sealed = self.outputs.protector.seal_string(
                            execution_id,
                            &format!("{path}.{k}"),
                            &text,
                        );
                        (k, sealed)
                    })
                    .collect(),
            ),
            other => other,
        }
    }

    /// Ends a parent's `Subflow` run in `state` (with `outputs`, and an error logged when it
    /// could not start), then moves the parent on.
    #[allow(clippy::too_many_arguments)]
    fn end_parent_run(
        &self,
        live: &mut HashMap<String, Live>,
        outbox: &mut Outbox,
        parent_id: &str,
        run_id: &str,
        state: StateType,
        outputs: Option<Map<String, Json>>,
        error: Option<String>,
    ) {
        let Some(p) = live.get_mut(parent_id) else {
            return;
        };
        let key = ExecutionKey::from(&p.execution);
        let retry = super::result::effective_retry(&p.flow, &p.execution, run_id)
            .filter(|r| r.behavior == saker_model::RetryBehavior::RetryFailedTask)
            .as_ref()
            .and_then(crate::retry::RetryPolicy::from_model);
        let killing = p.killing;
        let Some(run) = p
            .execution
            .task_run_list
            .iter_mut()
            .find(|r| r.id == run_id)
        else {
            return;
        };
        if let Some(outputs) = outputs {
            run.outputs = outputs;
        }
        // A failed child is an attempt that failed: the Subflow's retry starts another child.
        if state == StateType::Failed
            && !killing
            && let Some(policy) = retry
        {
            let now = Utc::now();
            let elapsed = run
                .state
                .start_date()
                .and_then(|s| (now - s).to_std().ok())
                .unwrap_or_default();
            let attempts = run.attempts.len() as u32;
            if let Some(delay) = policy.next_delay(attempts, elapsed) {
                if let Some(attempt) = run.attempts.last_mut() {
                    attempt.state.transition_at(StateType::Failed, now);
                }
                run.state.transition_at(StateType::Retrying, now);
                let mut logs = Vec::new();
                if let Some(message) = &error {
                    logs.push(system_log(
                        key.clone(),
                        Some(run),
                        Level::Error,
                        message.clone(),
                    ));
                }
                logs.push(system_log(
                    key.clone(),
                    Some(run),
                    Level::Warn,
                    format!(
                        "the subflow failed (attempt {attempts}); retrying in {:.3}s",
                        delay.as_secs_f64()
                    ),
                ));
                outbox.writes.push(Owned::Logs(logs));
                outbox.writes.push(Owned::TaskRun(run.clone()));
                outbox.retries.push((key.id.clone(), run.id.clone(), delay));
                return;
            }
        }
        run.state.transition_at(state, Utc::now());
        let mut logs = Vec::new();
        if let Some(message) = error {
            logs.push(system_log(key, Some(run), Level::Error, message));
        }
        let changed = vec![run.clone()];
        self.advance(live, outbox, parent_id, logs, changed);
    }
}

/// The state of a parent's run from its child's, as Kestra's `ExecutableUtils.guessState`:
/// with `transmitFailed`, a failed, killed, paused or warning child is passed on (FAILED as
/// WARNING with `allowFailure`, WARNING as SUCCESS with `allowWarning`); otherwise SUCCESS.
pub(crate) fn guess_state(
    child: StateType,
    transmit_failed: bool,
    allow_failure: bool,
    allow_warning: bool,
) -> StateType {
    let passed_on = matches!(
        child,
        StateType::Failed
            | StateType::Killed
            | StateType::Paused
            | StateType::Warning
            | StateType::Cancelled
    );
    if !transmit_failed || !passed_on {
        return StateType::Success;
    }
    let state = if allow_failure && child == StateType::Failed {
        StateType::Warning
    } else {
        child
    };
    if state == StateType::Warning && allow_warning {
        StateType::Success
    } else {
        state
    }
}
