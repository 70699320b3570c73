//! `io.kestra.plugin.core.output.OutputValues`: renders every string inside `values` and
//! exposes the result as the output `values`.

use serde_json::{Map, Value};

use super::{RunFuture, TaskContext, TaskOutcome, TaskRunner};

pub struct OutputValues;

impl TaskRunner for OutputValues {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let values = ctx.render_output_value("values")?;
            let mut outputs = Map::new();
            outputs.insert(
                "values".into(),
                values.unwrap_or_else(|| Value::Object(Map::new())),
            );
            Ok(TaskOutcome::with_outputs(outputs))
        })
    }
}
