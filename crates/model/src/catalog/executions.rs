//! Kestra's core tasks on executions: `io.kestra.plugin.core.execution.Count` (older name
//! `io.kestra.core.tasks.executions.Counts`), which reads other executions, and
//! `SetVariables`/`UnsetVariables`, which change the running execution's `vars`.

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

const SET_VARIABLES_PROPS: &[PropSpec] = &[
    required("variables", Shape::Map),
    prop("overwrite", Shape::Bool),
];

const UNSET_VARIABLES_PROPS: &[PropSpec] = &[
    required("variables", Shape::StringOrList),
    prop("ignoreMissing", Shape::Bool),
];

pub const EXECUTION_TASKS: &[TaskType] = &[
    TaskType {
        name: "io.kestra.plugin.core.execution.Count",
        aliases: &["io.kestra.core.tasks.executions.Counts"],
        kind: TaskKind::ExecutionCount,
        props: COUNT_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.execution.SetVariables",
        aliases: &[],
        kind: TaskKind::SetVariables,
        props: SET_VARIABLES_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.execution.UnsetVariables",
        aliases: &[],
        kind: TaskKind::UnsetVariables,
        props: UNSET_VARIABLES_PROPS,
    },
];
