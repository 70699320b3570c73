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
