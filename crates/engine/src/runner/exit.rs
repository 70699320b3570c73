//! `io.kestra.plugin.core.execution.Exit`: ends the execution now in `state` (SUCCESS by
//! default, WARNING, KILLED, FAILED, or CANCELED/CANCELLED as Kestra 0.21+ spells it). The
//! executor does the ending: nothing new starts, running tasks are killed, and the execution
//! takes the state once they stopped (see `TaskOutcome::exit`).

use saker_model::{Level, StateType};

use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

pub struct Exit;

impl TaskRunner for Exit {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let state = match ctx.render_string("state")? {
                None => StateType::Success,
                Some(name) => exit_state(&name).ok_or_else(|| TaskError::Property {
                    property: "state".into(),
                    message: format!(
                        "'{}' is not a state an execution can exit in: use SUCCESS, WARNING, \
                         KILLED, FAILED or CANCELLED",
                        name.trim()
                    ),
                })?,
            };
            ctx.log(
                Level::Info,
                &format!("exiting the execution in state {state}"),
            );
            Ok(TaskOutcome {
                exit: Some(state),
                ..TaskOutcome::default()
            })
        })
    }
}

/// The states Kestra's `ExitState` names, in any case; CANCELED is Kestra's spelling,
/// CANCELLED Saker's (and Kestra's state name).
fn exit_state(name: &str) -> Option<StateType> {
    match name.trim().to_ascii_uppercase().as_str() {
        "SUCCESS" => Some(StateType::Success),
        "WARNING" => Some(StateType::Warning),
        "KILLED" => Some(StateType::Killed),
        "FAILED" => Some(StateType::Failed),
        "CANCELED" | "CANCELLED" => Some(StateType::Cancelled),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_states_are_read_in_any_case_with_both_spellings_of_cancelled() {
        assert_eq!(exit_state(" warning "), Some(StateType::Warning));
        assert_eq!(exit_state("KILLED"), Some(StateType::Killed));
        assert_eq!(exit_state("CANCELED"), Some(StateType::Cancelled));
        assert_eq!(exit_state("cancelled"), Some(StateType::Cancelled));
        for refused in ["RUNNING", "PAUSED", "", "SUCCESSFUL"] {
            assert_eq!(exit_state(refused), None, "{refused}");
        }
    }
}
