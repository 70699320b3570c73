//! `io.kestra.plugin.scripts.shell.Commands`: runs the rendered commands with `/bin/sh` on the
//! worker's host (Kestra's `Process` task runner). Each line of stdout and stderr becomes a
//! log line (through the masker), a `::{"outputs":{...}}::` line sets output variables as in
//! Kestra, and a non-zero exit status fails the task.
//!
//! The child gets the worker's environment minus every variable that could carry a secret or
//! Saker's own configuration (`SECRET_*`, `SAKER_*`, `KESTRA_*`), plus the task's `env`.

use std::process::Stdio;

use saker_model::Level;
use serde_json::{Map, Value};
use tokio::io::{AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

pub struct Commands;

/// Environment variables never passed to a child process.
const HIDDEN_ENV_PREFIXES: [&str; 3] = ["SECRET_", "SAKER_", "KESTRA_"];

/// A line longer than this is logged in pieces, so one endless line cannot exhaust memory.
const MAX_LINE_BYTES: usize = 64 * 1024;

impl TaskRunner for Commands {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(run_commands(ctx))
    }
}

async fn run_commands(ctx: &mut TaskContext) -> Result<TaskOutcome, TaskError> {
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
    let before = ctx.render_string_or_list("beforeCommands")?;
    let commands = ctx.render_string_or_list("commands")?;
    if commands.is_empty() {
        return Err(TaskError::Property {
            property: "commands".into(),
            message: "at least one command is required".into(),
        });
    }
    let fail_fast = ctx
        .render_string("failFast")?
        .is_none_or(|v| crate::task_context::is_truthy(&v));
    let warning_on_stderr = ctx
        .render_string("warningOnStdErr")?
        .is_some_and(|v| crate::task_context::is_truthy(&v));
    let interpreter = ctx.render_string_or_list("interpreter")?;
    let env = ctx.render_string_map("env")?;

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
    let workdir = tempfile::tempdir()
        .map_err(|e| TaskError::Failed(format!("cannot create a working directory: {e}")))?;
    let mut command = Command::new(&program);
    command
        .args(&args)
        .arg(&script)
        .current_dir(workdir.path())
        .env_clear()
        .envs(std::env::vars().filter(|(k, _)| {
            !HIDDEN_ENV_PREFIXES
                .iter()
                .any(|p| k.to_ascii_uppercase().starts_with(p))
        }))
        .env("WORKING_DIR", workdir.path())
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|e| TaskError::Failed(format!("cannot start '{program}': {e}")))?;

    let (tx, mut rx) = mpsc::channel::<(bool, String)>(256);
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let out_reader = tokio::spawn(read_lines(stdout, false, tx.clone()));
    let err_reader = tokio::spawn(read_lines(stderr, true, tx));

    let mut vars = Map::new();
    let mut saw_stderr = false;
    let cancel = ctx.cancellation();
    let mut flush = tokio::time::interval(crate::logs::FLUSH_INTERVAL);
    let status = loop {
        tokio::select! {
            _ = flush.tick() => ctx.flush_logs(),
            line = rx.recv() => match line {
                Some((is_err, line)) => {
                    saw_stderr |= is_err;
                    if let Some(found) = parse_outputs_line(&line) {
                        vars.extend(found);
                        continue;
                    }
                    ctx.log(if is_err { Level::Warn } else { Level::Info }, &line);
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
    Ok(TaskOutcome {
        outputs,
        warning: warning_on_stderr && saw_stderr,
    })
}

/// Sends each line of `stream` (split at [`MAX_LINE_BYTES`]) to `tx`.
async fn read_lines(
    stream: impl AsyncRead + Unpin,
    is_err: bool,
    tx: mpsc::Sender<(bool, String)>,
) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let mut limited = (&mut reader).take(MAX_LINE_BYTES as u64);
        match tokio::io::AsyncBufReadExt::read_until(&mut limited, b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    buf.pop();
                }
                let line = String::from_utf8_lossy(&buf).into_owned();
                if tx.send((is_err, line)).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Kestra's output protocol: a line `::{"outputs":{"k":"v"}}::` sets output variables.
fn parse_outputs_line(line: &str) -> Option<Map<String, Value>> {
    let inner = line.trim().strip_prefix("::")?.strip_suffix("::")?;
    let parsed: Value = serde_json::from_str(inner).ok()?;
    match parsed.get("outputs")? {
        Value::Object(map) => Some(map.clone()),
        _ => None,
    }
}

use tokio::io::AsyncReadExt as _;

#[cfg(test)]
mod tests {
    use super::parse_outputs_line;

    #[test]
    fn outputs_lines_are_recognised() {
        let found = parse_outputs_line(r#"::{"outputs":{"a":1,"b":"x"}}::"#).unwrap();
        assert_eq!(found["a"], 1);
        assert_eq!(found["b"], "x");
        assert!(parse_outputs_line("::not json::").is_none());
        assert!(parse_outputs_line(r#"{"outputs":{"a":1}}"#).is_none());
    }
}
