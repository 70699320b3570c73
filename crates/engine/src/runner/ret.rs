//! `io.kestra.plugin.core.debug.Return`: renders `format` into the output `value`.

use serde_json::{Map, Value};

use super::{RunFuture, TaskContext, TaskOutcome, TaskRunner};

pub struct Return;

impl TaskRunner for Return {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let mut outputs = Map::new();
            let value = ctx.render_output_string("format")?;
            outputs.insert("value".into(), value.unwrap_or(Value::Null));
            Ok(TaskOutcome::with_outputs(outputs))
        })
    }
}
