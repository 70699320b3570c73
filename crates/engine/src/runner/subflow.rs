//! `Subflow`, the worker's half: renders which flow to start, with which inputs and labels,
//! into a [`SubflowCall`]. The worker seals the inputs a secret produced before the call
//! leaves it; the executor starts the child execution and, with `wait`, ends this task run
//! with the child (outputs `executionId`, `state` and the child flow's `outputs`).

use saker_model::{Resolved, SubflowCall};
use serde_json::{Map, Value};

use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

pub struct Subflow;

impl TaskRunner for Subflow {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let namespace = required(ctx, "namespace")?;
            let flow_id = required(ctx, "flowId")?;
            let revision = match ctx.render_string("revision")? {
                None => None,
                Some(text) => {
                    Some(
                        text.trim()
                            .parse::<u32>()
                            .map_err(|_| TaskError::Property {
                                property: "revision".into(),
                                message: format!("'{text}' is not a revision number"),
                            })?,
                    )
                }
            };
            let inputs = object(ctx.render_output_value("inputs")?, "inputs")?;
            // Labels are stored and shown in clear: one derived from a secret is refused.
            let labels = super::labels::render_labels(ctx, "labels")?.unwrap_or_default();
            let call = SubflowCall {
                namespace,
                flow_id,
                revision,
                inputs,
                labels,
                wait: flag(ctx, "wait", true)?,
                transmit_failed: flag(ctx, "transmitFailed", true)?,
                inherit_labels: flag(ctx, "inheritLabels", false)?,
            };
            Ok(TaskOutcome {
                resolved: Some(Resolved {
                    subflow: Some(call),
                    ..Resolved::default()
                }),
                ..TaskOutcome::default()
            })
        })
    }
}

fn required(ctx: &mut TaskContext, name: &str) -> Result<String, TaskError> {
    match ctx.render_rendered_string(name)? {
        Some(rendered) if rendered.is_tainted() => Err(TaskError::Property {
            property: name.into(),
            message: "is derived from a secret; the flow a subflow starts is recorded and shown, \
                      so it cannot come from one"
                .into(),
        }),
        Some(rendered) if !rendered.text.trim().is_empty() => Ok(rendered.text.trim().to_owned()),
        _ => Err(TaskError::Property {
            property: name.into(),
            message: "is required".into(),
        }),
    }
}

fn object(value: Option<Value>, name: &str) -> Result<Map<String, Value>, TaskError> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(TaskError::Property {
            property: name.into(),
            message: "must be a map".into(),
        }),
    }
}

fn flag(ctx: &mut TaskContext, name: &str, default: bool) -> Result<bool, TaskError> {
    match ctx.property(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => {
            let text = ctx.render_string(name)?.unwrap_or_default();
            match text.trim() {
                "true" => Ok(true),
                "false" => Ok(false),
                other => Err(TaskError::Property {
                    property: name.into(),
                    message: format!("'{other}' is not true or false"),
                }),
            }
        }
    }
}
