//! [`Storage`] on the local filesystem: `{root}/{tenant}/{uri path}`, the root being
//! `storage/` under the data directory by default.
//!
//! URIs cannot climb out (see [`StorageUri`]); what could still lead outside is a symbolic
//! link inside the root, which nothing of Saker's creates: every component of a path is
//! checked and a link anywhere is refused ([`StorageError::Escape`]) rather than followed.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::uri::check_tenant;
use crate::{FileInfo, FileKind, Storage, StorageError, StorageUri};

/// Largest file stored by default: 64 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Names of files being written; never listed, never read.
const TEMP_PREFIX: &str = ".saker-tmp-";

/// The internal storage in a local directory.
#[derive(Debug, Clone)]
pub struct LocalStorage {
    root: PathBuf,
    /// Largest file accepted by [`Storage::put`] and returned by [`Storage::get`].
    pub max_file_bytes: u64,
}

impl LocalStorage {
    /// A storage rooted at `root` (created on the first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        }
    }

    /// The directory everything is stored under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `uri` of `tenant` is on disk, after checking that no existing component of the
    /// path is a symbolic link.
    fn host_path(&self, tenant: &str, uri: &StorageUri) -> Result<PathBuf, StorageError> {
        check_tenant(tenant)?;
        let mut path = self.root.join(tenant);
        self.refuse_link(&path, uri)?;
        for segment in uri.segments() {
            path.push(segment);
            self.refuse_link(&path, uri)?;
        }
        Ok(path)
    }

    fn refuse_link(&self, path: &Path, uri: &StorageUri) -> Result<(), StorageError> {
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => Err(StorageError::Escape {
                uri: uri.to_string(),
            }),
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StorageError::io(path, e)),
        }
    }

    fn info(uri: StorageUri, meta: &fs::Metadata) -> FileInfo {
        let kind = if meta.is_dir() {
            FileKind::Directory
        } else {
            FileKind::File
        };
        FileInfo {
            uri,
            kind,
            size: if kind == FileKind::File {
                meta.len()
            } else {
                0
            },
            modified: meta.modified().ok().map(DateTime::<Utc>::from),
            created: meta.created().ok().map(DateTime::<Utc>::from),
        }
    }

    fn too_large(&self, uri: &StorageUri, size: u64) -> Result<(), StorageError> {
        if size > self.max_file_bytes {
            return Err(StorageError::TooLarge {
                uri: uri.to_string(),
                size,
                max: self.max_file_bytes,
            });
        }
        Ok(())
    }

    fn walk(
        &self,
        dir: &Path,
        uri: &StorageUri,
        out: &mut Vec<FileInfo>,
    ) -> Result<(), StorageError> {
        for entry in self.entries(dir, uri)? {
            if entry.kind == FileKind::Directory {
                let path = dir.join(entry.uri.file_name());
                self.walk(&path, &entry.uri, out)?;
            } else {
                out.push(entry);
            }
        }
        Ok(())
    }

    /// The entries of directory `dir` (whose URI is `uri`); links are skipped, as they are
    /// never followed.
    fn entries(&self, dir: &Path, uri: &StorageUri) -> Result<Vec<FileInfo>, StorageError> {
        let read = match fs::read_dir(dir) {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StorageError::io(dir, e)),
        };
        let mut out = Vec::new();
        for entry in read {
            let entry = entry.map_err(|e| StorageError::io(dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with(TEMP_PREFIX) {
                continue;
            }
            let meta = entry
                .metadata()
                .map_err(|e| StorageError::io(entry.path(), e))?;
            if meta.file_type().is_symlink() {
                continue;
            }
            let Ok(child) = uri.join(name) else { continue };
            out.push(Self::info(child, &meta));
        }
        out.sort_by(|a, b| a.uri.cmp(&b.uri));
        Ok(out)
    }
}

impl Storage for LocalStorage {
    fn max_file_bytes(&self) -> u64 {
        self.max_file_bytes
    }

    fn put(&self, tenant: &str, uri: &StorageUri, bytes: &[u8]) -> Result<FileInfo, StorageError> {
        self.too_large(uri, bytes.len() as u64)?;
        let path = self.host_path(tenant, uri)?;
        if path.is_dir() {
            return Err(StorageError::WrongKind {
                uri: uri.to_string(),
                found: "directory",
                wanted: "file",
            });
        }
        let parent = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(parent).map_err(|e| StorageError::io(parent, e))?;
        // Created since the check above: checked again before writing into it.
        self.host_path(tenant, uri)?;
        let temp = parent.join(format!("{TEMP_PREFIX}{}", uuid::Uuid::new_v4()));
        let written = fs::File::create(&temp)
            .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
            .and_then(|()| fs::rename(&temp, &path));
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(StorageError::io(&path, e));
        }
        let meta = fs::metadata(&path).map_err(|e| StorageError::io(&path, e))?;
        Ok(Self::info(uri.clone(), &meta))
    }

    fn get(&self, tenant: &str, uri: &StorageUri) -> Result<Vec<u8>, StorageError> {
        let info = self
            .stat(tenant, uri)?
            .ok_or_else(|| StorageError::NotFound {
                uri: uri.to_string(),
            })?;
        if info.kind == FileKind::Directory {
            return Err(StorageError::WrongKind {
                uri: uri.to_string(),
                found: "directory",
                wanted: "file",
            });
        }
        self.too_large(uri, info.size)?;
        let path = self.host_path(tenant, uri)?;
        fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StorageError::NotFound {
                uri: uri.to_string(),
            },
            _ => StorageError::io(&path, e),
        })
    }

    fn stat(&self, tenant: &str, uri: &StorageUri) -> Result<Option<FileInfo>, StorageError> {
        let path = self.host_path(tenant, uri)?;
        match fs::symlink_metadata(&path) {
            Ok(meta) => Ok(Some(Self::info(uri.clone(), &meta))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StorageError::io(&path, e)),
        }
    }

    fn list(&self, tenant: &str, uri: &StorageUri) -> Result<Vec<FileInfo>, StorageError> {
        let path = self.host_path(tenant, uri)?;
        if path.is_file() {
            return Err(StorageError::WrongKind {
                uri: uri.to_string(),
                found: "file",
                wanted: "directory",
            });
        }
        self.entries(&path, uri)
    }

    fn list_files(&self, tenant: &str, uri: &StorageUri) -> Result<Vec<FileInfo>, StorageError> {
        let path = self.host_path(tenant, uri)?;
        let mut out = Vec::new();
        self.walk(&path, uri, &mut out)?;
        out.sort_by(|a, b| a.uri.cmp(&b.uri));
        Ok(out)
    }

    fn create_dir(&self, tenant: &str, uri: &StorageUri) -> Result<(), StorageError> {
        let path = self.host_path(tenant, uri)?;
        fs::create_dir_all(&path).map_err(|e| StorageError::io(&path, e))?;
        self.host_path(tenant, uri).map(|_| ())
    }

    fn delete(&self, tenant: &str, uri: &StorageUri) -> Result<bool, StorageError> {
        let path = self.host_path(tenant, uri)?;
        let removed = match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => fs::remove_dir_all(&path),
            Ok(_) => fs::remove_file(&path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(StorageError::io(&path, e)),
        };
        removed.map_err(|e| StorageError::io(&path, e))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> StorageUri {
        StorageUri::parse(s).unwrap()
    }

    #[test]
    fn files_are_stored_under_the_tenant_as_the_uri_says() {
        let dir = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(dir.path());
        let file = StorageUri::task_run("company.team", "f", "E1", "t", "R1")
            .unwrap()
            .join("out/a.txt")
            .unwrap();
        let info = storage.put("main", &file, b"hello").unwrap();
        assert_eq!(info.size, 5);
        let on_disk = dir
            .path()
            .join("main/company/team/f/executions/E1/tasks/t/R1/out/a.txt");
        assert_eq!(fs::read(on_disk).unwrap(), b"hello");
        assert_eq!(storage.get("main", &file).unwrap(), b"hello");
        // Another tenant has its own tree.
        assert!(storage.get("other", &file).unwrap_err().is_not_found());

        let execution = StorageUri::execution("company.team", "f", "E1").unwrap();
        let files = storage.list_files("main", &execution).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].uri, file);
        let top = storage.list("main", &execution).unwrap();
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].kind, FileKind::Directory);
        assert!(storage.delete("main", &execution).unwrap());
        assert!(storage.stat("main", &file).unwrap().is_none());
        assert!(!storage.delete("main", &execution).unwrap());
    }

    #[test]
    fn size_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut storage = LocalStorage::new(dir.path());
        storage.max_file_bytes = 4;
        let e = storage
            .put("main", &uri("kestra:///a/b.txt"), b"12345")
            .unwrap_err();
        assert!(
            matches!(
                e,
                StorageError::TooLarge {
                    size: 5,
                    max: 4,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn symbolic_links_are_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret.txt"), b"outside").unwrap();
        let storage = LocalStorage::new(dir.path());
        fs::create_dir_all(dir.path().join("main/ns")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("main/ns/link")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            dir.path().join("main/ns/file"),
        )
        .unwrap();
        for target in ["kestra:///ns/link/secret.txt", "kestra:///ns/file"] {
            let e = storage.get("main", &uri(target)).unwrap_err();
            assert!(matches!(e, StorageError::Escape { .. }), "{target}: {e}");
            let e = storage.put("main", &uri(target), b"x").unwrap_err();
            assert!(matches!(e, StorageError::Escape { .. }), "{target}: {e}");
        }
        assert_eq!(
            fs::read(outside.path().join("secret.txt")).unwrap(),
            b"outside"
        );
        // Links are not listed either.
        assert!(
            storage
                .list("main", &uri("kestra:///ns"))
                .unwrap()
                .is_empty()
        );
        assert!(storage.put("..", &uri("kestra:///a"), b"x").is_err());
    }

    #[test]
    fn a_directory_is_not_read_as_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(dir.path());
        storage.put("main", &uri("kestra:///d/f"), b"x").unwrap();
        let e = storage.get("main", &uri("kestra:///d")).unwrap_err();
        assert!(matches!(e, StorageError::WrongKind { .. }), "{e}");
        let e = storage.list("main", &uri("kestra:///d/f")).unwrap_err();
        assert!(matches!(e, StorageError::WrongKind { .. }), "{e}");
    }
}
