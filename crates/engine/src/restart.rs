//! Restarting an ended execution from its failed task runs (same execution), and replaying
//! one from a chosen task run (a new execution), as Kestra's `ExecutionService.restart` and
//! `replay` do.
//!
//! Both reopen part of the task-run tree and hand the execution back to the executor the way
//! recovery does: `Event::Start`, then `Event::RetryDue` for each run that starts a new
//! attempt. What is reopened: the task runs to run again (restart: every FAILED or KILLED
//! one; replay: the chosen one) and their ancestors. A leaf, a flowable that never decided
//! (its render failed) and a `WorkingDirectory` (whose shared directory is gone; its children
//! are removed, as Kestra does) start a new attempt; a flowable that decided goes back to
//! RUNNING and keeps its decision, so the planner opens what is missing below it. Restart
//! removes the `errors`, `finally` and `afterExecution` runs of the reopened levels (they
//! ran because of the end being undone, and run again at the new end); replay keeps only the
//! runs that come before the chosen one.

use std::collections::{HashMap, HashSet};

use saker_model::{Execution, Flow, Level, StateType, TaskDef, TaskKind, TaskRun};
use saker_store::Write;
use serde_json::Value as Json;

use crate::engine::{Engine, EngineError};
use crate::executor::{Event, system_log};
use crate::plan::waits_on_children;
use crate::worker::{VALUE_PATH, subflow_inputs_path};

/// The label a replay carries: the execution the chain of replays started from (Kestra's
/// `originalId`, which Saker's execution has no field for).
const ORIGINAL_ID_LABEL: &str = "system.originalId";
/// The label marking an execution made by a replay.
const REPLAY_LABEL: &str = "system.replay";

/// Held while a restart reads an execution and records it RUNNING.
static RESTARTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Engine {
    /// Restarts a FAILED or KILLED execution, under the same id: its failed (and killed) task
    /// runs start a new attempt, their ancestors run again, and the execution is RUNNING
    /// until its new end. Refused for an execution in any other state, and for one with no
    /// failed or killed task run.
    pub fn restart(&self, execution_id: &str) -> Result<(), EngineError> {
        // Two restarts of one execution at once would both find it FAILED and start it twice:
        // the check and the write that makes it RUNNING happen under one lock.
        let _one_at_a_time = RESTARTS.lock().unwrap_or_else(|e| e.into_inner());
        let mut execution = self.stored(execution_id)?;
        if !matches!(
            execution.state.current,
            StateType::Failed | StateType::Killed
        ) {
            return Err(EngineError::NotRestartable {
                id: execution.id,
                state: execution.state.current,
            });
        }
        let flow = self.flow_of(&execution)?;
        let failed: Vec<String> = execution
            .task_run_list
            .iter()
            .filter(|r| matches!(r.state.current, StateType::Failed | StateType::Killed))
            .map(|r| r.id.clone())
            .collect();
        if failed.is_empty() {
            return Err(EngineError::NothingToRestart(execution.id));
        }
        let tree = Tree::of(&execution);
        let mut reopen = tree.with_ancestors(&failed);
        let mut removed = restart_removals(&flow, &execution, &tree, &reopen);
        reopen.retain(|id| !removed.contains(id));
        let reopened = reopen_runs(&flow, &mut execution, &reopen, &mut removed);
        execution.task_run_list.retain(|r| !removed.contains(&r.id));
        execution.outputs.clear();
        execution.state.transition(StateType::Running);
        let log = system_log(
            &execution,
            None,
            Level::Info,
            format!(
                "restarted: {} task run(s) start a new attempt, {} removed",
                reopened.len(),
                removed.len()
            ),
        );
        let removed: Vec<String> = removed.into_iter().collect();
        let mut writes = vec![
            Write::AppendLogs(std::slice::from_ref(&log)),
            Write::SaveExecution(&execution),
            Write::DeleteTaskRuns {
                execution_id: &execution.id,
                task_run_ids: &removed,
            },
        ];
        writes.extend(execution.task_run_list.iter().map(Write::SaveTaskRun));
        self.store.write(&writes)?;
        self.start_reopened(flow, execution, reopened)
    }

    /// Replays an ended execution from one of its task runs: a new execution of the same
    /// flow revision, inputs and labels, holding the task runs that came before the chosen one
    /// (sealed values sealed again for the new execution), which continues from that run.
    /// Returns the new execution as stored.
    pub fn replay(&self, execution_id: &str, task_run_id: &str) -> Result<Execution, EngineError> {
        let original = self.stored(execution_id)?;
        if !original.state.current.is_terminated() {
            return Err(EngineError::NotReplayable {
                id: original.id,
                state: original.state.current,
            });
        }
        if original.task_run_by_id(task_run_id).is_none() {
            return Err(EngineError::TaskRunNotFound {
                execution: original.id,
                task_run: task_run_id.to_owned(),
            });
        }
        let flow = self.flow_of(&original)?;
        let tree = Tree::of(&original);
        let mut reopen = tree.with_ancestors(&[task_run_id.to_owned()]);
        let mut removed: HashSet<String> = original
            .task_run_list
            .iter()
            .filter(|r| !reopen.contains(&r.id) && !tree.precedes(&flow, r, task_run_id))
            .map(|r| r.id.clone())
            .collect();
        reopen.retain(|id| !removed.contains(id));
        let mut source = original.clone();
        let reopened = reopen_runs(&flow, &mut source, &reopen, &mut removed);
        source.task_run_list.retain(|r| !removed.contains(&r.id));
        let (execution, ids) = self.copy_for_replay(&original, source);
        let reopened: Vec<String> = reopened
            .iter()
            .filter_map(|id| ids.get(id).cloned())
            .collect();
        let log = system_log(
            &execution,
            None,
            Level::Info,
            format!(
                "replay of execution {} from task run {task_run_id}",
                original.id
            ),
        );
        self.store.write(&[
            Write::CreateExecution(&execution),
            Write::AppendLogs(std::slice::from_ref(&log)),
        ])?;
        self.start_reopened(flow, execution.clone(), reopened)?;
        Ok(execution)
    }

    fn stored(&self, execution_id: &str) -> Result<Execution, EngineError> {
        self.store
            .get_execution(execution_id)?
            .ok_or_else(|| EngineError::ExecutionNotFound(execution_id.to_owned()))
    }

    fn flow_of(&self, execution: &Execution) -> Result<std::sync::Arc<Flow>, EngineError> {
        self.load_flow(
            &execution.tenant_id,
            &execution.namespace,
            &execution.flow_id,
            Some(execution.flow_revision),
        )
        .map(|(flow, _)| flow)
    }

    /// Hands the execution to the executor, then each reopened run's new attempt.
    fn start_reopened(
        &self,
        flow: std::sync::Arc<Flow>,
        execution: Execution,
        retry: Vec<String>,
    ) -> Result<(), EngineError> {
        let execution_id = execution.id.clone();
        self.events.send(Event::Start {
            flow,
            execution: Box::new(execution),
        })?;
        for task_run_id in retry {
            self.events.send(Event::RetryDue {
                execution_id: execution_id.clone(),
                task_run_id,
            })?;
        }
        Ok(())
    }

    /// The new execution of a replay: `source`'s task runs under new ids (the tree kept),
    /// every sealed value sealed again for the new execution id. Returns it with the new id
    /// of each task run.
    fn copy_for_replay(
        &self,
        original: &Execution,
        source: Execution,
    ) -> (Execution, HashMap<String, String>) {
        let mut execution = Execution::new(
            &original.tenant_id,
            &original.namespace,
            &original.flow_id,
            original.flow_revision,
        );
        let (from, to) = (original.id.as_str(), execution.id.clone());
        let reseal =
            |path: &str, value: &Json| self.protector.reseal((from, path), (&to, path), value);
        for (name, value) in &original.inputs {
            let moved = reseal(&format!("inputs.{name}"), value);
            execution.inputs.insert(name.clone(), moved);
        }
        execution.labels = original.labels.clone();
        let first = original
            .labels
            .get(ORIGINAL_ID_LABEL)
            .cloned()
            .unwrap_or_else(|| Json::String(original.id.clone()));
        execution.labels.insert(ORIGINAL_ID_LABEL.into(), first);
        execution
            .labels
            .insert(REPLAY_LABEL.into(), Json::String("true".into()));
        execution.trigger = original.trigger.clone();

        let ids: HashMap<String, String> = source
            .task_run_list
            .iter()
            .map(|r| (r.id.clone(), saker_model::new_id()))
            .collect();
        // Equal iteration values are equal ciphertexts (the planner matches runs to values by
        // them), so each distinct sealed value is sealed again once.
        let mut values: HashMap<String, Json> = HashMap::new();
        let mut value = |v: &Json| -> Json {
            values
                .entry(v.to_string())
                .or_insert_with(|| reseal(VALUE_PATH, v))
                .clone()
        };
        for run in &source.task_run_list {
            let mut copy = run.clone();
            copy.id = ids[&run.id].clone();
            copy.execution_id = to.clone();
            copy.parent_task_run_id = run
                .parent_task_run_id
                .as_deref()
                .and_then(|p| ids.get(p).cloned());
            copy.value = run.value.as_ref().map(&mut value);
            copy.outputs = run
                .outputs
                .iter()
                .map(|(k, v)| {
                    let path = format!("outputs.{}.{k}", run.task_id);
                    (k.clone(), reseal(&path, v))
                })
                .collect();
            if let Some(resolved) = copy.resolved.as_mut() {
                if let Some(list) = resolved.values.as_mut() {
                    for v in list.iter_mut() {
                        *v = value(v);
                    }
                }
                if let Some(call) = resolved.subflow.as_mut() {
                    let path = format!("outputs.{}", subflow_inputs_path(&run.task_id));
                    let inputs = Json::Object(std::mem::take(&mut call.inputs));
                    if let Json::Object(moved) = reseal(&path, &inputs) {
                        call.inputs = moved;
                    }
                }
            }
            execution.task_run_list.push(copy);
        }
        (execution, ids)
    }
}

/// The parent links of an execution's task runs.
struct Tree<'e> {
    runs: HashMap<&'e str, &'e TaskRun>,
}

impl<'e> Tree<'e> {
    fn of(execution: &'e Execution) -> Self {
        Tree {
            runs: execution
                .task_run_list
                .iter()
                .map(|r| (r.id.as_str(), r))
                .collect(),
        }
    }

    /// The path from the root to `id`, outermost first (bounded, so a stored cycle ends).
    fn path(&self, id: &str) -> Vec<&'e TaskRun> {
        let mut path = Vec::new();
        let mut current = self.runs.get(id).copied();
        while let Some(run) = current {
            if path.len() > self.runs.len() {
                break;
            }
            path.push(run);
            current = run
                .parent_task_run_id
                .as_deref()
                .and_then(|p| self.runs.get(p).copied());
        }
        path.reverse();
        path
    }

    /// `ids` and every ancestor of theirs.
    fn with_ancestors(&self, ids: &[String]) -> HashSet<String> {
        ids.iter()
            .flat_map(|id| self.path(id))
            .map(|r| r.id.clone())
            .collect()
    }

    /// True when `run` ended before the run `chosen` started in the flow's order, so that a
    /// replay from `chosen` keeps it: an earlier task of a sequential list, an earlier
    /// iteration of a sequential loop, a branch that runs side by side with `chosen`'s, the
    /// main tasks before their `errors` and `finally`. A descendant of `chosen` does not.
    fn precedes(&self, flow: &Flow, run: &TaskRun, chosen: &str) -> bool {
        let ours = self.path(&run.id);
        let theirs = self.path(chosen);
        let split = ours
            .iter()
            .zip(&theirs)
            .take_while(|(a, b)| a.id == b.id)
            .count();
        let (Some(a), Some(c)) = (ours.get(split), theirs.get(split)) else {
            // One is the other's ancestor: `chosen`'s descendants come after it (and its
            // ancestors are reopened, not asked about).
            return false;
        };
        let parent = split.checked_sub(1).map(|i| theirs[i]);
        let holder = parent.and_then(|p| flow.find_task(&p.task_id));
        let (group_a, group_c) = (
            group(flow, holder, &a.task_id),
            group(flow, holder, &c.task_id),
        );
        if group_a != group_c {
            return group_a < group_c;
        }
        let Some((holder, parent)) = holder.zip(parent) else {
            return position(&flow.tasks, &a.task_id) < position(&flow.tasks, &c.task_id);
        };
        if a.value != c.value {
            // Iterations of a ForEach: side by side unless one at a time.
            let sequential = match holder.kind {
                TaskKind::ForEach => int_prop(holder, "concurrencyLimit", 1) == 1,
                TaskKind::EachSequential => true,
                _ => false,
            };
            if !sequential {
                return true;
            }
            let values = parent
                .resolved
                .as_ref()
                .and_then(|r| r.values.as_deref())
                .unwrap_or_default();
            let at = |v: &Option<Json>| values.iter().position(|x| Some(x) == v.as_ref());
            return at(&a.value) < at(&c.value);
        }
        if a.iteration != c.iteration {
            return a.iteration < c.iteration;
        }
        match holder.kind {
            TaskKind::Parallel | TaskKind::EachParallel => true,
            TaskKind::Dag => !depends_on(holder, &a.task_id, &c.task_id),
            _ => {
                let list = sibling_list(holder, &a.task_id);
                position(list, &a.task_id) < position(list, &c.task_id)
            }
        }
    }
}

/// Where a task sits under its holder (a flowable, or the flow for `None`): 0 for the main
/// tasks (`tasks`, `then`, `else`, cases, `defaults`), 1 `errors`, 2 `finally`, 3
/// `afterExecution`: the order they run in.
fn group(flow: &Flow, holder: Option<&TaskDef>, task_id: &str) -> u8 {
    let has = |list: &[TaskDef]| list.iter().any(|t| t.id == task_id);
    let lists = |name: &str| {
        holder.map_or(&[][..], |h| {
            h.subtasks.get(name).map(Vec::as_slice).unwrap_or_default()
        })
    };
    match holder {
        None if has(&flow.errors) => 1,
        None if has(&flow.finally) => 2,
        None if has(&flow.after_execution) => 3,
        None => 0,
        Some(_) if has(lists("errors")) => 1,
        Some(_) if has(lists("finally")) => 2,
        Some(_) => 0,
    }
}

/// The list of `holder`'s children that holds `task_id`.
fn sibling_list<'f>(holder: &'f TaskDef, task_id: &str) -> &'f [TaskDef] {
    holder
        .subtasks
        .values()
        .chain(holder.cases.values())
        .find(|list| list.iter().any(|t| t.id == task_id))
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn position(list: &[TaskDef], task_id: &str) -> Option<usize> {
    list.iter().position(|t| t.id == task_id)
}

/// True when, in a Dag, `task` depends (directly or not) on `on`.
fn depends_on(dag: &TaskDef, task: &str, on: &str) -> bool {
    let tasks = sibling_list(dag, task);
    let mut seen: HashSet<&str> = HashSet::new();
    let mut stack = vec![task];
    while let Some(current) = stack.pop() {
        if !seen.insert(current) {
            continue;
        }
        let Some(def) = tasks.iter().find(|t| t.id == current) else {
            continue;
        };
        for dep in &def.depends_on {
            if dep == on {
                return true;
            }
            stack.push(dep);
        }
    }
    false
}

fn int_prop(task: &TaskDef, name: &str, default: usize) -> usize {
    match task.properties.get(name) {
        Some(Json::Number(n)) => n.as_u64().map_or(default, |n| n as usize),
        Some(Json::String(s)) => s.trim().parse().unwrap_or(default),
        _ => default,
    }
}

/// What a restart removes: the `errors`, `finally` and `afterExecution` runs of the levels it
/// reopens (the flow's, and each reopened flowable's), with their descendants.
fn restart_removals(
    flow: &Flow,
    execution: &Execution,
    tree: &Tree<'_>,
    reopen: &HashSet<String>,
) -> HashSet<String> {
    let mut removed = HashSet::new();
    for run in &execution.task_run_list {
        let parent = run.parent_task_run_id.as_deref();
        if parent.is_some_and(|p| !reopen.contains(p)) {
            continue;
        }
        let holder = parent
            .and_then(|p| tree.runs.get(p))
            .and_then(|p| flow.find_task(&p.task_id));
        if parent.is_some() && holder.is_none() {
            continue;
        }
        if group(flow, holder, &run.task_id) > 0 {
            removed.insert(run.id.clone());
        }
    }
    add_descendants(execution, &mut removed);
    removed
}

/// Adds to `set` every descendant of a run it holds.
fn add_descendants(execution: &Execution, set: &mut HashSet<String>) {
    loop {
        let before = set.len();
        for run in &execution.task_run_list {
            if run
                .parent_task_run_id
                .as_deref()
                .is_some_and(|p| set.contains(p))
            {
                set.insert(run.id.clone());
            }
        }
        if set.len() == before {
            return;
        }
    }
}

/// Reopens the runs of `reopen` in `execution`: a flowable that decided goes back to RUNNING
/// with its decision (a `LoopUntil` to the iteration being rerun); any other run, and a
/// `WorkingDirectory` (its children added to `removed`), goes to RETRYING and is returned, to
/// start a new attempt.
fn reopen_runs(
    flow: &Flow,
    execution: &mut Execution,
    reopen: &HashSet<String>,
    removed: &mut HashSet<String>,
) -> Vec<String> {
    let mut working_directories = HashSet::new();
    for run in &execution.task_run_list {
        let kind = flow.find_task(&run.task_id).map(|t| t.kind);
        if reopen.contains(&run.id) && kind == Some(TaskKind::WorkingDirectory) {
            working_directories.insert(run.id.clone());
        }
    }
    // A WorkingDirectory runs again whole: the directory its children shared is gone.
    let mut below = working_directories.clone();
    add_descendants(execution, &mut below);
    removed.extend(below.difference(&working_directories).cloned());

    // The LoopUntil iteration each reopened loop goes back to: that of its reopened child.
    let iterations: HashMap<String, u32> = execution
        .task_run_list
        .iter()
        .filter(|r| reopen.contains(&r.id) && !removed.contains(&r.id))
        .filter_map(|r| Some((r.parent_task_run_id.clone()?, r.iteration?)))
        .collect();
    let mut retry = Vec::new();
    for run in execution.task_run_list.iter_mut() {
        if !reopen.contains(&run.id) || removed.contains(&run.id) {
            continue;
        }
        let Some(task) = flow.find_task(&run.task_id) else {
            continue;
        };
        let decided = run.resolved.is_some();
        let flowable = waits_on_children(task.kind) || holds_tasks(task);
        if flowable && decided && task.kind != TaskKind::WorkingDirectory {
            if let Some(resolved) = run.resolved.as_mut() {
                resolved.between_iterations = false;
                resolved.condition = None;
                if let Some(iteration) = iterations.get(&run.id) {
                    resolved.iteration = Some(*iteration);
                }
            }
            run.state.transition(StateType::Running);
        } else {
            if waits_on_children(task.kind) {
                // Its decision is rendered again by the new attempt.
                run.resolved = None;
            }
            run.state.transition(StateType::Retrying);
            retry.push(run.id.clone());
        }
    }
    retry
}

/// A `Pause` written with `tasks` (Kestra's older form) holds its children like a flowable.
fn holds_tasks(task: &TaskDef) -> bool {
    task.kind == TaskKind::Pause
        && task
            .subtasks
            .get("tasks")
            .is_some_and(|tasks| !tasks.is_empty())
}
