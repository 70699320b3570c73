//! Kestra's deprecated state store: `io.kestra.plugin.core.state.{Get, Set, Delete}` (older
//! names `io.kestra.core.tasks.states.*`), a JSON map per state `name`, kept for the flow
//! (or, with `namespace: true`, for its whole namespace) and by default apart for each
//! `taskrun.value` of a ForEach.

use super::{PropSpec, TaskKind, TaskType, prop};
use crate::shape::Shape;

const GET_PROPS: &[PropSpec] = &[
    prop("name", Shape::String),
    prop("namespace", Shape::Bool),
    prop("taskrunValue", Shape::Bool),
    prop("errorOnMissing", Shape::Bool),
];

const SET_PROPS: &[PropSpec] = &[
    prop("name", Shape::String),
    prop("namespace", Shape::Bool),
    prop("taskrunValue", Shape::Bool),
    prop("data", Shape::Map),
];

const DELETE_PROPS: &[PropSpec] = GET_PROPS;

pub const STATE_TASKS: &[TaskType] = &[
    TaskType {
        name: "io.kestra.plugin.core.state.Get",
        aliases: &["io.kestra.core.tasks.states.Get"],
        kind: TaskKind::StateGet,
        props: GET_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.state.Set",
        aliases: &["io.kestra.core.tasks.states.Set"],
        kind: TaskKind::StateSet,
        props: SET_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.state.Delete",
        aliases: &["io.kestra.core.tasks.states.Delete"],
        kind: TaskKind::StateDelete,
        props: DELETE_PROPS,
    },
];
