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
//!
//! The same machinery runs the other languages and the command-line tool tasks
//! (`super::tools`): what they add (a program to find, variables, files, directories to see)
//! comes in as [`Extras`] (`super::process_setup`). Python's `dependencies` are installed
//! into a cached environment first (`super::python_env`).

use std::process::Stdio;

use saker_mask::{LineMasker, MaskSet};
use saker_model::Level;
use serde_json::{Map, Value};
use tokio::io::{AsyncBufRead, AsyncRead, BufReader};
use tokio::sync::mpsc;

use super::process_setup::{Extras, Program, ScriptFile, find_program, note_unused_container};
use super::{
    RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner, process_setup, protocol,
    python_env, script_context,
};
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
    /// The file a script is written to and the program running it; `None` when the script
    /// runs inline.
    fn script_file(self) -> Option<ScriptFile> {
        match self {
            Self::Shell => None,
            Self::Python => Some(ScriptFile {
                extension: "py",
                launch: "\"$(command -v python3 || command -v python || echo python3)\" '{file}'",
            }),
            Self::Node => Some(ScriptFile {
                extension: "js",
                launch: "node '{file}'",
            }),
        }
    }
}

/// What a process task runs: its `commands` (`script` is `None`), or its `script` run inline
/// (a shell `Script`) or written to a file run by a program.
#[derive(Debug, Clone, Copy)]
pub(super) struct ProcessSpec {
    /// `Some` for a `Script` task.
    pub script: Option<Option<ScriptFile>>,
    /// The program the task cannot run without, checked before anything starts.
    pub program: Option<Program>,
}

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
        let spec = ProcessSpec {
            script: None,
            program: None,
        };
        Box::pin(run_process(ctx, spec, Extras::default()))
    }
}

impl TaskRunner for Script {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        let spec = ProcessSpec {
            script: Some(self.0.script_file()),
            program: None,
        };
        Box::pin(run_process(ctx, spec, Extras::default()))
    }
}

/// Runs a process task: `spec` says what it runs, `extras` what its type adds.
pub(super) async fn run_process(
    ctx: &mut TaskContext,
    spec: ProcessSpec,
    extras: Extras,
) -> Result<TaskOutcome, TaskError> {
    note_unused_container(ctx)?;
    let mut extras = {
        let mut all = process_setup::tool_dirs();
        all.merge(extras);
        all
    };
    if let Some(program) = &spec.program {
        let type_name = ctx.task().type_name.clone();
        find_program(&type_name, program, &extras)?;
    }
    let dependencies = python_env::dependencies(ctx)?;
    let before = ctx.render_for_process("beforeCommands")?;
    // A script run by a program goes to a file, written once the directory exists.
    let mut script_file = None;
    let commands = match spec.script {
        None => match extras.commands.take() {
            Some(given) => given,
            None => ctx.render_for_process("commands")?,
        },
        Some(file) => {
            let text = ctx.render_for_process("script")?.concat();
            match file {
                None => vec![text],
                Some(file) => {
                    let name = format!(
                        "script-{}.{}",
                        uuid::Uuid::new_v4().simple(),
                        file.extension
                    );
                    let launch = file.command(&name);
                    script_file = Some((name, zeroize::Zeroizing::new(text)));
                    vec![launch]
                }
            }
        }
    };
    if commands.iter().all(|c| c.trim().is_empty()) {
        let property = if spec.script.is_some() {
            "script"
        } else {
            "commands"
        };
        return Err(TaskError::Property {
            property: property.into(),
            message: "it is empty: give the task something to run".into(),
        });
    }
    let fail_fast = match extras.fail_fast {
        Some(given) => given,
        None => ctx
            .render_string("failFast")?
            .is_none_or(|v| crate::task_context::is_truthy(&v)),
    };
    let warning_on_stderr = ctx
        .render_string("warningOnStdErr")?
        .is_some_and(|v| crate::task_context::is_truthy(&v));
    let interpreter = match extras.interpreter.take() {
        Some(given) => given,
        None => ctx.render_for_process("interpreter")?,
    };
    let task_env = ctx.render_map_for_process("env")?;

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
    if let Some(installed) = python_env::prepare(ctx, &workdir, &dependencies).await? {
        extras.merge(installed);
    }
    for (name, text) in &extras.files {
        crate::files::write_confined_at(&dir, name, text.as_bytes(), None)?;
    }
    let env = extras.environment(workdir.visible_path(), task_env);
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
        .command_with_mounts(&workdir, &program, &args, &env, &extras.mounts)
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
    let (mut out_lines, mut err_lines) = (0u64, 0u64);
    let cancel = ctx.cancellation();
    let mut flush = tokio::time::interval(crate::logs::FLUSH_INTERVAL);
    let status = loop {
        tokio::select! {
            _ = flush.tick() => ctx.flush_logs(),
            line = rx.recv() => match line {
                Some(line) => {
                    saw_stderr |= line.is_err;
                    if !line.piece {
                        *(if line.is_err { &mut err_lines } else { &mut out_lines }) += 1;
                    }
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
    for (name, _) in &extras.files {
        let _ = tokio::fs::remove_file(dir.join(name)).await;
    }

    let code = status.code().unwrap_or(-1);
    let mut outputs = Map::new();
    outputs.insert("exitCode".into(), Value::from(code));
    outputs.insert("vars".into(), Value::Object(vars));
    if extras.line_counts {
        outputs.insert("stdOutLineCount".into(), Value::from(out_lines));
        outputs.insert("stdErrLineCount".into(), Value::from(err_lines));
    }
    if !status.success() {
        return Err(TaskError::Failed(match (status.code(), &spec.program) {
            // The shell's "not found": the program may be on the host but not in the sandbox.
            (Some(127), Some(program)) => format!(
                "command failed with exit code 127 (a program was not found): if '{}' is \
                 installed outside the system directories, name its directory in {} or in \
                 tasks.read-only-paths so that task sandboxes see it",
                program.names[0],
                process_setup::TOOL_DIRS_VAR
            ),
            (Some(code), _) => format!("command failed with exit code {code}"),
            (None, _) => "command was killed by a signal".to_owned(),
        }));
    }
    let mut files = match ctx.property("outputFiles").cloned() {
        Some(value) => Some(collect_output_files(ctx, &dir, &value)?),
        None => None,
    };
    // A tool's own result files (dbt's run_results.json), under Kestra's names.
    for (name, relative) in &extras.artifacts {
        if dir.join(relative).is_file() {
            let pattern = Value::Array(vec![Value::String(relative.clone())]);
            let stored = collect_output_files(ctx, &dir, &pattern)?;
            let all = files.get_or_insert_with(Map::new);
            all.extend(stored.into_iter().map(|(_, uri)| (name.clone(), uri)));
        }
    }
    if let Some(files) = files {
        outputs.insert("outputFiles".into(), Value::Object(files));
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
        assert!(protocol::parse_line(&rest[1].0).is_some());
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
}
