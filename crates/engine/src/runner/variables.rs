//! `io.kestra.plugin.core.execution.SetVariables` and `UnsetVariables`: change the execution's
//! variables, which the tasks after them read as `{{ vars.* }}` (the flow's `variables` until
//! a first change). The worker sends the change (`TaskOutcome::variables`); the executor
//! applies it to the execution as it is then, so two tasks setting different variables at the
//! same time both count.
//!
//! Execution variables are stored with the execution and shown in clear (its JSON, the API),
//! so a value derived from a secret is refused, by taint and by value, as labels are: a flow
//! reads a secret with `secret()` where it uses it.

use saker_expr::Value as ExprValue;
use serde_json::{Map, Value};

use super::task_file_io::{bool_property, property};
use super::{RunFuture, TaskContext, TaskOutcome, TaskRunner};
use crate::queue::VariablesUpdate;

/// io.kestra.plugin.core.execution.SetVariables.
pub struct SetVariables;
/// io.kestra.plugin.core.execution.UnsetVariables.
pub struct UnsetVariables;

impl TaskRunner for SetVariables {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let overwrite = bool_property(ctx, "overwrite", true)?;
            let set = match ctx.render_output_value("variables")? {
                Some(Value::Object(map)) => map,
                None | Some(Value::Null) => {
                    return Err(property("variables", "is required: a map of name to value"));
                }
                Some(_) => return Err(property("variables", "expected a map of name to value")),
            };
            let text = zeroize::Zeroizing::new(Value::Object(set.clone()).to_string());
            if ctx.saw_taint() || ctx.mask_set().mask(&text) != text.as_str() {
                return Err(property(
                    "variables",
                    "holds a value derived from a secret; execution variables are stored and \
                     shown in clear, so a secret cannot be one: call secret() where the value \
                     is used instead",
                ));
            }
            if !overwrite {
                let current = current_names(ctx);
                let taken: Vec<&str> = set
                    .keys()
                    .map(String::as_str)
                    .filter(|name| current.iter().any(|c| c == name))
                    .collect();
                if !taken.is_empty() {
                    return Err(property(
                        "overwrite",
                        &format!(
                            "is false and these variables already exist: {}",
                            taken.join(", ")
                        ),
                    ));
                }
            }
            Ok(TaskOutcome {
                variables: Some(Box::new(VariablesUpdate {
                    set,
                    unset: Vec::new(),
                })),
                ..TaskOutcome::default()
            })
        })
    }
}

impl TaskRunner for UnsetVariables {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let ignore_missing = bool_property(ctx, "ignoreMissing", false)?;
            let names: Vec<String> = ctx
                .render_string_or_list("variables")?
                .into_iter()
                .map(|name| name.trim().to_owned())
                .filter(|name| !name.is_empty())
                .collect();
            if names.is_empty() {
                return Err(property(
                    "variables",
                    "is required: the names of the variables to unset",
                ));
            }
            if !ignore_missing {
                let current = current_names(ctx);
                if let Some(missing) = names.iter().find(|n| !current.contains(n)) {
                    return Err(property(
                        "variables",
                        &format!(
                            "'{missing}' is not a variable of this execution (set \
                             ignoreMissing: true to skip the names that are not)"
                        ),
                    ));
                }
            }
            Ok(TaskOutcome {
                variables: Some(Box::new(VariablesUpdate {
                    set: Map::new(),
                    unset: names,
                })),
                ..TaskOutcome::default()
            })
        })
    }
}

/// The names of the execution's variables as this task sees them.
fn current_names(ctx: &TaskContext) -> Vec<String> {
    match ctx.variable("vars") {
        Some(ExprValue::Map(map, _)) => map.iter().map(|(k, _)| k.clone()).collect(),
        _ => Vec::new(),
    }
}
