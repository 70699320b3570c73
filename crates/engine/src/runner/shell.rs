//! Kestra's script tasks (`io.kestra.plugin.scripts.{shell,python,node}.{Commands,Script}`):
//! runs the rendered `beforeCommands` and then the `commands` (or the `script`, written to a
//! file for Python and Node) with `/bin/sh` on the worker's host (Kestra's `Process` task
//! runner). Each line of stdout and stderr becomes a log line (through the masker), a
//! `::{...}::` line is a message of Kestra's output protocol (`super::protocol`: outputs,
//! logs, metrics), and a non-zero exit status fails the task.
//!
//! The process runs confined (`saker_confine`, through [`TaskContext::sandbox`]): its own
//! PID and mount namespaces, a fresh working directory removed when the attempt ends, and an
//! allowlisted environment plus the task's `env`; it cannot see Saker's process, data
//! directory, keys or configuration.
//!
//! Files (`crate::files`): `namespaceFiles` and `inputFiles` are written into the working
//! directory before the process starts; after it succeeds, the files `outputFiles` matches
//! are stored and listed in the `outputFiles` output (name → `kestra:///` URI).

use std::process::Stdio;

use saker_model::Level;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::process_lines::{Line, read_lines};
use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner, protocol, script_context};
use crate::files::{collect_output_files, stage_input_files, stage_namespace_files};

/// The `Commands` task of every language: the language changes nothing in how commands run.
pub struct Commands;

/// A `Script` task: its `script` property holds the program.
pub struct Script(pub Language);

/// The language of a [`Script`].
#[derive(Debug, Clone, Copy)]
pub enum Language {
    /// Run inline by the interpreter, as the commands are.
    Shell,
    /// Written to a `.py` file run by `python3` (or `python` when only that is installed).
    Python,
    /// Written to a `.js` file run by `node`.
    Node,
}

impl Language {
    /// The file a script is written to and the shell command running it; `None` when the
    /// script runs inline. `name` is Saker's own, so the file name needs no quoting.
    fn script_file(self, name: &str) -> Option<(String, String)> {
        let (extension, program) = match self {
            Self::Shell => return None,
            Self::Python => (
                "py",
                "\"$(command -v python3 || command -v python || echo python3)\"",
            ),
            Self::Node => ("js", "node"),
        };
        let file = format!("{name}.{extension}");
        let launch = format!("{program} '{file}'");
        Some((file, launch))
    }
}

impl TaskRunner for Commands {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(run_process(ctx, None))
    }
}

impl TaskRunner for Script {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(run_process(ctx, Some(self.0)))
    }
}

/// Runs a `Commands` task (`script` is `None`) or a `Script` task of that language.
async fn run_process(
    ctx: &mut TaskContext,
    script: Option<Language>,
) -> Result<TaskOutcome, TaskError> {
    if let Some(runner) = ctx.property("taskRunner") {
        let kind = runner.get("type").and_then(Value::as_str).unwrap_or("");
        if !kind.ends_with("runner.Process") {
            return Err(TaskError::Property {
                property: "taskRunner".into(),
                message: format!(
                    "task runner '{kind}' is not yet available in Saker; only io.kestra.plugin.core.runner.Process is"
                ),
            });
        }
    }
    refuse_dependencies(ctx)?;
    if let Some(image) = ctx.render_string("containerImage")? {
        ctx.log(
            Level::Warn,
            &format!(
                "containerImage '{image}' is not used: the Process task runner runs the \
                 commands on the worker's host, confined, with the programs installed there"
            ),
        );
    }
    let before = ctx.render_for_process("beforeCommands")?;
    // A Python or Node script goes to a file, written once the directory exists.
    let mut script_file = None;
    let commands = match script {
        None => ctx.render_for_process("commands")?,
        Some(language) => {
            let text = ctx.render_for_process("script")?.concat();
            let name = format!("script-{}", uuid::Uuid::new_v4().simple());
            match language.script_file(&name) {
                None => vec![text],
                Some((file, launch)) => {
                    script_file = Some((file, zeroize::Zeroizing::new(text)));
                    vec![launch]
                }
            }
        }
    };
    if commands.iter().all(|c| c.trim().is_empty()) {
        let property = if script.is_some() {
            "script"
        } else {
            "commands"
        };
        return Err(TaskError::Property {
            property: property.into(),
            message: "it is empty: give the task something to run".into(),
        });
    }
    let fail_fast = ctx
        .render_string("failFast")?
        .is_none_or(|v| crate::task_context::is_truthy(&v));
    let warning_on_stderr = ctx
        .render_string("warningOnStdErr")?
        .is_some_and(|v| crate::task_context::is_truthy(&v));
    let interpreter = ctx.render_for_process("interpreter")?;
    let env = ctx.render_map_for_process("env")?;

    let mut script = String::new();
    if fail_fast {
        script.push_str("set -e\n");
    }
    for line in before.iter().chain(commands.iter()) {
        script.push_str(line);
        script.push('\n');
    }

    let (program, args) = match interpreter.split_first() {
        Some((program, args)) => (program.clone(), args.to_vec()),
        None => ("/bin/sh".to_owned(), vec!["-c".to_owned()]),
    };
    // Declared before the child: dropped after it (a child dropped on timeout is killed
    // first, then its directory goes).
    let workdir = ctx
        .sandbox()?
        .work_dir()
        .map_err(|e| TaskError::Failed(e.to_string()))?;
    let dir = workdir.host_path().to_path_buf();
    // Namespace files first: an inputFiles entry of the same name replaces one.
    if let Some(value) = ctx.property("namespaceFiles").cloned() {
        stage_namespace_files(ctx, &dir, &value)?;
    }
    if let Some(value) = ctx.property("inputFiles").cloned() {
        stage_input_files(ctx, &dir, &value)?;
    }
    // Kestra's execution context, for the `kestra` package's `kestra.context`.
    let context = script_context::build(|name| ctx.variable(name));
    tokio::fs::write(dir.join(script_context::FILE_NAME), context.to_string())
        .await
        .map_err(|e| TaskError::Failed(format!("writing the execution context failed: {e}")))?;
    if let Some((file, text)) = &script_file {
        tokio::fs::write(dir.join(file), text.as_bytes())
            .await
            .map_err(|e| TaskError::Failed(format!("writing the script file failed: {e}")))?;
    }
    let mut args = args;
    args.push(script);
    let mut command = ctx
        .sandbox()?
        .command(&workdir, &program, &args, &env)
        .map_err(|e| TaskError::Failed(e.to_string()))?;
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .await
        .map_err(|e| TaskError::Failed(e.to_string()))?;

    let (tx, mut rx) = mpsc::channel::<Line>(256);
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let masks = ctx.mask_set();
    let out_reader = tokio::spawn(read_lines(stdout, false, tx.clone(), masks.clone()));
    let err_reader = tokio::spawn(read_lines(stderr, true, tx, masks));

    let mut vars = Map::new();
    let mut saw_stderr = false;
    let cancel = ctx.cancellation();
    let mut flush = tokio::time::interval(crate::logs::FLUSH_INTERVAL);
    let status = loop {
        tokio::select! {
            _ = flush.tick() => ctx.flush_logs(),
            line = rx.recv() => match line {
                Some(line) => {
                    saw_stderr |= line.is_err;
                    if !line.piece && let Some(message) = protocol::parse_line(&line.text) {
                        vars.extend(message.outputs);
                        for (level, text) in message.logs {
                            ctx.log(level, &text);
                        }
                        for text in message.metrics {
                            ctx.log(Level::Debug, &text);
                        }
                        continue;
                    }
                    ctx.log(if line.is_err { Level::Warn } else { Level::Info }, &line.text);
                }
                None => break child.wait().await,
            },
            _ = cancel.cancelled() => {
                let _ = child.kill().await;
                return Err(TaskError::Killed("the command was killed".into()));
            }
        }
    }
    .map_err(|e| TaskError::Failed(format!("waiting for the command failed: {e}")))?;
    let _ = out_reader.await;
    let _ = err_reader.await;
    // What Saker put there for the process is not the task's output: gone before
    // `outputFiles` is matched (and before the next task of a shared directory).
    let _ = tokio::fs::remove_file(dir.join(script_context::FILE_NAME)).await;
    if let Some((file, _)) = &script_file {
        let _ = tokio::fs::remove_file(dir.join(file)).await;
    }

    let code = status.code().unwrap_or(-1);
    let mut outputs = Map::new();
    outputs.insert("exitCode".into(), Value::from(code));
    outputs.insert("vars".into(), Value::Object(vars));
    if !status.success() {
        return Err(TaskError::Failed(match status.code() {
            Some(code) => format!("command failed with exit code {code}"),
            None => "command was killed by a signal".to_owned(),
        }));
    }
    if let Some(value) = ctx.property("outputFiles").cloned() {
        let files = collect_output_files(ctx, &dir, &value)?;
        outputs.insert("outputFiles".into(), Value::Object(files));
    }
    Ok(TaskOutcome {
        outputs,
        warning: warning_on_stderr && saw_stderr,
        ..TaskOutcome::default()
    })
}

/// Python's `dependencies` would need a package installer and network access in the task's
/// sandbox; until Saker has both, a task that lists some is refused, saying what to do.
fn refuse_dependencies(ctx: &mut TaskContext) -> Result<(), TaskError> {
    let listed = ctx.render_string_or_list("dependencies")?;
    if listed.iter().any(|d| !d.trim().is_empty()) {
        return Err(TaskError::Property {
            property: "dependencies".into(),
            message: "installing Python packages for a task is not yet available in Saker: \
                      install them on the worker's host (the task's sandbox sees its system \
                      directories read-only) and remove this property"
                .into(),
        });
    }
    Ok(())
}
