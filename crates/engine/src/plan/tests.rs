use super::*;
use saker_model::{Execution, Resolved, TaskRun, parse_flow};

const FLOW: &str = "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: Log\n    message: a\n  - id: off\n    type: Log\n    message: x\n    disabled: true\n  - id: b\n    type: Log\n    message: b\nerrors:\n  - id: on_error\n    type: Log\n    message: e\nfinally:\n  - id: last\n    type: Log\n    message: f\n";

fn ended(execution: &mut Execution, task: &str, state: StateType) -> String {
    add(execution, task, None, None, state, None)
}

fn add(
    execution: &mut Execution,
    task: &str,
    parent: Option<&str>,
    value: Option<&str>,
    state: StateType,
    resolved: Option<Resolved>,
) -> String {
    let mut run = TaskRun::new(execution, task);
    run.parent_task_run_id = parent.map(str::to_owned);
    run.value = value.map(Value::from);
    run.resolved = resolved.map(Box::new);
    run.state.transition(state);
    let id = run.id.clone();
    execution.task_run_list.push(run);
    id
}

fn started(plan: &Plan<'_>) -> Vec<String> {
    plan.start
        .iter()
        .map(|n| match &n.value {
            Some(v) => format!("{}[{}]", n.task.id, v.as_str().unwrap_or_default()),
            None => n.task.id.clone(),
        })
        .collect()
}

#[test]
fn runs_tasks_in_order_skipping_disabled_then_finally() {
    let flow = parse_flow(FLOW).unwrap();
    let mut e = Execution::new("main", "n", "f", 1);
    assert_eq!(started(&plan(&flow, &e, false)), ["a"]);
    ended(&mut e, "a", StateType::Success);
    assert_eq!(started(&plan(&flow, &e, false)), ["b"]);
    ended(&mut e, "b", StateType::Warning);
    assert_eq!(started(&plan(&flow, &e, false)), ["last"]);
    ended(&mut e, "last", StateType::Success);
    assert_eq!(plan(&flow, &e, false).end, Some(StateType::Warning));
}

#[test]
fn a_failure_runs_errors_then_finally_and_fails() {
    let flow = parse_flow(FLOW).unwrap();
    let mut e = Execution::new("main", "n", "f", 1);
    ended(&mut e, "a", StateType::Failed);
    assert_eq!(started(&plan(&flow, &e, false)), ["on_error"]);
    ended(&mut e, "on_error", StateType::Success);
    assert_eq!(started(&plan(&flow, &e, false)), ["last"]);
    ended(&mut e, "last", StateType::Success);
    assert_eq!(plan(&flow, &e, false).end, Some(StateType::Failed));
}

#[test]
fn a_running_task_is_waited_for_and_killing_starts_nothing() {
    let flow = parse_flow(FLOW).unwrap();
    let mut e = Execution::new("main", "n", "f", 1);
    ended(&mut e, "a", StateType::Running);
    let waiting = plan(&flow, &e, false);
    assert!(waiting.start.is_empty() && waiting.end.is_none());
    assert!(plan(&flow, &e, true).start.is_empty());
    e.task_run_list[0].state.transition(StateType::Killed);
    assert_eq!(plan(&flow, &e, true).end, Some(StateType::Killed));
}

const PARALLEL: &str = "id: p\nnamespace: n\ntasks:\n  - id: par\n    type: io.kestra.plugin.core.flow.Parallel\n    concurrent: 2\n    tasks:\n      - {id: x, type: Log, message: x}\n      - {id: y, type: Log, message: y}\n      - {id: z, type: Log, message: z}\n";

#[test]
fn a_flowable_waits_for_its_decision_then_starts_its_children_up_to_its_limit() {
    let flow = parse_flow(PARALLEL).unwrap();
    let mut e = Execution::new("main", "n", "p", 1);
    assert_eq!(started(&plan(&flow, &e, false)), ["par"]);
    let par = add(&mut e, "par", None, None, StateType::Running, None);
    assert!(plan(&flow, &e, false).start.is_empty(), "no decision yet");
    e.task_run_list[0].resolved = Some(Box::default());
    let step = plan(&flow, &e, false);
    assert_eq!(started(&step), ["x", "y"]);
    assert!(
        step.start
            .iter()
            .all(|n| n.parent_task_run_id.as_deref() == Some(par.as_str()))
    );
    add(&mut e, "x", Some(&par), None, StateType::Success, None);
    add(&mut e, "y", Some(&par), None, StateType::Running, None);
    assert_eq!(started(&plan(&flow, &e, false)), ["z"]);
    e.task_run_list[2].state.transition(StateType::Warning);
    add(&mut e, "z", Some(&par), None, StateType::Success, None);
    let step = plan(&flow, &e, false);
    assert_eq!(step.finish, [(par, StateType::Warning)]);
}

const EACH: &str = "id: e\nnamespace: n\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [a, b, c]\n    concurrencyLimit: 2\n    tasks:\n      - {id: one, type: Log, message: x}\n      - {id: two, type: Log, message: y}\n";

#[test]
fn foreach_iterations_run_their_tasks_in_order_and_stop_after_a_failure() {
    let flow = parse_flow(EACH).unwrap();
    let mut e = Execution::new("main", "n", "e", 1);
    let values = Some(Resolved {
        values: Some(vec![json("a"), json("b"), json("c")]),
        ..Resolved::default()
    });
    let each = add(&mut e, "each", None, None, StateType::Running, values);
    assert_eq!(started(&plan(&flow, &e, false)), ["one[a]", "one[b]"]);
    add(
        &mut e,
        "one",
        Some(&each),
        Some("a"),
        StateType::Success,
        None,
    );
    add(
        &mut e,
        "one",
        Some(&each),
        Some("b"),
        StateType::Running,
        None,
    );
    assert_eq!(started(&plan(&flow, &e, false)), ["two[a]"]);
    add(
        &mut e,
        "two",
        Some(&each),
        Some("a"),
        StateType::Success,
        None,
    );
    assert_eq!(started(&plan(&flow, &e, false)), ["one[c]"]);
    // b fails: c never starts, and the loop fails once b has ended.
    e.task_run_list[2].state.transition(StateType::Failed);
    let step = plan(&flow, &e, false);
    assert!(step.start.is_empty());
    assert_eq!(step.finish, [(each, StateType::Failed)]);
}

fn json(s: &str) -> Value {
    Value::String(s.to_owned())
}
