//! Kestra's flowable tasks (`io.kestra.plugin.core.flow.*`): tasks that run other tasks.
//!
//! Names, aliases and properties follow Kestra's classes: the legacy names are the `aliases`
//! each class declares (`io.kestra.core.tasks.flows.X`, from before 0.17), and the short name
//! is Saker's own, like `Log` for the log task. Child task lists are [`Shape::Tasks`] and the
//! like; validation reads them as tasks (`crate::children`) into [`crate::TaskDef::subtasks`],
//! [`crate::TaskDef::cases`] and, for a Dag, [`crate::TaskDef::depends_on`] of each child.
//! Every flowable with children takes `errors` and `finally` lists, as Kestra's do.

use super::{PropSpec, TaskKind, TaskType, prop, required};
use crate::shape::Shape;

/// `errors` and `finally`: run when a child fails, and after the children whatever happened.
const ERRORS: PropSpec = prop("errors", Shape::Tasks);
const FINALLY: PropSpec = prop("finally", Shape::Tasks);

const IF_PROPS: &[PropSpec] = &[
    required("condition", Shape::String),
    required("then", Shape::Tasks),
    prop("else", Shape::Tasks),
    ERRORS,
    FINALLY,
];

const SWITCH_PROPS: &[PropSpec] = &[
    required("value", Shape::String),
    prop("cases", Shape::TaskCases),
    prop("defaults", Shape::Tasks),
    ERRORS,
    FINALLY,
];

/// Sequential and AllowFailure: children one after the other.
const SEQUENTIAL_PROPS: &[PropSpec] = &[prop("tasks", Shape::Tasks), ERRORS, FINALLY];

const PARALLEL_PROPS: &[PropSpec] = &[
    required("tasks", Shape::Tasks),
    // 0 = no limit.
    prop("concurrent", Shape::AtLeast(0)),
    ERRORS,
    FINALLY,
];

const FOR_EACH_PROPS: &[PropSpec] = &[
    // A list, a JSON string holding a list, or a template rendering to either.
    required("values", Shape::ValueList),
    // 1 = one value at a time (the default), 0 = every value at once.
    prop("concurrencyLimit", Shape::AtLeast(0)),
    prop("tasks", Shape::Tasks),
    ERRORS,
    FINALLY,
];

const EACH_SEQUENTIAL_PROPS: &[PropSpec] = &[
    required("value", Shape::ValueList),
    prop("tasks", Shape::Tasks),
    ERRORS,
    FINALLY,
];

const EACH_PARALLEL_PROPS: &[PropSpec] = &[
    required("value", Shape::ValueList),
    prop("concurrent", Shape::AtLeast(0)),
    prop("tasks", Shape::Tasks),
    ERRORS,
    FINALLY,
];

const DAG_PROPS: &[PropSpec] = &[
    required("tasks", Shape::DagTasks),
    prop("concurrent", Shape::AtLeast(0)),
    ERRORS,
    FINALLY,
];

/// WorkingDirectory's `cache`: what to keep between executions, and for how long.
const CACHE_PROPS: &[PropSpec] = &[
    required("patterns", Shape::StringList),
    prop("ttl", Shape::Duration),
];

/// `namespaceFiles` of a task that works in a directory (Kestra's `NamespaceFiles`).
pub(crate) const NAMESPACE_FILES_PROPS: &[PropSpec] = &[
    prop("enabled", Shape::Bool),
    prop("include", Shape::StringList),
    prop("exclude", Shape::StringList),
    prop("namespaces", Shape::StringList),
    prop(
        "ifExists",
        Shape::OneOf(&["OVERWRITE", "FAIL", "WARN", "IGNORE"]),
    ),
    prop("folderPerNamespace", Shape::Bool),
];

const WORKING_DIRECTORY_PROPS: &[PropSpec] = &[
    prop("tasks", Shape::Tasks),
    // A map of file name to content, or a template producing one.
    prop("inputFiles", Shape::Any),
    prop("outputFiles", Shape::StringList),
    prop("namespaceFiles", Shape::Struct(NAMESPACE_FILES_PROPS)),
    prop("cache", Shape::Struct(CACHE_PROPS)),
    prop("taskRunner", Shape::Map),
    prop("containerImage", Shape::String),
    ERRORS,
    FINALLY,
];

/// Pause. `delay` is the deprecated name of `pauseDuration` (Kestra's setter copies it
/// across); `timeout` is the common task property. `tasks` is deprecated in Kestra but
/// still run, after the pause.
const PAUSE_PROPS: &[PropSpec] = &[
    prop("pauseDuration", Shape::Duration),
    prop("delay", Shape::Duration),
    prop(
        "behavior",
        Shape::OneOf(&["RESUME", "WARN", "FAIL", "CANCEL"]),
    ),
    prop("onPause", Shape::Task),
    prop("onResume", Shape::Inputs),
    prop("tasks", Shape::Tasks),
    ERRORS,
    FINALLY,
];

const SLEEP_PROPS: &[PropSpec] = &[required("duration", Shape::Duration)];

/// LoopUntil's `checkFrequency`. Kestra's defaults: no iteration or duration limit in
/// LoopUntil (100 iterations and one hour in the older WaitFor), `interval` one minute.
const CHECK_FREQUENCY_PROPS: &[PropSpec] = &[
    prop("maxIterations", Shape::AtLeast(1)),
    prop("maxDuration", Shape::Duration),
    prop("interval", Shape::Duration),
];

const LOOP_UNTIL_PROPS: &[PropSpec] = &[
    required("condition", Shape::String),
    required("tasks", Shape::Tasks),
    prop("checkFrequency", Shape::Struct(CHECK_FREQUENCY_PROPS)),
    prop("failOnMaxReached", Shape::Bool),
    ERRORS,
    FINALLY,
];

/// The flowable task types.
pub const FLOWABLE_TASKS: &[TaskType] = &[
    TaskType {
        name: "io.kestra.plugin.core.flow.If",
        aliases: &["io.kestra.core.tasks.flows.If", "If"],
        kind: TaskKind::If,
        props: IF_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.flow.Switch",
        aliases: &["io.kestra.core.tasks.flows.Switch", "Switch"],
        kind: TaskKind::Switch,
        props: SWITCH_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.flow.Sequential",
        aliases: &["io.kestra.core.tasks.flows.Sequential", "Sequential"],
        kind: TaskKind::Sequential,
        props: SEQUENTIAL_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.flow.Parallel",
        aliases: &["io.kestra.core.tasks.flows.Parallel", "Parallel"],
        kind: TaskKind::Parallel,
        props: PARALLEL_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.flow.ForEach",
        aliases: &["ForEach"],
        kind: TaskKind::ForEach,
        props: FOR_EACH_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.flow.EachSequential",
        aliases: &[
            "io.kestra.core.tasks.flows.EachSequential",
            "EachSequential",
        ],
        kind: TaskKind::EachSequential,
        props: EACH_SEQUENTIAL_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.flow.EachParallel",
        aliases: &["io.kestra.core.tasks.flows.EachParallel", "EachParallel"],
        kind: TaskKind::EachParallel,
        props: EACH_PARALLEL_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.flow.AllowFailure",
        aliases: &["io.kestra.core.tasks.flows.AllowFailure", "AllowFailure"],
        kind: TaskKind::AllowFailure,
        props: SEQUENTIAL_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.flow.Dag",
        aliases: &["io.kestra.core.tasks.flows.Dag", "Dag"],
        kind: TaskKind::Dag,
        props: DAG_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.flow.WorkingDirectory",
        aliases: &[
            "io.kestra.core.tasks.flows.WorkingDirectory",
            "io.kestra.core.tasks.flows.Worker",
            "WorkingDirectory",
        ],
        kind: TaskKind::WorkingDirectory,
        props: WORKING_DIRECTORY_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.flow.Pause",
        aliases: &["io.kestra.core.tasks.flows.Pause", "Pause"],
        kind: TaskKind::Pause,
        props: PAUSE_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.flow.Sleep",
        aliases: &["Sleep"],
        kind: TaskKind::Sleep,
        props: SLEEP_PROPS,
    },
    // Kestra 1.x renamed WaitFor to LoopUntil and kept WaitFor as its alias.
    TaskType {
        name: "io.kestra.plugin.core.flow.LoopUntil",
        aliases: &["io.kestra.plugin.core.flow.WaitFor", "LoopUntil", "WaitFor"],
        kind: TaskKind::LoopUntil,
        props: LOOP_UNTIL_PROPS,
    },
];
