//! Tasks that run a command-line program, built on the script tasks (`catalog/scripts.rs`):
//! the other languages of Kestra's `io.kestra.plugin.scripts` (each a `Script` and a
//! `Commands`), Kestra's older `io.kestra.core.tasks.scripts.Bash`, and the plugins that wrap
//! a command-line tool (dbt, the AWS CLI, gcloud, Ansible, Terraform). They share the script
//! tasks' properties and outputs (`vars`, `exitCode`, `outputFiles`); a wrapper adds the
//! properties it turns into the tool's files and variables.

use super::scripts::{COMMANDS, SCRIPT, script_props};
use super::{PropSpec, TaskKind, TaskType, prop};
use crate::shape::Shape;

const LANGUAGE_SCRIPT_PROPS: &[PropSpec] = script_props!(SCRIPT);
const LANGUAGE_COMMANDS_PROPS: &[PropSpec] = script_props!(COMMANDS);

/// A language's `Script` and `Commands`, with Saker's short aliases (`ruby.Script`).
macro_rules! language {
    ($lang:literal) => {
        [
            TaskType {
                name: concat!("io.kestra.plugin.scripts.", $lang, ".Script"),
                aliases: &[concat!($lang, ".Script")],
                kind: TaskKind::LanguageScript,
                props: LANGUAGE_SCRIPT_PROPS,
            },
            TaskType {
                name: concat!("io.kestra.plugin.scripts.", $lang, ".Commands"),
                aliases: &[concat!($lang, ".Commands")],
                kind: TaskKind::LanguageCommands,
                props: LANGUAGE_COMMANDS_PROPS,
            },
        ]
    };
}

const RUBY: [TaskType; 2] = language!("ruby");
const PERL: [TaskType; 2] = language!("perl");
const PHP: [TaskType; 2] = language!("php");
const LUA: [TaskType; 2] = language!("lua");
const R: [TaskType; 2] = language!("r");
const JULIA: [TaskType; 2] = language!("julia");
const GO: [TaskType; 2] = language!("go");
const DENO: [TaskType; 2] = language!("deno");
const BUN: [TaskType; 2] = language!("bun");
const POWERSHELL: [TaskType; 2] = language!("powershell");

/// Kestra's `io.kestra.core.tasks.scripts.Bash` (before 0.17): the interpreter is a string
/// plus `interpreterArgs`, `exitOnFailed` is `failFast`, output files are names the commands
/// reach as `{{ outputFiles.<name> }}` (also `outputsFiles` and `files`, older still), and
/// its outputs add the line counts.
const BASH_PROPS: &[PropSpec] = &[
    COMMANDS,
    prop("interpreter", Shape::String),
    prop("interpreterArgs", Shape::StringList),
    prop("exitOnFailed", Shape::Bool),
    prop("env", Shape::Map),
    prop("inputFiles", Shape::Any),
    prop("outputFiles", Shape::StringList),
    prop("outputsFiles", Shape::StringList),
    prop("files", Shape::StringList),
    prop("namespaceFiles", Shape::Map),
    prop("warningOnStdErr", Shape::Bool),
    prop("runner", Shape::OneOf(&["PROCESS", "DOCKER"])),
    prop("dockerOptions", Shape::Map),
];

/// dbt: `profiles` is the content of `profiles.yml`, written into the working directory.
/// `parseRunResults` is accepted; Saker logs dbt's own output and makes no task runs of it.
/// `engine` (CORE, FUSION) only chooses Kestra's default container image.
const DBT_PROPS: &[PropSpec] = script_props!(
    COMMANDS,
    prop("profiles", Shape::String),
    prop("projectDir", Shape::String),
    prop("parseRunResults", Shape::Bool),
    prop(
        "logFormat",
        Shape::OneOf(&["JSON", "TEXT", "DEBUG", "NONE"])
    ),
    prop("engine", Shape::OneOf(&["CORE", "FUSION"])),
);

/// dbt's command tasks (Kestra's `AbstractDbt` and `AbstractRun`): the command line is built
/// from these. `profiles` is written to `.profile/profiles.yml`.
const DBT_COMMAND_PROPS: &[PropSpec] = &[
    prop("failFast", Shape::Bool),
    prop("warnError", Shape::Bool),
    prop("debug", Shape::Bool),
    prop("projectDir", Shape::String),
    prop("dbtPath", Shape::String),
    prop("profiles", Shape::String),
    prop("parseRunResults", Shape::Bool),
    prop("thread", Shape::Int),
    prop("fullRefresh", Shape::Bool),
    prop("target", Shape::String),
    prop("selector", Shape::String),
    prop("select", Shape::StringList),
    prop("exclude", Shape::StringList),
    prop("env", Shape::Map),
    prop("inputFiles", Shape::Any),
    prop("outputFiles", Shape::StringList),
    prop("namespaceFiles", Shape::Map),
    prop("taskRunner", Shape::Map),
    prop("containerImage", Shape::String),
    prop("runner", Shape::OneOf(&["PROCESS", "DOCKER"])),
    prop("docker", Shape::Map),
    prop("dockerOptions", Shape::Map),
];

/// One of dbt's command tasks.
const fn dbt_command(name: &'static str) -> TaskType {
    TaskType {
        name,
        aliases: &[],
        kind: TaskKind::CliTool,
        props: DBT_COMMAND_PROPS,
    }
}

const DBT_COMMANDS: &[TaskType] = &[
    dbt_command("io.kestra.plugin.dbt.cli.Build"),
    dbt_command("io.kestra.plugin.dbt.cli.Run"),
    dbt_command("io.kestra.plugin.dbt.cli.Test"),
    dbt_command("io.kestra.plugin.dbt.cli.Seed"),
    dbt_command("io.kestra.plugin.dbt.cli.Snapshot"),
    dbt_command("io.kestra.plugin.dbt.cli.Compile"),
    dbt_command("io.kestra.plugin.dbt.cli.List"),
    dbt_command("io.kestra.plugin.dbt.cli.Deps"),
    dbt_command("io.kestra.plugin.dbt.cli.Freshness"),
];

/// The AWS CLI: credentials, region and endpoint become its `AWS_*` variables.
const AWS_PROPS: &[PropSpec] = script_props!(
    COMMANDS,
    prop("accessKeyId", Shape::String),
    prop("secretKeyId", Shape::String),
    prop("sessionToken", Shape::String),
    prop("region", Shape::String),
    prop("endpointOverride", Shape::String),
    prop(
        "outputFormat",
        Shape::OneOf(&["JSON", "TEXT", "TABLE", "YAML"])
    ),
);

/// gcloud: `serviceAccount` is a key file's JSON content, `projectId` the default project.
const GCLOUD_PROPS: &[PropSpec] = script_props!(
    COMMANDS,
    prop("serviceAccount", Shape::String),
    prop("projectId", Shape::String),
);

/// Ansible: `ansibleConfig` is the content of `ansible.cfg`.
const ANSIBLE_PROPS: &[PropSpec] = script_props!(COMMANDS, prop("ansibleConfig", Shape::String));

const TERRAFORM_PROPS: &[PropSpec] = script_props!(COMMANDS);

const OTHER_TOOLS: &[TaskType] = &[
    TaskType {
        name: "io.kestra.core.tasks.scripts.Bash",
        aliases: &[],
        kind: TaskKind::LegacyBash,
        props: BASH_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.dbt.cli.DbtCLI",
        aliases: &[],
        kind: TaskKind::CliTool,
        props: DBT_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.aws.cli.AwsCLI",
        aliases: &[],
        kind: TaskKind::CliTool,
        props: AWS_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.gcp.cli.GCloudCLI",
        aliases: &[],
        kind: TaskKind::CliTool,
        props: GCLOUD_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.ansible.cli.AnsibleCLI",
        aliases: &[],
        kind: TaskKind::CliTool,
        props: ANSIBLE_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.terraform.cli.TerraformCLI",
        aliases: &[],
        kind: TaskKind::CliTool,
        props: TERRAFORM_PROPS,
    },
];

/// Every tool task type.
pub fn tool_tasks() -> impl Iterator<Item = &'static TaskType> {
    const LANGUAGES: &[[TaskType; 2]] =
        &[RUBY, PERL, PHP, LUA, R, JULIA, GO, DENO, BUN, POWERSHELL];
    LANGUAGES
        .iter()
        .flatten()
        .chain(OTHER_TOOLS)
        .chain(DBT_COMMANDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_a_script_and_commands_under_kestras_names() {
        let names: Vec<&str> = tool_tasks().map(|t| t.name).collect();
        for lang in [
            "ruby",
            "perl",
            "php",
            "lua",
            "r",
            "julia",
            "go",
            "deno",
            "bun",
            "powershell",
        ] {
            for kind in ["Script", "Commands"] {
                let name = format!("io.kestra.plugin.scripts.{lang}.{kind}");
                assert!(names.contains(&name.as_str()), "{name}");
                let t = super::super::task_type(&format!("{lang}.{kind}")).unwrap();
                assert_eq!(t.name, name);
            }
        }
        assert_eq!(names.len(), 35);
    }

    #[test]
    fn the_wrappers_keep_kestras_property_names() {
        let aws = super::super::task_type("io.kestra.plugin.aws.cli.AwsCLI").unwrap();
        for p in [
            "accessKeyId",
            "secretKeyId",
            "region",
            "endpointOverride",
            "commands",
        ] {
            assert!(aws.prop(p).is_some(), "{p}");
        }
        assert!(aws.prop("commands").unwrap().required);
        let bash = super::super::task_type("io.kestra.core.tasks.scripts.Bash").unwrap();
        assert_eq!(bash.prop("interpreter").unwrap().shape, Shape::String);
    }
}
