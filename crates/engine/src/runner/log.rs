//! `io.kestra.plugin.core.log.Log`: logs a message (or each message of a list) at a level.

use saker_model::Level;

use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

pub struct Log;

impl TaskRunner for Log {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let level = match ctx.render_string("level")? {
                None => Level::Info,
                Some(name) => Level::parse(name.trim()).ok_or_else(|| TaskError::Property {
                    property: "level".into(),
                    message: "expected one of TRACE, DEBUG, INFO, WARN, ERROR".into(),
                })?,
            };
            for message in ctx.render_rendered_or_list("message")? {
                ctx.log_rendered(level, &message);
            }
            Ok(TaskOutcome::default())
        })
    }
}
