//! `io.kestra.plugin.core.execution.Fail`: fails the task with `errorMessage`, or only when
//! `condition` renders to true.

use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

pub struct Fail;

/// Kestra's default message.
const DEFAULT_MESSAGE: &str = "Task failure";

impl TaskRunner for Fail {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            if let Some(condition) = ctx.render_string("condition")?
                && !crate::task_context::is_truthy(&condition)
            {
                return Ok(TaskOutcome::default());
            }
            // The message is shown: its tainted ranges are masked whatever their length.
            let message = ctx
                .render_rendered_string("errorMessage")?
                .map(|m| m.masked(saker_mask::MASK))
                .unwrap_or_else(|| DEFAULT_MESSAGE.to_owned());
            Err(TaskError::Failed(message))
        })
    }
}
