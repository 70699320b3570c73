//! Files in and out of a task's working directory: `inputFiles` and `namespaceFiles` written
//! into it before the process starts, `outputFiles` uploaded from it after the process ends.
//! Any runner with a working directory calls these (the shell tasks, and the
//! `WorkingDirectory` flowable before its first and after its last task); each takes the
//! property's raw value, so the caller decides where it comes from.
//!
//! The worker runs outside the task's sandbox, and the working directory holds whatever the
//! process left there: nothing here follows a symbolic link. A link where a file is to be
//! written, or a matched output file that is a link, is an error, so a process cannot make
//! the worker read or overwrite a file outside its directory.
//!
//! Secrets: an `inputFiles` entry is rendered like a command (the text goes to the process,
//! so a piece of a secret too short to be masked is refused, and the task's outputs are
//! sealed); it is written into the working directory only, never to the storage. An output
//! file is stored sealed when the task handed tainted text to its process (the process could
//! have written it anywhere, in any form) or when its bytes contain a value of the
//! execution's mask set.

use std::borrow::Cow;
use std::fs;
use std::io::Write as _;
use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use saker_model::Level;
use saker_storage::StorageUri;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::logs::off_worker;
use crate::runner::{TaskContext, TaskError};

/// Writes the `inputFiles` property (`value`: a map of file name → content, or a template
/// rendering to a JSON object) into `dir`. A content that is one `kestra:///` URI of the
/// execution is replaced by that file's bytes. Returns how many files were written.
pub fn stage_input_files(
    ctx: &mut TaskContext,
    dir: &Path,
    value: &Value,
) -> Result<usize, TaskError> {
    stage_files_of(ctx, dir, value, "inputFiles")
}

/// [`stage_input_files`] for a property of another name (`LocalFiles`' `inputs`), which its
/// errors name.
pub fn stage_files_of(
    ctx: &mut TaskContext,
    dir: &Path,
    value: &Value,
    property_name: &str,
) -> Result<usize, TaskError> {
    let entries: Vec<(String, Zeroizing<String>)> = match value {
        Value::Null => return Ok(0),
        Value::Object(map) => {
            let mut entries = Vec::with_capacity(map.len());
            for (name, content) in map {
                let place = format!("{property_name}.{name}");
                let source = scalar_text(&place, content)?;
                let rendered = ctx.render_file_for_process(&place, &source)?;
                entries.push((name.clone(), Zeroizing::new(rendered.text)));
            }
            entries
        }
        Value::String(source) => {
            let rendered = ctx.render_file_for_process(property_name, source)?;
            let parsed: Map<String, Value> =
                serde_json::from_str(&rendered.text).map_err(|_| TaskError::Property {
                    property: property_name.to_owned(),
                    message: "expected a map of file names to contents, or a template \
                              rendering to a JSON object"
                        .into(),
                })?;
            let mut entries = Vec::with_capacity(parsed.len());
            for (name, content) in parsed {
                let text = scalar_text(&format!("{property_name}.{name}"), &content)?;
                entries.push((name, Zeroizing::new(text)));
            }
            entries
        }
        _ => {
            return Err(property(
                property_name,
                "expected a map of file names to contents",
            ));
        }
    };
    let mut written = 0;
    for (name, content) in entries {
        let relative = relative_path(property_name, &name)?;
        let reference = content.trim();
        let bytes = if is_kestra_uri(reference) && !reference.contains(char::is_whitespace) {
            let files = ctx.task_files()?.clone();
            let uri = files.resolve(reference, None)?;
            let opened = files.open(&uri)?;
            if opened.sealed {
                ctx.mark_handed_to_process();
            }
            opened.bytes
        } else {
            Zeroizing::new(content.as_bytes().to_vec())
        };
        off_worker(|| write_confined(dir, &relative, &bytes))?;
        written += 1;
    }
    Ok(written)
}

/// Copies the flow namespace's files into `dir` as the `namespaceFiles` property (`value`:
/// `{enabled, include, exclude}`, enabled when present unless `enabled: false`) selects them.
/// Returns how many files were copied.
pub fn stage_namespace_files(
    ctx: &mut TaskContext,
    dir: &Path,
    value: &Value,
) -> Result<usize, TaskError> {
    let map = match value {
        Value::Null => return Ok(0),
        Value::Object(map) => map,
        _ => {
            return Err(property(
                "namespaceFiles",
                "expected a map such as {enabled: true, include: [\"scripts/**\"]}",
            ));
        }
    };
    if let Some(key) = map
        .keys()
        .find(|k| !matches!(k.as_str(), "enabled" | "include" | "exclude"))
    {
        return Err(property(
            "namespaceFiles",
            &format!("'{key}' is not yet available in Saker; use enabled, include and exclude"),
        ));
    }
    let enabled = match map.get("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => crate::task_context::is_truthy(&ctx.render_template(s)?),
        Some(_) => return Err(property("namespaceFiles.enabled", "expected a boolean")),
    };
    if !enabled {
        return Ok(0);
    }
    let include = globs(ctx, "namespaceFiles.include", map.get("include"))?;
    let exclude = globs(ctx, "namespaceFiles.exclude", map.get("exclude"))?;
    let files = ctx.task_files()?.clone();
    let mut copied = 0;
    for (relative, uri) in files.namespace_files()? {
        let wanted = include.as_ref().is_none_or(|set| set.is_match(&relative))
            && !exclude.as_ref().is_some_and(|set| set.is_match(&relative));
        if !wanted {
            continue;
        }
        let opened = files.open(&uri)?;
        if opened.sealed {
            ctx.mark_handed_to_process();
        }
        off_worker(|| write_confined(dir, &relative, &opened.bytes))?;
        copied += 1;
    }
    ctx.log(
        Level::Debug,
        &format!("{copied} namespace file(s) copied into the working directory"),
    );
    Ok(copied)
}

/// Uploads the files of `dir` that the `outputFiles` property (`value`: glob patterns
/// relative to the directory, Kestra's syntax: `*`, `**`, `?`, `{a,b}`) matches, and returns
/// Kestra's `outputFiles` output: relative path → `kestra:///` URI.
pub fn collect_output_files(
    ctx: &mut TaskContext,
    dir: &Path,
    value: &Value,
) -> Result<Map<String, Value>, TaskError> {
    collect_files_of(ctx, dir, value, OutputRule::OWN_PROCESS)
}

/// Which property names the patterns (for errors), and when every matched file is sealed.
#[derive(Debug, Clone, Copy)]
pub struct OutputRule<'a> {
    /// The property the patterns come from: `outputFiles`, `outputs`.
    pub property: &'a str,
    /// The directory is shared with other tasks (a `WorkingDirectory`'s): their processes
    /// may have been handed a secret and written it there in a form no mask recognises
    /// (reversed, compressed), and this task cannot know. So once the execution has used
    /// any secret (its mask set is not empty), every matched file is sealed.
    pub written_by_others: bool,
}

impl OutputRule<'_> {
    /// A task collecting what its own process wrote (the shell tasks' `outputFiles`).
    pub const OWN_PROCESS: OutputRule<'static> = OutputRule {
        property: "outputFiles",
        written_by_others: false,
    };
}

/// [`collect_output_files`] under `rule`.
pub fn collect_files_of(
    ctx: &mut TaskContext,
    dir: &Path,
    value: &Value,
    rule: OutputRule<'_>,
) -> Result<Map<String, Value>, TaskError> {
    let Some(set) = globs(ctx, rule.property, Some(value))? else {
        return Ok(Map::new());
    };
    let files = ctx.task_files()?.clone();
    let folder = files.task_run_folder()?;
    let masks = ctx.mask_set();
    let seal_all = ctx.handed_taint_to_process() || (rule.written_by_others && !masks.is_empty());
    let storage = files.files.storage()?.clone();
    let max = storage.max_file_bytes();
    let collected = off_worker(|| -> Result<Map<String, Value>, TaskError> {
        let mut out = Map::new();
        for file in matched_files(dir, &set, "output file", max)? {
            let bytes = Zeroizing::new(fs::read(&file.path).map_err(|e| {
                failed(format!("cannot read output file '{}': {e}", file.relative))
            })?);
            let seal = seal_all || matches!(masks.mask_bytes(&bytes), Cow::Owned(_));
            let uri = folder
                .join(&file.relative)
                .map_err(super::FileError::from)?;
            files
                .files
                .put(&files.tenant, &files.execution_id, &uri, &bytes, seal)?;
            out.insert(file.relative, Value::String(uri.to_string()));
        }
        Ok(out)
    })?;
    Ok(collected)
}

/// A regular file of a working directory that patterns matched.
pub(crate) struct MatchedFile {
    /// Relative to the directory, with `/` separators.
    pub relative: String,
    pub path: std::path::PathBuf,
    pub metadata: fs::Metadata,
}

/// The regular files under `dir` that `set` matches, in name order. A matched symbolic link
/// is an error (links are not followed out of the directory), and so is a file larger than
/// `max` bytes; `what` names the files in those errors ("output file").
pub(crate) fn matched_files(
    dir: &Path,
    set: &GlobSet,
    what: &str,
    max: u64,
) -> Result<Vec<MatchedFile>, TaskError> {
    let mut found = Vec::new();
    let walk = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .min_depth(1)
        .sort_by_file_name();
    for entry in walk {
        let entry = entry.map_err(|e| failed(format!("cannot list the working directory: {e}")))?;
        let Some(relative) = relative_of(dir, entry.path()) else {
            continue;
        };
        if !set.is_match(&relative) {
            continue;
        }
        let kind = entry.file_type();
        if kind.is_symlink() {
            return Err(failed(format!(
                "{what} '{relative}' is a symbolic link; links are not followed out of the \
                 working directory"
            )));
        }
        if !kind.is_file() {
            continue;
        }
        let metadata = entry
            .metadata()
            .map_err(|e| failed(format!("cannot read {what} '{relative}': {e}")))?;
        let size = metadata.len();
        if size > max {
            return Err(failed(format!(
                "{what} '{relative}' is {size} bytes, more than the {max} bytes a stored file may \
                 hold"
            )));
        }
        found.push(MatchedFile {
            relative,
            path: entry.path().to_path_buf(),
            metadata,
        });
    }
    Ok(found)
}

/// `path` relative to `dir` with `/` separators; `None` for a name that is not UTF-8 or not
/// a valid storage path (such a file cannot be named by a pattern anyway).
fn relative_of(dir: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(dir).ok()?;
    let parts: Option<Vec<&str>> = relative
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect();
    let joined = parts?.join("/");
    StorageUri::from_path(&joined).ok().map(|_| joined)
}

/// Writes `bytes` at `relative` under `dir`, creating folders, following no link.
pub(crate) fn write_confined(dir: &Path, relative: &str, bytes: &[u8]) -> Result<(), TaskError> {
    write_confined_at(dir, relative, bytes, None)
}

/// [`write_confined`], then dated `modified` when given (a file restored from a cache
/// keeps the cache's date, so that a later change to it can be told).
pub(crate) fn write_confined_at(
    dir: &Path,
    relative: &str,
    bytes: &[u8],
    modified: Option<std::time::SystemTime>,
) -> Result<(), TaskError> {
    let segments: Vec<&str> = relative.split('/').collect();
    let mut path = dir.to_path_buf();
    for (i, segment) in segments.iter().enumerate() {
        path.push(segment);
        let last = i + 1 == segments.len();
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(failed(format!(
                    "cannot write '{relative}' in the working directory: a symbolic link is in \
                     the way, and links are not followed"
                )));
            }
            Ok(meta) if !last && !meta.is_dir() => {
                return Err(failed(format!(
                    "cannot write '{relative}' in the working directory: '{segment}' is a file"
                )));
            }
            Ok(meta) if last && meta.is_dir() => {
                return Err(failed(format!(
                    "cannot write '{relative}' in the working directory: it is a directory"
                )));
            }
            Ok(_) if last => fs::remove_file(&path).map_err(|e| io_failed(relative, &e))?,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !last {
                    fs::create_dir(&path).map_err(|e| io_failed(relative, &e))?;
                }
            }
            Err(e) => return Err(io_failed(relative, &e)),
        }
    }
    // create_new: a link put there since the check is not followed either.
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            match modified {
                Some(time) => file.set_modified(time),
                None => Ok(()),
            }
        })
        .map_err(|e| io_failed(relative, &e))
}

/// A file name of `inputFiles`: a relative path that stays inside the working directory.
pub(crate) fn relative_path(property_name: &str, name: &str) -> Result<String, TaskError> {
    if name.starts_with('/') {
        return Err(property(
            property_name,
            &format!("'{name}' is absolute; give a path relative to the working directory"),
        ));
    }
    StorageUri::from_path(name)
        .map(|uri| uri.path().to_owned())
        .map_err(|e| property(property_name, &e.to_string()))
}

/// A list of glob patterns (or one), rendered; `None` when there is none.
pub(crate) fn globs(
    ctx: &mut TaskContext,
    name: &str,
    value: Option<&Value>,
) -> Result<Option<GlobSet>, TaskError> {
    let sources: Vec<&str> = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| property(name, "expected a list of glob patterns"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(property(name, "expected a list of glob patterns")),
    };
    if sources.is_empty() {
        return Ok(None);
    }
    let mut set = GlobSetBuilder::new();
    for source in sources {
        let pattern = ctx.render_template(source)?;
        let glob = GlobBuilder::new(&java_glob(&pattern))
            .literal_separator(true)
            .build()
            .map_err(|e| property(name, &format!("'{pattern}' is not a valid glob: {e}")))?;
        set.add(glob);
    }
    set.build()
        .map(Some)
        .map_err(|e| property(name, &e.to_string()))
}

/// Java's globs, which Kestra uses, let `**` cross folders anywhere (`**.json`); globset only
/// as a whole path segment, so `**x` is written `**/*x`.
fn java_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut rest = pattern;
    while let Some(at) = rest.find("**") {
        out.push_str(&rest[..at]);
        out.push_str("**");
        rest = &rest[at + 2..];
        if !rest.is_empty() && !rest.starts_with('/') {
            out.push_str("/*");
        }
    }
    out.push_str(rest);
    out
}

fn is_kestra_uri(text: &str) -> bool {
    text.get(..saker_storage::SCHEME_PREFIX.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(saker_storage::SCHEME_PREFIX))
}

fn scalar_text(place: &str, value: &Value) -> Result<String, TaskError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(property(place, "expected the file's content as a string")),
    }
}

fn property(name: &str, message: &str) -> TaskError {
    TaskError::Property {
        property: name.to_owned(),
        message: message.to_owned(),
    }
}

fn failed(message: String) -> TaskError {
    TaskError::Failed(message)
}

fn io_failed(relative: &str, e: &std::io::Error) -> TaskError {
    failed(format!(
        "cannot write '{relative}' in the working directory: {e}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_globs_become_globset_globs() {
        assert_eq!(java_glob("**.json"), "**/*.json");
        assert_eq!(java_glob("out/**"), "out/**");
        assert_eq!(java_glob("**/a.txt"), "**/a.txt");
        assert_eq!(java_glob("*.txt"), "*.txt");
        let glob = |p: &str| {
            GlobBuilder::new(&java_glob(p))
                .literal_separator(true)
                .build()
                .unwrap()
                .compile_matcher()
        };
        assert!(glob("**.json").is_match("a/b/c.json"));
        assert!(glob("**.json").is_match("c.json"));
        assert!(glob("*.txt").is_match("a.txt"));
        assert!(!glob("*.txt").is_match("sub/a.txt"));
    }

    #[test]
    fn writes_never_follow_links() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("victim");
        fs::write(&target, b"keep").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("a.txt")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("sub")).unwrap();
        assert!(write_confined(dir.path(), "a.txt", b"x").is_err());
        assert!(write_confined(dir.path(), "sub/victim", b"x").is_err());
        assert_eq!(fs::read(&target).unwrap(), b"keep");
        write_confined(dir.path(), "new/deep/b.txt", b"ok").unwrap();
        write_confined(dir.path(), "new/deep/b.txt", b"again").unwrap();
        assert_eq!(
            fs::read(dir.path().join("new/deep/b.txt")).unwrap(),
            b"again"
        );
        assert!(relative_path("inputFiles", "/etc/passwd").is_err());
        assert!(relative_path("inputFiles", "../x").is_err());
        assert_eq!(relative_path("inputFiles", "a/b.txt").unwrap(), "a/b.txt");
    }
}
