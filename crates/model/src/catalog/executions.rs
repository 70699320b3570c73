//! Kestra's core tasks that read other executions: `io.kestra.plugin.core.execution.Count`
//! (older name `io.kestra.core.tasks.executions.Counts`).

use super::{PropSpec, TaskKind, TaskType, prop, required};
use crate::shape::Shape;

const COUNT_PROPS: &[PropSpec] = &[
    // A list of {namespace, flowId} maps.
    prop("flows", Shape::Any),
    prop("namespaces", Shape::StringOrList),
    prop("states", Shape::StringOrList),
    required("startDate", Shape::String),
    prop("endDate", Shape::String),
    required("expression", Shape::String),
];

pub const EXECUTION_TASKS: &[TaskType] = &[TaskType {
    name: "io.kestra.plugin.core.execution.Count",
    aliases: &["io.kestra.core.tasks.executions.Counts"],
    kind: TaskKind::ExecutionCount,
    props: COUNT_PROPS,
}];
