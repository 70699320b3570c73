//! Kestra's script tasks (`io.kestra.plugin.scripts.*`): `shell`, `python` and `node`, each as
//! `Commands` (a list of commands run by the interpreter) and `Script` (one script, written to
//! a file in the working directory and run by the language's program).
//!
//! The properties are those of Kestra's `AbstractExecScript` that every language shares, plus
//! each language's own. `Commands` of any language run the same way; the language only says
//! which program a `Script` needs.

use super::{PropSpec, TaskKind, TaskType, prop, required};
use crate::shape::Shape;

/// Declares the properties of a script task: `$first` (`commands` or `script`), then Kestra's
/// `AbstractExecScript` properties, then the language's own `$extra`.
macro_rules! script_props {
    ($first:expr $(, $extra:expr)* $(,)?) => {
        &[
            $first,
            prop("env", Shape::Map),
            prop("beforeCommands", Shape::StringList),
            prop("interpreter", Shape::StringList),
            prop("failFast", Shape::Bool),
            prop("warningOnStdErr", Shape::Bool),
            prop("taskRunner", Shape::Map),
            prop("containerImage", Shape::String),
            prop("outputFiles", Shape::StringList),
            // A map of file name to content, or a template producing one.
            prop("inputFiles", Shape::Any),
            prop("namespaceFiles", Shape::Map),
            prop("targetOS", Shape::OneOf(&["LINUX", "WINDOWS", "AUTO"])),
            // Deprecated in Kestra in favour of taskRunner/containerImage; still accepted there.
            prop("docker", Shape::Map),
            prop("runner", Shape::OneOf(&["PROCESS", "DOCKER"])),
            prop("outputDirectory", Shape::Bool),
            $($extra,)*
        ]
    };
}
// The tool tasks (`catalog/tools.rs`) share these properties.
pub(super) use script_props;

pub(super) const COMMANDS: PropSpec = required("commands", Shape::StringList);
pub(super) const SCRIPT: PropSpec = required("script", Shape::String);

const SHELL_COMMANDS_PROPS: &[PropSpec] = script_props!(COMMANDS);
const SHELL_SCRIPT_PROPS: &[PropSpec] = script_props!(SCRIPT);
// Python's own (Kestra 0.23+): packages installed before the script runs, and their cache.
const PYTHON_COMMANDS_PROPS: &[PropSpec] = script_props!(
    COMMANDS,
    prop("dependencies", Shape::StringList),
    prop("pythonVersion", Shape::String),
    prop("dependencyCacheEnabled", Shape::Bool),
);
const PYTHON_SCRIPT_PROPS: &[PropSpec] = script_props!(
    SCRIPT,
    prop("dependencies", Shape::StringList),
    prop("pythonVersion", Shape::String),
    prop("dependencyCacheEnabled", Shape::Bool),
);
const NODE_COMMANDS_PROPS: &[PropSpec] = script_props!(COMMANDS);
const NODE_SCRIPT_PROPS: &[PropSpec] = script_props!(SCRIPT);

/// The script tasks. The short names (`shell.Commands`, `Commands`) are Saker's own
/// conveniences and were there before the other languages.
pub const SCRIPT_TASKS: &[TaskType] = &[
    TaskType {
        name: "io.kestra.plugin.scripts.shell.Commands",
        aliases: &["shell.Commands", "Commands"],
        kind: TaskKind::ShellCommands,
        props: SHELL_COMMANDS_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.scripts.shell.Script",
        aliases: &["shell.Script"],
        kind: TaskKind::ShellScript,
        props: SHELL_SCRIPT_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.scripts.python.Commands",
        aliases: &["python.Commands"],
        kind: TaskKind::PythonCommands,
        props: PYTHON_COMMANDS_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.scripts.python.Script",
        aliases: &["python.Script"],
        kind: TaskKind::PythonScript,
        props: PYTHON_SCRIPT_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.scripts.node.Commands",
        aliases: &["node.Commands"],
        kind: TaskKind::NodeCommands,
        props: NODE_COMMANDS_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.scripts.node.Script",
        aliases: &["node.Script"],
        kind: TaskKind::NodeScript,
        props: NODE_SCRIPT_PROPS,
    },
];
