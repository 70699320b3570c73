//! `io.kestra.plugin.core.templating.TemplatedTask` (older name
//! `io.kestra.core.tasks.templating.TemplatedTask`): a runnable task written as a templated
//! YAML `spec`, rendered and run at run time.

use super::{PropSpec, TaskKind, TaskType, required};
use crate::shape::Shape;

const TEMPLATED_TASK_PROPS: &[PropSpec] = &[required("spec", Shape::String)];

pub const TEMPLATING_TASKS: &[TaskType] = &[TaskType {
    name: "io.kestra.plugin.core.templating.TemplatedTask",
    aliases: &["io.kestra.core.tasks.templating.TemplatedTask"],
    kind: TaskKind::TemplatedTask,
    props: TEMPLATED_TASK_PROPS,
}];
