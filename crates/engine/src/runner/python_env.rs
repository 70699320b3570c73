//! Python's `dependencies`: installed with uv into an environment cached per dependency set,
//! then the task's process runs with that environment's `python` first on its `PATH`.
//!
//! The environment of a set lives in `<cache>/python-envs/<key>`, where `key` is a hash of
//! the sorted dependency list, the requested `pythonVersion` and the system Python's version,
//! and `<cache>` is `SAKER_CACHE_DIR` (default `$XDG_CACHE_HOME/saker`, else
//! `~/.cache/saker`). It is built once and reused by every later run of any task asking for
//! the same set; a lock file next to it makes concurrent tasks (in this process or another)
//! wait for the one building it rather than build it twice. An environment is marked ready
//! only once uv succeeded, so a failed or interrupted install is redone, never half-used.
//! `dependencyCacheEnabled: false` installs into a fresh environment removed after the task.
//!
//! uv itself runs confined, in the task's sandbox, with only the environment being built
//! bound writable: a package's build scripts are code from the flow's author like the script
//! is, and never run with Saker's own rights. Nothing writable is shared between
//! environments (one set's build scripts could otherwise plant files another set uses): uv
//! runs without its download cache (each environment is built once anyway), and a Python it
//! downloads for `pythonVersion` goes inside the environment (`.python`). uv is `SAKER_UV`,
//! else `uv` on Saker's `PATH`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use saker_confine::{Mount, WorkDir};
use saker_model::Level;
use sha2::{Digest, Sha256};

use super::process_setup::Extras;
use super::{TaskContext, TaskError};

/// Marks an environment whose install succeeded.
const READY_MARKER: &str = ".saker-ready";

/// The non-empty entries of the task's `dependencies`.
pub(super) fn dependencies(ctx: &mut TaskContext) -> Result<Vec<String>, TaskError> {
    Ok(ctx
        .render_for_process("dependencies")?
        .into_iter()
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .collect())
}

/// Makes the environment holding `dependencies` ready (installing it unless cached) and
/// returns what the task's process needs to use it; `None` when there are none.
pub(super) async fn prepare(
    ctx: &mut TaskContext,
    workdir: &WorkDir,
    dependencies: &[String],
) -> Result<Option<Extras>, TaskError> {
    if dependencies.is_empty() {
        return Ok(None);
    }
    let uv = find_uv(std::env::var_os("SAKER_UV"))?;
    let cache = cache_root(|name| std::env::var_os(name))?;
    let python = system_python()?;
    let requested = ctx.render_string("pythonVersion")?;
    let cached = ctx
        .render_string("dependencyCacheEnabled")?
        .is_none_or(|v| crate::task_context::is_truthy(&v));
    let envs = cache.join("python-envs");
    std::fs::create_dir_all(&envs).map_err(|e| cache_error(&envs, &e))?;
    let installer = Installer {
        uv,
        python,
        requested,
    };

    let mut extras = Extras::default();
    let venv = if cached {
        let key = environment_key(
            dependencies,
            installer.requested.as_deref(),
            &installer.python_version().await,
        );
        let venv = envs.join(&key);
        let lock_path = envs.join(format!("{key}.lock"));
        let lock = std::fs::File::create(&lock_path).map_err(|e| cache_error(&lock_path, &e))?;
        // Held until this function returns: one install per environment at a time.
        let lock = tokio::task::spawn_blocking(move || lock.lock().map(|()| lock))
            .await
            .map_err(|e| TaskError::Failed(format!("waiting for the environment lock: {e}")))?
            .map_err(|e| cache_error(&lock_path, &e))?;
        if venv.join(READY_MARKER).is_file() {
            ctx.log(
                Level::Info,
                &format!(
                    "Python dependencies: reusing the cached environment of {} package(s)",
                    dependencies.len()
                ),
            );
        } else {
            if venv.exists() {
                std::fs::remove_dir_all(&venv).map_err(|e| cache_error(&venv, &e))?;
            }
            std::fs::create_dir_all(&venv).map_err(|e| cache_error(&venv, &e))?;
            installer.install(ctx, workdir, &venv, dependencies).await?;
            std::fs::write(venv.join(READY_MARKER), b"").map_err(|e| cache_error(&venv, &e))?;
        }
        drop(lock);
        venv
    } else {
        let temporary = tempfile::Builder::new()
            .prefix("uncached-")
            .tempdir_in(&envs)
            .map_err(|e| cache_error(&envs, &e))?;
        let venv = temporary.path().to_path_buf();
        installer.install(ctx, workdir, &venv, dependencies).await?;
        extras.guards.push(temporary);
        venv
    };
    extras.path.push(venv.join("bin"));
    extras
        .env
        .push(("VIRTUAL_ENV".into(), venv.to_string_lossy().into_owned()));
    extras.mounts.push(Mount::read_only(&venv));
    Ok(Some(extras))
}

/// How environments are built.
struct Installer {
    uv: PathBuf,
    /// The system's `python3`, which task sandboxes see.
    python: PathBuf,
    /// The task's `pythonVersion`: uv finds or downloads it.
    requested: Option<String>,
}

impl Installer {
    /// The system Python's version, part of the environment's key (an upgraded Python gets
    /// new environments).
    async fn python_version(&self) -> String {
        tokio::process::Command::new(&self.python)
            .arg("--version")
            .env_clear()
            .output()
            .await
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    }

    /// Creates the environment at `venv` and installs `dependencies` into it, with uv run
    /// confined in the task's sandbox.
    async fn install(
        &self,
        ctx: &mut TaskContext,
        workdir: &WorkDir,
        venv: &Path,
        dependencies: &[String],
    ) -> Result<(), TaskError> {
        ctx.log(
            Level::Info,
            &format!(
                "Python dependencies: installing {} with uv",
                dependencies.join(", ")
            ),
        );
        let mounts = [Mount::read_only(&self.uv), Mount::writable(venv)];
        let pythons = venv.join(".python");
        let mut env = vec![
            (
                "UV_PYTHON_INSTALL_DIR".to_owned(),
                pythons.to_string_lossy().into_owned(),
            ),
            ("UV_NO_CACHE".into(), "1".into()),
            ("UV_NO_PROGRESS".into(), "1".into()),
        ];
        // The system's certificate store (which the sandbox sees in /etc), not uv's bundled
        // one: a worker behind a TLS-inspecting proxy trusts that proxy there.
        env.push(("UV_NATIVE_TLS".into(), "1".into()));
        let python = match &self.requested {
            Some(version) => version.clone(),
            None => self.python.to_string_lossy().into_owned(),
        };
        let venv_text = venv.to_string_lossy().into_owned();
        let mut create = vec!["venv".to_owned(), "--quiet".to_owned()];
        create.extend(["--allow-existing", "--python"].map(String::from));
        create.extend([python, venv_text.clone()]);
        let mut add = vec!["pip".to_owned(), "install".to_owned(), "--quiet".to_owned()];
        add.extend(["--python".to_owned(), format!("{venv_text}/bin/python")]);
        add.push("--".into());
        add.extend(dependencies.iter().cloned());
        for args in [create, add] {
            self.run_uv(ctx, workdir, &args, &env, &mounts).await?;
        }
        Ok(())
    }

    /// Runs uv with `args` in the sandbox; its output goes to the task's log (masked).
    async fn run_uv(
        &self,
        ctx: &mut TaskContext,
        workdir: &WorkDir,
        args: &[String],
        env: &[(String, String)],
        mounts: &[Mount],
    ) -> Result<(), TaskError> {
        let uv = self.uv.to_string_lossy().into_owned();
        let mut command = ctx
            .sandbox()?
            .command_with_mounts(workdir, &uv, args, env, mounts)
            .map_err(|e| TaskError::Failed(e.to_string()))?;
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = command
            .spawn()
            .await
            .map_err(|e| TaskError::Failed(format!("starting uv failed: {e}")))?;
        let output = child
            .wait_with_output()
            .await
            .map_err(|e| TaskError::Failed(format!("waiting for uv failed: {e}")))?;
        let printed = [&output.stdout, &output.stderr]
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .join("\n");
        let lines: Vec<&str> = printed.lines().filter(|l| !l.trim().is_empty()).collect();
        for line in &lines {
            ctx.log(Level::Info, line);
        }
        if output.status.success() {
            return Ok(());
        }
        let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
        Err(TaskError::Property {
            property: "dependencies".into(),
            message: format!(
                "uv could not install them (uv {}, exit code {}): {tail}",
                args[0],
                output.status.code().unwrap_or(-1)
            ),
        })
    }
}

/// uv's path: `SAKER_UV` when set (it must exist), else `uv` on Saker's `PATH`.
fn find_uv(configured: Option<std::ffi::OsString>) -> Result<PathBuf, TaskError> {
    let missing = |what: String| TaskError::Property {
        property: "dependencies".into(),
        message: format!(
            "{what}: Python dependencies are installed with uv (the Python package `uv`, \
             https://docs.astral.sh/uv/); install it on the worker (`pip install uv`) and put \
             it on Saker's PATH or set SAKER_UV to its path"
        ),
    };
    if let Some(path) = configured {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(missing(format!(
                "SAKER_UV names '{}', which is not a file",
                path.display()
            )))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("uv"))
        .find(|p| p.is_file())
        .ok_or_else(|| missing("uv is not on Saker's PATH".to_owned()))
}

/// Saker's cache directory, from `get` (the process's environment).
fn cache_root(get: impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<PathBuf, TaskError> {
    let set = |name: &str| get(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = set("SAKER_CACHE_DIR") {
        return Ok(dir);
    }
    if let Some(dir) = set("XDG_CACHE_HOME") {
        return Ok(dir.join("saker"));
    }
    set("HOME")
        .map(|home| home.join(".cache").join("saker"))
        .ok_or_else(|| {
            TaskError::Failed(
                "Python dependencies need a cache directory: set SAKER_CACHE_DIR (or HOME)".into(),
            )
        })
}

/// The system's `python3`: in the system directories every sandbox sees.
fn system_python() -> Result<PathBuf, TaskError> {
    ["/usr/local/bin/python3", "/usr/bin/python3", "/bin/python3"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            TaskError::Failed(
                "Python dependencies need python3 in the system directories (/usr/bin): \
                 install it (Debian: apt-get install python3)"
                    .into(),
            )
        })
}

/// The name of the environment of a dependency set: the same set in any order, for the same
/// Python, is the same environment.
fn environment_key(dependencies: &[String], requested: Option<&str>, python: &str) -> String {
    let mut sorted: Vec<&str> = dependencies.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut hash = Sha256::new();
    hash.update(python.as_bytes());
    hash.update(b"\0");
    hash.update(requested.unwrap_or("").as_bytes());
    for dependency in sorted {
        hash.update(b"\0");
        hash.update(dependency.as_bytes());
    }
    hex::encode(&hash.finalize()[..16])
}

fn cache_error(path: &Path, error: &std::io::Error) -> TaskError {
    TaskError::Failed(format!(
        "the Python environment cache '{}' is not usable: {error}",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_key_ignores_order_and_duplicates_but_not_versions() {
        let a = environment_key(&list(&["b==1", "a"]), None, "Python 3.11.2");
        assert_eq!(
            a,
            environment_key(&list(&["a", "b==1", "a"]), None, "Python 3.11.2")
        );
        assert_ne!(
            a,
            environment_key(&list(&["a", "b==2"]), None, "Python 3.11.2")
        );
        assert_ne!(
            a,
            environment_key(&list(&["a", "b==1"]), None, "Python 3.12.0")
        );
        assert_ne!(
            a,
            environment_key(&list(&["a", "b==1"]), Some("3.12"), "Python 3.11.2")
        );
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn a_missing_uv_is_named_with_how_to_get_it() {
        let err = find_uv(Some("/nonexistent/saker/uv".into())).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("SAKER_UV names '/nonexistent/saker/uv'"),
            "{text}"
        );
        assert!(text.contains("pip install uv"), "{text}");
    }

    #[test]
    fn the_cache_root_follows_saker_then_xdg_then_home() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| std::ffi::OsString::from(v))
            }
        };
        let root = |pairs| cache_root(env(pairs)).unwrap();
        assert_eq!(
            root(&[("SAKER_CACHE_DIR", "/c"), ("HOME", "/h")]),
            PathBuf::from("/c")
        );
        assert_eq!(
            root(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")]),
            PathBuf::from("/x/saker")
        );
        assert_eq!(root(&[("HOME", "/h")]), PathBuf::from("/h/.cache/saker"));
        assert!(cache_root(env(&[])).is_err());
    }
}
