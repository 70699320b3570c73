//! The bubblewrap command line of a confined process, and the probe that tells whether
//! bubblewrap can run here at all (user or PID namespaces can be forbidden in a container).
//!
//! The sandbox's root is an empty tmpfs. Into it go: the system directories read-only, a
//! fresh `/proc` (a new PID namespace: only the task's own processes), a minimal `/dev`, a
//! private `/tmp`, and the attempt's working directory at [`SANDBOX_WORK_DIR`]. Nothing else
//! of the host exists inside, and hidden paths under the system directories are covered.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::Settings;

/// Where a task sees its working directory.
pub const SANDBOX_WORK_DIR: &str = "/work";

/// How long the probe may take before bubblewrap counts as unavailable.
const PROBE_LIMIT: Duration = Duration::from_secs(10);

/// The options of `bwrap` (handed over its stdin, see [`crate::ConfinedCommand`]); the
/// program and its arguments follow `--args 0 --` on the command line.
pub(crate) fn arguments(
    settings: &Settings,
    host_work_dir: &Path,
    mounts: &[crate::Mount],
) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        // The sandbox dies with the thread that started it, and with its PID 1 everything in
        // it: no task process outlives its worker.
        "--die-with-parent",
        // No controlling terminal to push keystrokes into (TIOCSTI).
        "--new-session",
        "--cap-drop",
        "ALL",
        "--hostname",
        "saker-task",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
    ]
    .into_iter()
    .map(OsString::from)
    .collect();
    if !settings.network {
        args.push("--unshare-net".into());
    }
    // A link into another bound directory (`/bin -> usr/bin`) stays a link; any other path
    // is bound as what it resolves to.
    let real_dirs: Vec<PathBuf> = settings
        .read_only
        .iter()
        .filter(|d| std::fs::symlink_metadata(d).is_ok_and(|m| !m.file_type().is_symlink()))
        .filter_map(|d| std::fs::canonicalize(d).ok())
        .collect();
    let mut bound = Vec::new();
    for dir in &settings.read_only {
        let Ok(meta) = std::fs::symlink_metadata(dir) else {
            continue;
        };
        let link_inside = meta.file_type().is_symlink()
            && std::fs::canonicalize(dir)
                .is_ok_and(|real| real_dirs.iter().any(|d| real.starts_with(d)));
        match std::fs::read_link(dir) {
            Ok(target) if link_inside => push(&mut args, "--symlink", &target, dir),
            _ => {
                push(&mut args, "--ro-bind", dir, dir);
                bound.push(dir.clone());
            }
        }
    }
    if settings.network {
        // Where /etc/resolv.conf points on systemd hosts.
        let resolve = Path::new("/run/systemd/resolve");
        push(&mut args, "--ro-bind-try", resolve, resolve);
    }
    for hidden in hidden_mounts(settings, &bound) {
        args.extend(hidden);
    }
    // After the hidden paths: a mount Saker chose (a tool's directory, a cached Python
    // environment) is seen even where it lies under one.
    for mount in mounts {
        let flag = if mount.writable {
            "--bind"
        } else {
            "--ro-bind"
        };
        push(&mut args, flag, &mount.path, &mount.path);
    }
    push(
        &mut args,
        "--bind",
        host_work_dir,
        Path::new(SANDBOX_WORK_DIR),
    );
    args.push("--chdir".into());
    args.push(SANDBOX_WORK_DIR.into());
    args
}

/// Covers each hidden path that would be visible through a bound directory: a directory with
/// an empty tmpfs, a file with `/dev/null`. Paths are compared canonical, so a hidden path
/// reached through a symbolic link is found too; a path that does not exist hides nothing.
fn hidden_mounts(settings: &Settings, bound: &[PathBuf]) -> Vec<Vec<OsString>> {
    // Inside the sandbox a bound directory sits at its own path; a hidden path is visible
    // there under the part of it below the directory's canonical path.
    let bound: Vec<(&PathBuf, PathBuf)> = bound
        .iter()
        .filter_map(|d| Some((d, std::fs::canonicalize(d).ok()?)))
        .collect();
    let hidden: Vec<PathBuf> = settings
        .hidden
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    let mut mounts = Vec::new();
    for real in &hidden {
        // Under a hidden directory already: its tmpfs covers it (a mount point made for it
        // there would show its name).
        let covered = hidden
            .iter()
            .any(|other| other != real && other.is_dir() && real.starts_with(other));
        if covered {
            continue;
        }
        for (dir, real_dir) in &bound {
            let Ok(rest) = real.strip_prefix(real_dir) else {
                continue;
            };
            let inside = dir.join(rest).into_os_string();
            mounts.push(if real.is_dir() {
                vec!["--tmpfs".into(), inside]
            } else {
                vec!["--ro-bind".into(), "/dev/null".into(), inside]
            });
        }
    }
    mounts
}

fn push(args: &mut Vec<OsString>, flag: &str, from: &Path, to: &Path) {
    args.push(flag.into());
    args.push(from.as_os_str().to_owned());
    args.push(to.as_os_str().to_owned());
}

/// What a probe's outcome depends on: the executable and whether the network is shared.
type ProbeKey = (PathBuf, bool);

/// Whether bubblewrap runs here with these settings: `Ok` or why not. Tried once per
/// bubblewrap path and network setting per process.
pub(crate) fn probe(settings: &Settings) -> Result<(), String> {
    static SEEN: OnceLock<Mutex<HashMap<ProbeKey, Result<(), String>>>> = OnceLock::new();
    let key = (settings.bubblewrap.clone(), settings.network);
    let seen = SEEN.get_or_init(Mutex::default);
    if let Some(known) = seen.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return known.clone();
    }
    let outcome = run_probe(settings);
    seen.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, outcome.clone());
    outcome
}

fn run_probe(settings: &Settings) -> Result<(), String> {
    let shown = settings.bubblewrap.display();
    let dir = tempfile::Builder::new()
        .prefix("saker-confine-probe-")
        .tempdir()
        .map_err(|e| format!("cannot create a directory to try bubblewrap in: {e}"))?;
    // The same way real tasks are started: arguments over stdin.
    let args = arguments(settings, dir.path(), &[]);
    let mut child = std::process::Command::new(&settings.bubblewrap)
        .args(["--args", "0", "--", "true"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write as _;
        let _ = stdin.write_all(&crate::command::nul_separated(&args));
    }
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                let mut stderr = String::new();
                if let Some(mut err) = child.stderr.take() {
                    use std::io::Read as _;
                    let _ = err.read_to_string(&mut stderr);
                }
                return Err(format!(
                    "{shown} failed to start a sandbox ({status}): {}",
                    stderr.trim()
                ));
            }
            Ok(None) if started.elapsed() < PROBE_LIMIT => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{shown} did not finish a trivial sandbox within {}s",
                    PROBE_LIMIT.as_secs()
                ));
            }
            Err(e) => return Err(format!("waiting for {shown}: {e}")),
        }
    }
}
