//! Kestra's item tasks on Ion files, which evaluate an expression once per row with the
//! row's fields as variables: `io.kestra.plugin.core.storage.{FilterItems, DeduplicateItems}`,
//! with the older names Kestra declares as their aliases.

use super::{PropSpec, TaskKind, TaskType, prop, required};
use crate::shape::Shape;

const FILTER_ITEMS_PROPS: &[PropSpec] = &[
    required("from", Shape::String),
    required("filterCondition", Shape::String),
    prop("filterType", Shape::OneOf(&["INCLUDE", "EXCLUDE"])),
    prop(
        "errorOrNullBehavior",
        Shape::OneOf(&["FAIL", "INCLUDE", "EXCLUDE"]),
    ),
];

const DEDUPLICATE_ITEMS_PROPS: &[PropSpec] = &[
    required("from", Shape::String),
    required("expr", Shape::String),
];

pub const ITEM_TASKS: &[TaskType] = &[
    TaskType {
        name: "io.kestra.plugin.core.storage.FilterItems",
        aliases: &["io.kestra.core.tasks.storages.FilterItems"],
        kind: TaskKind::FilterItems,
        props: FILTER_ITEMS_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.storage.DeduplicateItems",
        aliases: &["io.kestra.core.tasks.storages.DeduplicateItems"],
        kind: TaskKind::DeduplicateItems,
        props: DEDUPLICATE_ITEMS_PROPS,
    },
];
