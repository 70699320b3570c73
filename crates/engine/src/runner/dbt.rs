//! dbt's command tasks (`io.kestra.plugin.dbt.cli.{Build, Run, Test, ...}`): each runs one
//! dbt command whose line Kestra builds from the task's properties, as Kestra's
//! `AbstractDbt`/`AbstractRun` do: `profiles` goes to `.profile/profiles.yml`, passed with
//! `--profiles-dir`, the project is the working directory (or `projectDir` in it), and the
//! `target/run_results.json` and `target/manifest.json` dbt writes become the
//! `run_results.json` and `manifest.json` entries of `outputFiles`. Unlike Kestra, dbt's
//! log lines are kept as dbt prints them (no `--log-format json`, which Saker does not parse).

use zeroize::Zeroizing;

use super::process_setup::{self, Extras, find_program};
use super::{TaskContext, TaskError};

/// The dbt command of each task type.
pub(super) const COMMANDS: &[(&str, &str)] = &[
    ("io.kestra.plugin.dbt.cli.Build", "build"),
    ("io.kestra.plugin.dbt.cli.Run", "run"),
    ("io.kestra.plugin.dbt.cli.Test", "test"),
    ("io.kestra.plugin.dbt.cli.Seed", "seed"),
    ("io.kestra.plugin.dbt.cli.Snapshot", "snapshot"),
    ("io.kestra.plugin.dbt.cli.Compile", "compile"),
    ("io.kestra.plugin.dbt.cli.List", "list"),
    ("io.kestra.plugin.dbt.cli.Deps", "deps"),
    ("io.kestra.plugin.dbt.cli.Freshness", "source freshness"),
];

/// The command line of the dbt task `ctx` runs, and the files it needs and leaves.
pub(super) fn extras(ctx: &mut TaskContext) -> Result<Extras, TaskError> {
    let type_name = ctx.task().type_name.clone();
    let command = COMMANDS
        .iter()
        .find(|(name, _)| *name == type_name)
        .map(|(_, command)| *command)
        .ok_or_else(|| TaskError::Failed(format!("{type_name} is not a dbt command task")))?;
    let mut extras = Extras::default();
    let dbt = match ctx.render_for_process("dbtPath")?.concat() {
        path if !path.is_empty() => quote(&path),
        _ => {
            find_program(&type_name, &super::tools::DBT, &process_setup::tool_dirs())?;
            "dbt".to_owned()
        }
    };
    let mut line = vec![dbt];
    for (property, flag) in [
        ("debug", "--debug"),
        ("failFast", "--fail-fast"),
        ("warnError", "--warn-error"),
    ] {
        if flag_set(ctx, property)? {
            line.push(flag.to_owned());
        }
    }
    line.push(command.to_owned());
    line.push("--profiles-dir \"$WORKING_DIR/.profile\"".to_owned());
    if let Some(threads) = ctx.render_string("thread")? {
        line.push(format!("--threads {}", quote(&threads)));
    }
    if flag_set(ctx, "fullRefresh")? {
        line.push("--full-refresh".to_owned());
    }
    for (property, flag) in [("target", "--target"), ("selector", "--selector")] {
        let value = ctx.render_for_process(property)?.concat();
        if !value.is_empty() {
            line.push(format!("{flag} {}", quote(&value)));
        }
    }
    for (property, flag) in [("select", "--select"), ("exclude", "--exclude")] {
        let values = ctx.render_for_process(property)?;
        if !values.is_empty() {
            let quoted: Vec<String> = values.iter().map(|v| quote(v)).collect();
            line.push(format!("{flag} {}", quoted.join(" ")));
        }
    }
    let project = ctx.render_for_process("projectDir")?.concat();
    let project = project.trim_matches('/');
    line.push(if project.is_empty() {
        "--project-dir \"$WORKING_DIR\"".to_owned()
    } else {
        format!("--project-dir \"$WORKING_DIR\"/{}", quote(project))
    });
    extras.commands = Some(vec![line.join(" ")]);
    // One command: Kestra's failFast is dbt's flag, not the shell's.
    extras.fail_fast = Some(true);

    if let Some(profiles) =
        Some(ctx.render_for_process("profiles")?.concat()).filter(|p| !p.is_empty())
    {
        extras
            .files
            .push((".profile/profiles.yml".into(), Zeroizing::new(profiles)));
    }
    let target = if project.is_empty() {
        "target".to_owned()
    } else {
        format!("{project}/target")
    };
    let parse_results = ctx
        .render_string("parseRunResults")?
        .is_none_or(|v| crate::task_context::is_truthy(&v));
    if parse_results && !matches!(command, "deps" | "source freshness") {
        extras.artifacts.push((
            "run_results.json".into(),
            format!("{target}/run_results.json"),
        ));
    }
    if command != "deps" {
        extras
            .artifacts
            .push(("manifest.json".into(), format!("{target}/manifest.json")));
    }
    Ok(extras)
}

fn flag_set(ctx: &mut TaskContext, property: &str) -> Result<bool, TaskError> {
    Ok(ctx
        .render_string(property)?
        .is_some_and(|v| crate::task_context::is_truthy(&v)))
}

/// `text` as one shell word.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_single_shell_words() {
        assert_eq!(quote("tag:nightly"), "'tag:nightly'");
        assert_eq!(quote("it's; rm -rf /"), r"'it'\''s; rm -rf /'");
    }
}
