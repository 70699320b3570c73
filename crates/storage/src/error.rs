//! Why a storage call failed. Messages name URIs and limits, never a file's content.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The text is not an internal storage URI Saker accepts.
    #[error("'{uri}' is not a valid internal storage URI: {reason}")]
    InvalidUri { uri: String, reason: String },
    /// A relative path (namespace file, output file, tenant) is not acceptable.
    #[error("'{path}' is not a valid storage path: {reason}")]
    InvalidPath { path: String, reason: String },
    /// Nothing is stored at that URI.
    #[error("{uri} does not exist")]
    NotFound { uri: String },
    /// A file was asked for and a directory found, or the other way round.
    #[error("{uri} is a {found}, not a {wanted}")]
    WrongKind {
        uri: String,
        found: &'static str,
        wanted: &'static str,
    },
    /// The file is larger than the storage accepts.
    #[error(
        "{uri} is {size} bytes, more than the {max} bytes a stored file may hold \
         (storage.max-file-bytes)"
    )]
    TooLarge { uri: String, size: u64, max: u64 },
    /// The stored path resolves outside the storage root (a symbolic link).
    #[error("{uri} leads outside the internal storage (a symbolic link); it is not followed")]
    Escape { uri: String },
    /// The filesystem (or, for another backend, the service) failed.
    #[error("storage I/O on {} failed: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A blocking storage call could not be run (its thread panicked or the runtime stopped).
    #[error("a storage call could not finish: {0}")]
    Interrupted(String),
}

impl StorageError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// True when the error means the file is not there.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}
