//! Kestra's `WorkingDirectory` `cache` (`patterns`, `ttl`): after the last task, the files of
//! the shared directory that `patterns` match are kept as a zip in the storage, at Kestra's
//! place (`kestra:///{namespace}/{flow}/{task}/cache/[{value}/]cache.zip`); the next run of
//! the same `WorkingDirectory` (any execution of the flow) starts with them, unless the
//! archive is older than `ttl`, in which case it is deleted.
//!
//! As in Kestra, the archive is rewritten only when a matched file changed since it was
//! restored: restored files keep the archive's date, so a file dated after it was written
//! or changed by a task.
//!
//! Secrets: a cache outlives its execution and opens in the flow's later executions, so it
//! cannot be sealed to one execution like an output file. It is therefore not saved (with a
//! warning) once the execution has used any secret: a task in the directory may have written
//! it there in a form no mask recognises. A cache that cannot be read is ignored with a
//! warning, as is one that could not be saved: the cache only saves time.

use std::io::{Cursor, Read as _, Write as _};
use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use globset::GlobSet;
use saker_model::Level;
use saker_storage::{StorageUri, namespace_as_path, slugify};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::files::{globs, is_sealed_bytes, matched_files, relative_path, write_confined_at};
use crate::logs::off_worker;
use crate::runner::{TaskContext, TaskError};

/// A `WorkingDirectory`'s `cache`, resolved for one run.
pub(super) struct Cache {
    patterns: GlobSet,
    ttl: Option<Duration>,
    uri: StorageUri,
}

impl Cache {
    /// The `cache` property of the task, `None` when there is none.
    pub(super) fn of(ctx: &mut TaskContext) -> Result<Option<Self>, TaskError> {
        let map = match ctx.property("cache").cloned() {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Object(map)) => map,
            Some(_) => {
                return Err(property(
                    "cache",
                    "expected a map such as {patterns: [\"node_modules/**\"], ttl: PT1H}",
                ));
            }
        };
        if let Some(key) = map
            .keys()
            .find(|k| !matches!(k.as_str(), "patterns" | "ttl"))
        {
            return Err(property(
                "cache",
                &format!("'{key}' is not a property of the cache; use patterns and ttl"),
            ));
        }
        let Some(patterns) = globs(ctx, "cache.patterns", map.get("patterns"))? else {
            return Err(property(
                "cache.patterns",
                "is required: the globs of the files to keep between runs",
            ));
        };
        let ttl = match map.get("ttl") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => {
                let text = ctx.render_template(text)?;
                Some(
                    saker_model::duration::parse(text.trim())
                        .map_err(|e| property("cache.ttl", &e.to_string()))?,
                )
            }
            Some(_) => {
                return Err(property(
                    "cache.ttl",
                    "expected an ISO-8601 duration such as PT1H",
                ));
            }
        };
        let uri = cache_uri(ctx)?;
        Ok(Some(Self { patterns, ttl, uri }))
    }

    /// Fills `dir` with the archived files, unless there is no archive or it has expired.
    pub(super) fn restore(&self, ctx: &mut TaskContext, dir: &Path) -> Result<(), TaskError> {
        let files = ctx.task_files()?.clone();
        let storage = files.files.storage()?.clone();
        let tenant = files.tenant.as_str();
        let Some(info) = off_worker(|| storage.stat(tenant, &self.uri)).map_err(failed)? else {
            ctx.log(Level::Debug, "no cache to restore");
            return Ok(());
        };
        let written: Option<SystemTime> = info.modified.map(SystemTime::from);
        let expired = match (self.ttl, written) {
            (Some(ttl), Some(at)) => at + ttl < SystemTime::now(),
            _ => false,
        };
        if expired {
            ctx.log(Level::Debug, "the cache has expired (ttl): deleting it");
            off_worker(|| storage.delete(tenant, &self.uri)).map_err(failed)?;
            return Ok(());
        }
        let bytes = off_worker(|| storage.get(tenant, &self.uri)).map_err(failed)?;
        if is_sealed_bytes(&bytes) {
            ctx.log(
                Level::Warn,
                "the cache is stored encrypted, which Saker never does for a cache: ignored",
            );
            return Ok(());
        }
        match off_worker(|| unpack(dir, &bytes, storage.max_file_bytes(), written)) {
            Ok(count) => ctx.log(
                Level::Debug,
                &format!("{count} file(s) restored from the cache"),
            ),
            Err(e) => ctx.log(Level::Warn, &format!("the cache was ignored: {e}")),
        }
        Ok(())
    }

    /// Archives the matched files of `dir` when one changed since the archive was written.
    /// Never fails the task: what goes wrong is logged as a warning.
    pub(super) fn save(&self, ctx: &mut TaskContext, dir: &Path) {
        if let Err(e) = self.try_save(ctx, dir) {
            ctx.log(Level::Warn, &format!("the cache was not saved: {e}"));
        }
    }

    fn try_save(&self, ctx: &mut TaskContext, dir: &Path) -> Result<(), TaskError> {
        let files = ctx.task_files()?.clone();
        let storage = files.files.storage()?.clone();
        let tenant = files.tenant.as_str();
        let max = storage.max_file_bytes();
        let matched = off_worker(|| matched_files(dir, &self.patterns, "cached file", max))?;
        if matched.is_empty() {
            ctx.log(Level::Debug, "no file matches the cache patterns");
            return Ok(());
        }
        let written = off_worker(|| storage.stat(tenant, &self.uri))
            .map_err(failed)?
            .and_then(|info| info.modified)
            .map(SystemTime::from);
        let changed = written.is_none_or(|at| {
            matched
                .iter()
                .any(|f| f.metadata.modified().is_ok_and(|m| m > at))
        });
        if !changed {
            ctx.log(Level::Debug, "the cached files did not change");
            return Ok(());
        }
        if !ctx.mask_set().is_empty() {
            return Err(TaskError::Failed(
                "this execution used a secret, and a task may have written it into the \
                 directory; a cache is opened by the flow's later executions, so it is kept \
                 only for executions that use no secret"
                    .into(),
            ));
        }
        let archive = off_worker(|| -> Result<Vec<u8>, TaskError> {
            let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            for file in &matched {
                let bytes = Zeroizing::new(std::fs::read(&file.path).map_err(|e| {
                    TaskError::Failed(format!("cannot read '{}': {e}", file.relative))
                })?);
                zip.start_file(file.relative.as_str(), options)
                    .and_then(|()| zip.write_all(&bytes).map_err(Into::into))
                    .map_err(|e| TaskError::Failed(format!("cannot archive the cache: {e}")))?;
            }
            zip.finish()
                .map(Cursor::into_inner)
                .map_err(|e| TaskError::Failed(format!("cannot archive the cache: {e}")))
        })?;
        if archive.len() as u64 > max {
            return Err(TaskError::Failed(format!(
                "the archive is {} bytes, more than the {max} bytes a stored file may hold",
                archive.len()
            )));
        }
        off_worker(|| storage.put(tenant, &self.uri, &archive)).map_err(failed)?;
        ctx.log(
            Level::Debug,
            &format!("{} file(s) cached in {}", matched.len(), self.uri),
        );
        Ok(())
    }
}

/// Kestra's place for the cache of this task: its namespace and flow, the task's id and the
/// run's value (a `WorkingDirectory` inside a `ForEach` has one cache per value).
fn cache_uri(ctx: &mut TaskContext) -> Result<StorageUri, TaskError> {
    let value = ctx.render_template_rendered("{{ taskrun.value ?? '' }}")?;
    if value.is_tainted() {
        return Err(property(
            "cache",
            "this WorkingDirectory's value derives from a secret, which cannot name a cache",
        ));
    }
    let files = ctx.task_files()?;
    let object = if value.text.is_empty() {
        String::new()
    } else {
        // Unique and path-safe, as Kestra's hash of the value is.
        format!(
            "{}/",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&value.text)
        )
    };
    let path = format!(
        "{}/{}/{}/cache/{object}cache.zip",
        namespace_as_path(&files.namespace),
        slugify(&files.flow_id),
        slugify(&files.task_id),
    );
    StorageUri::from_path(&path).map_err(|e| property("cache", &e.to_string()))
}

/// Writes the files of the zip `archive` into `dir`, dated `written`; returns how many. An
/// entry that is not a plain relative path is skipped; one larger than `max` bytes fails.
fn unpack(
    dir: &Path,
    archive: &[u8],
    max: u64,
    written: Option<SystemTime>,
) -> Result<usize, TaskError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(archive))
        .map_err(|e| TaskError::Failed(format!("it is not a readable zip archive: {e}")))?;
    let mut count = 0;
    for index in 0..zip.len() {
        let mut entry = zip
            .by_index(index)
            .map_err(|e| TaskError::Failed(format!("entry {index} cannot be read: {e}")))?;
        if entry.is_dir() {
            continue;
        }
        let Some(relative) = entry
            .name()
            .ok()
            .and_then(|name| relative_path("cache", &name).ok())
        else {
            continue;
        };
        let mut bytes = Zeroizing::new(Vec::new());
        (&mut entry)
            .take(max + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| TaskError::Failed(format!("'{relative}' cannot be read: {e}")))?;
        if bytes.len() as u64 > max {
            return Err(TaskError::Failed(format!(
                "'{relative}' is more than the {max} bytes a stored file may hold"
            )));
        }
        write_confined_at(dir, &relative, &bytes, written)?;
        count += 1;
    }
    Ok(count)
}

fn property(name: &str, message: &str) -> TaskError {
    TaskError::Property {
        property: name.to_owned(),
        message: message.to_owned(),
    }
}

fn failed(e: saker_storage::StorageError) -> TaskError {
    TaskError::Failed(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes) in entries {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn an_archive_is_unpacked_dated_and_confined() {
        let dir = tempfile::tempdir().unwrap();
        let archive = zip_of(&[
            ("a.txt", b"alpha"),
            ("deep/b.txt", b"beta"),
            ("../escape.txt", b"no"),
            ("/abs.txt", b"no"),
        ]);
        let date = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(unpack(dir.path(), &archive, 1024, Some(date)).unwrap(), 2);
        assert_eq!(std::fs::read(dir.path().join("a.txt")).unwrap(), b"alpha");
        let b = dir.path().join("deep/b.txt");
        assert_eq!(std::fs::read(&b).unwrap(), b"beta");
        assert_eq!(std::fs::metadata(&b).unwrap().modified().unwrap(), date);
        assert!(!dir.path().join("abs.txt").exists());
        assert!(!dir.path().parent().unwrap().join("escape.txt").exists());
    }

    #[test]
    fn a_bad_archive_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = unpack(dir.path(), b"not a zip", 1024, None).unwrap_err();
        assert!(e.to_string().contains("not a readable zip"), "{e}");
        let big = zip_of(&[("big.bin", &[7u8; 64])]);
        let e = unpack(dir.path(), &big, 10, None).unwrap_err();
        assert!(e.to_string().contains("more than the 10 bytes"), "{e}");
    }
}
