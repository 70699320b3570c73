//! `io.kestra.plugin.core.execution.Resume`: resumes a paused execution, this one unless
//! `executionId` names another (then `namespace` and `flowId` may say whose it must be),
//! with `inputs` as its `onResume` values. The executor does it and fails this task when the
//! execution is not paused, not found, or not of the flow's namespace (or a child of it).
//!
//! An input derived from a secret is refused: the paused task keeps its `onResume` values as
//! outputs, stored in clear unless they are SECRET inputs there.

use serde_json::{Map, Value};

use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};
use crate::queue::ResumeRequest;

pub struct Resume;

impl TaskRunner for Resume {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let execution_id = match ctx.render_string("executionId")? {
                Some(id) if !id.trim().is_empty() => id.trim().to_owned(),
                _ => ctx.execution_id(),
            };
            let namespace = ctx.render_string("namespace")?;
            let flow_id = ctx.render_string("flowId")?;
            let mut inputs = Map::new();
            if let Some(Value::Object(written)) = ctx.property("inputs").cloned() {
                for (name, value) in written {
                    let text = match value {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    let rendered = ctx.render_template_rendered(&text)?;
                    if rendered.is_tainted() {
                        return Err(TaskError::Property {
                            property: format!("inputs.{name}"),
                            message: "is derived from a secret; a resumed task keeps its inputs \
                                      as outputs, so pass a secret as a SECRET onResume input \
                                      through the API instead"
                                .into(),
                        });
                    }
                    inputs.insert(name, Value::String(rendered.text));
                }
            }
            Ok(TaskOutcome {
                resume: Some(Box::new(ResumeRequest {
                    execution_id,
                    namespace,
                    flow_id,
                    inputs,
                })),
                ..TaskOutcome::default()
            })
        })
    }
}
