//! Deciding what an execution does next, from its flow and the task runs it has so far. A
//! pure function: the executor applies its answer; recovery after a crash calls it again on
//! what the store holds.
//!
//! Order: the flow's `tasks` one after the other; if one ends FAILED or KILLED, the `errors`
//! tasks; then, always, the `finally` tasks. Disabled tasks are left out entirely, as in
//! Kestra. A branch stops at its first failure.

use saker_model::{Execution, Flow, StateType, TaskDef};

/// The executor's next move.
#[derive(Debug, PartialEq)]
pub enum Next<'f> {
    /// Create a task run for this task and send it to a worker.
    Run(&'f TaskDef),
    /// A task run is still going; wait for its result.
    Wait,
    /// Nothing is left to run: the execution ends in this state.
    End(StateType),
}

/// What to do next in `execution` of `flow`. `killing` means the execution was asked to
/// stop: nothing new starts, and it ends KILLED once nothing runs.
pub fn next_step<'f>(flow: &'f Flow, execution: &Execution, killing: bool) -> Next<'f> {
    let mut failed = false;
    let mut warning = false;
    let mut killed = killing;

    let branches: [(&'f [TaskDef], Branch); 3] = [
        (&flow.tasks, Branch::Main),
        (&flow.errors, Branch::Errors),
        (&flow.finally, Branch::Finally),
    ];
    for (tasks, branch) in branches {
        if branch == Branch::Errors && !failed {
            continue;
        }
        for task in tasks.iter().filter(|t| !t.disabled) {
            match execution.task_run(&task.id) {
                None if killed => break,
                None => return Next::Run(task),
                Some(run) if !run.state.current.is_terminated() => return Next::Wait,
                Some(run) => match run.state.current {
                    StateType::Failed => {
                        failed = true;
                        break;
                    }
                    StateType::Killed => {
                        killed = true;
                        break;
                    }
                    StateType::Warning => warning = true,
                    _ => {}
                },
            }
        }
    }
    Next::End(if killed {
        StateType::Killed
    } else if failed {
        StateType::Failed
    } else if warning {
        StateType::Warning
    } else {
        StateType::Success
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Branch {
    Main,
    Errors,
    Finally,
}

#[cfg(test)]
mod tests {
    use super::*;
    use saker_model::{Execution, TaskRun, parse_flow};

    const FLOW: &str = "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: Log\n    message: a\n  - id: off\n    type: Log\n    message: x\n    disabled: true\n  - id: b\n    type: Log\n    message: b\nerrors:\n  - id: on_error\n    type: Log\n    message: e\nfinally:\n  - id: last\n    type: Log\n    message: f\n";

    fn ended(execution: &mut Execution, task: &str, state: StateType) {
        let mut run = TaskRun::new(execution, task);
        run.state.transition(state);
        execution.task_run_list.push(run);
    }

    fn id(next: Next<'_>) -> String {
        match next {
            Next::Run(t) => t.id.clone(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn runs_tasks_in_order_skipping_disabled_then_finally() {
        let flow = parse_flow(FLOW).unwrap();
        let mut e = Execution::new("main", "n", "f", 1);
        assert_eq!(id(next_step(&flow, &e, false)), "a");
        ended(&mut e, "a", StateType::Success);
        assert_eq!(id(next_step(&flow, &e, false)), "b");
        ended(&mut e, "b", StateType::Warning);
        assert_eq!(id(next_step(&flow, &e, false)), "last");
        ended(&mut e, "last", StateType::Success);
        assert_eq!(next_step(&flow, &e, false), Next::End(StateType::Warning));
    }

    #[test]
    fn a_failure_runs_errors_then_finally_and_fails() {
        let flow = parse_flow(FLOW).unwrap();
        let mut e = Execution::new("main", "n", "f", 1);
        ended(&mut e, "a", StateType::Failed);
        assert_eq!(id(next_step(&flow, &e, false)), "on_error");
        ended(&mut e, "on_error", StateType::Success);
        assert_eq!(id(next_step(&flow, &e, false)), "last");
        ended(&mut e, "last", StateType::Success);
        assert_eq!(next_step(&flow, &e, false), Next::End(StateType::Failed));
    }

    #[test]
    fn a_running_task_is_waited_for_and_killing_starts_nothing() {
        let flow = parse_flow(FLOW).unwrap();
        let mut e = Execution::new("main", "n", "f", 1);
        let mut run = TaskRun::new(&e, "a");
        run.state.transition(StateType::Running);
        e.task_run_list.push(run);
        assert_eq!(next_step(&flow, &e, false), Next::Wait);
        assert_eq!(next_step(&flow, &e, true), Next::Wait);
        e.task_run_list[0].state.transition(StateType::Killed);
        assert_eq!(next_step(&flow, &e, true), Next::End(StateType::Killed));
    }
}
