//! Kestra's namespace file tasks: `io.kestra.plugin.core.namespace.UploadFiles` (files of
//! the execution, or of the working directory, stored as namespace files), `DownloadFiles`
//! (namespace files copied into the execution's files: output `files`, path → URI) and
//! `DeleteFiles`.
//!
//! Which namespaces a task may touch: it reads (downloads) the namespace files of its flow's
//! namespace and of its parents, as `read()` and `namespaceFiles` do, and writes or deletes
//! those of its flow's namespace and of its children, never a sibling's or a parent's: a
//! flow of `company.team` does not replace the scripts `company` hands to every team.
//!
//! Namespace files are stored in clear and readable by every flow of their namespace, so a
//! file derived from a secret (a sealed file, one named by a URI rendered from a secret, or
//! one holding a value of the execution's mask set) is refused, never uploaded.

use std::borrow::Cow;

use globset::GlobSet;
use saker_storage::StorageUri;
use serde_json::{Map, Value};

use super::purge::within;
use super::task_file_io::{max_file_bytes, property, read_file, store_output};
use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};
use crate::files::{FileError, globs, matched_files};
use crate::kv_value::validate_namespace;
use crate::logs::off_worker;

/// io.kestra.plugin.core.namespace.UploadFiles.
pub struct UploadFiles;
/// io.kestra.plugin.core.namespace.DownloadFiles.
pub struct DownloadFiles;
/// io.kestra.plugin.core.namespace.DeleteFiles.
pub struct DeleteFiles;

/// What a task does to the namespace it names: which namespaces it may name follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// `conflict`: what an upload does when the namespace file exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conflict {
    Overwrite,
    Error,
    Skip,
}

impl TaskRunner for UploadFiles {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let namespace = target_namespace(ctx, Access::Write)?;
            let conflict = match ctx.render_string("conflict")?.as_deref().map(str::trim) {
                None => Conflict::Overwrite,
                Some(c) if c.eq_ignore_ascii_case("OVERWRITE") => Conflict::Overwrite,
                Some(c) if c.eq_ignore_ascii_case("ERROR") => Conflict::Error,
                Some(c) if c.eq_ignore_ascii_case("SKIP") => Conflict::Skip,
                Some(other) => {
                    return Err(property(
                        "conflict",
                        &format!("'{other}' is none of OVERWRITE, ERROR, SKIP"),
                    ));
                }
            };
            let uploads = match ctx.property("files").cloned() {
                Some(Value::Object(map)) => uploads_of_map(ctx, &map)?,
                Some(Value::Array(items)) => uploads_of_list(ctx, &items)?,
                Some(Value::String(s)) => uploads_of_list(ctx, &[Value::String(s)])?,
                _ => {
                    return Err(property(
                        "files",
                        "expected a list of kestra:/// URIs and globs, or a map of destination \
                         path to kestra:/// URI",
                    ));
                }
            };
            let root = StorageUri::namespace_files(&namespace).map_err(FileError::from)?;
            let files = ctx.task_files()?.clone();
            let storage = files.files.storage()?.clone();
            let mut outputs = Map::new();
            for upload in uploads {
                let target = root
                    .join(&upload.path)
                    .map_err(|e| property("files", &format!("'{}': {e}", upload.path)))?;
                if upload.secret
                    || matches!(ctx.mask_set().mask_bytes(&upload.bytes), Cow::Owned(_))
                {
                    return Err(TaskError::Failed(format!(
                        "{} {}: namespace files are stored in clear and readable by every \
                         flow of namespace '{namespace}', so it is not uploaded",
                        upload.source, upload.why
                    )));
                }
                let exists = off_worker(|| storage.stat(&files.tenant, &target))
                    .map_err(FileError::from)?
                    .is_some();
                match (exists, conflict) {
                    (true, Conflict::Skip) => continue,
                    (true, Conflict::Error) => {
                        return Err(TaskError::Failed(format!(
                            "namespace file '{}' already exists in namespace '{namespace}' and \
                             conflict is ERROR: delete it first, or set conflict: OVERWRITE",
                            upload.path
                        )));
                    }
                    _ => {}
                }
                off_worker(|| storage.put(&files.tenant, &target, &upload.bytes))
                    .map_err(FileError::from)?;
                outputs.insert(
                    format!("/{}", upload.path),
                    Value::String(target.to_string()),
                );
            }
            let mut out = Map::new();
            out.insert("files".into(), Value::Object(outputs));
            Ok(TaskOutcome::with_outputs(out))
        })
    }
}

impl TaskRunner for DownloadFiles {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let namespace = target_namespace(ctx, Access::Read)?;
            let matched = matching_files(ctx, &namespace)?;
            let files = ctx.task_files()?.clone();
            let mut downloaded = Map::new();
            for (relative, uri) in matched {
                let opened = files.open(&uri)?;
                let stored = store_output(ctx, &relative, &opened.bytes, opened.sealed)?;
                downloaded.insert(format!("/{relative}"), Value::String(stored.to_string()));
            }
            let mut out = Map::new();
            out.insert("files".into(), Value::Object(downloaded));
            Ok(TaskOutcome::with_outputs(out))
        })
    }
}

impl TaskRunner for DeleteFiles {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let namespace = target_namespace(ctx, Access::Write)?;
            let matched = matching_files(ctx, &namespace)?;
            let files = ctx.task_files()?.clone();
            let storage = files.files.storage()?.clone();
            let mut deleted = 0;
            for (_, uri) in &matched {
                if off_worker(|| storage.delete(&files.tenant, uri)).map_err(FileError::from)? {
                    deleted += 1;
                }
            }
            ctx.log(
                saker_model::Level::Info,
                &format!("deleted {deleted} namespace file(s) of namespace '{namespace}'"),
            );
            Ok(TaskOutcome::default())
        })
    }
}

/// `namespace`, checked against what this task may do to it.
fn target_namespace(ctx: &mut TaskContext, access: Access) -> Result<String, TaskError> {
    let rendered = ctx
        .render_rendered_string("namespace")?
        .ok_or_else(|| property("namespace", "is required"))?;
    if rendered.is_tainted() {
        return Err(property(
            "namespace",
            "derived from a secret; a namespace is stored and shown as it is, so it cannot be \
             one",
        ));
    }
    let namespace = rendered.text.trim().to_owned();
    validate_namespace(&namespace).map_err(|m| property("namespace", &m))?;
    let own = ctx.task_files()?.namespace.clone();
    let (allowed, rule) = match access {
        Access::Read => (
            within(&own, &namespace),
            "its own namespace or a parent of it",
        ),
        Access::Write => (
            within(&namespace, &own),
            "its own namespace or a child of it",
        ),
    };
    if allowed {
        Ok(namespace)
    } else {
        Err(property(
            "namespace",
            &format!(
                "'{namespace}' is not allowed: a flow of namespace '{own}' may {} the namespace \
                 files of {rule}",
                match access {
                    Access::Read => "download",
                    Access::Write => "upload or delete",
                }
            ),
        ))
    }
}

/// The namespace files of `namespace` that `files` (Kestra's globs, with or without a
/// leading `/`) matches: path relative to the namespace's root, and URI.
fn matching_files(
    ctx: &mut TaskContext,
    namespace: &str,
) -> Result<Vec<(String, StorageUri)>, TaskError> {
    let set = file_globs(ctx)?;
    let files = ctx.task_files()?;
    let root = StorageUri::namespace_files(namespace).map_err(FileError::from)?;
    let storage = files.files.storage()?;
    let listed =
        off_worker(|| storage.list_files(&files.tenant, &root)).map_err(FileError::from)?;
    Ok(listed
        .into_iter()
        .filter_map(|info| {
            let relative = info.uri.relative_to(&root)?.to_owned();
            matches(&set, &relative).then_some((relative, info.uri))
        })
        .collect())
}

fn file_globs(ctx: &mut TaskContext) -> Result<GlobSet, TaskError> {
    let value = ctx.property("files").cloned();
    globs(ctx, "files", value.as_ref())?.ok_or_else(|| {
        property(
            "files",
            "is required: one or more glob patterns such as '**'",
        )
    })
}

/// Kestra matches its globs against paths starting with `/`; Saker's paths do not.
fn matches(set: &GlobSet, relative: &str) -> bool {
    set.is_match(relative) || set.is_match(format!("/{relative}"))
}

/// One file to upload: where it goes (relative to the namespace's root), what it is named by
/// in errors, its bytes, and whether it derives from a secret.
struct Upload {
    path: String,
    source: String,
    /// Why it would be secret, completing "<source> ...".
    why: &'static str,
    bytes: zeroize::Zeroizing<Vec<u8>>,
    secret: bool,
}

const DERIVED: &str = "derives from a secret";

/// `files` as a map: destination path → `kestra:///` URI.
fn uploads_of_map(
    ctx: &mut TaskContext,
    map: &Map<String, Value>,
) -> Result<Vec<Upload>, TaskError> {
    let mut uploads = Vec::new();
    for (target, source) in map {
        let target = ctx.render_template(target)?;
        let Value::String(source) = source else {
            return Err(property(
                &format!("files.{target}"),
                "expected the kestra:/// URI of a file",
            ));
        };
        let rendered = ctx.render_template_rendered(source)?;
        let input = read_file(
            ctx,
            &format!("files.{target}"),
            rendered.text.trim(),
            rendered.is_tainted(),
        )?;
        uploads.push(Upload {
            path: target.trim_start_matches('/').to_owned(),
            source: format!("the file of 'files.{target}'"),
            why: DERIVED,
            bytes: input.bytes,
            secret: input.secret,
        });
    }
    Ok(uploads)
}

/// `files` as a list: each a `kestra:///` URI (stored under `destination` by its file name)
/// or a glob of the working directory (stored under `destination` by its relative path).
fn uploads_of_list(ctx: &mut TaskContext, items: &[Value]) -> Result<Vec<Upload>, TaskError> {
    let destination = ctx
        .render_string("destination")?
        .unwrap_or_default()
        .trim_matches('/')
        .to_owned();
    let under = |name: &str| {
        if destination.is_empty() {
            name.to_owned()
        } else {
            format!("{destination}/{name}")
        }
    };
    let mut uploads = Vec::new();
    let mut patterns = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let place = format!("files[{i}]");
        let Value::String(item) = item else {
            return Err(property(&place, "expected a kestra:/// URI or a glob"));
        };
        let rendered = ctx.render_template_rendered(item)?;
        let text = rendered.text.trim();
        if text.len() >= 7 && text[..7].eq_ignore_ascii_case("kestra:") {
            let input = read_file(ctx, &place, text, rendered.is_tainted())?;
            uploads.push(Upload {
                path: under(input.uri.file_name()),
                source: format!("the file of '{place}'"),
                why: DERIVED,
                bytes: input.bytes,
                secret: input.secret,
            });
        } else {
            patterns.push(Value::String(text.trim_start_matches('/').to_owned()));
        }
    }
    if patterns.is_empty() {
        return Ok(uploads);
    }
    let set = globs(ctx, "files", Some(&Value::Array(patterns)))?
        .ok_or_else(|| property("files", "expected a glob pattern"))?;
    let max = max_file_bytes(ctx)?;
    let workdir = ctx
        .sandbox()?
        .work_dir()
        .map_err(|e| TaskError::Failed(e.to_string()))?;
    for found in matched_files(workdir.host_path(), &set, "file", max)? {
        let bytes = std::fs::read(&found.path).map_err(|e| {
            TaskError::Failed(format!("cannot read file '{}': {e}", found.relative))
        })?;
        // A process may have written a secret there in a form no mask recognises (as
        // LocalFiles' `outputs` rule says), so once the execution has used any secret, no
        // file of the working directory becomes a namespace file.
        let secret = ctx.handed_taint_to_process() || !ctx.mask_set().is_empty();
        uploads.push(Upload {
            path: under(&found.relative),
            source: format!("file '{}' of the working directory", found.relative),
            why: "may derive from a secret (the execution has used one, and a process may \
                  have written it there)",
            bytes: zeroize::Zeroizing::new(bytes),
            secret,
        });
    }
    Ok(uploads)
}
