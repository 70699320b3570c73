//! Execution files at rest: plain, or sealed when they hold a secret.
//!
//! A sealed file is stored as [`SEALED_HEADER`] followed by the `ValueSealer`'s sealed text of
//! the file's bytes (base64, since the sealer seals text), bound to the execution id and the
//! file's URI. The header starts with a NUL byte, which no text file begins with; a file
//! that carries the header but does not open is an error, never returned as it is.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use saker_storage::{FileInfo, Storage, StorageUri};
use zeroize::Zeroizing;

use super::FileError;
use crate::sealing::Protector;

/// What begins every sealed file.
pub(crate) const SEALED_HEADER: &[u8] = b"\0saker-sealed-file-v1\n";

/// The engine's door to the internal storage.
#[derive(Clone)]
pub struct ExecutionFiles {
    storage: Option<Arc<dyn Storage>>,
    protector: Protector,
}

/// A file read back: its bytes (opened when it was sealed).
pub struct OpenedFile {
    pub bytes: Zeroizing<Vec<u8>>,
    /// It was stored sealed: its content derives from a secret.
    pub sealed: bool,
}

impl ExecutionFiles {
    /// The execution files over `storage` (none: FILE inputs and files refused), sealing with
    /// `protector`.
    pub fn new(storage: Option<Arc<dyn Storage>>, protector: Protector) -> Self {
        Self { storage, protector }
    }

    /// The files of one task attempt of `execution`.
    pub fn for_task(
        &self,
        execution: &saker_model::Execution,
        task_id: &str,
        task_run_id: &str,
        masks: &Arc<crate::masks::ExecutionMasks>,
    ) -> super::TaskFiles {
        super::TaskFiles {
            files: self.clone(),
            tenant: execution.tenant_id.clone(),
            namespace: execution.namespace.clone(),
            flow_id: execution.flow_id.clone(),
            execution_id: execution.id.clone(),
            task_id: task_id.to_owned(),
            task_run_id: task_run_id.to_owned(),
            masks: masks.clone(),
            parent: subflow_parent(execution),
        }
    }

    /// The storage, or [`FileError::NoStorage`].
    pub fn storage(&self) -> Result<&Arc<dyn Storage>, FileError> {
        self.storage.as_ref().ok_or(FileError::NoStorage)
    }

    /// Stores a file of execution `execution_id`, sealed when `seal` (refused when no
    /// encryption key is configured: the file would be lost or leaked).
    pub fn put(
        &self,
        tenant: &str,
        execution_id: &str,
        uri: &StorageUri,
        bytes: &[u8],
        seal: bool,
    ) -> Result<FileInfo, FileError> {
        let storage = self.storage()?;
        if !seal {
            return Ok(storage.put(tenant, uri, bytes)?);
        }
        let sealer =
            self.protector
                .sealer
                .as_ref()
                .ok_or_else(|| FileError::NeedsEncryptionKey {
                    what: uri.to_string(),
                })?;
        let encoded = Zeroizing::new(STANDARD.encode(bytes));
        let sealed = sealer
            .seal(execution_id, &aad_path(uri), &encoded)
            .map_err(|reason| FileError::Sealing {
                uri: uri.to_string(),
                reason,
            })?;
        let mut stored = Vec::with_capacity(SEALED_HEADER.len() + sealed.len());
        stored.extend_from_slice(SEALED_HEADER);
        stored.extend_from_slice(sealed.as_bytes());
        Ok(storage.put(tenant, uri, &stored)?)
    }

    /// Reads a file of execution `execution_id`, opening it when it was sealed.
    pub fn open(
        &self,
        tenant: &str,
        execution_id: &str,
        uri: &StorageUri,
    ) -> Result<OpenedFile, FileError> {
        let stored = Zeroizing::new(self.storage()?.get(tenant, uri)?);
        let Some(sealed) = stored.strip_prefix(SEALED_HEADER) else {
            return Ok(OpenedFile {
                bytes: stored,
                sealed: false,
            });
        };
        let failed = |reason: String| FileError::Sealing {
            uri: uri.to_string(),
            reason,
        };
        let sealer = self
            .protector
            .sealer
            .as_ref()
            .ok_or_else(|| failed("no encryption.secret-key is configured".into()))?;
        let text = std::str::from_utf8(sealed).map_err(|_| failed("it is damaged".into()))?;
        let encoded = sealer
            .open(execution_id, &aad_path(uri), text)
            .map_err(failed)?;
        let bytes = STANDARD
            .decode(encoded.as_bytes())
            .map_err(|_| failed("it is damaged".into()))?;
        Ok(OpenedFile {
            bytes: Zeroizing::new(bytes),
            sealed: true,
        })
    }

    /// True when the file at `uri` is stored sealed (without opening it).
    pub fn is_sealed(&self, tenant: &str, uri: &StorageUri) -> Result<bool, FileError> {
        let stored = Zeroizing::new(self.storage()?.get(tenant, uri)?);
        Ok(is_sealed_bytes(&stored))
    }
}

/// True when `stored` (a file's bytes as the storage holds them) is a sealed file.
pub fn is_sealed_bytes(stored: &[u8]) -> bool {
    stored.starts_with(SEALED_HEADER)
}

/// What a sealed file is bound to besides its execution.
fn aad_path(uri: &StorageUri) -> String {
    format!("file:{uri}")
}

/// The execution that started `execution` as a Subflow or ForEachItem child: (namespace,
/// flow id, execution id), from the trigger it recorded.
pub(super) fn subflow_parent(
    execution: &saker_model::Execution,
) -> Option<(String, String, String)> {
    let trigger = execution.trigger.as_deref()?;
    if trigger.type_name != crate::executor::SUBFLOW_TRIGGER {
        return None;
    }
    let field = |name: &str| Some(trigger.variables.get(name)?.as_str()?.to_owned());
    Some((field("namespace")?, field("flowId")?, field("executionId")?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sealing::ValueSealer;

    /// A sealer that reverses and tags, bound to execution and path: enough to tell sealed
    /// from plain and to refuse another binding.
    struct Reverse;

    impl ValueSealer for Reverse {
        fn seal(&self, execution_id: &str, path: &str, plaintext: &str) -> Result<String, String> {
            Ok(format!(
                "{execution_id}|{path}|{}",
                plaintext.chars().rev().collect::<String>()
            ))
        }

        fn open(
            &self,
            execution_id: &str,
            path: &str,
            sealed: &str,
        ) -> Result<Zeroizing<String>, String> {
            let rest = sealed
                .strip_prefix(&format!("{execution_id}|{path}|"))
                .ok_or("bound elsewhere")?;
            Ok(Zeroizing::new(rest.chars().rev().collect()))
        }
    }

    fn files(dir: &std::path::Path, sealer: bool) -> ExecutionFiles {
        ExecutionFiles::new(
            Some(Arc::new(saker_storage::LocalStorage::new(dir))),
            Protector {
                sealer: sealer.then(|| Arc::new(Reverse) as Arc<dyn ValueSealer>),
            },
        )
    }

    #[test]
    fn sealed_files_open_only_for_their_execution_and_uri() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path(), true);
        let uri = StorageUri::parse("kestra:///ns/f/executions/E1/tasks/t/R/out.txt").unwrap();
        files
            .put("main", "E1", &uri, b"top secret bytes", true)
            .unwrap();
        let raw = files.storage().unwrap().get("main", &uri).unwrap();
        assert!(raw.starts_with(SEALED_HEADER));
        assert!(!raw.windows(6).any(|w| w == b"secret"));
        let opened = files.open("main", "E1", &uri).unwrap();
        assert!(opened.sealed);
        assert_eq!(opened.bytes.as_slice(), b"top secret bytes");
        assert!(files.is_sealed("main", &uri).unwrap());
        let e = files.open("main", "E2", &uri).err().unwrap();
        assert!(matches!(e, FileError::Sealing { .. }), "{e}");
        // Copied under another URI, it does not open either.
        let copy = StorageUri::parse("kestra:///ns/f/executions/E1/tasks/t/R/copy.txt").unwrap();
        files.storage().unwrap().put("main", &copy, &raw).unwrap();
        assert!(files.open("main", "E1", &copy).is_err());
    }

    #[test]
    fn without_a_key_a_secret_file_is_refused_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path(), false);
        let uri = StorageUri::parse("kestra:///ns/f/executions/E1/x").unwrap();
        let e = files.put("main", "E1", &uri, b"s", true).unwrap_err();
        assert!(matches!(e, FileError::NeedsEncryptionKey { .. }), "{e}");
        assert!(
            files
                .storage()
                .unwrap()
                .stat("main", &uri)
                .unwrap()
                .is_none()
        );
        files.put("main", "E1", &uri, b"plain", false).unwrap();
        let opened = files.open("main", "E1", &uri).unwrap();
        assert!(!opened.sealed);
        assert_eq!(opened.bytes.as_slice(), b"plain");
    }
}
