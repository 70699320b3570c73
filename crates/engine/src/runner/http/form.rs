//! `formData` as a request body, as Kestra sends it: URL-encoded unless `contentType` is
//! `multipart/form-data`. In a multipart form, a text value that is a `kestra://` URI, or a
//! `{name, content}` map whose content is one, sends that file of the execution; other
//! values are sent as text (maps and lists as JSON).

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::property;
use crate::runner::{TaskContext, TaskError};

/// A file part's name when the URI gives no usable one.
const DEFAULT_FILE_NAME: &str = "file";

/// The body a form becomes.
pub(super) enum FormBody {
    UrlEncoded(Vec<u8>),
    Multipart(Vec<FormPart>),
}

/// One part of a multipart form.
pub(super) struct FormPart {
    pub(super) name: String,
    pub(super) bytes: Vec<u8>,
    /// Set for a file part.
    pub(super) file_name: Option<String>,
}

/// True when `content_type` asks for a multipart form.
pub(super) fn is_multipart(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| {
        c.trim()
            .to_ascii_lowercase()
            .starts_with("multipart/form-data")
    })
}

/// The body of the rendered `formData`, and whether it holds a file stored sealed (content
/// derived from a secret).
pub(super) fn form_body(
    ctx: &mut TaskContext,
    form: Value,
    multipart: bool,
) -> Result<(FormBody, bool), TaskError> {
    let Value::Object(fields) = form else {
        return Err(property(
            "formData",
            "expected a map of field name to value",
        ));
    };
    if multipart {
        let mut sealed = false;
        let parts = fields
            .into_iter()
            .map(|(name, value)| part(ctx, name, value, &mut sealed))
            .collect::<Result<_, _>>()?;
        return Ok((FormBody::Multipart(parts), sealed));
    }
    let mut encoded = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in &fields {
        let values = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for value in values {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                Value::Object(_) | Value::Array(_) => {
                    return Err(property(
                        "formData",
                        &format!(
                            "field '{name}' must be a text, a number or a list of them (send \
                             maps with contentType: multipart/form-data)"
                        ),
                    ));
                }
                other => other.to_string(),
            };
            encoded.append_pair(name, &text);
        }
    }
    Ok((FormBody::UrlEncoded(encoded.finish().into_bytes()), false))
}

fn part(
    ctx: &mut TaskContext,
    name: String,
    value: Value,
    sealed: &mut bool,
) -> Result<FormPart, TaskError> {
    let (file_name, uri) = match &value {
        Value::String(s) if is_storage_uri(s) => (None, s.clone()),
        Value::Object(map) => match (text(map, "name"), text(map, "content")) {
            (Some(file_name), Some(content)) if is_storage_uri(&content) => {
                (Some(file_name), content)
            }
            _ => return Ok(text_part(name, &value)),
        },
        _ => return Ok(text_part(name, &value)),
    };
    let files = ctx.task_files()?.clone();
    let resolved = files
        .resolve(uri.trim(), None)
        .map_err(|err| property(&format!("formData.{name}"), &err.to_string()))?;
    let opened = files
        .open(&resolved)
        .map_err(|err| property(&format!("formData.{name}"), &err.to_string()))?;
    *sealed |= opened.sealed;
    let masks = ctx.mask_set();
    let file_name = file_name
        .or_else(|| resolved.to_string().rsplit('/').next().map(str::to_owned))
        .filter(|n| !n.is_empty() && matches!(masks.mask(n), Cow::Borrowed(_)))
        .unwrap_or_else(|| DEFAULT_FILE_NAME.to_owned());
    Ok(FormPart {
        name,
        bytes: opened.bytes.to_vec(),
        file_name: Some(file_name),
    })
}

fn text_part(name: String, value: &Value) -> FormPart {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    FormPart {
        name,
        bytes: text.into_bytes(),
        file_name: None,
    }
}

fn is_storage_uri(text: &str) -> bool {
    text.trim()
        .get(..9)
        .is_some_and(|s| s.eq_ignore_ascii_case("kestra://"))
}

fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(str::to_owned)
}
