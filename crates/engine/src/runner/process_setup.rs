//! What a process task needs besides its commands, gathered before the process starts: the
//! programs of the tool tasks (`super::tools`), the directories holding them, Python's
//! cached environment (`super::python_env`), files and variables a wrapper derives from its
//! properties (AWS credentials, dbt's `profiles.yml`), and the note that a container image or
//! task runner other than Process is not used.
//!
//! Tool directories: `SAKER_TOOL_DIRS` (paths separated by `:`) names directories holding
//! command-line tools that are not in the system directories a task sandbox sees, typically a
//! Python venv with awscli, dbt or ansible. Each is visible read-only to every process task,
//! at its host path, and its `bin` (or itself) comes last on the task's `PATH`: it supplies
//! what the system lacks and shadows nothing (a venv's `python3` does not replace the
//! system's for every script).

use std::path::{Path, PathBuf};

use saker_confine::Mount;
use saker_model::Level;
use serde_json::Value;
use zeroize::Zeroizing;

use super::{TaskContext, TaskError};

/// The variable naming the tool directories.
pub(super) const TOOL_DIRS_VAR: &str = "SAKER_TOOL_DIRS";

/// Where a task process looks for programs when neither Saker nor the task sets `PATH`.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A `Script` task's program: the script is written to a file with this extension and run by
/// `launch`, a shell command in which `{file}` stands for the file's name (Saker's own, so it
/// needs no quoting beyond the single quotes `launch` puts around it).
#[derive(Debug, Clone, Copy)]
pub struct ScriptFile {
    pub extension: &'static str,
    pub launch: &'static str,
}

impl ScriptFile {
    /// The shell command running `file`.
    pub(super) fn command(&self, file: &str) -> String {
        self.launch.replace("{file}", file)
    }
}

/// A program a task needs, and how an operator gets it.
#[derive(Debug, Clone, Copy)]
pub struct Program {
    /// Names it goes by, any of which will do (`lua`, `lua5.4`).
    pub names: &'static [&'static str],
    /// How to install it, for the error a missing program gives.
    pub install: &'static str,
}

/// What a process task adds to its process, besides its commands.
#[derive(Default)]
pub(super) struct Extras {
    /// Variables set before the task's own `env` (which overrides them).
    pub env: Vec<(String, String)>,
    /// Variables naming a file of the working directory (a credentials file): the value is
    /// the file's name, given to the process as its path there.
    pub env_in_workdir: Vec<(String, String)>,
    /// Directories put first on `PATH`, in this order.
    pub path: Vec<PathBuf>,
    /// Directories put last on `PATH`, in this order.
    pub path_after: Vec<PathBuf>,
    /// Files written into the working directory before the process starts and removed
    /// after it ends (they may hold a credential).
    pub files: Vec<(String, Zeroizing<String>)>,
    /// Host paths the process also sees.
    pub mounts: Vec<Mount>,
    /// Replaces the `commands` property (dbt's tasks build their command line).
    pub commands: Option<Vec<String>>,
    /// Files the tool writes that become `outputFiles` entries: name, path relative to the
    /// working directory (dbt's `run_results.json`); a missing one is left out.
    pub artifacts: Vec<(String, String)>,
    /// Replaces the `interpreter` property (Kestra's old Bash task).
    pub interpreter: Option<Vec<String>>,
    /// Replaces the `failFast` property (the old Bash task's `exitOnFailed`).
    pub fail_fast: Option<bool>,
    /// Adds `stdOutLineCount` and `stdErrLineCount` to the outputs (the old Bash task's).
    pub line_counts: bool,
    /// Kept until the process has ended (an uncached Python environment).
    pub guards: Vec<tempfile::TempDir>,
}

impl Extras {
    /// Adds `other` to this: its variables after these, its `PATH` directories first.
    pub(super) fn merge(&mut self, other: Extras) {
        self.env.extend(other.env);
        self.env_in_workdir.extend(other.env_in_workdir);
        let mut path = other.path;
        path.append(&mut self.path);
        self.path = path;
        self.path_after.extend(other.path_after);
        self.files.extend(other.files);
        self.mounts.extend(other.mounts);
        self.commands = other.commands.or(self.commands.take());
        self.artifacts.extend(other.artifacts);
        self.interpreter = other.interpreter.or(self.interpreter.take());
        self.fail_fast = other.fail_fast.or(self.fail_fast);
        self.line_counts |= other.line_counts;
        self.guards.extend(other.guards);
    }

    /// The process's environment: these variables, then the task's `env`, then `PATH` with
    /// these directories around the task's `PATH` (or Saker's).
    /// `work` is the working directory as the process sees it.
    pub(super) fn environment(
        &self,
        work: &str,
        task_env: Vec<(String, String)>,
    ) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        for (name, file) in &self.env_in_workdir {
            env.push((name.clone(), format!("{work}/{file}")));
        }
        env.extend(task_env);
        if self.path.is_empty() && self.path_after.is_empty() {
            return env;
        }
        let base = env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var("PATH").ok())
            .unwrap_or_else(|| DEFAULT_PATH.to_owned());
        let text = |dirs: &[PathBuf]| -> Vec<String> {
            dirs.iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect()
        };
        let mut parts = text(&self.path);
        parts.push(base);
        parts.extend(text(&self.path_after));
        env.push(("PATH".into(), parts.join(":")));
        env
    }
}

/// The tool directories of this worker that exist, as given by `value` (`SAKER_TOOL_DIRS`).
pub(super) fn tool_dirs_from(value: Option<std::ffi::OsString>) -> Vec<PathBuf> {
    value
        .map(|v| std::env::split_paths(&v).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|d| d.is_absolute() && d.is_dir())
        .collect()
}

/// The tool directories: visible to the process, their programs last on its `PATH`.
pub(super) fn tool_dirs() -> Extras {
    let dirs = tool_dirs_from(std::env::var_os(TOOL_DIRS_VAR));
    Extras {
        path_after: dirs.iter().map(|d| bin_of(d)).collect(),
        mounts: dirs.into_iter().map(Mount::read_only).collect(),
        ..Extras::default()
    }
}

/// A tool directory's `bin` when it has one (a venv), else the directory itself.
fn bin_of(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    if bin.is_dir() { bin } else { dir.to_path_buf() }
}

/// Where `program` is: on Saker's `PATH` or in the directories `extras` adds to it (the tool
/// directories). An error names the program and how to install it.
pub(super) fn find_program(
    task_type: &str,
    program: &Program,
    extras: &Extras,
) -> Result<PathBuf, TaskError> {
    let saker_path = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    let dirs = extras
        .path
        .iter()
        .cloned()
        .chain(std::env::split_paths(&saker_path))
        .chain(extras.path_after.iter().cloned());
    for dir in dirs {
        for name in program.names {
            let candidate = dir.join(name);
            if is_executable(&candidate) {
                return Ok(candidate);
            }
        }
    }
    Err(TaskError::Failed(format!(
        "{task_type} needs the program '{}', which is neither on this worker's PATH nor in a \
         directory of {TOOL_DIRS_VAR}: {}",
        program.names.join("' or '"),
        program.install
    )))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Logs, once per task, that what the task asked to run its process in is not used: the
/// Process task runner runs it on the worker's host, confined, with the programs found there.
/// Kestra's Docker runner and other task runners, a `containerImage`, the older `docker` and
/// `dockerOptions` properties and `runner: DOCKER` all name a container Saker does not start.
pub(super) fn note_unused_container(ctx: &mut TaskContext) -> Result<(), TaskError> {
    let mut unused = Vec::new();
    if let Some(runner) = ctx.property("taskRunner") {
        let kind = runner.get("type").and_then(Value::as_str).unwrap_or("");
        if !kind.ends_with("runner.Process") {
            unused.push(format!("taskRunner '{kind}'"));
        }
    }
    if let Some(image) = ctx.render_string("containerImage")? {
        unused.push(format!("containerImage '{image}'"));
    }
    for property in ["docker", "dockerOptions"] {
        if let Some(image) = ctx
            .property(property)
            .and_then(|d| d.get("image"))
            .and_then(Value::as_str)
        {
            unused.push(format!("{property} image '{image}'"));
        }
    }
    if ctx
        .render_string("runner")?
        .is_some_and(|r| r.eq_ignore_ascii_case("DOCKER"))
    {
        unused.push("runner 'DOCKER'".to_owned());
    }
    if !unused.is_empty() {
        ctx.log(
            Level::Warn,
            &format!(
                "{} {} not used: the Process task runner runs the commands on the worker's \
                 host, confined, with the programs installed there",
                unused.join(", "),
                if unused.len() == 1 { "is" } else { "are" }
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_go_around_the_tasks_own_path() {
        let extras = Extras {
            path: vec![PathBuf::from("/opt/tools/bin")],
            path_after: vec![PathBuf::from("/opt/more/bin")],
            env: vec![("A".into(), "1".into())],
            ..Extras::default()
        };
        let env = extras.environment(
            "/work",
            vec![("A".into(), "2".into()), ("PATH".into(), "/custom".into())],
        );
        assert_eq!(
            env.last().unwrap(),
            &("PATH".into(), "/opt/tools/bin:/custom:/opt/more/bin".into())
        );
        // The task's env overrides the wrapper's variables (it comes later).
        assert_eq!(env[0], ("A".into(), "1".into()));
        assert_eq!(env[1], ("A".into(), "2".into()));
    }

    #[test]
    fn only_existing_absolute_tool_directories_count() {
        let dir = tempfile::tempdir().unwrap();
        let value = format!("{}:relative:/nonexistent-saker-tools", dir.path().display());
        assert_eq!(
            tool_dirs_from(Some(value.into())),
            vec![dir.path().to_path_buf()]
        );
        assert!(tool_dirs_from(None).is_empty());
    }

    #[test]
    fn a_missing_program_is_named_with_how_to_install_it() {
        let program = Program {
            names: &["saker-no-such-tool-x1"],
            install: "install it with `pip install x1`",
        };
        let err = find_program("io.example.X", &program, &Extras::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("'saker-no-such-tool-x1'"), "{text}");
        assert!(text.contains("pip install x1"), "{text}");
        assert!(text.contains(TOOL_DIRS_VAR), "{text}");
    }
}
