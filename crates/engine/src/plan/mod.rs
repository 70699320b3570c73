//! Deciding what an execution does next, from its flow and the task runs it has so far. A
//! pure function of the stored execution: the executor applies its answer, and recovery after
//! a crash calls it again on what the store holds.
//!
//! Task runs form a tree. At every level a list of tasks runs in one of three orders
//! ([`Order`]): one after the other (the flow's `tasks`, `Sequential`, an `If` branch, each
//! `ForEach` iteration), side by side (`Parallel`, `EachParallel`), or as a graph (`Dag`).
//! Around a list, as in Kestra: if it ends FAILED its `errors` run, then its `finally`; the
//! list's state is the state of its main tasks (errors that succeed do not make a failure a
//! success). Disabled tasks are left out entirely. A flowable task's run first goes to a
//! worker, which renders what the flowable decides on (an `If`'s condition, a `ForEach`'s
//! values) into [`saker_model::Resolved`]; only then does the planner open its children.
//!
//! The plan lists *every* task run that may start now, so parallel branches start together,
//! and every flowable run whose children have all ended, with the state it ends in. The
//! executor applies the finishes and plans again until none is left (each finish ends a run,
//! so this stops), then starts the new runs.

use std::collections::HashMap;

use saker_model::{Branch, Execution, Flow, StateType, TaskDef, TaskKind, TaskRun};
use serde_json::Value;

mod rules;

pub use rules::waits_on_children;
use rules::{Ended, allowed, children, final_state, int_prop, int_prop_or, needs_end_step, worst};

/// A task run to create and send to a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun<'f> {
    pub task: &'f TaskDef,
    pub parent_task_run_id: Option<String>,
    pub value: Option<Value>,
    /// The `LoopUntil` iteration the run belongs to.
    pub iteration: Option<u32>,
}

/// What the executor must do now.
#[derive(Debug, Default, PartialEq)]
pub struct Plan<'f> {
    /// Task runs to create and start, in the order they were found.
    pub start: Vec<NewRun<'f>>,
    /// Flowable task runs whose children have all ended: (task run id, final state).
    pub finish: Vec<(String, StateType)>,
    /// `LoopUntil` runs whose iteration ended well: their condition is to be checked.
    pub check: Vec<String>,
    /// Set when nothing is left to run: the execution ends in this state.
    pub end: Option<StateType>,
}

/// What the executor must do next in `execution` of `flow`. `killing` means the execution
/// was asked to stop: nothing new starts, and what has not run ends KILLED.
pub fn plan<'f>(flow: &'f Flow, execution: &Execution, killing: bool) -> Plan<'f> {
    let mut planner = Planner::new(execution, killing);
    let root = Scope::root();
    let status = planner.block(
        |p| p.list(&flow.tasks, Order::Sequential, &root),
        &flow.errors,
        &flow.finally,
        &root,
    );
    let Status::Done(state) = status else {
        return planner.plan;
    };
    // Once the execution's state is decided, its `afterExecution` tasks run, then the tasks of
    // every listener whose conditions hold for that state; neither changes the state.
    if planner.after_execution(flow, execution, state) == Status::Running {
        return planner.plan;
    }
    let mut plan = planner.plan;
    plan.end = Some(state);
    plan
}

/// How the tasks of one list start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// One after the other; the list stops at its first failure.
    Sequential,
    /// Side by side, at most this many at once (0: no limit); after a failure nothing new
    /// starts.
    Parallel(usize),
    /// Each task once every task it `dependsOn` has ended; at most this many at once.
    Dag(usize),
}

/// Where a list of tasks sits in the tree: the run of the flowable that holds it (none at
/// the flow's level) and the iteration value its runs carry.
struct Scope<'e> {
    parent: Option<&'e str>,
    value: Option<&'e Value>,
    iteration: Option<u32>,
}

impl<'e> Scope<'e> {
    fn root() -> Self {
        Scope {
            parent: None,
            value: None,
            iteration: None,
        }
    }

    /// The scope of the lists a flowable run holds.
    fn under(run: &'e TaskRun) -> Self {
        Scope {
            parent: Some(run.id.as_str()),
            value: None,
            iteration: None,
        }
    }
}

/// A list's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Running,
    Done(StateType),
}

/// Runs by (parent run, task id, iteration value). Rebuilt on every plan (the planner keeps
/// nothing between events) and probed for every value of a loop: with the standard SipHash
/// this hashing was most of the executor's time on a loop of 1,000 values.
type RunIndex<'e> = HashMap<
    (Option<&'e str>, &'e str, Option<std::borrow::Cow<'e, str>>),
    &'e TaskRun,
    foldhash::quality::RandomState,
>;

struct Planner<'f, 'e> {
    runs: RunIndex<'e>,
    killing: bool,
    plan: Plan<'f>,
}

impl<'f, 'e> Planner<'f, 'e> {
    fn new(execution: &'e Execution, killing: bool) -> Self {
        let mut runs = RunIndex::with_capacity_and_hasher(
            execution.task_run_list.len(),
            foldhash::quality::RandomState::default(),
        );
        for run in &execution.task_run_list {
            let key = (
                run.parent_task_run_id.as_deref(),
                run.task_id.as_str(),
                run.value.as_ref().map(TaskRun::value_key),
            );
            // A later run of the same task (a WaitFor iteration) replaces an earlier one.
            runs.insert(key, run);
        }
        Planner {
            runs,
            killing,
            plan: Plan::default(),
        }
    }

    fn find(&self, scope: &Scope<'e>, task: &TaskDef) -> Option<&'e TaskRun> {
        let key = (
            scope.parent,
            task.id.as_str(),
            scope.value.map(TaskRun::value_key),
        );
        // The index holds the latest run of a task; one of an earlier LoopUntil iteration
        // is not this iteration's.
        self.runs
            .get(&key)
            .copied()
            .filter(|run| run.iteration == scope.iteration)
    }

    fn start(&mut self, task: &'f TaskDef, scope: &Scope<'e>) {
        self.plan.start.push(NewRun {
            task,
            parent_task_run_id: scope.parent.map(str::to_owned),
            value: scope.value.cloned(),
            iteration: scope.iteration,
        });
    }

    /// `afterExecution`, then each listener's tasks whose conditions hold for the execution's
    /// decided `state` (conditions that need a render do not hold here: Kestra's listeners
    /// test the execution's status, flow and namespace). Not run for a killed execution.
    fn after_execution(
        &mut self,
        flow: &'f Flow,
        execution: &Execution,
        state: StateType,
    ) -> Status {
        if self.killing || state == StateType::Killed {
            return Status::Done(state);
        }
        let root = Scope::root();
        if self.list(&flow.after_execution, Order::Sequential, &root) == Status::Running {
            return Status::Running;
        }
        let facts = saker_model::ExecutionFacts {
            namespace: &execution.namespace,
            flow_id: &execution.flow_id,
            state: state.as_str(),
        };
        for listener in &flow.listeners {
            let holds = listener
                .conditions
                .iter()
                .all(|c| c.holds_for(&facts) == Some(true));
            if holds && self.list(&listener.tasks, Order::Sequential, &root) == Status::Running {
                return Status::Running;
            }
        }
        Status::Done(state)
    }

    /// A main part (`main`), then `errors` if it failed, then `finally`; the state is the
    /// main part's, made FAILED by a failing `finally`.
    fn block(
        &mut self,
        main: impl FnOnce(&mut Self) -> Status,
        errors: &'f [TaskDef],
        finally: &'f [TaskDef],
        scope: &Scope<'e>,
    ) -> Status {
        let Status::Done(mut state) = main(self) else {
            return Status::Running;
        };
        if state == StateType::Failed && !errors.is_empty() {
            let errors_scope = Scope {
                parent: scope.parent,
                value: None,
                iteration: scope.iteration,
            };
            if self.list(errors, Order::Sequential, &errors_scope) == Status::Running {
                return Status::Running;
            }
        }
        if !finally.is_empty() && !self.killing {
            let finally_scope = Scope {
                parent: scope.parent,
                value: None,
                iteration: scope.iteration,
            };
            match self.list(finally, Order::Sequential, &finally_scope) {
                Status::Running => return Status::Running,
                Status::Done(s) => state = worst(state, s),
            }
        }
        Status::Done(state)
    }

    /// One list of tasks in `order`; starts what may start and descends into running
    /// flowables.
    fn list(&mut self, tasks: &'f [TaskDef], order: Order, scope: &Scope<'e>) -> Status {
        // Every plan walks every ended iteration of every loop: the ended states are folded
        // as they come rather than collected, so an ended list allocates nothing.
        let mut ended = Ended::default();
        let mut running = 0usize;
        let mut pending: Vec<&'f TaskDef> = Vec::new();
        let mut ended_ids: Vec<&str> = Vec::new();
        for task in tasks.iter().filter(|t| !t.disabled) {
            match self.find(scope, task) {
                None => pending.push(task),
                Some(run) if run.state.current.is_terminated() => {
                    ended.add(run.state.current);
                    if matches!(order, Order::Dag(_)) {
                        ended_ids.push(task.id.as_str());
                    }
                }
                Some(run) => {
                    running += 1;
                    self.descend(task, run);
                }
            }
        }
        let stopped = self.killing || ended.stopped;
        let mut started = 0usize;
        if !stopped {
            match order {
                Order::Sequential => {
                    if running == 0
                        && let Some(task) = pending.first()
                    {
                        self.start(task, scope);
                        started = 1;
                    }
                }
                Order::Parallel(limit) => {
                    for task in &pending {
                        if limit > 0 && running + started >= limit {
                            break;
                        }
                        self.start(task, scope);
                        started += 1;
                    }
                }
                Order::Dag(limit) => {
                    for task in &pending {
                        if limit > 0 && running + started >= limit {
                            break;
                        }
                        if task
                            .depends_on
                            .iter()
                            .all(|d| ended_ids.contains(&d.as_str()))
                        {
                            self.start(task, scope);
                            started += 1;
                        }
                    }
                }
            }
        }
        if running + started > 0 {
            return Status::Running;
        }
        if !pending.is_empty() && !stopped {
            // Only a Dag whose remaining tasks wait on each other gets here, and validation
            // refuses cycles; end the list rather than wait forever.
            return Status::Done(StateType::Failed);
        }
        let mut state = ended.state;
        if !pending.is_empty() && self.killing {
            state = worst(state, StateType::Killed);
        }
        Status::Done(state)
    }

    /// Plans the children of a running flowable, and finishes it when they have all ended.
    fn descend(&mut self, task: &'f TaskDef, run: &'e TaskRun) {
        if run.state.current != StateType::Running {
            return;
        }
        let Some(resolved) = &run.resolved else {
            // Still with the worker, which renders what the flowable decides on.
            return;
        };
        let scope = Scope::under(run);
        let errors = children(task, "errors");
        let finally = children(task, "finally");
        let tasks = children(task, "tasks");
        let status = match task.kind {
            // A Pause reaches here only once it is over (RUNNING again): the tasks of its
            // older form run then.
            TaskKind::WorkingDirectory => {
                // Its end step (outputFiles, cache) is with the worker.
                if resolved.between_iterations {
                    return;
                }
                let status = self.block(
                    |p| p.list(tasks, Order::Sequential, &scope),
                    errors,
                    finally,
                    &scope,
                );
                match (status, resolved.condition) {
                    (Status::Done(_), None) if needs_end_step(task) => {
                        self.plan.check.push(run.id.clone());
                        return;
                    }
                    (Status::Done(_), Some(false)) => Status::Done(StateType::Failed),
                    (other, _) => other,
                }
            }
            TaskKind::Sequential | TaskKind::AllowFailure | TaskKind::Pause => self.block(
                |p| p.list(tasks, Order::Sequential, &scope),
                errors,
                finally,
                &scope,
            ),
            TaskKind::Parallel => {
                let limit = int_prop(task, "concurrent");
                self.block(
                    |p| p.list(tasks, Order::Parallel(limit), &scope),
                    errors,
                    finally,
                    &scope,
                )
            }
            TaskKind::Dag => {
                let limit = int_prop(task, "concurrent");
                self.block(
                    |p| p.list(tasks, Order::Dag(limit), &scope),
                    errors,
                    finally,
                    &scope,
                )
            }
            TaskKind::If | TaskKind::Switch => {
                let chosen: &'f [TaskDef] = match &resolved.branch {
                    Some(Branch::Then) => children(task, "then"),
                    Some(Branch::Else) => children(task, "else"),
                    Some(Branch::Defaults) => children(task, "defaults"),
                    Some(Branch::Case(key)) => {
                        task.cases.get(key).map(Vec::as_slice).unwrap_or_default()
                    }
                    None => &[],
                };
                self.block(
                    |p| p.list(chosen, Order::Sequential, &scope),
                    errors,
                    finally,
                    &scope,
                )
            }
            TaskKind::ForEach | TaskKind::EachSequential | TaskKind::EachParallel => {
                let values = resolved.values.as_deref().unwrap_or_default();
                let (limit, inner) = match task.kind {
                    TaskKind::ForEach => {
                        (int_prop_or(task, "concurrencyLimit", 1), Order::Sequential)
                    }
                    TaskKind::EachSequential => (1, Order::Sequential),
                    _ => {
                        let limit = int_prop(task, "concurrent");
                        (0, Order::Parallel(limit))
                    }
                };
                self.block(
                    |p| p.each(tasks, values, limit, inner, run),
                    errors,
                    finally,
                    &scope,
                )
            }
            TaskKind::LoopUntil => {
                if resolved.between_iterations {
                    return;
                }
                let scope = Scope {
                    iteration: Some(resolved.iteration.unwrap_or(0)),
                    ..Scope::under(run)
                };
                let status = self.block(
                    |p| p.list(tasks, Order::Sequential, &scope),
                    errors,
                    finally,
                    &scope,
                );
                match status {
                    // The condition decides whether the loop ends or goes round again.
                    Status::Done(StateType::Success | StateType::Warning) => {
                        self.plan.check.push(run.id.clone());
                        return;
                    }
                    other => other,
                }
            }
            // A Subflow waits for its child execution, a Pause for its resume: the executor
            // ends them, not the planner.
            _ => return,
        };
        if let Status::Done(state) = status {
            self.plan
                .finish
                .push((run.id.clone(), allowed(task, state)));
        }
    }

    /// The iterations of a ForEach: `tasks` once per value, at most `limit` iterations at
    /// once (0: all), each in `inner` order. After a failure no new iteration starts.
    fn each(
        &mut self,
        tasks: &'f [TaskDef],
        values: &'e [Value],
        limit: usize,
        inner: Order,
        run: &'e TaskRun,
    ) -> Status {
        let mut states = Vec::new();
        let mut active = 0usize;
        let mut not_started = Vec::new();
        for value in values {
            let scope = Scope {
                value: Some(value),
                ..Scope::under(run)
            };
            let begun = tasks
                .iter()
                .filter(|t| !t.disabled)
                .any(|t| self.find(&scope, t).is_some());
            if !begun {
                not_started.push(value);
                continue;
            }
            match self.list(tasks, inner, &scope) {
                Status::Running => active += 1,
                Status::Done(state) => states.push(state),
            }
        }
        let stopped = self.killing
            || states.iter().any(|s| {
                matches!(
                    s,
                    StateType::Failed | StateType::Killed | StateType::Cancelled
                )
            });
        let mut left = 0usize;
        for value in not_started {
            if stopped || (limit > 0 && active >= limit) {
                left += 1;
                continue;
            }
            let scope = Scope {
                value: Some(value),
                ..Scope::under(run)
            };
            match self.list(tasks, inner, &scope) {
                Status::Running => active += 1,
                Status::Done(state) => states.push(state),
            }
        }
        if active > 0 || (left > 0 && !stopped) {
            return Status::Running;
        }
        let mut state = final_state(&states);
        if left > 0 && self.killing {
            state = worst(state, StateType::Killed);
        }
        Status::Done(state)
    }
}

#[cfg(test)]
mod tests;
