//! `ForEachItem`, the executor's half. Once the worker has split the items and rendered one
//! subflow call per batch, the run gets Kestra's three children: `<id>_split` (the batch
//! files, ended), `<id>_items` (one child execution per batch; its outputs count them,
//! `numberOfBatches` and `iterations` by state) and, once every child has ended,
//! `<id>_merge` (`subflowOutputs`: a file with one JSON line of outputs per batch, in
//! order). Without `wait` the children are started and the task ends at once.

use std::collections::HashMap;

use chrono::Utc;
use serde_json::{Map, Value as Json, json};

use saker_model::{Execution, Level, Resolved, StateType, TaskRun, TaskRunAttempt};
use saker_storage::StorageUri;

use super::subflow::guess_state;
use super::{ExecutionKey, Executor, Live, Outbox, Owned, system_log};

impl Executor {
    /// Starts the children of ForEachItem run `run_id` of execution `parent_id`.
    pub(super) fn start_for_each_item(
        &self,
        live: &mut HashMap<String, Live>,
        outbox: &mut Outbox,
        parent_id: &str,
        run_id: &str,
    ) {
        let Some(p) = live.get_mut(parent_id) else {
            return;
        };
        let Some(run) = p.execution.task_run_by_id(run_id).cloned() else {
            return;
        };
        let resolved = run.resolved.as_deref().cloned().unwrap_or_default();
        let calls = resolved.subflows.unwrap_or_default();
        let uris = resolved.values.unwrap_or_default();
        let wait = calls.first().is_none_or(|c| c.wait);
        let now = Utc::now();
        let split = ended_child(
            &p.execution,
            &run,
            "split",
            StateType::Success,
            Map::from_iter([("splits".to_owned(), Json::Array(uris))]),
        );
        let mut items = TaskRun::new(&p.execution, &format!("{}_items", run.task_id));
        items.parent_task_run_id = Some(run.id.clone());
        items.state.transition_at(StateType::Running, now);
        items.attempts.push(TaskRunAttempt {
            state: saker_model::State::starting_at(StateType::Running, now),
        });
        // Marks it as waiting on its children (recovery does not retry it).
        items.resolved = Some(Box::new(Resolved {
            values: Some(Vec::new()),
            ..Resolved::default()
        }));
        let mut children = Vec::new();
        let mut logs = Vec::new();
        for (i, call) in calls.iter().enumerate() {
            match self.child_execution(&p.execution, &items, call, &run.task_id, Some(i)) {
                Ok(started) => children.push(started),
                Err(message) => logs.push(system_log(
                    ExecutionKey::from(&p.execution),
                    Some(&run),
                    Level::Error,
                    format!("batch {i}: {message}"),
                )),
            }
        }
        let failed_to_start = calls.len() - children.len();
        let started = children.len();
        let mut iterations = Map::new();
        iterations.insert("CREATED".into(), json!(0));
        iterations.insert("RUNNING".into(), json!(if wait { started } else { 0 }));
        iterations.insert("SUCCESS".into(), json!(if wait { 0 } else { started }));
        if failed_to_start > 0 {
            iterations.insert("FAILED".into(), json!(failed_to_start));
        }
        items
            .outputs
            .insert("numberOfBatches".into(), json!(calls.len()));
        items
            .outputs
            .insert("iterations".into(), Json::Object(iterations));
        if let Some(r) = items.resolved.as_mut() {
            r.values = Some(
                children
                    .iter()
                    .map(|(c, _)| json!({ "executionId": c.id }))
                    .collect(),
            );
        }
        let mut changed = vec![split, items.clone()];
        p.execution.task_run_list.push(changed[0].clone());
        p.execution.task_run_list.push(items.clone());
        let done_now = !wait || children.is_empty();
        let child_ids: Vec<String> = children.iter().map(|(c, _)| c.id.clone()).collect();
        for (child, flow) in children {
            outbox.writes.push(Owned::Created(child.clone()));
            self.metrics.execution_started();
            live.insert(
                child.id.clone(),
                Live {
                    flow,
                    execution: super::SharedExecution::new(child),
                    killing: false,
                    exit: None,
                    retry_new: None,
                    watchers: Vec::new(),
                },
            );
        }
        if done_now {
            let state = if failed_to_start > 0 {
                StateType::Failed
            } else {
                StateType::Success
            };
            if let Some((finished, more)) = self.finish_items(live, parent_id, &items.id, state) {
                changed.retain(|r| r.id != items.id);
                changed.extend(finished);
                changed.extend(more);
            }
        }
        self.advance(live, outbox, parent_id, logs, changed);
        for id in child_ids {
            self.admit(live, outbox, &id);
        }
    }

    /// A child of a ForEachItem ended (`items_run_id` is its `<id>_items` run): counted, its
    /// outputs kept for the merge; the last one ends the task.
    pub(super) fn on_item_child_end(
        &self,
        live: &mut HashMap<String, Live>,
        outbox: &mut Outbox,
        child: &Execution,
        parent_id: &str,
        items_run_id: &str,
    ) {
        let Some(p) = live.get_mut(parent_id) else {
            return;
        };
        let Some(items) = p
            .execution
            .task_run_list
            .iter_mut()
            .find(|r| r.id == items_run_id && r.state.current == StateType::Running)
        else {
            return;
        };
        let moved = self.outputs.protector.reseal(
            (&child.id, "outputs"),
            (
                parent_id,
                &format!("outputs.{}.subflowOutputs", items.task_id),
            ),
            &Json::Object(child.outputs.clone()),
        );
        if let Some(Json::Object(iterations)) = items.outputs.get_mut("iterations") {
            let running = iterations
                .get("RUNNING")
                .and_then(Json::as_u64)
                .unwrap_or(1);
            iterations.insert("RUNNING".into(), json!(running.saturating_sub(1)));
            let key = child.state.current.as_str().to_owned();
            let count = iterations.get(&key).and_then(Json::as_u64).unwrap_or(0);
            iterations.insert(key, json!(count + 1));
        }
        // One entry per started child, in batch order: its state and outputs once ended.
        if let Some(entries) = items.resolved.as_mut().and_then(|r| r.values.as_mut()) {
            for entry in entries.iter_mut() {
                if entry.get("executionId").and_then(Json::as_str) == Some(child.id.as_str()) {
                    entry["state"] = json!(child.state.current.as_str());
                    entry["outputs"] = moved.clone();
                }
            }
        }
        let entries = items
            .resolved
            .as_ref()
            .and_then(|r| r.values.clone())
            .unwrap_or_default();
        let all_ended = entries.iter().all(|e| e.get("state").is_some());
        let mut changed = vec![items.clone()];
        if all_ended {
            let transmit = p
                .flow
                .find_task(items.task_id.trim_end_matches("_items"))
                .map(|t| {
                    t.properties
                        .get("transmitFailed")
                        .and_then(Json::as_bool)
                        .unwrap_or(true)
                })
                .unwrap_or(true);
            let worst = entries
                .iter()
                .filter_map(|e| e.get("state").and_then(Json::as_str))
                .filter_map(StateType::parse)
                .map(|s| guess_state(s, transmit, false, false))
                .fold(StateType::Success, worse);
            let items_id = items.id.clone();
            if let Some((finished, more)) = self.finish_items(live, parent_id, &items_id, worst) {
                changed = finished;
                changed.extend(more);
            }
        }
        let id = parent_id.to_owned();
        self.advance(live, outbox, &id, Vec::new(), changed);
    }

    /// Ends the `<id>_items` run in `state`, adds `<id>_merge` with the merged outputs, and
    /// ends the ForEachItem run itself (its `allowFailure`/`allowWarning` applied). Returns
    /// the changed runs.
    fn finish_items(
        &self,
        live: &mut HashMap<String, Live>,
        parent_id: &str,
        items_run_id: &str,
        state: StateType,
    ) -> Option<(Vec<TaskRun>, Vec<TaskRun>)> {
        let p = live.get_mut(parent_id)?;
        let now = Utc::now();
        let items = p
            .execution
            .task_run_list
            .iter_mut()
            .find(|r| r.id == items_run_id)?;
        items.state.transition_at(state, now);
        if let Some(attempt) = items.attempts.last_mut() {
            attempt.state.transition_at(state, now);
        }
        let items = items.clone();
        let parent_run_id = items.parent_task_run_id.clone()?;
        let each = p.execution.task_run_by_id(&parent_run_id)?.clone();
        let lines: String = items
            .resolved
            .as_ref()
            .and_then(|r| r.values.as_ref())
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| format!("{}\n", e.get("outputs").cloned().unwrap_or(json!({}))))
                    .collect()
            })
            .unwrap_or_default();
        let mut merge_outputs = Map::new();
        let merge_id = saker_model::new_id();
        let uri = StorageUri::task_run(
            &p.execution.namespace,
            &p.execution.flow_id,
            &p.execution.id,
            &format!("{}_merge", each.task_id),
            &merge_id,
        )
        .and_then(|f| f.join("outputs.jsonl"));
        if !state.is_failed() {
            match uri {
                Ok(uri) => match self.files.put(
                    &p.execution.tenant_id,
                    &p.execution.id,
                    &uri,
                    lines.as_bytes(),
                    false,
                ) {
                    Ok(_) => {
                        merge_outputs
                            .insert("subflowOutputs".into(), Json::String(uri.to_string()));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot store a ForEachItem's merged outputs")
                    }
                },
                Err(e) => tracing::warn!(error = %e, "cannot name a ForEachItem's merged outputs"),
            }
        }
        // As in Kestra, the merge runs after the batches only when they did not fail.
        let mut ended = vec![items];
        if !state.is_failed() {
            let mut merge = ended_child(
                &p.execution,
                &each,
                "merge",
                StateType::Success,
                merge_outputs,
            );
            merge.id = merge_id;
            p.execution.task_run_list.push(merge.clone());
            ended.push(merge);
        }
        let task = p.flow.find_task(&each.task_id).cloned();
        let final_state = match &task {
            Some(t) => {
                let mut s = state;
                if s == StateType::Failed && t.allow_failure {
                    s = StateType::Warning;
                }
                if s == StateType::Warning && t.allow_warning {
                    s = StateType::Success;
                }
                s
            }
            None => state,
        };
        let each_run = p
            .execution
            .task_run_list
            .iter_mut()
            .find(|r| r.id == parent_run_id)?;
        each_run.state.transition_at(final_state, now);
        Some((ended, vec![each_run.clone()]))
    }
}

/// One of a ForEachItem's bookkeeping runs (`<id>_split`, `<id>_merge`), already ended.
fn ended_child(
    execution: &Execution,
    each: &TaskRun,
    suffix: &str,
    state: StateType,
    outputs: Map<String, Json>,
) -> TaskRun {
    let now = Utc::now();
    let mut run = TaskRun::new(execution, &format!("{}_{suffix}", each.task_id));
    run.parent_task_run_id = Some(each.id.clone());
    run.state.transition_at(StateType::Running, now);
    run.state.transition_at(state, now);
    let mut attempt = saker_model::State::starting_at(StateType::Running, now);
    attempt.transition_at(state, now);
    run.attempts.push(TaskRunAttempt { state: attempt });
    run.outputs = outputs;
    run
}

fn worse(a: StateType, b: StateType) -> StateType {
    let rank = |s: StateType| match s {
        StateType::Killed => 4,
        StateType::Failed => 3,
        StateType::Warning => 2,
        _ => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}
