//! Reading and storing the files of the file tasks (`core.storage.*`, `serdes.*`): a file
//! named by a rendered property, read under the task's file access rules, and a file stored
//! in the task run's folder, sealed when anything that went into it was secret.
//!
//! The sealing rule: an output file is sealed when an input file was sealed, when a rendered
//! property that went into it (a content, a URI) was derived from a secret, or when its bytes
//! hold a value of the execution's mask set. A file derived from a secret in any other form is
//! as secret as its source, so the first two do not look at the bytes at all.

use std::borrow::Cow;

use saker_storage::StorageUri;
use serde_json::Value;
use zeroize::Zeroizing;

use super::{TaskContext, TaskError};
use crate::files::FileError;

/// A file read for a task, with whether it must make its derived files sealed.
pub(crate) struct InputFile {
    pub uri: StorageUri,
    pub bytes: Zeroizing<Vec<u8>>,
    /// Stored sealed, or named by a URI rendered from a secret.
    pub secret: bool,
}

/// The file the string property `name` names (a `kestra:///` URI of this execution, its
/// parent's, or a namespace file), read under [`crate::files::TaskFiles`]'s rules.
pub(crate) fn read_property_file(
    ctx: &mut TaskContext,
    name: &str,
) -> Result<InputFile, TaskError> {
    let rendered = ctx
        .render_rendered_string(name)?
        .ok_or_else(|| property(name, "is required: the kestra:/// URI of a file"))?;
    let tainted = rendered.is_tainted();
    read_file(ctx, name, rendered.text.trim(), tainted)
}

/// The file at `location`; `name` is the property it came from, for errors.
pub(crate) fn read_file(
    ctx: &TaskContext,
    name: &str,
    location: &str,
    tainted: bool,
) -> Result<InputFile, TaskError> {
    let files = ctx.task_files()?;
    let uri = files
        .resolve(location, None)
        .map_err(|e| property(name, &e.to_string()))?;
    let opened = files
        .open(&uri)
        .map_err(|e| property(name, &e.to_string()))?;
    Ok(InputFile {
        uri,
        bytes: opened.bytes,
        secret: opened.sealed || tainted,
    })
}

/// Stores `bytes` as `file_name` in this task run's folder, sealed when `secret` or when the
/// bytes hold a value of the execution's mask set; returns its `kestra:///` URI.
pub(crate) fn store_output(
    ctx: &TaskContext,
    file_name: &str,
    bytes: &[u8],
    secret: bool,
) -> Result<StorageUri, TaskError> {
    let files = ctx.task_files()?;
    let max = files.files.storage()?.max_file_bytes();
    if bytes.len() as u64 > max {
        return Err(TaskError::Failed(format!(
            "the file made is {} bytes, more than the {max} bytes a stored file may hold",
            bytes.len()
        )));
    }
    let seal = secret || matches!(ctx.mask_set().mask_bytes(bytes), Cow::Owned(_));
    let uri = files
        .task_run_folder()
        .and_then(|folder| folder.join(file_name).map_err(FileError::from))?;
    files.put(&uri, bytes, seal)?;
    Ok(uri)
}

/// The most bytes a stored file may hold, the bound of every file a task builds.
pub(crate) fn max_file_bytes(ctx: &TaskContext) -> Result<u64, TaskError> {
    Ok(ctx.task_files()?.files.storage()?.max_file_bytes())
}

/// A boolean property (a YAML boolean, or a string rendering to `true`/`false`).
pub(crate) fn bool_property(
    ctx: &mut TaskContext,
    name: &str,
    default: bool,
) -> Result<bool, TaskError> {
    match ctx.property(name).cloned() {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(b),
        Some(_) => {
            let text = ctx.render_string(name)?.unwrap_or_default();
            match text.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(property(name, "expected true or false")),
            }
        }
    }
}

/// A single-character property (`fieldSeparator: ";"`), as one byte; `default` when absent.
pub(crate) fn char_property(
    ctx: &mut TaskContext,
    name: &str,
    default: u8,
) -> Result<u8, TaskError> {
    let Some(text) = ctx.render_string(name)? else {
        return Ok(default);
    };
    let text = match text.as_str() {
        "\\t" => "\t",
        other => other,
    };
    match text.as_bytes() {
        [b] if b.is_ascii() => Ok(*b),
        _ => Err(property(
            name,
            "expected a single ASCII character such as ',' or ';'",
        )),
    }
}

/// A whole-number property of at least `min`; `None` when absent.
pub(crate) fn count_property(
    ctx: &mut TaskContext,
    name: &str,
    min: u64,
) -> Result<Option<u64>, TaskError> {
    let Some(text) = ctx.render_string(name)? else {
        return Ok(None);
    };
    match text.trim().parse::<u64>() {
        Ok(n) if n >= min => Ok(Some(n)),
        _ => Err(property(
            name,
            &format!("expected a whole number of at least {min}"),
        )),
    }
}

/// The `charset` property: Saker reads and writes UTF-8 (and its ASCII subset) only.
pub(crate) fn check_charset(ctx: &mut TaskContext) -> Result<(), TaskError> {
    let Some(charset) = ctx.render_string("charset")? else {
        return Ok(());
    };
    let normal = charset.trim().to_ascii_uppercase().replace('_', "-");
    if matches!(normal.as_str(), "UTF-8" | "UTF8" | "US-ASCII" | "ASCII") {
        Ok(())
    } else {
        Err(property(
            "charset",
            &format!(
                "'{charset}' is not yet available in Saker; files are read and written as UTF-8"
            ),
        ))
    }
}

pub(crate) fn property(name: &str, message: &str) -> TaskError {
    TaskError::Property {
        property: name.to_owned(),
        message: message.to_owned(),
    }
}
