//! Why a confined process could not be prepared.

use std::path::PathBuf;

/// What went wrong while preparing a task's process.
#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    /// Confinement is required (`tasks.confinement: bubblewrap`, the default) and cannot run
    /// here, so no task process is started at all.
    #[error(
        "tasks that start processes run confined (tasks.confinement: bubblewrap), and confinement \
         is not available here: {reason}. Install bubblewrap (Debian/Ubuntu: `apt-get install \
         bubblewrap`) or point tasks.bubblewrap-path at it; only if every flow author may read \
         Saker's data directory, keys and environment, set `tasks.confinement: none`"
    )]
    Unavailable { reason: String },
    /// A working directory could not be created or removed.
    #[error("task working directory {}: {source}", path.display())]
    WorkDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The process could not be started.
    #[error("cannot start '{program}': {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    /// An identifier would not make a single path component (it would escape the work root).
    #[error(
        "'{0}' cannot name a task working directory: it must be non-empty and hold only letters, digits, '-' and '_'"
    )]
    BadId(String),
    /// `tasks.confinement` holds something else than the known modes.
    #[error(
        "tasks.confinement: '{0}' is not a confinement mode; use `bubblewrap` (the default) or `none`"
    )]
    UnknownMode(String),
}
