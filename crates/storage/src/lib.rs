//! Saker's internal storage: the files of executions (FILE inputs, task output files) and of
//! namespaces, addressed by `kestra:///…` URIs laid out as Kestra lays them out, behind one
//! [`Storage`] trait that the local filesystem ([`LocalStorage`]) and, with the default
//! feature `s3`, an S3-compatible bucket ([`S3Storage`], `storage.type: s3`) implement.
//!
//! Layout (each URI path under the tenant's folder, as Kestra's local storage does):
//!
//! ```text
//! {tenant}/{namespace as path}/{flow}/executions/{execution}/tasks/{task}/{task run}/{file}
//! {tenant}/{namespace as path}/{flow}/executions/{execution}/inputs/{input}/{file}
//! {tenant}/{namespace as path}/_files/{path}
//! ```
//!
//! The trait stores bytes and knows nothing of secrets: a file that must be stored
//! encrypted is sealed by the engine before it gets here.
//!
//! **Blocking.** Like `saker_store::Store`, the trait is synchronous: a call may wait on a
//! disk (or, for a remote backend, on the network), so async code runs it through
//! [`blocking`] (`spawn_blocking`) and never on a runtime worker thread. The S3 backend runs
//! its async client on one I/O thread of its own (`s3/bridge.rs`); callers do not change.
//! Whole files are read into memory, so every file is bounded ([`Storage::max_file_bytes`]).

mod error;
mod local;
#[cfg(feature = "s3")]
mod s3;
mod uri;

use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use error::StorageError;
pub use local::{DEFAULT_MAX_FILE_BYTES, LocalStorage};
#[cfg(feature = "s3")]
pub use s3::{FOLDER_MARKER, S3Config, S3ConfigError, S3Credentials, S3Storage};
pub use uri::{NAMESPACE_FILES, SCHEME_PREFIX, StorageUri, namespace_as_path, slugify};

/// Whether an entry is a file or a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    File,
    Directory,
}

impl FileKind {
    /// Kestra's name for it (`File`, `Directory`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "File",
            Self::Directory => "Directory",
        }
    }
}

/// What the storage knows of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub uri: StorageUri,
    pub kind: FileKind,
    /// Bytes stored (0 for a directory).
    pub size: u64,
    pub modified: Option<DateTime<Utc>>,
    pub created: Option<DateTime<Utc>>,
}

/// The internal storage of one Saker installation, shared by every tenant: each call names
/// its tenant, which is the first folder of the layout.
pub trait Storage: Send + Sync {
    /// The largest file [`put`](Self::put) accepts, so that a caller can refuse a larger
    /// one before reading it into memory.
    fn max_file_bytes(&self) -> u64;

    /// Stores `bytes` at `uri`, replacing what was there (atomically: a reader sees the old
    /// file or the new one). Refused past the size limit.
    fn put(&self, tenant: &str, uri: &StorageUri, bytes: &[u8]) -> Result<FileInfo, StorageError>;

    /// The bytes of the file at `uri`.
    fn get(&self, tenant: &str, uri: &StorageUri) -> Result<Vec<u8>, StorageError>;

    /// What is at `uri`, `None` when nothing is.
    fn stat(&self, tenant: &str, uri: &StorageUri) -> Result<Option<FileInfo>, StorageError>;

    /// The entries directly inside the directory at `uri` (empty when it does not exist),
    /// sorted by name.
    fn list(&self, tenant: &str, uri: &StorageUri) -> Result<Vec<FileInfo>, StorageError>;

    /// Every file under the directory at `uri`, at any depth, sorted by URI.
    fn list_files(&self, tenant: &str, uri: &StorageUri) -> Result<Vec<FileInfo>, StorageError>;

    /// Creates the directory at `uri` (and its parents).
    fn create_dir(&self, tenant: &str, uri: &StorageUri) -> Result<(), StorageError>;

    /// Deletes the file or the directory tree at `uri`; false when nothing was there.
    fn delete(&self, tenant: &str, uri: &StorageUri) -> Result<bool, StorageError>;
}

/// Runs a storage call from async code on a blocking thread, so that no runtime worker
/// waits on a disk or a network.
pub async fn blocking<T, F>(storage: Arc<dyn Storage>, call: F) -> Result<T, StorageError>
where
    T: Send + 'static,
    F: FnOnce(&dyn Storage) -> Result<T, StorageError> + Send + 'static,
{
    tokio::task::spawn_blocking(move || call(storage.as_ref()))
        .await
        .map_err(|e| StorageError::Interrupted(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn blocking_runs_a_call_off_the_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> = Arc::new(LocalStorage::new(dir.path()));
        let uri = StorageUri::parse("kestra:///a/b.txt").unwrap();
        let written = uri.clone();
        blocking(storage.clone(), move |s| s.put("main", &written, b"x"))
            .await
            .unwrap();
        let read = blocking(storage, move |s| s.get("main", &uri))
            .await
            .unwrap();
        assert_eq!(read, b"x");
    }
}
