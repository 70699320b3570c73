//! The files an e-mail carries (`attachments`, `embeddedImages` of `MailSend` and
//! `SendGridMailSend`), read as Kestra's `Attachment`: `{name, uri, contentType}` with
//! `contentType` defaulting to `application/octet-stream`. The property is a list of such
//! maps, one map, or a string holding their JSON (a flow writes
//! `attachments: "{{ inputs.attachments | toJson }}"`). Each `uri` is a file of this
//! execution (or of the flow namespace's files), read through the task's file access; a file
//! stored sealed joins the mask set, as every read of one does.

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::{TaskContext, TaskError};

/// Kestra's default content type of an attachment.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// One file of the message.
pub(super) struct MailFile {
    pub(super) name: String,
    pub(super) content_type: String,
    pub(super) bytes: Zeroizing<Vec<u8>>,
}

/// The files of property `name` (none when it is absent or empty).
pub(super) fn mail_files(ctx: &mut TaskContext, name: &str) -> Result<Vec<MailFile>, TaskError> {
    let Some(value) = ctx.render_output_value(name)? else {
        return Ok(Vec::new());
    };
    entries(name, value)?
        .into_iter()
        .enumerate()
        .map(|(i, entry)| open(ctx, &format!("{name}[{i}]"), &entry))
        .collect()
}

/// The `{name, uri, contentType}` maps the rendered property holds.
fn entries(name: &str, value: Value) -> Result<Vec<Map<String, Value>>, TaskError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        Value::Object(map) => vec![Value::Object(map)],
        Value::String(text) => return entries(name, parse(name, &text)?),
        _ => return Err(shape(name)),
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(map) => Ok(map),
            _ => Err(shape(name)),
        })
        .collect()
}

/// A string property: JSON of a list or a map, or (as Kestra also reads it) a JSON string
/// that holds such JSON.
fn parse(name: &str, text: &str) -> Result<Value, TaskError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Value::Null);
    }
    // serde_json's messages name a line and column, never the text.
    let value: Value = serde_json::from_str(text).map_err(|err| {
        property(
            name,
            &format!("is not JSON ({err}): write a list of {{name, uri, contentType}} maps"),
        )
    })?;
    match value {
        Value::String(inner) if !inner.trim().is_empty() => parse(name, &inner),
        Value::String(_) => Ok(Value::Null),
        Value::Array(_) | Value::Object(_) => Ok(value),
        _ => Err(shape(name)),
    }
}

fn open(
    ctx: &mut TaskContext,
    place: &str,
    entry: &Map<String, Value>,
) -> Result<MailFile, TaskError> {
    let text = |key: &str| {
        entry
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let uri = text("uri").ok_or_else(|| {
        property(
            &format!("{place}.uri"),
            "is required: the kestra:// URI of the file to send",
        )
    })?;
    let name = text("name").ok_or_else(|| {
        property(
            &format!("{place}.name"),
            "is required: the file name the recipient sees",
        )
    })?;
    let content_type = text("contentType").unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned());
    let files = ctx.task_files()?.clone();
    let opened = files
        .resolve(&uri, None)
        .and_then(|resolved| files.open(&resolved))
        .map_err(|err| property(&format!("{place}.uri"), &err.to_string()))?;
    Ok(MailFile {
        name,
        content_type,
        bytes: opened.bytes,
    })
}

fn shape(name: &str) -> TaskError {
    property(
        name,
        "expected a list of {name, uri, contentType} maps (or a string of their JSON)",
    )
}

pub(super) fn property(name: &str, message: &str) -> TaskError {
    TaskError::Property {
        property: name.to_owned(),
        message: message.to_owned(),
    }
}
