//! What the operator chose: the confinement mode, where bubblewrap is, the network, where the
//! working directories live, and which paths a task must never see.

use std::path::{Path, PathBuf};

use crate::ConfineError;

/// `tasks.confinement`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Every task process runs under bubblewrap; when bubblewrap cannot run, no task process
    /// starts (fail closed).
    #[default]
    Bubblewrap,
    /// Task processes run as plain children of Saker, seeing what Saker sees. Only an explicit
    /// `tasks.confinement: none` selects it.
    None,
}

impl Mode {
    /// Reads the value of `tasks.confinement`.
    pub fn parse(text: &str) -> Result<Self, ConfineError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "bubblewrap" | "bwrap" => Ok(Self::Bubblewrap),
            "none" => Ok(Self::None),
            _ => Err(ConfineError::UnknownMode(text.to_owned())),
        }
    }

    /// The configuration value naming this mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bubblewrap => "bubblewrap",
            Self::None => "none",
        }
    }
}

/// System directories every sandbox sees read-only (those that exist on the host). Symbolic
/// links among them (`/bin -> usr/bin` on merged-/usr systems) are recreated as links.
pub const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
];

/// Files under the system directories that hold credentials of the host, hidden always.
pub const HOST_CREDENTIALS: &[&str] = &[
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
];

/// How task processes are confined.
#[derive(Debug, Clone)]
pub struct Settings {
    pub mode: Mode,
    /// The `bwrap` executable (`tasks.bubblewrap-path`; default: `bwrap` on `PATH`, else
    /// `/usr/bin/bwrap`).
    pub bubblewrap: PathBuf,
    /// `tasks.network`: false gives each task a network namespace of its own (loopback only).
    pub network: bool,
    /// `tasks.work-dir`: where attempts' working directories live. `None`: a private
    /// temporary directory removed with the [`crate::Confinement`].
    pub work_root: Option<PathBuf>,
    /// Directories bound read-only into every sandbox: [`SYSTEM_DIRS`] plus the operator's
    /// `tasks.read-only-paths`.
    pub read_only: Vec<PathBuf>,
    /// Paths no task may see even when they lie under a read-only directory: the data
    /// directory, the configuration file, key files (and always [`HOST_CREDENTIALS`]).
    pub hidden: Vec<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: Mode::default(),
            bubblewrap: find_on_path("bwrap").unwrap_or_else(|| PathBuf::from("/usr/bin/bwrap")),
            network: true,
            work_root: None,
            read_only: SYSTEM_DIRS.iter().map(PathBuf::from).collect(),
            hidden: HOST_CREDENTIALS.iter().map(PathBuf::from).collect(),
        }
    }
}

impl Settings {
    /// Adds a path tasks must never see.
    pub fn hide(&mut self, path: impl AsRef<Path>) {
        self.hidden.push(path.as_ref().to_path_buf());
    }
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_read_and_unknown_ones_named() {
        assert_eq!(Mode::parse("bubblewrap").unwrap(), Mode::Bubblewrap);
        assert_eq!(Mode::parse(" None ").unwrap(), Mode::None);
        let err = Mode::parse("landlock").unwrap_err().to_string();
        assert!(err.contains("landlock") && err.contains("none"), "{err}");
    }
}
