//! Confinement of the processes that Saker's tasks start.
//!
//! A flow author controls what a shell (or, later, Python or Node) task runs, and so can try
//! to read whatever Saker's process can: its environment through `/proc/$PPID/environ`, its
//! data directory (database, `encryption.key`), its configuration file, other executions'
//! files. This crate makes sure a task process sees none of that: each runs under bubblewrap
//! in new PID, mount, IPC and UTS namespaces (optionally network too), with capabilities
//! dropped, an empty root holding only read-only system directories (with Saker's own paths
//! under them covered), a fresh `/proc`, a minimal `/dev`, a private `/tmp`, its own working
//! directory and an allowlisted environment; and it dies with the thread that started it.
//!
//! It fails closed: [`Confinement::new`] tries bubblewrap once, and when it cannot run, every
//! attempt to prepare a task process is refused with [`ConfineError::Unavailable`] (naming
//! `tasks.confinement` and how to fix it), unless the operator chose [`Mode::None`].
//!
//! Use (any task type that starts a process): `confinement.attempt(execution, task_run, n)`
//! once per task attempt (the engine's worker does it; runners get it from
//! `TaskContext::sandbox`), then [`AttemptSandbox::work_dir`] (put input files in its
//! [`WorkDir::host_path`]), [`AttemptSandbox::command`] and [`ConfinedCommand::spawn`]; keep
//! the [`WorkDir`] until the process has ended (dropping it removes the directory).
//!
//! Spawn the command from a thread that lives as long as the worker (a tokio runtime worker
//! thread, not a blocking-pool thread): bubblewrap's `--die-with-parent` is tied to the
//! thread that forked it.

mod bubblewrap;
mod command;
mod env;
mod error;
mod settings;
mod workdir;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use bubblewrap::SANDBOX_WORK_DIR;
pub use command::ConfinedCommand;
pub use env::task_environment;
pub use error::ConfineError;
pub use settings::{HOST_CREDENTIALS, Mode, SYSTEM_DIRS, Settings};
pub use workdir::WorkDir;

/// A host path a task process also sees, at the same path: a tool's directory, a cached
/// Python environment. The same path inside, because what lives there (a venv's scripts)
/// names itself by its absolute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub path: PathBuf,
    /// Bound read-write (an environment being installed); read-only otherwise.
    pub writable: bool,
}

impl Mount {
    /// `path`, read-only.
    pub fn read_only(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            writable: false,
        }
    }

    /// `path`, read-write.
    pub fn writable(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            writable: true,
        }
    }
}

/// How task processes run in this process, decided once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Under bubblewrap.
    Confined,
    /// Unconfined, as the operator asked (`tasks.confinement: none`).
    Unconfined,
    /// Confinement is required and cannot run: task processes are refused. The reason says
    /// what failed.
    Unavailable(String),
}

/// The confinement of a worker: cheap to clone, shared by all its attempts.
#[derive(Debug, Clone)]
pub struct Confinement {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: Settings,
    status: Status,
    work_root: PathBuf,
    /// The private work root when none was configured; removed with the confinement.
    _owned_root: Option<tempfile::TempDir>,
}

impl Confinement {
    /// Decides how task processes run: tries bubblewrap once in [`Mode::Bubblewrap`]. Never
    /// fails; when something is missing the status says so and task processes are refused.
    pub fn new(settings: Settings) -> Self {
        let (work_root, owned, root_error) = match &settings.work_root {
            Some(root) => (root.clone(), None, None),
            None => match tempfile::Builder::new().prefix("saker-work-").tempdir() {
                Ok(dir) => (dir.path().to_path_buf(), Some(dir), None),
                Err(e) => (
                    PathBuf::new(),
                    None,
                    Some(format!(
                        "cannot create a root for task working directories: {e}"
                    )),
                ),
            },
        };
        let status = match (root_error, settings.mode) {
            (Some(reason), _) => Status::Unavailable(reason),
            (None, Mode::None) => Status::Unconfined,
            (None, Mode::Bubblewrap) => match bubblewrap::probe(&settings) {
                Ok(()) => Status::Confined,
                Err(reason) => Status::Unavailable(reason),
            },
        };
        Self {
            inner: Arc::new(Inner {
                settings,
                status,
                work_root,
                _owned_root: owned,
            }),
        }
    }

    /// How task processes run here.
    pub fn status(&self) -> &Status {
        &self.inner.status
    }

    /// The settings this confinement was made from.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Where the attempts' working directories are.
    pub fn work_root(&self) -> &Path {
        &self.inner.work_root
    }

    /// The sandbox of one task attempt (nothing is created until it is used).
    pub fn attempt(&self, execution_id: &str, task_run_id: &str, attempt: u32) -> AttemptSandbox {
        AttemptSandbox {
            confinement: self.clone(),
            execution_id: execution_id.to_owned(),
            task_run_id: task_run_id.to_owned(),
            attempt,
            shared_with: None,
        }
    }

    /// The sandbox of an attempt of a task inside a `WorkingDirectory` (whose run is
    /// `owner_task_run_id`): its working directory is the one the `WorkingDirectory`'s tasks
    /// share, kept between them until [`remove_shared_dir`](Self::remove_shared_dir).
    pub fn shared(
        &self,
        execution_id: &str,
        task_run_id: &str,
        attempt: u32,
        owner_task_run_id: &str,
    ) -> AttemptSandbox {
        AttemptSandbox {
            shared_with: Some(owner_task_run_id.to_owned()),
            ..self.attempt(execution_id, task_run_id, attempt)
        }
    }

    /// Removes the directory a `WorkingDirectory` run's tasks shared, once it has ended.
    pub fn remove_shared_dir(
        &self,
        execution_id: &str,
        owner_task_run_id: &str,
    ) -> Result<(), ConfineError> {
        if self.inner.work_root.as_os_str().is_empty() {
            return Ok(());
        }
        workdir::remove_shared(&self.inner.work_root, execution_id, owner_task_run_id)
    }

    /// Removes the working directories an execution's attempts left (after a crash, before
    /// its new attempts start).
    pub fn remove_execution_dirs(&self, execution_id: &str) -> Result<(), ConfineError> {
        if self.inner.work_root.as_os_str().is_empty() {
            return Ok(());
        }
        workdir::remove_execution(&self.inner.work_root, execution_id)
    }

    fn refuse_unless_usable(&self) -> Result<(), ConfineError> {
        match &self.inner.status {
            Status::Unavailable(reason) => Err(ConfineError::Unavailable {
                reason: reason.clone(),
            }),
            Status::Confined | Status::Unconfined => Ok(()),
        }
    }
}

/// One task attempt's way to start processes.
#[derive(Debug, Clone)]
pub struct AttemptSandbox {
    confinement: Confinement,
    execution_id: String,
    task_run_id: String,
    attempt: u32,
    /// The `WorkingDirectory` run whose directory this attempt shares.
    shared_with: Option<String>,
}

impl AttemptSandbox {
    /// Creates the attempt's fresh, private working directory. Refused (before anything is
    /// created) when confinement is required and unavailable.
    pub fn work_dir(&self) -> Result<WorkDir, ConfineError> {
        self.confinement.refuse_unless_usable()?;
        let visible = match self.confinement.inner.status {
            Status::Confined => Some(SANDBOX_WORK_DIR),
            _ => None,
        };
        match &self.shared_with {
            Some(owner) => WorkDir::open_shared(
                &self.confinement.inner.work_root,
                &self.execution_id,
                owner,
                visible,
            ),
            None => WorkDir::create(
                &self.confinement.inner.work_root,
                &self.execution_id,
                &self.task_run_id,
                self.attempt,
                visible,
            ),
        }
    }

    /// The process that runs `program` with `args` in `dir`, confined, with the allowlisted
    /// environment plus `env` and no input. The caller sets up stdout and stderr and spawns
    /// it.
    pub fn command(
        &self,
        dir: &WorkDir,
        program: &str,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<ConfinedCommand, ConfineError> {
        self.command_with_mounts(dir, program, args, env, &[])
    }

    /// [`command`](Self::command), with `mounts` also visible to the process, each at its
    /// host path (unconfined, the process sees the host anyway).
    pub fn command_with_mounts(
        &self,
        dir: &WorkDir,
        program: &str,
        args: &[String],
        env: &[(String, String)],
        mounts: &[Mount],
    ) -> Result<ConfinedCommand, ConfineError> {
        self.confinement.refuse_unless_usable()?;
        let settings = &self.confinement.inner.settings;
        let environment = task_environment(std::env::vars(), dir.visible_path(), env);
        let (mut command, arguments) = match self.confinement.inner.status {
            Status::Confined => {
                let options = bubblewrap::arguments(settings, dir.host_path(), mounts);
                let mut command = tokio::process::Command::new(&settings.bubblewrap);
                command.args(["--args", "0", "--", program]).args(args);
                (command, Some(command::nul_separated(&options)))
            }
            _ => {
                let mut command = tokio::process::Command::new(program);
                command.current_dir(dir.host_path()).args(args);
                (command, None)
            }
        };
        // bubblewrap's own environment is what its PID 1 shows in /proc/1/environ: it gets
        // the allowlist too, never Saker's environment.
        command.env_clear().envs(environment);
        Ok(ConfinedCommand::new(command, program, arguments))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_bubblewrap_refuses_task_processes_with_the_fix() {
        let settings = Settings {
            bubblewrap: PathBuf::from("/nonexistent/bwrap"),
            ..Settings::default()
        };
        let confinement = Confinement::new(settings);
        assert!(matches!(confinement.status(), Status::Unavailable(_)));
        let err = confinement
            .attempt("e", "t", 1)
            .work_dir()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("tasks.confinement") && err.contains("apt-get install bubblewrap"),
            "{err}"
        );
        assert!(err.contains("/nonexistent/bwrap"), "{err}");
    }

    #[test]
    fn none_is_unconfined_only_when_asked() {
        let settings = Settings {
            mode: Mode::None,
            bubblewrap: PathBuf::from("/nonexistent/bwrap"),
            ..Settings::default()
        };
        assert_eq!(Confinement::new(settings).status(), &Status::Unconfined);
    }
}
