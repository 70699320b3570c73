//! `io.kestra.plugin.scripts.shell.Commands`: runs the rendered commands with `/bin/sh` on the
//! worker's host (Kestra's `Process` task runner). Each line of stdout and stderr becomes a
//! log line (through the masker), a `::{"outputs":{...}}::` line sets output variables as in
//! Kestra, and a non-zero exit status fails the task.
//!
//! The process runs confined (`saker_confine`, through [`TaskContext::sandbox`]): its own
//! PID and mount namespaces, a fresh working directory removed when the attempt ends, and an
//! allowlisted environment plus the task's `env`; it cannot see Saker's process, data
//! directory, keys or configuration.

use std::process::Stdio;

use saker_mask::{LineMasker, MaskSet};
use saker_model::Level;
use serde_json::{Map, Value};
use tokio::io::{AsyncBufRead, AsyncRead, BufReader};
use tokio::sync::mpsc;

use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

pub struct Commands;

/// A line longer than this is logged in pieces, so one endless line cannot exhaust memory.
/// Such a line is masked as a stream before it is cut (see [`read_lines`]).
const MAX_LINE_BYTES: usize = 64 * 1024;

/// One line of a process's output.
struct Line {
    is_err: bool,
    text: String,
    /// Already masked: a piece of an over-long line. Never read as an outputs line.
    piece: bool,
}

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
    let before = ctx.render_for_process("beforeCommands")?;
    let commands = ctx.render_for_process("commands")?;
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
    let sandbox = ctx.sandbox()?;
    // Declared before the child: dropped after it (a child dropped on timeout is killed
    // first, then its directory goes).
    let workdir = sandbox
        .work_dir()
        .map_err(|e| TaskError::Failed(e.to_string()))?;
    let mut args = args;
    args.push(script);
    let mut command = sandbox
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
                    if !line.piece && let Some(found) = parse_outputs_line(&line.text) {
                        vars.extend(found);
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
        ..TaskOutcome::default()
    })
}

/// Sends each line of `stream` to `tx`. A line longer than [`MAX_LINE_BYTES`] is masked with
/// `masks` as a stream and only then cut into pieces: cut first, a secret across the cut
/// would reach the logger as two halves that neither match it.
async fn read_lines(
    stream: impl AsyncRead + Unpin,
    is_err: bool,
    tx: mpsc::Sender<Line>,
    masks: MaskSet,
) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if read_piece(&mut reader, &mut buf).await == 0 {
            return;
        }
        let cut = buf.len() == MAX_LINE_BYTES && buf.last() != Some(&b'\n');
        if !cut {
            while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                buf.pop();
            }
            let text = String::from_utf8_lossy(&buf).into_owned();
            let line = Line {
                is_err,
                text,
                piece: false,
            };
            if tx.send(line).await.is_err() {
                return;
            }
            continue;
        }
        let mut masker = LineMasker::new(masks.clone(), MAX_LINE_BYTES);
        let mut pieces = Vec::new();
        masker.push(&buf, &mut pieces);
        loop {
            for text in pieces.drain(..) {
                if tx
                    .send(Line {
                        is_err,
                        text,
                        piece: true,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            buf.clear();
            if read_piece(&mut reader, &mut buf).await == 0 {
                break;
            }
            masker.push(&buf, &mut pieces);
            if buf.last() == Some(&b'\n') {
                break;
            }
        }
        masker.finish(&mut pieces);
        for text in pieces {
            if tx
                .send(Line {
                    is_err,
                    text,
                    piece: true,
                })
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

/// Reads up to the next newline (included) or [`MAX_LINE_BYTES`], whichever comes first;
/// 0 at the end of the stream or on a read error.
async fn read_piece(reader: &mut (impl AsyncBufRead + Unpin), buf: &mut Vec<u8>) -> usize {
    let mut limited = (&mut *reader).take(MAX_LINE_BYTES as u64);
    tokio::io::AsyncBufReadExt::read_until(&mut limited, b'\n', buf)
        .await
        .unwrap_or(0)
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
    use super::*;

    fn lines_of(input: Vec<u8>, secret: &str) -> Vec<(String, bool)> {
        let mut builder = saker_mask::MaskSetBuilder::new();
        builder.add_labeled("S", secret);
        let (tx, mut rx) = mpsc::channel(1024);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(read_lines(&input[..], false, tx, builder.build()));
        let mut out = Vec::new();
        while let Ok(line) = rx.try_recv() {
            out.push((line.text, line.piece));
        }
        out
    }

    #[test]
    fn a_secret_across_the_cut_of_a_long_line_is_masked() {
        let secret = "s3cr3t-across-the-cut-42";
        let mut input = vec![b'a'; MAX_LINE_BYTES - 10];
        input.extend_from_slice(secret.as_bytes());
        input.extend_from_slice(&[b'b'; 100]);
        input.extend_from_slice(b"\r\nshort line\n::{\"outputs\":{\"k\":1}}::\n");
        let lines = lines_of(input, secret);
        let pieces: Vec<&(String, bool)> = lines.iter().filter(|(_, piece)| *piece).collect();
        assert!(pieces.len() >= 2, "{}", pieces.len());
        let joined: String = pieces.iter().map(|(t, _)| t.as_str()).collect();
        let expected = format!("{}****{}", "a".repeat(MAX_LINE_BYTES - 10), "b".repeat(100));
        assert_eq!(joined, expected);
        assert!(pieces.iter().all(|(t, _)| t.len() <= MAX_LINE_BYTES));
        // Lines after it are whole lines again, and the outputs protocol still works.
        let rest: Vec<&(String, bool)> = lines.iter().filter(|(_, piece)| !*piece).collect();
        assert_eq!(rest[0].0, "short line");
        assert!(parse_outputs_line(&rest[1].0).is_some());
    }

    #[test]
    fn an_unterminated_long_last_line_is_flushed_masked() {
        let secret = "tail-secret-value-9876";
        let mut input = vec![b'c'; MAX_LINE_BYTES + 5];
        input.extend_from_slice(secret.as_bytes());
        let joined: String = lines_of(input, secret)
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        assert_eq!(joined, format!("{}****", "c".repeat(MAX_LINE_BYTES + 5)));
    }

    #[test]
    fn outputs_lines_are_recognised() {
        let found = parse_outputs_line(r#"::{"outputs":{"a":1,"b":"x"}}::"#).unwrap();
        assert_eq!(found["a"], 1);
        assert_eq!(found["b"], "x");
        assert!(parse_outputs_line("::not json::").is_none());
        assert!(parse_outputs_line(r#"{"outputs":{"a":1}}"#).is_none());
    }
}
