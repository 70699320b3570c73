//! Kestra's `io.kestra.plugin.fs.ssh.Command`: commands run on a remote host over SSH, with
//! the OpenSSH client, confined like a script task. `authMethod` PASSWORD or PUBLIC_KEY;
//! Kestra's OPEN_SSH (the host's own OpenSSH configuration) is refused at run time, since a
//! task's sandbox does not see the host's configuration.

use super::{PropSpec, TaskKind, TaskType, prop, required};
use crate::shape::Shape;

const COMMAND_PROPS: &[PropSpec] = &[
    required("host", Shape::String),
    // A string in Kestra ("22"); a number is read the same.
    prop("port", Shape::Any),
    prop("username", Shape::String),
    prop("password", Shape::String),
    prop("privateKey", Shape::String),
    prop("privateKeyPassphrase", Shape::String),
    prop(
        "authMethod",
        Shape::OneOf(&["PASSWORD", "PUBLIC_KEY", "OPEN_SSH"]),
    ),
    prop("openSSHConfigDir", Shape::String),
    required("commands", Shape::StringList),
    prop("strictHostKeyChecking", Shape::OneOf(&["yes", "no", "ask"])),
    prop("env", Shape::Map),
    // Deprecated in Kestra ("not used anymore"); stderr lines are warnings either way.
    prop("warningOnStdErr", Shape::Bool),
    prop("enableSshRsa1", Shape::Bool),
];

pub const SSH_TASKS: &[TaskType] = &[TaskType {
    name: "io.kestra.plugin.fs.ssh.Command",
    aliases: &[],
    kind: TaskKind::SshCommand,
    props: COMMAND_PROPS,
}];
