//! What one task attempt may read: its execution's own files and the namespace files of its
//! flow's namespace (or a parent namespace named with `namespace=`), as Kestra's `read()`
//! allows, and — for the child of a Subflow or ForEachItem — the files of the execution that
//! started it (a batch of items, a file handed on as an input), as Kestra allows. Another
//! execution's file, another namespace's files and other URI schemes are refused with an
//! error saying so.

use std::sync::Arc;

use saker_expr::{FileLookupError, FileReader, FileSize, FileText};
use saker_storage::{FileKind, StorageUri};

use super::{ExecutionFiles, FileError, OpenedFile};
use crate::logs::off_worker;
use crate::masks::{ExecutionMasks, MaskSource};

/// The files of one task attempt.
#[derive(Clone)]
pub struct TaskFiles {
    pub(crate) files: ExecutionFiles,
    pub tenant: String,
    pub namespace: String,
    pub flow_id: String,
    pub execution_id: String,
    pub task_id: String,
    pub task_run_id: String,
    pub(crate) masks: Arc<ExecutionMasks>,
    /// The execution that started this one as a subflow (its namespace, flow, id), whose
    /// files this one may read.
    pub parent: Option<(String, String, String)>,
}

impl TaskFiles {
    /// The folder of the execution's files.
    pub fn execution_folder(&self) -> Result<StorageUri, FileError> {
        Ok(StorageUri::execution(
            &self.namespace,
            &self.flow_id,
            &self.execution_id,
        )?)
    }

    /// The folder of the parent execution's files, for a subflow's child.
    fn parent_folder(&self) -> Result<Option<StorageUri>, FileError> {
        match &self.parent {
            Some((namespace, flow_id, id)) => {
                Ok(Some(StorageUri::execution(namespace, flow_id, id)?))
            }
            None => Ok(None),
        }
    }

    /// The folder of this task run's files (where its output files go).
    pub fn task_run_folder(&self) -> Result<StorageUri, FileError> {
        Ok(StorageUri::task_run(
            &self.namespace,
            &self.flow_id,
            &self.execution_id,
            &self.task_id,
            &self.task_run_id,
        )?)
    }

    /// The storage URI `path` names for this task: a `kestra:///` URI of the execution (or of
    /// the flow namespace's files), or a namespace file path.
    pub fn resolve(&self, path: &str, namespace: Option<&str>) -> Result<StorageUri, FileError> {
        if path
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("kestra:"))
        {
            let uri = StorageUri::parse(path)?;
            let own = uri.is_under(&self.execution_folder()?)
                || uri.is_under(&StorageUri::namespace_files(&self.namespace)?)
                || self.parent_folder()?.is_some_and(|f| uri.is_under(&f));
            if !own {
                return Err(FileError::OtherExecution {
                    uri: uri.to_string(),
                });
            }
            return Ok(uri);
        }
        if has_scheme(path) {
            return Err(FileError::UnsupportedScheme {
                path: path.to_owned(),
            });
        }
        let namespace = namespace.unwrap_or(&self.namespace);
        let allowed = namespace == self.namespace
            || self
                .namespace
                .strip_prefix(namespace)
                .is_some_and(|rest| rest.starts_with('.'));
        if !allowed {
            return Err(FileError::NamespaceNotAllowed {
                namespace: namespace.to_owned(),
                flow_namespace: self.namespace.clone(),
            });
        }
        Ok(StorageUri::namespace_files(namespace)?.join(path)?)
    }

    /// The bytes at `uri` (already resolved). A sealed file's content joins the execution's
    /// mask set before it is returned.
    pub fn open(&self, uri: &StorageUri) -> Result<OpenedFile, FileError> {
        // A parent's file was sealed for the parent.
        let owner = match (&self.parent, self.parent_folder()?) {
            (Some((_, _, parent_id)), Some(folder)) if uri.is_under(&folder) => parent_id.as_str(),
            _ => self.execution_id.as_str(),
        };
        let opened = off_worker(|| self.files.open(&self.tenant, owner, uri))?;
        if opened.sealed {
            let text = String::from_utf8_lossy(&opened.bytes);
            self.masks
                .add_source(MaskSource::Sealed(format!("file {uri}")), &text);
        }
        Ok(opened)
    }

    /// Stores a file of this execution, sealed when `seal`.
    pub fn put(&self, uri: &StorageUri, bytes: &[u8], seal: bool) -> Result<(), FileError> {
        off_worker(|| {
            self.files
                .put(&self.tenant, &self.execution_id, uri, bytes, seal)
        })?;
        Ok(())
    }

    /// Every namespace file of the flow's namespace, with its path relative to the
    /// namespace's root.
    pub fn namespace_files(&self) -> Result<Vec<(String, StorageUri)>, FileError> {
        let root = StorageUri::namespace_files(&self.namespace)?;
        let storage = self.files.storage()?;
        let listed = off_worker(|| storage.list_files(&self.tenant, &root))?;
        Ok(listed
            .into_iter()
            .filter_map(|info| {
                let relative = info.uri.relative_to(&root)?.to_owned();
                Some((relative, info.uri))
            })
            .collect())
    }
}

/// `s3://…`, `file:///…`, `nsfile:///…`: a URI, not a path.
fn has_scheme(path: &str) -> bool {
    let Some((scheme, _)) = path.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
}

impl FileReader for TaskFiles {
    fn read(&self, path: &str, namespace: Option<&str>) -> Result<FileText, FileLookupError> {
        let uri = self.resolve(path, namespace).map_err(lookup_error)?;
        let opened = self.open(&uri).map_err(lookup_error)?;
        Ok(FileText {
            text: Arc::from(String::from_utf8_lossy(&opened.bytes).as_ref()),
            secret: opened.sealed,
        })
    }

    fn size(
        &self,
        path: &str,
        namespace: Option<&str>,
    ) -> Result<Option<FileSize>, FileLookupError> {
        let uri = self.resolve(path, namespace).map_err(lookup_error)?;
        let storage = self.files.storage().map_err(lookup_error)?;
        let info =
            off_worker(|| storage.stat(&self.tenant, &uri)).map_err(|e| lookup_error(e.into()))?;
        match info {
            Some(info) if info.kind == FileKind::File => {
                // A sealed file is opened to tell its real size, which derives from a secret.
                let sealed = off_worker(|| self.files.is_sealed(&self.tenant, &uri))
                    .map_err(lookup_error)?;
                if !sealed {
                    return Ok(Some(FileSize {
                        bytes: info.size,
                        secret: false,
                    }));
                }
                let opened = self.open(&uri).map_err(lookup_error)?;
                Ok(Some(FileSize {
                    bytes: opened.bytes.len() as u64,
                    secret: true,
                }))
            }
            _ => Ok(None),
        }
    }
}

fn lookup_error(e: FileError) -> FileLookupError {
    FileLookupError::new(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sealing::Protector;

    fn task(dir: &std::path::Path) -> TaskFiles {
        TaskFiles {
            files: ExecutionFiles::new(
                Some(Arc::new(saker_storage::LocalStorage::new(dir))),
                Protector { sealer: None },
            ),
            tenant: "main".into(),
            namespace: "company.team".into(),
            flow_id: "f".into(),
            execution_id: "E1".into(),
            task_id: "t".into(),
            task_run_id: "R1".into(),
            parent: None,
            masks: Arc::default(),
        }
    }

    #[test]
    fn a_task_reads_its_execution_and_its_namespaces() {
        let dir = tempfile::tempdir().unwrap();
        let task = task(dir.path());
        let own = task
            .resolve(
                "kestra:///company/team/f/executions/E1/inputs/x/a.txt",
                None,
            )
            .unwrap();
        assert_eq!(own.path(), "company/team/f/executions/E1/inputs/x/a.txt");
        let e = task
            .resolve(
                "kestra:///company/team/f/executions/E2/inputs/x/a.txt",
                None,
            )
            .unwrap_err();
        assert!(matches!(e, FileError::OtherExecution { .. }), "{e}");
        let e = task
            .resolve("kestra:///company/team/f/executions/E1/../E2/a.txt", None)
            .unwrap_err();
        assert!(e.to_string().contains("'..'"), "{e}");
        assert_eq!(
            task.resolve("dir/a.txt", None).unwrap().path(),
            "company/team/_files/dir/a.txt"
        );
        assert_eq!(
            task.resolve("a.txt", Some("company")).unwrap().path(),
            "company/_files/a.txt"
        );
        for refused in [("a.txt", Some("other")), ("a.txt", Some("company.te"))] {
            let e = task.resolve(refused.0, refused.1).unwrap_err();
            assert!(matches!(e, FileError::NamespaceNotAllowed { .. }), "{e}");
        }
        assert!(task.resolve("../x", None).is_err());
        let e = task.resolve("file:///etc/passwd", None).unwrap_err();
        assert!(matches!(e, FileError::UnsupportedScheme { .. }), "{e}");
    }
}
