//! `io.kestra.plugin.core.templating.TemplatedTask` (older name
//! `io.kestra.core.tasks.templating.TemplatedTask`): `spec`, a task written in YAML, is
//! rendered, read and validated as a task of the flow would be, then run in this task run;
//! its outputs are the task run's.
//!
//! What fits Saker's task tree: a runnable task. A flowable task (its children would need
//! task runs the flow does not declare), a task starting subflows, another TemplatedTask, and
//! the tasks that act on the store (purges, `log.Fetch`, `execution.Count`) are refused,
//! saying so. A `spec` derived from a secret is refused too: once rendered into the task's
//! properties the secret would no longer be known as one, so the task could not mask or seal
//! it; write `{{ secret('KEY') }}` where the task uses it, inside `{% raw %}` so that the task
//! itself renders it.

use std::sync::Arc;

use saker_model::parse_flow;

use super::task_file_io::property;
use super::{Registry, RunFuture, TaskContext, TaskError, TaskRunner};

pub struct TemplatedTask;

impl TaskRunner for TemplatedTask {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let spec = ctx
                .render_rendered_string("spec")?
                .ok_or_else(|| property("spec", "is required: the task to run, in YAML"))?;
            if spec.is_tainted() {
                return Err(property(
                    "spec",
                    "is derived from a secret; rendered into the task's properties it would no \
                     longer be known as one: write {% raw %}{{ secret('KEY') }}{% endraw %} in \
                     the spec so that the task itself reads the secret",
                ));
            }
            let task = task_of(&spec.text, &ctx.task().id)?;
            // The runners that act on the store are added by the engine; none fits here.
            let registry = Registry::builtin();
            let runner = registry.get(&task.type_name).cloned().ok_or_else(|| {
                property(
                    "spec",
                    &format!(
                        "a '{}' task cannot run inside a TemplatedTask",
                        task.type_name
                    ),
                )
            })?;
            let outer = ctx.replace_task(Arc::new(task));
            let outcome = runner.run(ctx).await;
            ctx.replace_task(outer);
            outcome
        })
    }
}

/// The task `spec` describes, validated as a task of a flow.
fn task_of(spec: &str, outer_id: &str) -> Result<saker_model::TaskDef, TaskError> {
    let mut source = String::from("id: templated\nnamespace: templated\ntasks:\n");
    for (i, line) in spec.lines().enumerate() {
        source.push_str(if i == 0 { "  - " } else { "    " });
        source.push_str(line);
        source.push('\n');
    }
    let flow = parse_flow(&source).map_err(|diagnostics| {
        let messages: Vec<String> = diagnostics.into_iter().map(|d| d.message).collect();
        property(
            "spec",
            &format!("is not a valid task: {}", messages.join("; ")),
        )
    })?;
    let task = match flow.tasks.as_slice() {
        [task] => task.clone(),
        _ => return Err(property("spec", "must describe exactly one task")),
    };
    if task.kind.is_flowable() || task.kind.starts_subflows() {
        return Err(property(
            "spec",
            &format!(
                "'{}' runs other tasks or flows, which a TemplatedTask cannot: only a runnable \
                 task fits in task '{outer_id}'",
                task.type_name
            ),
        ));
    }
    if task.kind == saker_model::TaskKind::TemplatedTask {
        return Err(property("spec", "a TemplatedTask cannot run another one"));
    }
    Ok(task)
}
