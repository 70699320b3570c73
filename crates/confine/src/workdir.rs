//! Working directories of task attempts: `<work root>/<execution id>/<task run id>-<attempt>`,
//! created private (0700) for one attempt and removed when it ends, so that nothing one
//! attempt wrote outlives it; what a crash left behind is removed on recovery
//! ([`remove_execution`]).

use std::path::{Path, PathBuf};

use crate::ConfineError;

/// One attempt's working directory, removed (with everything in it) when dropped, unless it
/// is the shared directory of a `WorkingDirectory` task, which outlives each of its tasks'
/// attempts and is removed by [`remove_shared`] when that task ends.
#[derive(Debug)]
pub struct WorkDir {
    host: PathBuf,
    visible: String,
    shared: bool,
}

impl WorkDir {
    /// Creates the directory of one attempt under `root`.
    pub(crate) fn create(
        root: &Path,
        execution_id: &str,
        task_run_id: &str,
        attempt: u32,
        visible: Option<&str>,
    ) -> Result<Self, ConfineError> {
        let host = attempt_path(root, execution_id, task_run_id, attempt)?;
        // A directory left by an earlier process with the same name is not reused.
        remove_tree(&host)?;
        std::fs::create_dir_all(&host).map_err(|source| ConfineError::WorkDir {
            path: host.clone(),
            source,
        })?;
        // The execution's and the attempt's directories are Saker's alone; the root is left
        // as the operator made it (it may be a shared directory).
        for dir in [host.parent().unwrap_or(root), host.as_path()] {
            set_private(dir)?;
        }
        let visible = match visible {
            Some(path) => path.to_owned(),
            None => host.to_string_lossy().into_owned(),
        };
        Ok(Self {
            host,
            visible,
            shared: false,
        })
    }

    /// Opens (creating it the first time) the directory shared by the tasks of one
    /// `WorkingDirectory` run, `<root>/<execution id>/<owner task run id>-shared`. What one
    /// task wrote there, the next one reads.
    pub(crate) fn open_shared(
        root: &Path,
        execution_id: &str,
        owner_task_run_id: &str,
        visible: Option<&str>,
    ) -> Result<Self, ConfineError> {
        let host = shared_path(root, execution_id, owner_task_run_id)?;
        std::fs::create_dir_all(&host).map_err(|source| ConfineError::WorkDir {
            path: host.clone(),
            source,
        })?;
        for dir in [host.parent().unwrap_or(root), host.as_path()] {
            set_private(dir)?;
        }
        let visible = match visible {
            Some(path) => path.to_owned(),
            None => host.to_string_lossy().into_owned(),
        };
        Ok(Self {
            host,
            visible,
            shared: true,
        })
    }

    /// Where the directory is on the host (to put files in before the process starts).
    pub fn host_path(&self) -> &Path {
        &self.host
    }

    /// Where the task's process sees it (its `WORKING_DIR` and current directory).
    pub fn visible_path(&self) -> &str {
        &self.visible
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.shared {
            return;
        }
        if let Err(e) = remove_tree(&self.host) {
            tracing::warn!(error = %e, "cannot remove a task working directory");
        }
        // The execution's directory goes with its last attempt (it fails while another
        // attempt of the execution still has its directory, which is what is wanted).
        if let Some(parent) = self.host.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

/// Removes the working directories of every attempt of an execution (after a crash, before
/// new attempts start).
pub fn remove_execution(root: &Path, execution_id: &str) -> Result<(), ConfineError> {
    check_id(execution_id)?;
    remove_tree(&root.join(execution_id))
}

/// Removes the shared directory of a `WorkingDirectory` run once it has ended.
pub fn remove_shared(
    root: &Path,
    execution_id: &str,
    owner_task_run_id: &str,
) -> Result<(), ConfineError> {
    let host = shared_path(root, execution_id, owner_task_run_id)?;
    remove_tree(&host)?;
    if let Some(parent) = host.parent() {
        let _ = std::fs::remove_dir(parent);
    }
    Ok(())
}

fn shared_path(
    root: &Path,
    execution_id: &str,
    owner_task_run_id: &str,
) -> Result<PathBuf, ConfineError> {
    check_id(execution_id)?;
    check_id(owner_task_run_id)?;
    Ok(root
        .join(execution_id)
        .join(format!("{owner_task_run_id}-shared")))
}

fn attempt_path(
    root: &Path,
    execution_id: &str,
    task_run_id: &str,
    attempt: u32,
) -> Result<PathBuf, ConfineError> {
    check_id(execution_id)?;
    check_id(task_run_id)?;
    Ok(root
        .join(execution_id)
        .join(format!("{task_run_id}-{attempt}")))
}

/// Ids become path components: only characters that cannot climb out of the work root.
fn check_id(id: &str) -> Result<(), ConfineError> {
    let ok = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ConfineError::BadId(id.to_owned()))
    }
}

fn remove_tree(path: &Path) -> Result<(), ConfineError> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ConfineError::WorkDir {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn set_private(dir: &Path) -> Result<(), ConfineError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|source| {
        ConfineError::WorkDir {
            path: dir.to_path_buf(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_directory_outlives_its_guards_until_removed() {
        let root = tempfile::tempdir().unwrap();
        let first = WorkDir::open_shared(root.path(), "exec1", "wd1", None).unwrap();
        std::fs::write(first.host_path().join("f"), "x").unwrap();
        drop(first);
        let second = WorkDir::open_shared(root.path(), "exec1", "wd1", None).unwrap();
        assert_eq!(
            std::fs::read_to_string(second.host_path().join("f")).unwrap(),
            "x"
        );
        let path = second.host_path().to_path_buf();
        drop(second);
        remove_shared(root.path(), "exec1", "wd1").unwrap();
        assert!(!path.exists());
        assert!(!root.path().join("exec1").exists());
        assert!(remove_shared(root.path(), "../x", "wd1").is_err());
    }

    #[test]
    fn an_attempt_directory_is_private_and_removed_with_its_guard() {
        let root = tempfile::tempdir().unwrap();
        let dir = WorkDir::create(root.path(), "exec1", "run1", 2, Some("/work")).unwrap();
        assert_eq!(dir.host_path(), root.path().join("exec1/run1-2"));
        assert_eq!(dir.visible_path(), "/work");
        std::fs::write(dir.host_path().join("f"), "x").unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.host_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        let path = dir.host_path().to_path_buf();
        drop(dir);
        assert!(!path.exists());
        assert!(!root.path().join("exec1").exists());
    }

    #[test]
    fn ids_that_would_leave_the_root_are_refused() {
        let root = tempfile::tempdir().unwrap();
        for bad in ["", "..", "a/b", "x y"] {
            let err = WorkDir::create(root.path(), bad, "run", 1, None).unwrap_err();
            assert!(matches!(err, ConfineError::BadId(_)), "{bad}: {err}");
        }
        assert!(remove_execution(root.path(), "../etc").is_err());
    }

    #[test]
    fn an_execution_left_behind_is_removed() {
        let root = tempfile::tempdir().unwrap();
        let dir = WorkDir::create(root.path(), "exec2", "run", 1, None).unwrap();
        let path = dir.host_path().to_path_buf();
        std::mem::forget(dir); // as a crash would
        assert!(path.exists());
        remove_execution(root.path(), "exec2").unwrap();
        assert!(!root.path().join("exec2").exists());
    }
}
