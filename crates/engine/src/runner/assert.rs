//! `io.kestra.plugin.core.execution.Assert`: every condition of `conditions` must render to
//! a true value (Kestra's truthiness, `task_context::is_truthy`); otherwise the task fails,
//! naming each false condition as the flow wrote it and what it rendered to, with the parts
//! derived from a secret shown as `****`, and `errorMessage` first when the flow gave one.

use saker_mask::MASK;
use saker_model::Level;
use serde_json::Value;

use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};
use crate::task_context::is_truthy;

pub struct Assert;

impl TaskRunner for Assert {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let conditions = sources(ctx.property("conditions"))?;
            let mut failed = Vec::new();
            for source in &conditions {
                let rendered = ctx.render_template_rendered(source)?;
                if !is_truthy(&rendered.text) {
                    // Shown to people: tainted ranges masked whatever their length.
                    let shown = format!("`{source}` (rendered '{}')", rendered.masked(MASK));
                    ctx.log(Level::Error, &format!("assertion {shown} failed"));
                    failed.push(shown);
                }
            }
            if failed.is_empty() {
                return Ok(TaskOutcome::default());
            }
            let summary = format!(
                "{} of {} assertion(s) failed: {}",
                failed.len(),
                conditions.len(),
                failed.join(", ")
            );
            let message = match ctx.render_rendered_string("errorMessage")? {
                Some(custom) => format!("{}: {summary}", custom.masked(MASK)),
                None => summary,
            };
            Err(TaskError::Failed(message))
        })
    }
}

/// The conditions as the flow wrote them (templates, rendered one by one): a list, or a
/// single string taken as a list of one.
fn sources(property: Option<&Value>) -> Result<Vec<String>, TaskError> {
    let bad = || TaskError::Property {
        property: "conditions".into(),
        message: "expected a list of conditions such as \"{{ outputs.check.value == 'ok' }}\""
            .into(),
    };
    match property {
        None | Some(Value::Null) => Err(bad()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| scalar(item).ok_or_else(bad))
            .collect(),
        Some(other) => scalar(other).map(|s| vec![s]).ok_or_else(bad),
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_are_a_list_or_one_string_of_scalars() {
        assert_eq!(
            sources(Some(&json!(["{{ a }}", true, 1]))).unwrap(),
            ["{{ a }}", "true", "1"]
        );
        assert_eq!(sources(Some(&json!("{{ a }}"))).unwrap(), ["{{ a }}"]);
        assert!(sources(None).is_err());
        assert!(sources(Some(&json!([{"a": 1}]))).is_err());
    }
}
