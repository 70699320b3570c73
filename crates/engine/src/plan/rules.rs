//! The rules the planner applies to one list or one flowable: how the states of ended runs
//! fold into a list's state, a flowable's own allowFailure/allowWarning, which flowables
//! wait on their children, and how their properties are read.

use saker_model::{StateType, TaskDef, TaskKind};
use serde_json::Value;

/// The runs of a list that have ended, folded: the list's state so far (as
/// [`final_state`]) and whether one of them stops the list.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ended {
    pub(super) state: StateType,
    pub(super) stopped: bool,
}

impl Default for Ended {
    fn default() -> Self {
        Ended {
            state: StateType::Success,
            stopped: false,
        }
    }
}

impl Ended {
    pub(super) fn add(&mut self, state: StateType) {
        self.state = worst(self.state, state);
        self.stopped |= matches!(
            state,
            StateType::Failed | StateType::Killed | StateType::Cancelled
        );
    }
}

/// True for the flowable tasks whose run stays RUNNING, once the worker has rendered its
/// decision, until the children the planner opens have all ended.
pub fn waits_on_children(kind: TaskKind) -> bool {
    matches!(
        kind,
        TaskKind::Sequential
            | TaskKind::Parallel
            | TaskKind::AllowFailure
            | TaskKind::Dag
            | TaskKind::WorkingDirectory
            | TaskKind::If
            | TaskKind::Switch
            | TaskKind::ForEach
            | TaskKind::EachSequential
            | TaskKind::EachParallel
            | TaskKind::LoopUntil
    )
}

/// A `WorkingDirectory` with `outputFiles` or a `cache` has a step after its tasks.
pub(super) fn needs_end_step(task: &TaskDef) -> bool {
    ["outputFiles", "cache"]
        .iter()
        .any(|name| task.properties.get(*name).is_some_and(|v| !v.is_null()))
}

/// A flowable's child list by property name (empty when absent).
pub(super) fn children<'f>(task: &'f TaskDef, name: &str) -> &'f [TaskDef] {
    task.subtasks
        .get(name)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

pub(super) fn int_prop(task: &TaskDef, name: &str) -> usize {
    int_prop_or(task, name, 0)
}

/// An integer property written as a number or a numeric string; `default` otherwise.
pub(super) fn int_prop_or(task: &TaskDef, name: &str, default: usize) -> usize {
    match task.properties.get(name) {
        Some(Value::Number(n)) => n.as_u64().map_or(default, |n| n as usize),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(default),
        _ => default,
    }
}

/// The state of a finished list from the states of its runs, as Kestra's `guessFinalState`:
/// KILLED over FAILED over WARNING over SUCCESS (skipped runs count as successes).
pub(super) fn final_state(states: &[StateType]) -> StateType {
    states
        .iter()
        .fold(StateType::Success, |acc, s| worst(acc, *s))
}

pub(super) fn worst(a: StateType, b: StateType) -> StateType {
    fn rank(s: StateType) -> u8 {
        match s {
            StateType::Killed => 5,
            StateType::Cancelled => 4,
            StateType::Failed => 3,
            StateType::Warning => 2,
            _ => 0,
        }
    }
    if rank(b) > rank(a) { b } else { a }
}

/// A flowable's own `allowFailure` (FAILED becomes WARNING) and `allowWarning` (WARNING
/// becomes SUCCESS); an `AllowFailure` task allows failures by definition.
pub(super) fn allowed(task: &TaskDef, state: StateType) -> StateType {
    let mut state = state;
    if state == StateType::Failed && (task.allow_failure || task.kind == TaskKind::AllowFailure) {
        state = StateType::Warning;
    }
    if state == StateType::Warning && task.allow_warning {
        state = StateType::Success;
    }
    state
}
