//! Kestra's core storage tasks on the execution's files: `io.kestra.plugin.core.storage.`
//! `Write` (a rendered `content` → `uri`), `Concat` (`files`, `separator`, `extension` →
//! `uri`), `Split` (`from` cut by `rows`, `partitions` or `bytes` at each `separator` →
//! `uris`), `Delete` (`uri`, `errorOnMissing` → `uri`, `deleted`), `Size` (`uri` → `size`),
//! `Reverse` (`from`'s lines last first, each followed by `separator` → `uri`) and
//! `PurgeCurrentExecutionFiles` (every file of the running execution deleted → `uris`).
//!
//! Files are read under the task's file access rules (`task_file_io`), and every file made is
//! sealed when what went into it was secret. `Delete` removes only files of the running
//! execution (so does `PurgeCurrentExecutionFiles`): a flow cannot delete its namespace's
//! files or a parent's this way.

use saker_storage::StorageUri;
use serde_json::{Map, Value};

use super::task_file_io::{
    InputFile, bool_property, count_property, max_file_bytes, property, read_file,
    read_property_file, store_output,
};
use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

/// Most files one Split makes (as many as ForEachItem starts batches).
pub const MAX_SPLIT_FILES: usize = 10_000;

/// Which storage task a runner is.
#[derive(Debug, Clone, Copy)]
pub enum StorageTask {
    Write,
    Concat,
    Split,
    Delete,
    Size,
    Reverse,
    PurgeCurrentExecutionFiles,
}

pub struct Storage(pub StorageTask);

impl TaskRunner for Storage {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let outputs = match self.0 {
                StorageTask::Write => write(ctx)?,
                StorageTask::Concat => concat(ctx)?,
                StorageTask::Split => split(ctx)?,
                StorageTask::Delete => delete(ctx)?,
                StorageTask::Size => size(ctx)?,
                StorageTask::Reverse => reverse(ctx)?,
                StorageTask::PurgeCurrentExecutionFiles => purge_execution_files(ctx)?,
            };
            Ok(TaskOutcome::with_outputs(outputs))
        })
    }
}

fn one(name: &str, value: Value) -> Map<String, Value> {
    let mut outputs = Map::new();
    outputs.insert(name.into(), value);
    outputs
}

/// `extension` (`.csv`): a dot and a few letters or digits, so a file name stays plain.
fn extension(ctx: &mut TaskContext, default: &str) -> Result<String, TaskError> {
    let ext = ctx
        .render_string("extension")?
        .unwrap_or_else(|| default.to_owned());
    let ext = ext.trim();
    let ext = if ext.starts_with('.') || ext.is_empty() {
        ext.to_owned()
    } else {
        format!(".{ext}")
    };
    let plain = ext.len() <= 20
        && ext
            .chars()
            .skip(1)
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !plain || ext == "." {
        return Err(property(
            "extension",
            "expected a file extension such as '.csv': letters, digits, '_' and '-'",
        ));
    }
    Ok(ext)
}

fn write(ctx: &mut TaskContext) -> Result<Map<String, Value>, TaskError> {
    let content = ctx
        .render_rendered_string("content")?
        .ok_or_else(|| property("content", "is required: the text to write"))?;
    // Without one, Kestra's temporary file gets Java's default `.tmp`.
    let ext = extension(ctx, ".tmp")?;
    let name = format!("{}{ext}", ctx.task().id);
    let uri = store_output(ctx, &name, content.text.as_bytes(), content.is_tainted())?;
    Ok(one("uri", Value::String(uri.to_string())))
}

/// The URIs `files` names: a list (each item rendered), or a string rendering to a JSON
/// list of URIs (`{{ outputs.split.uris | toJson }}`) or to one URI. With whether any was
/// rendered from a secret.
fn file_list(ctx: &mut TaskContext) -> Result<(Vec<String>, bool), TaskError> {
    let expected = "expected a list of kestra:/// URIs, or a JSON list of them";
    match ctx.property("files").cloned() {
        None | Some(Value::Null) => Err(property("files", "is required: the files to join")),
        Some(Value::Array(_)) => {
            let rendered = ctx.render_rendered_or_list("files")?;
            let tainted = rendered.iter().any(|r| r.is_tainted());
            Ok((rendered.into_iter().map(|r| r.text).collect(), tainted))
        }
        Some(Value::String(_)) => {
            let rendered = ctx
                .render_rendered_string("files")?
                .unwrap_or_else(|| unreachable!("a string property renders"));
            let text = rendered.text.trim();
            let list = if text.starts_with('[') {
                let parsed: Vec<Value> =
                    serde_json::from_str(text).map_err(|_| property("files", expected))?;
                parsed
                    .into_iter()
                    .map(|v| match v {
                        Value::String(s) => Ok(s),
                        _ => Err(property("files", expected)),
                    })
                    .collect::<Result<_, _>>()?
            } else {
                vec![text.to_owned()]
            };
            Ok((list, rendered.is_tainted()))
        }
        Some(_) => Err(property("files", expected)),
    }
}

fn concat(ctx: &mut TaskContext) -> Result<Map<String, Value>, TaskError> {
    let (files, tainted) = file_list(ctx)?;
    let separator = ctx.render_rendered_string("separator")?;
    let ext = extension(ctx, ".tmp")?;
    let max = max_file_bytes(ctx)?;
    let mut secret = tainted || separator.as_ref().is_some_and(|s| s.is_tainted());
    let mut joined = zeroize::Zeroizing::new(Vec::new());
    for (i, file) in files.iter().enumerate() {
        let input = read_file(ctx, &format!("files[{i}]"), file.trim(), tainted)?;
        secret |= input.secret;
        joined.extend_from_slice(&input.bytes);
        // After each file, as Kestra writes it.
        if let Some(separator) = &separator {
            joined.extend_from_slice(separator.text.as_bytes());
        }
        if joined.len() as u64 > max {
            return Err(TaskError::Failed(format!(
                "the joined file would be more than the {max} bytes a stored file may hold"
            )));
        }
    }
    let name = format!("{}{ext}", ctx.task().id);
    let uri = store_output(ctx, &name, &joined, secret)?;
    Ok(one("uri", Value::String(uri.to_string())))
}

/// How Split cuts a file: rows per file, a number of files, or bytes per file (whole rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cut {
    Rows(usize),
    Partitions(usize),
    Bytes(usize),
}

/// The parts of `bytes`, cut at `separator` (kept at the end of each row) by `cut`.
pub(crate) fn cut_rows(bytes: &[u8], separator: &[u8], cut: Cut) -> Vec<Vec<u8>> {
    let mut rows: Vec<&[u8]> = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let end = find(rest, separator).map_or(rest.len(), |i| i + separator.len());
        rows.push(&rest[..end]);
        rest = &rest[end..];
    }
    match cut {
        Cut::Rows(n) => rows.chunks(n.max(1)).map(<[&[u8]]>::concat).collect(),
        Cut::Partitions(parts) => {
            let per = rows.len().div_ceil(parts.max(1)).max(1);
            rows.chunks(per).map(<[&[u8]]>::concat).collect()
        }
        Cut::Bytes(limit) => {
            let mut out: Vec<Vec<u8>> = Vec::new();
            let mut current = Vec::new();
            for row in rows {
                if !current.is_empty() && current.len() + row.len() > limit {
                    out.push(std::mem::take(&mut current));
                }
                current.extend_from_slice(row);
            }
            if !current.is_empty() {
                out.push(current);
            }
            out
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `10MB`, `512KB`, `1GB`, `100` (bytes), as Kestra's `DataSize`.
pub(crate) fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim().to_ascii_uppercase();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text.as_str(), ""),
    };
    let n: usize = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(factor).filter(|n| *n > 0)
}

fn split(ctx: &mut TaskContext) -> Result<Map<String, Value>, TaskError> {
    let input = read_property_file(ctx, "from")?;
    let separator = ctx
        .render_string("separator")?
        .unwrap_or_else(|| "\n".to_owned());
    if separator.is_empty() {
        return Err(property("separator", "must not be empty"));
    }
    let rows = count_property(ctx, "rows", 1)?;
    let partitions = count_property(ctx, "partitions", 1)?;
    let bytes = match ctx.render_string("bytes")? {
        None => None,
        Some(text) => Some(
            parse_size(&text)
                .ok_or_else(|| property("bytes", "expected a size such as 10MB or 512KB"))?,
        ),
    };
    let cut = match (rows, partitions, bytes) {
        (Some(n), None, None) => Cut::Rows(n as usize),
        (None, Some(n), None) => Cut::Partitions(n as usize),
        (None, None, Some(n)) => Cut::Bytes(n),
        _ => {
            return Err(TaskError::Failed(
                "Split needs exactly one of 'rows', 'partitions' or 'bytes'".into(),
            ));
        }
    };
    let parts = cut_rows(&input.bytes, separator.as_bytes(), cut);
    if parts.len() > MAX_SPLIT_FILES {
        return Err(TaskError::Failed(format!(
            "the file would be cut into {} files, more than the {MAX_SPLIT_FILES} one Split \
             makes; cut it into bigger parts",
            parts.len()
        )));
    }
    let (stem, ext) = name_parts(&input);
    let mut uris = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let uri = store_output(ctx, &format!("{stem}-{i}{ext}"), part, input.secret)?;
        uris.push(Value::String(uri.to_string()));
    }
    Ok(one("uris", Value::Array(uris)))
}

/// The input file's name as stem and extension (with its dot, or empty).
fn name_parts(input: &InputFile) -> (String, String) {
    let path = input.uri.path();
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem.to_owned(), format!(".{ext}")),
        _ => (name.to_owned(), String::new()),
    }
}

/// The `uri` property resolved to a file of the running execution itself.
fn own_file(ctx: &mut TaskContext) -> Result<StorageUri, TaskError> {
    let text = ctx
        .render_string("uri")?
        .ok_or_else(|| property("uri", "is required: the kestra:/// URI of a file"))?;
    let files = ctx.task_files()?;
    let uri = files
        .resolve(text.trim(), None)
        .map_err(|e| property("uri", &e.to_string()))?;
    if !uri.is_under(&files.execution_folder()?) {
        return Err(property(
            "uri",
            &format!("{uri} is not a file of this execution: Delete removes only those"),
        ));
    }
    Ok(uri)
}

fn delete(ctx: &mut TaskContext) -> Result<Map<String, Value>, TaskError> {
    let uri = own_file(ctx)?;
    let error_on_missing = bool_property(ctx, "errorOnMissing", false)?;
    let files = ctx.task_files()?.clone();
    let storage = files.files.storage()?.clone();
    let deleted = crate::logs::off_worker(|| storage.delete(&files.tenant, &uri))
        .map_err(|e| TaskError::Failed(e.to_string()))?;
    if !deleted && error_on_missing {
        return Err(TaskError::Failed(format!("{uri} does not exist")));
    }
    let mut outputs = one("uri", Value::String(uri.to_string()));
    outputs.insert("deleted".into(), Value::Bool(deleted));
    Ok(outputs)
}

fn size(ctx: &mut TaskContext) -> Result<Map<String, Value>, TaskError> {
    // Opened, not stat'ed: a sealed file's stored size is not its size.
    let input = read_property_file(ctx, "uri")?;
    Ok(one("size", Value::from(input.bytes.len() as u64)))
}

fn reverse(ctx: &mut TaskContext) -> Result<Map<String, Value>, TaskError> {
    super::task_file_io::check_charset(ctx)?;
    let input = read_property_file(ctx, "from")?;
    let separator = ctx
        .render_string("separator")?
        .unwrap_or_else(|| "\n".to_owned());
    let reversed = reverse_lines(&input.bytes, separator.as_bytes());
    let (stem, ext) = name_parts(&input);
    let uri = store_output(
        ctx,
        &format!("{stem}-reversed{ext}"),
        &reversed,
        input.secret,
    )?;
    Ok(one("uri", Value::String(uri.to_string())))
}

/// The lines of `bytes` (ended by `\n` or `\r\n`) last first, each followed by `separator`, as
/// Kestra's Reverse writes them.
pub(crate) fn reverse_lines(bytes: &[u8], separator: &[u8]) -> Vec<u8> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if body.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(bytes.len() + separator.len());
    for line in body.split(|b| *b == b'\n').rev() {
        out.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
        out.extend_from_slice(separator);
    }
    out
}

fn purge_execution_files(ctx: &mut TaskContext) -> Result<Map<String, Value>, TaskError> {
    let files = ctx.task_files()?.clone();
    let folder = files.execution_folder()?;
    let storage = files.files.storage()?.clone();
    let deleted = crate::logs::off_worker(|| {
        let listed = storage.list_files(&files.tenant, &folder)?;
        storage.delete(&files.tenant, &folder)?;
        Ok::<_, saker_storage::StorageError>(listed)
    })
    .map_err(|e| TaskError::Failed(e.to_string()))?;
    let uris = deleted
        .into_iter()
        .map(|info| Value::String(info.uri.to_string()))
        .collect();
    Ok(one("uris", Value::Array(uris)))
}

#[cfg(test)]
mod tests {
    use super::{Cut, cut_rows, parse_size, reverse_lines};

    #[test]
    fn lines_are_reversed_each_followed_by_the_separator() {
        assert_eq!(reverse_lines(b"a\nb\r\nc\n", b"\n"), b"c\nb\na\n".to_vec());
        assert_eq!(reverse_lines(b"a\nb", b";"), b"b;a;".to_vec());
        assert_eq!(reverse_lines(b"a\n\nb\n", b"\n"), b"b\n\na\n".to_vec());
        assert!(reverse_lines(b"", b"\n").is_empty());
        assert!(reverse_lines(b"\n", b"\n").is_empty());
    }

    #[test]
    fn files_are_cut_at_whole_rows() {
        let text = b"a\nb\nc\nd\ne";
        assert_eq!(
            cut_rows(text, b"\n", Cut::Rows(2)),
            vec![b"a\nb\n".to_vec(), b"c\nd\n".to_vec(), b"e".to_vec()]
        );
        assert_eq!(cut_rows(text, b"\n", Cut::Partitions(2)).len(), 2);
        let by_bytes = cut_rows(text, b"\n", Cut::Bytes(4));
        assert_eq!(by_bytes[0], b"a\nb\n".to_vec());
        assert_eq!(by_bytes.concat(), text.to_vec());
        assert_eq!(
            cut_rows(b"x;;y;;", b";;", Cut::Rows(1)),
            vec![b"x;;".to_vec(), b"y;;".to_vec()]
        );
        assert!(cut_rows(b"", b"\n", Cut::Rows(1)).is_empty());
    }

    #[test]
    fn sizes_read_as_kestra_writes_them() {
        assert_eq!(parse_size("10KB"), Some(10 * 1024));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("1 MB"), Some(1 << 20));
        assert_eq!(parse_size("ten"), None);
        assert_eq!(parse_size("0"), None);
    }
}
