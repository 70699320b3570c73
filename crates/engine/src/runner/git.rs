//! Kestra's `io.kestra.plugin.git.Clone`, run with the `git` command-line tool, confined like
//! a script task, in the task's working directory (a `WorkingDirectory`'s shared one when the
//! task is inside it, so the tasks after it see the files).
//!
//! Credentials. `username`/`password` (or credentials written in the URL, which are taken out
//! of it) reach git only through its environment, as an `Authorization: Basic` header in
//! `GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n` scoped to the repository's origin
//! (`http.<origin>.extraHeader`): that configuration lives in the git process alone, never in
//! `.git/config`, and the URL git stores as `remote.origin.url` carries no user information.
//! No credential helper runs (`credential.helper` is emptied) and git never prompts
//! (`GIT_TERMINAL_PROMPT=0`), so a wrong password fails at once. The header's base64 text
//! joins the execution's mask set, and every line git prints is logged through the masker.
//!
//! Hardening. `GIT_CONFIG_GLOBAL=/dev/null`: the working directory is `HOME` inside the
//! sandbox, and a task before this one in a shared directory could have planted a
//! `.gitconfig` (a credential helper, a `core.sshCommand`) there.

mod args;

use std::process::Stdio;

use saker_model::Level;
use serde_json::{Map, Value};
use zeroize::{Zeroize, Zeroizing};

use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};
use args::{CloneOptions, Remote};

/// `io.kestra.plugin.git.Clone`.
pub struct Clone;

impl TaskRunner for Clone {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(clone(ctx))
    }
}

async fn clone(ctx: &mut TaskContext) -> Result<TaskOutcome, TaskError> {
    refuse_ssh_keys(ctx)?;
    let url = Zeroizing::new(ctx.render_for_process("url")?.concat());
    let mut remote = Remote::parse(url.trim()).map_err(|message| TaskError::Property {
        property: "url".into(),
        message: message.into(),
    })?;
    let username = ctx.render_for_process("username")?.pop();
    let password = ctx
        .render_for_process("password")?
        .pop()
        .map(Zeroizing::new);
    remote.set_credentials(username, password)?;
    let options = CloneOptions::from_task(ctx)?;

    let mut env = vec![
        ("GIT_TERMINAL_PROMPT".to_owned(), "0".to_owned()),
        ("GIT_CONFIG_GLOBAL".to_owned(), "/dev/null".to_owned()),
    ];
    let mut config = vec![("credential.helper".to_owned(), String::new())];
    if let Some(header) = remote.basic_credentials() {
        // What git sends is the base64 of `user:password`, which no variant of the password
        // alone matches: it joins the mask set itself.
        ctx.taint_output(&header);
        config.push((
            format!("http.{}.extraHeader", remote.origin()),
            format!("Authorization: Basic {}", header.as_str()),
        ));
    }
    config.extend(options.process_config());
    env.push(("GIT_CONFIG_COUNT".to_owned(), config.len().to_string()));
    for (i, (key, value)) in config.into_iter().enumerate() {
        env.push((format!("GIT_CONFIG_KEY_{i}"), key));
        env.push((format!("GIT_CONFIG_VALUE_{i}"), value));
    }

    // Declared before the process: dropped after it.
    let workdir = ctx
        .sandbox()?
        .work_dir()
        .map_err(|e| TaskError::Failed(e.to_string()))?;
    let target = options.directory.clone().unwrap_or_else(|| ".".to_owned());
    let mut clone_args = options.clone_args();
    clone_args.extend([
        "--".to_owned(),
        remote.url_without_credentials(),
        target.clone(),
    ]);
    let credentials = remote.basic_credentials().is_some();
    let result = run_git(ctx, &workdir, &clone_args, &env, "git clone")
        .await
        .map_err(|e| explain_refusal(e, credentials));
    if result.is_ok()
        && let Some(commit) = &options.commit
    {
        let checkout = [
            "-C".to_owned(),
            target.clone(),
            "checkout".to_owned(),
            "--quiet".to_owned(),
            "--detach".to_owned(),
            commit.clone(),
        ];
        let checked = run_git(ctx, &workdir, &checkout, &env, "git checkout").await;
        for (_, value) in env.iter_mut() {
            value.zeroize();
        }
        checked?;
    } else {
        for (_, value) in env.iter_mut() {
            value.zeroize();
        }
        result?;
    }

    let visible = workdir.visible_path().trim_end_matches('/');
    let directory = match &options.directory {
        Some(dir) => format!("{visible}/{dir}"),
        None => visible.to_owned(),
    };
    let mut outputs = Map::new();
    outputs.insert("directory".into(), Value::String(directory));
    Ok(TaskOutcome::with_outputs(outputs))
}

/// SSH keys would need an SSH client configured in the sandbox and a test against a real SSH
/// server; until then they are refused rather than ignored (git would then try the URL
/// without them and fail in a less clear way).
fn refuse_ssh_keys(ctx: &TaskContext) -> Result<(), TaskError> {
    for name in ["privateKey", "passphrase"] {
        if ctx.property(name).is_some_and(|v| !v.is_null()) {
            return Err(TaskError::Property {
                property: name.into(),
                message: "cloning over SSH with a private key is not yet available in Saker: \
                          clone over HTTPS with `username` and `password` (an access token) \
                          instead"
                    .into(),
            });
        }
    }
    Ok(())
}

/// git asks for credentials when the server answers 401, and cannot (it never prompts):
/// its "could not read Username" then means the server refused the credentials, or wanted
/// some. Said plainly.
fn explain_refusal(error: TaskError, credentials: bool) -> TaskError {
    match error {
        TaskError::Failed(message) if message.contains("terminal prompts disabled") => {
            TaskError::Failed(if credentials {
                "git clone failed: Authentication failed: the server refused the username and \
                 password (check them, and that an access token may read the repository)"
                    .to_owned()
            } else {
                "git clone failed: Authentication failed: the repository needs credentials; set \
                 `username` and `password` (an access token)"
                    .to_owned()
            })
        }
        other => other,
    }
}

/// Lines of git's output kept for the error message of a failed command.
const ERROR_LINES: usize = 3;

/// Runs `git args` confined in `workdir`, logging what it prints (masked); fails naming
/// `what` and git's last lines of error output, masked.
async fn run_git(
    ctx: &mut TaskContext,
    workdir: &saker_confine::WorkDir,
    args: &[String],
    env: &[(String, String)],
    what: &str,
) -> Result<(), TaskError> {
    let mut command = ctx
        .sandbox()?
        .command(workdir, "git", args, env)
        .map_err(|e| TaskError::Failed(e.to_string()))?;
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = command
        .spawn()
        .await
        .map_err(|e| TaskError::Failed(format!("{e} (is git installed on the worker's host?)")))?;
    let cancel = ctx.cancellation();
    // Dropping the child on cancellation kills it (the confined command kills on drop).
    let output = tokio::select! {
        output = child.wait_with_output() => output
            .map_err(|e| TaskError::Failed(format!("waiting for {what} failed: {e}")))?,
        _ = cancel.cancelled() => return Err(TaskError::Killed(format!("{what} was killed"))),
    };
    let masks = ctx.mask_set();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in stdout.lines().chain(stderr.lines()) {
        if !line.trim().is_empty() {
            ctx.log(Level::Info, line);
        }
    }
    if output.status.success() {
        return Ok(());
    }
    let last: Vec<String> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| masks.mask(l).into_owned())
        .collect();
    let tail = last[last.len().saturating_sub(ERROR_LINES)..].join(" / ");
    let status = match output.status.code() {
        Some(code) => format!("exit code {code}"),
        None => "a signal".to_owned(),
    };
    Err(TaskError::Failed(if tail.is_empty() {
        format!("{what} failed with {status}")
    } else {
        format!("{what} failed with {status}: {tail}")
    }))
}
