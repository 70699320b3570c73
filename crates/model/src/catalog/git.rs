//! Kestra's Git plugin (`io.kestra.plugin.git`): `Clone`, run with the `git` command-line
//! tool in the task's working directory (usually a `WorkingDirectory`'s, so the tasks after
//! it see the files).
//!
//! The properties are Kestra's `Clone` and those of its `AbstractGitTask` that the git CLI
//! can honour. `privateKey` and `passphrase` (SSH) are accepted by validation and refused at
//! run time with a property error until SSH cloning is tested against a real server; Kestra's
//! `cache`, `connectTimeout` and `noProxy` are left out (validation names them as unknown).

use super::{PropSpec, TaskKind, TaskType, prop, required};
use crate::shape::Shape;

const CLONE_PROPS: &[PropSpec] = &[
    required("url", Shape::String),
    prop("username", Shape::String),
    prop("password", Shape::String),
    prop("privateKey", Shape::String),
    prop("passphrase", Shape::String),
    prop("directory", Shape::String),
    prop("branch", Shape::String),
    prop("depth", Shape::AtLeast(1)),
    prop("commit", Shape::String),
    prop("tag", Shape::String),
    prop("cloneSubmodules", Shape::Bool),
    prop("cloneAllBranches", Shape::Bool),
    prop("noTags", Shape::Bool),
    prop("trustedCaPemPath", Shape::String),
    // Milliseconds without data before git gives up (git's http.lowSpeedTime).
    prop("readTimeout", Shape::AtLeast(1)),
    // Written into the clone's .git/config, as Kestra applies them after the clone.
    prop("gitConfig", Shape::Map),
];

pub const GIT_TASKS: &[TaskType] = &[TaskType {
    name: "io.kestra.plugin.git.Clone",
    aliases: &[],
    kind: TaskKind::GitClone,
    props: CLONE_PROPS,
}];
