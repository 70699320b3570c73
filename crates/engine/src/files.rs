//! The engine's side of the internal storage ([`saker_storage`]): which files an execution
//! may read, how a file that holds a secret is stored (sealed), and how files move between
//! the storage and a task's working directory.
//!
//! * [`ExecutionFiles`] (one per engine): stores and opens execution files, sealing those
//!   that hold a value of the execution's mask set with the engine's `ValueSealer`, bound to
//!   the execution and the file's URI (a sealed file copied elsewhere does not open).
//! * [`TaskFiles`] (one per task attempt): the [`saker_expr::FileReader`] behind `read()`:
//!   `kestra:///` URIs of the execution's own files, or paths among the namespace files of
//!   the flow's namespace (or a parent of it, with `namespace=`). A sealed file comes back
//!   tainted and joins the execution's mask set.
//! * [`stage_input_files`], [`stage_namespace_files`], [`collect_output_files`]: the
//!   `inputFiles`, `namespaceFiles` and `outputFiles` properties of the shell tasks, for any
//!   runner that has a working directory (the `WorkingDirectory` flowable included).
//! * [`coerce_inputs_with_files`]: FILE inputs of a new execution, uploaded to the storage.

mod inputs;
mod sealed;
mod staging;
mod task;

pub use inputs::{InputUpload, coerce_inputs_with_files};
pub use sealed::{ExecutionFiles, OpenedFile, is_sealed_bytes};
pub use staging::{
    OutputRule, collect_files_of, collect_output_files, stage_files_of, stage_input_files,
    stage_namespace_files,
};
pub(crate) use staging::{globs, matched_files, relative_path, write_confined_at};
pub use task::TaskFiles;

use saker_storage::StorageError;

/// Why a file could not be stored or read. Messages name URIs and inputs, never content.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("no internal storage is configured in this process")]
    NoStorage,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(
        "{uri} does not belong to this execution: a task reads only its own execution's files \
         and the namespace files of its flow's namespace"
    )]
    OtherExecution { uri: String },
    #[error(
        "namespace '{namespace}' is neither the flow's namespace '{flow_namespace}' nor a parent \
         of it: its files cannot be read from this flow"
    )]
    NamespaceNotAllowed {
        namespace: String,
        flow_namespace: String,
    },
    #[error("cannot read '{path}': only kestra:/// URIs and namespace file paths are supported")]
    UnsupportedScheme { path: String },
    #[error(
        "{what} holds a secret and must be stored encrypted: configure encryption.secret-key \
         (generate one with `openssl rand -base64 32`)"
    )]
    NeedsEncryptionKey { what: String },
    #[error("{uri} is stored encrypted and cannot be opened: {reason}")]
    Sealing { uri: String, reason: String },
}

impl From<FileError> for crate::runner::TaskError {
    fn from(e: FileError) -> Self {
        crate::runner::TaskError::Failed(e.to_string())
    }
}
