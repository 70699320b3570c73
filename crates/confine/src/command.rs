//! A task process ready to start: the caller chooses where its output goes, then spawns it.
//!
//! Under bubblewrap the sandbox's options (mounts, namespaces) go over bubblewrap's stdin
//! (`--args 0`), not its command line (which keeps only the program and its arguments): the
//! sandbox's
//! PID 1 is bubblewrap, anyone in the sandbox reads its command line in `/proc/1/cmdline`,
//! and the mount layout names host paths (the data directory it covers, the work root). The
//! task's stdin is then that pipe, at its end, as good as `/dev/null`.

use std::process::Stdio;

use tokio::io::AsyncWriteExt as _;
use tokio::process::{Child, Command};

use crate::ConfineError;

/// A prepared task process.
#[derive(Debug)]
pub struct ConfinedCommand {
    command: Command,
    program: String,
    /// bubblewrap's options, NUL-terminated, for its stdin; `None` when unconfined.
    arguments: Option<Vec<u8>>,
}

impl ConfinedCommand {
    pub(crate) fn new(mut command: Command, program: &str, arguments: Option<Vec<u8>>) -> Self {
        command.stdin(if arguments.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        command.kill_on_drop(true);
        Self {
            command,
            program: program.to_owned(),
            arguments,
        }
    }

    /// Where the process's stdout goes.
    pub fn stdout(&mut self, to: impl Into<Stdio>) -> &mut Self {
        self.command.stdout(to);
        self
    }

    /// Where the process's stderr goes.
    pub fn stderr(&mut self, to: impl Into<Stdio>) -> &mut Self {
        self.command.stderr(to);
        self
    }

    /// Starts the process; it is killed when the returned child is dropped. Spawn from a
    /// thread that lives as long as the worker (see the crate's documentation).
    pub async fn spawn(mut self) -> Result<Child, ConfineError> {
        let spawn_error = |source| ConfineError::Spawn {
            program: self.program.clone(),
            source,
        };
        let mut child = self.command.spawn().map_err(spawn_error)?;
        if let Some(arguments) = self.arguments.take() {
            let mut stdin = child.stdin.take().expect("stdin is piped when confined");
            let written = stdin.write_all(&arguments).await;
            drop(stdin);
            if let Err(source) = written {
                // bubblewrap reads every argument before it sets anything up; one that could
                // not be handed whole must not start.
                let _ = child.kill().await;
                return Err(spawn_error(source));
            }
        }
        Ok(child)
    }
}

/// Arguments as `--args` reads them: each one followed by a NUL byte.
pub(crate) fn nul_separated<S: AsRef<std::ffi::OsStr>>(
    args: impl IntoIterator<Item = S>,
) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt as _;
    let mut out = Vec::new();
    for arg in args {
        out.extend_from_slice(arg.as_ref().as_bytes());
        out.push(0);
    }
    out
}
