//! The tool tasks (`saker_model::catalog::tool_tasks`): the other languages of Kestra's
//! script plugin, Kestra's older Bash task and the plugins wrapping a command-line tool. One
//! table says, per type, what it runs (its commands, or its script through a program), the
//! program it cannot run without, and what its own properties add to the process (variables,
//! files); the process itself is the script tasks' (`super::shell::run_process`): same
//! confinement, output protocol, masking and files.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::process_setup::{Extras, Program, ScriptFile};
use super::shell::{ProcessSpec, run_process};
use super::{RunFuture, TaskContext, TaskError, TaskRunner};

/// A tool task type's runner.
struct Tool {
    spec: ProcessSpec,
    /// What the type's own properties add to the process.
    extras: fn(&mut TaskContext) -> Result<Extras, TaskError>,
}

impl TaskRunner for Tool {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let extras = (self.extras)(ctx)?;
            run_process(ctx, self.spec, extras).await
        })
    }
}

/// A language of `io.kestra.plugin.scripts`: its package name, how a script runs, and the
/// program that takes.
struct Language {
    package: &'static str,
    script: ScriptFile,
    program: Program,
}

const fn language(
    package: &'static str,
    extension: &'static str,
    launch: &'static str,
    names: &'static [&'static str],
    install: &'static str,
) -> Language {
    Language {
        package,
        script: ScriptFile { extension, launch },
        program: Program { names, install },
    }
}

const LANGUAGES: &[Language] = &[
    language(
        "ruby",
        "rb",
        "ruby '{file}'",
        &["ruby"],
        "install Ruby (Debian: apt-get install ruby)",
    ),
    language(
        "perl",
        "pl",
        "perl '{file}'",
        &["perl"],
        "install Perl (Debian: apt-get install perl)",
    ),
    language(
        "php",
        "php",
        "php '{file}'",
        &["php"],
        "install PHP's command line (Debian: apt-get install php-cli)",
    ),
    language(
        "lua",
        "lua",
        "\"$(command -v lua || command -v lua5.4 || command -v lua5.3 || echo lua)\" '{file}'",
        &["lua", "lua5.4", "lua5.3"],
        "install Lua (Debian: apt-get install lua5.4)",
    ),
    language(
        "r",
        "R",
        "Rscript '{file}'",
        &["Rscript"],
        "install R (Debian: apt-get install r-base-core)",
    ),
    language(
        "julia",
        "jl",
        "julia '{file}'",
        &["julia"],
        "install Julia (https://julialang.org/downloads/)",
    ),
    language(
        "go",
        "go",
        "go run '{file}'",
        &["go"],
        "install Go (Debian: apt-get install golang-go)",
    ),
    language(
        "deno",
        "ts",
        "deno run '{file}'",
        &["deno"],
        "install Deno (https://deno.com/)",
    ),
    language(
        "bun",
        "ts",
        "bun run '{file}'",
        &["bun"],
        "install Bun (https://bun.sh/)",
    ),
    language(
        "powershell",
        "ps1",
        "pwsh -NoProfile -NonInteractive -File '{file}'",
        &["pwsh"],
        "install PowerShell (https://learn.microsoft.com/powershell/scripting/install/installing-powershell-on-linux)",
    ),
];

/// The command-line tools the wrapper plugins run.
pub(super) const DBT: Program = Program {
    names: &["dbt"],
    install: "install dbt with its adapter (`pip install dbt-core dbt-duckdb` in a venv) and \
              add the venv to SAKER_TOOL_DIRS",
};
const AWS: Program = Program {
    names: &["aws"],
    install: "install the AWS CLI (`pip install awscli` in a venv, added to SAKER_TOOL_DIRS)",
};
const GCLOUD: Program = Program {
    names: &["gcloud"],
    install: "install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install)",
};
const ANSIBLE: Program = Program {
    names: &["ansible-playbook", "ansible"],
    install: "install Ansible (`pip install ansible-core` in a venv, added to SAKER_TOOL_DIRS)",
};
const TERRAFORM: Program = Program {
    names: &["terraform"],
    install: "install Terraform (https://developer.hashicorp.com/terraform/install)",
};

/// The runners of every tool task type, by canonical name.
pub(super) fn runners() -> Vec<(&'static str, Arc<dyn TaskRunner>)> {
    let mut out: Vec<(&'static str, Arc<dyn TaskRunner>)> = Vec::new();
    for type_ in saker_model::catalog::tool_tasks() {
        let tool = match type_.name.strip_prefix("io.kestra.plugin.scripts.") {
            Some(rest) => language_tool(rest),
            None => wrapper_tool(type_.name),
        };
        if let Some(tool) = tool {
            out.push((type_.name, Arc::new(tool)));
        }
    }
    out
}

/// `ruby.Script`, `ruby.Commands`, ...
fn language_tool(rest: &str) -> Option<Tool> {
    let (package, kind) = rest.split_once('.')?;
    let language = LANGUAGES.iter().find(|l| l.package == package)?;
    let spec = match kind {
        "Script" => ProcessSpec {
            script: Some(Some(language.script)),
            program: Some(language.program),
        },
        // Commands run whatever they name, through the shell.
        _ => ProcessSpec {
            script: None,
            program: None,
        },
    };
    Some(Tool {
        spec,
        extras: no_extras,
    })
}

fn wrapper_tool(name: &str) -> Option<Tool> {
    let (program, extras): (Option<Program>, fn(&mut TaskContext) -> _) = match name {
        "io.kestra.core.tasks.scripts.Bash" => (None, bash_extras),
        "io.kestra.plugin.dbt.cli.DbtCLI" => (Some(DBT), dbt_extras),
        "io.kestra.plugin.aws.cli.AwsCLI" => (Some(AWS), aws_extras),
        "io.kestra.plugin.gcp.cli.GCloudCLI" => (Some(GCLOUD), gcloud_extras),
        "io.kestra.plugin.ansible.cli.AnsibleCLI" => (Some(ANSIBLE), ansible_extras),
        "io.kestra.plugin.terraform.cli.TerraformCLI" => (Some(TERRAFORM), no_extras),
        // dbt's own path may be given (dbtPath): its extras look for dbt when it is not.
        _ if super::dbt::COMMANDS.iter().any(|(n, _)| *n == name) => (None, super::dbt::extras),
        _ => return None,
    };
    Some(Tool {
        spec: ProcessSpec {
            script: None,
            program,
        },
        extras,
    })
}

fn no_extras(_: &mut TaskContext) -> Result<Extras, TaskError> {
    Ok(Extras::default())
}

/// A string property handed to the process, `None` when absent or empty.
fn rendered(ctx: &mut TaskContext, name: &str) -> Result<Option<String>, TaskError> {
    let text = ctx.render_for_process(name)?.concat();
    Ok(Some(text).filter(|t| !t.is_empty()))
}

/// Kestra's old Bash: `interpreter` (default `/bin/sh`) and `interpreterArgs` (default
/// `-c`), `exitOnFailed` (default true), and the line counts among the outputs. Its output
/// files are names (`outputFiles`, and the older `outputsFiles` and `files`): the commands
/// write `{{ outputFiles.<name> }}`, a file of the working directory stored as the
/// `outputFiles.<name>` output.
fn bash_extras(ctx: &mut TaskContext) -> Result<Extras, TaskError> {
    let mut extras = bash_output_files(ctx)?;
    let interpreter = rendered(ctx, "interpreter")?.unwrap_or_else(|| "/bin/sh".into());
    let mut args = ctx.render_for_process("interpreterArgs")?;
    if ctx.property("interpreterArgs").is_none() {
        args.push("-c".into());
    }
    let fail_fast = ctx
        .render_string("exitOnFailed")?
        .is_none_or(|v| crate::task_context::is_truthy(&v));
    let mut full = vec![interpreter];
    full.extend(args);
    extras.interpreter = Some(full);
    extras.fail_fast = Some(fail_fast);
    extras.line_counts = true;
    Ok(extras)
}

/// The old Bash task's output file names: `{{ outputFiles.<name> }}` in its commands becomes
/// the file's path in the working directory (through `$WORKING_DIR`, which the process has),
/// and the files of `outputsFiles` and `files` are kept like those of `outputFiles`, which
/// the script tasks' machinery already stores under their names.
fn bash_output_files(ctx: &mut TaskContext) -> Result<Extras, TaskError> {
    static REFERENCE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let reference = REFERENCE.get_or_init(|| {
        regex::Regex::new(r"\{\{\s*outputFiles\.([A-Za-z0-9_.-]+)\s*\}\}").expect("valid")
    });
    let mut extras = Extras::default();
    for property in ["outputsFiles", "files"] {
        for name in ctx.render_string_or_list(property)? {
            crate::files::relative_path(property, &name)?;
            extras.artifacts.push((name.clone(), name));
        }
    }
    let sources: Vec<String> = match ctx.property("commands") {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        Some(serde_json::Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    };
    if sources.iter().any(|s| reference.is_match(s)) {
        let mut commands = Vec::with_capacity(sources.len());
        for (i, source) in sources.iter().enumerate() {
            let source = reference.replace_all(source, "$${WORKING_DIR}/$1");
            let place = format!("commands[{i}]");
            commands.push(ctx.render_file_for_process(&place, &source)?.text);
        }
        extras.commands = Some(commands);
    }
    Ok(extras)
}

/// dbt: `profiles` becomes `profiles.yml` in the working directory, where dbt looks first;
/// `logFormat` (JSON, TEXT, DEBUG) is added to each `dbt` command as `--log-format`, as
/// Kestra does. Kestra's default is JSON, which it turns back into log lines; Saker logs what
/// dbt prints, so without the property dbt keeps its own text format.
fn dbt_extras(ctx: &mut TaskContext) -> Result<Extras, TaskError> {
    let mut extras = Extras::default();
    let format = ctx
        .render_string("logFormat")?
        .map(|f| f.to_ascii_lowercase())
        .filter(|f| f != "none");
    if let Some(format) = format {
        let commands = ctx.render_for_process("commands")?;
        let with_format = commands
            .into_iter()
            .map(|c| match c.split_whitespace().next() {
                Some("dbt") => format!("{c} --log-format {format}"),
                _ => c,
            })
            .collect();
        extras.commands = Some(with_format);
    }
    if let Some(profiles) = rendered(ctx, "profiles")? {
        extras
            .files
            .push(("profiles.yml".into(), Zeroizing::new(profiles)));
    }
    Ok(extras)
}

/// The AWS CLI's variables, as Kestra sets them; the task's `env` overrides them.
fn aws_extras(ctx: &mut TaskContext) -> Result<Extras, TaskError> {
    let mut extras = Extras::default();
    for (property, variable) in [
        ("accessKeyId", "AWS_ACCESS_KEY_ID"),
        ("secretKeyId", "AWS_SECRET_ACCESS_KEY"),
        ("region", "AWS_DEFAULT_REGION"),
        ("sessionToken", "AWS_SESSION_TOKEN"),
        ("endpointOverride", "AWS_ENDPOINT_URL"),
    ] {
        if let Some(value) = rendered(ctx, property)? {
            extras.env.push((variable.into(), value));
        }
    }
    let format = ctx
        .render_string("outputFormat")?
        .unwrap_or_else(|| "JSON".into());
    extras
        .env
        .push(("AWS_DEFAULT_OUTPUT".into(), format.to_ascii_lowercase()));
    Ok(extras)
}

/// gcloud: the service account key goes to a file (removed after the run) that gcloud and
/// Google's client libraries use as their credentials; `projectId` is gcloud's project.
fn gcloud_extras(ctx: &mut TaskContext) -> Result<Extras, TaskError> {
    const KEY_FILE: &str = ".gcloud-service-account.json";
    let mut extras = Extras::default();
    if let Some(key) = rendered(ctx, "serviceAccount")? {
        extras.files.push((KEY_FILE.into(), Zeroizing::new(key)));
        for variable in [
            "GOOGLE_APPLICATION_CREDENTIALS",
            "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE",
        ] {
            extras
                .env_in_workdir
                .push((variable.into(), KEY_FILE.into()));
        }
    }
    if let Some(project) = rendered(ctx, "projectId")? {
        extras.env.push(("CLOUDSDK_CORE_PROJECT".into(), project));
    }
    Ok(extras)
}

/// Ansible: `ansibleConfig` becomes `ansible.cfg`, named by `ANSIBLE_CONFIG` (Ansible ignores
/// a configuration file in a world-writable current directory).
fn ansible_extras(ctx: &mut TaskContext) -> Result<Extras, TaskError> {
    let mut extras = Extras::default();
    if let Some(config) = rendered(ctx, "ansibleConfig")? {
        extras
            .files
            .push(("ansible.cfg".into(), Zeroizing::new(config)));
        extras
            .env_in_workdir
            .push(("ANSIBLE_CONFIG".into(), "ansible.cfg".into()));
    }
    Ok(extras)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_type_of_the_catalog_has_a_runner() {
        let names: Vec<&str> = runners().into_iter().map(|(n, _)| n).collect();
        let catalog: Vec<&str> = saker_model::catalog::tool_tasks().map(|t| t.name).collect();
        assert_eq!(names, catalog);
    }
}
