//! Kestra's `io.kestra.plugin.fs.ssh.Command`: the `commands` run on `host` over SSH, with
//! the OpenSSH client (`ssh`), confined like a script task in the task's working directory.
//! Each line the remote commands print is logged (through the masker; stderr as warnings), a
//! `::{...}::` line is Kestra's output protocol, and the outputs are Kestra's `exitCode`,
//! `stdOutLineCount`, `stdErrLineCount` and `vars`.
//!
//! Credentials. The password (PASSWORD) or the key's passphrase (PUBLIC_KEY) reaches `ssh`
//! only through its environment: a small `SSH_ASKPASS` program written into the working
//! directory prints the variable it is given, and holds no secret itself. A private key is
//! written there (mode 0600) for `ssh -i`. Both files are removed when the task ends,
//! whatever its outcome, before a later task of a shared directory runs. No configuration of
//! the host is read (`-F /dev/null`), and with `strictHostKeyChecking` other than `yes` (the
//! default is Kestra's `no`) no known-hosts file is written.

use std::process::Stdio;

use saker_model::Level;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

use super::process_lines::{Line, read_lines};
use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner, protocol};

/// `io.kestra.plugin.fs.ssh.Command`.
pub struct Command;

impl TaskRunner for Command {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(run(ctx))
    }
}

/// How long connecting may take.
const CONNECT_TIMEOUT_SECS: u32 = 30;
/// The credential `ssh` asks its askpass program for.
enum Login {
    Password(Zeroizing<String>),
    Key {
        key: Zeroizing<String>,
        passphrase: Option<Zeroizing<String>>,
    },
}

async fn run(ctx: &mut TaskContext) -> Result<TaskOutcome, TaskError> {
    let method = ctx
        .render_string("authMethod")?
        .map(|m| m.trim().to_ascii_uppercase())
        .unwrap_or_else(|| "PASSWORD".to_owned());
    let login = match method.as_str() {
        "PASSWORD" => {
            Login::Password(Zeroizing::new(kept(ctx, "password")?.ok_or_else(|| {
                property("password", "is required with authMethod PASSWORD")
            })?))
        }
        "PUBLIC_KEY" => Login::Key {
            key: Zeroizing::new(kept(ctx, "privateKey")?.ok_or_else(|| {
                property(
                    "privateKey",
                    "is required with authMethod PUBLIC_KEY (an OpenSSH private key)",
                )
            })?),
            passphrase: kept(ctx, "privateKeyPassphrase")?.map(Zeroizing::new),
        },
        "OPEN_SSH" => {
            return Err(property(
                "authMethod",
                "OPEN_SSH (the host's own OpenSSH configuration) is not available in Saker: a \
                 task's sandbox does not see the host's configuration; use PASSWORD or \
                 PUBLIC_KEY",
            ));
        }
        _ => return Err(property("authMethod", "must be PASSWORD or PUBLIC_KEY")),
    };
    let host = one(ctx, "host")?.unwrap_or_default();
    if host.is_empty() || host.starts_with('-') || host.contains(char::is_whitespace) {
        return Err(property("host", "must be a host name or address"));
    }
    let port = match ctx.render_string("port")? {
        None => 22,
        Some(p) => p
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| property("port", "must be a port number (1 to 65535)"))?,
    };
    let username = one(ctx, "username")?;
    if username
        .as_deref()
        .is_some_and(|u| u.starts_with('-') || u.contains(['@', ' ', '\n']))
    {
        return Err(property("username", "is not a user name"));
    }
    let remote = ctx.render_for_process("commands")?.join("\n");
    if remote.trim().is_empty() {
        return Err(property(
            "commands",
            "is empty: give the task something to run",
        ));
    }
    let strict = ctx
        .render_string("strictHostKeyChecking")?
        .map(|s| s.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "no".to_owned());
    if !matches!(strict.as_str(), "yes" | "no" | "ask") {
        return Err(property("strictHostKeyChecking", "must be yes, no or ask"));
    }
    let remote_env = ctx.render_map_for_process("env")?;
    let rsa1 = ctx
        .render_string("enableSshRsa1")?
        .is_some_and(|v| crate::task_context::is_truthy(&v));

    // Declared before the process: dropped after it.
    let workdir = ctx
        .sandbox()?
        .work_dir()
        .map_err(|e| TaskError::Failed(e.to_string()))?;
    let files = LoginFiles::new(&workdir);
    let result = async {
        let mut args = vec![
            "-F".to_owned(),
            "/dev/null".to_owned(),
            "-T".to_owned(),
            "-n".to_owned(),
            "-p".to_owned(),
            port.to_string(),
        ];
        for option in [
            format!("StrictHostKeyChecking={strict}"),
            "NumberOfPasswordPrompts=1".to_owned(),
            "LogLevel=ERROR".to_owned(),
            format!("ConnectTimeout={CONNECT_TIMEOUT_SECS}"),
        ] {
            args.extend(["-o".to_owned(), option]);
        }
        if strict != "yes" {
            args.extend(["-o".to_owned(), "UserKnownHostsFile=/dev/null".to_owned()]);
        }
        if rsa1 {
            ctx.log(
                Level::Info,
                "RSA/SHA1 is enabled; SHA1 is no longer considered secure",
            );
            for option in [
                "HostKeyAlgorithms=+ssh-rsa",
                "PubkeyAcceptedAlgorithms=+ssh-rsa",
            ] {
                args.extend(["-o".to_owned(), option.to_owned()]);
            }
        }
        for (name, value) in &remote_env {
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || value.contains(['"', '\n', '\r'])
            {
                return Err(property(
                    "env",
                    "names must be letters, digits and '_', and values must hold no double \
                     quote or line break",
                ));
            }
            args.extend(["-o".to_owned(), format!("SetEnv={name}=\"{value}\"")]);
        }
        let mut env = vec![("SSH_ASKPASS_REQUIRE".to_owned(), "force".to_owned())];
        let secret = match &login {
            Login::Password(password) => {
                args.extend([
                    "-o".to_owned(),
                    "PreferredAuthentications=password".to_owned(),
                ]);
                Some(password.clone())
            }
            Login::Key { key, passphrase } => {
                let key_path = files.write_key(key).await?;
                args.extend([
                    "-o".to_owned(),
                    "PreferredAuthentications=publickey".to_owned(),
                    "-o".to_owned(),
                    "IdentitiesOnly=yes".to_owned(),
                    "-i".to_owned(),
                    key_path,
                ]);
                passphrase.clone()
            }
        };
        // ssh asks for the password or passphrase through SSH_ASKPASS, never a terminal.
        let askpass = files.write_askpass().await?;
        env.push(("SSH_ASKPASS".to_owned(), askpass));
        env.push((
            ASKPASS_VARIABLE.to_owned(),
            secret.map(|s| s.to_string()).unwrap_or_default(),
        ));
        let destination = match &username {
            Some(user) => format!("{user}@{host}"),
            None => host.clone(),
        };
        args.extend(["--".to_owned(), destination, remote.clone()]);
        let outcome = run_ssh(ctx, &workdir, &args, &env).await;
        for (_, value) in env.iter_mut() {
            zeroize::Zeroize::zeroize(value);
        }
        outcome
    }
    .await;
    files.remove().await;
    result
}

/// The variable the askpass program prints.
const ASKPASS_VARIABLE: &str = "SAKER_SSH_ASKPASS_VALUE";

/// The askpass program and the key file of one attempt, in its working directory.
struct LoginFiles {
    /// Host paths, to write and remove.
    askpass: std::path::PathBuf,
    key: std::path::PathBuf,
    /// The same as the process sees them.
    visible_dir: String,
}

impl LoginFiles {
    fn new(workdir: &saker_confine::WorkDir) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self {
            askpass: workdir.host_path().join(format!(".saker-askpass-{id}")),
            key: workdir.host_path().join(format!(".saker-key-{id}")),
            visible_dir: workdir.visible_path().trim_end_matches('/').to_owned(),
        }
    }

    fn visible(&self, path: &std::path::Path) -> String {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        format!("{}/{name}", self.visible_dir)
    }

    async fn write_askpass(&self) -> Result<String, TaskError> {
        let program = format!("#!/bin/sh\nprintf '%s\\n' \"${ASKPASS_VARIABLE}\"\n");
        write_private(&self.askpass, program.as_bytes(), 0o700).await?;
        Ok(self.visible(&self.askpass))
    }

    async fn write_key(&self, key: &str) -> Result<String, TaskError> {
        // OpenSSH refuses a key file without its final line break.
        let mut text = Zeroizing::new(key.trim().to_owned());
        text.push('\n');
        write_private(&self.key, text.as_bytes(), 0o600).await?;
        Ok(self.visible(&self.key))
    }

    async fn remove(&self) {
        let _ = tokio::fs::remove_file(&self.askpass).await;
        let _ = tokio::fs::remove_file(&self.key).await;
    }
}

/// Writes a file only its owner may read.
async fn write_private(path: &std::path::Path, bytes: &[u8], mode: u32) -> Result<(), TaskError> {
    use tokio::io::AsyncWriteExt as _;
    let failed = |e: std::io::Error| TaskError::Failed(format!("preparing the SSH login: {e}"));
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .await
        .map_err(failed)?;
    file.write_all(bytes).await.map_err(failed)?;
    file.flush().await.map_err(failed)
}

/// Runs `ssh` confined, logging and counting the lines; the outputs, or the failure.
async fn run_ssh(
    ctx: &mut TaskContext,
    workdir: &saker_confine::WorkDir,
    args: &[String],
    env: &[(String, String)],
) -> Result<TaskOutcome, TaskError> {
    let mut command = ctx
        .sandbox()?
        .command(workdir, "ssh", args, env)
        .map_err(|e| TaskError::Failed(e.to_string()))?;
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().await.map_err(|e| {
        TaskError::Failed(format!(
            "{e} (is the OpenSSH client installed on the worker's host?)"
        ))
    })?;
    let (tx, mut rx) = mpsc::channel::<Line>(256);
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let masks = ctx.mask_set();
    let out_reader = tokio::spawn(read_lines(stdout, false, tx.clone(), masks.clone()));
    let err_reader = tokio::spawn(read_lines(stderr, true, tx, masks));
    let (mut out_count, mut err_count) = (0u64, 0u64);
    let mut vars = Map::new();
    let mut last_err = Vec::new();
    let cancel = ctx.cancellation();
    let mut flush = tokio::time::interval(crate::logs::FLUSH_INTERVAL);
    let status = loop {
        tokio::select! {
            _ = flush.tick() => ctx.flush_logs(),
            line = rx.recv() => match line {
                Some(line) => {
                    if line.ends_line {
                        if line.is_err { err_count += 1 } else { out_count += 1 }
                    }
                    if !line.piece && let Some(message) = protocol::parse_line(&line.text) {
                        vars.extend(message.outputs);
                        for (level, text) in message.logs {
                            ctx.log(level, &text);
                        }
                        continue;
                    }
                    if line.is_err {
                        last_err.push(ctx.mask_set().mask(&line.text).into_owned());
                        if last_err.len() > 3 {
                            last_err.remove(0);
                        }
                    }
                    ctx.log(if line.is_err { Level::Warn } else { Level::Info }, &line.text);
                }
                None => break child.wait().await,
            },
            _ = cancel.cancelled() => {
                let _ = child.kill().await;
                return Err(TaskError::Killed("the SSH command was killed".into()));
            }
        }
    }
    .map_err(|e| TaskError::Failed(format!("waiting for ssh failed: {e}")))?;
    let _ = out_reader.await;
    let _ = err_reader.await;
    match status.code() {
        Some(0) => {}
        // ssh's own failure: no connection, no login, a refused host key.
        Some(255) => {
            return Err(TaskError::Failed(format!(
                "ssh could not connect or log in (exit status 255): {}",
                last_err.join(" / ")
            )));
        }
        Some(code) => {
            return Err(TaskError::Failed(format!(
                "SSH command fails with exit status {code}"
            )));
        }
        None => return Err(TaskError::Failed("ssh was killed by a signal".into())),
    }
    let mut outputs = Map::new();
    outputs.insert("exitCode".into(), Value::from(0));
    outputs.insert("stdOutLineCount".into(), Value::from(out_count));
    outputs.insert("stdErrLineCount".into(), Value::from(err_count));
    outputs.insert("vars".into(), Value::Object(vars));
    Ok(TaskOutcome::with_outputs(outputs))
}

/// A string property handed to the process: its one value, trimmed; `None` when absent or
/// empty.
fn one(ctx: &mut TaskContext, name: &str) -> Result<Option<String>, TaskError> {
    Ok(ctx
        .render_for_process(name)?
        .pop()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty()))
}

/// A credential handed to the process as written (spaces are part of a password); `None`
/// when absent or empty.
fn kept(ctx: &mut TaskContext, name: &str) -> Result<Option<String>, TaskError> {
    Ok(ctx
        .render_for_process(name)?
        .pop()
        .filter(|v| !v.is_empty()))
}

fn property(name: &str, message: &str) -> TaskError {
    TaskError::Property {
        property: name.to_owned(),
        message: message.to_owned(),
    }
}
