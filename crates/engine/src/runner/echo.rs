//! `io.kestra.plugin.core.debug.Echo`: Kestra's deprecated twin of `Log`, kept because flows
//! still use it: renders `format` and logs it at `level` (INFO by default).

use saker_model::Level;

use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

pub struct Echo;

impl TaskRunner for Echo {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let level = level(ctx, "level")?.unwrap_or(Level::Info);
            let message =
                ctx.render_rendered_string("format")?
                    .ok_or_else(|| TaskError::Property {
                        property: "format".into(),
                        message: "is required: the text to log".into(),
                    })?;
            // Tainted ranges are masked whatever their length, then the line by value.
            ctx.log_rendered(level, &message);
            Ok(TaskOutcome::default())
        })
    }
}

/// A log level property (rendered, any case); `None` when absent.
pub(super) fn level(ctx: &mut TaskContext, property: &str) -> Result<Option<Level>, TaskError> {
    match ctx.render_string(property)? {
        None => Ok(None),
        Some(name) => Level::parse(name.trim())
            .map(Some)
            .ok_or_else(|| TaskError::Property {
                property: property.into(),
                message: format!("'{name}' is not a level: use TRACE, DEBUG, INFO, WARN or ERROR"),
            }),
    }
}
