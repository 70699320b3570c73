//! Reading requests without ever quoting them back: body rejections as our JSON error, and
//! JSON object bodies parsed by hand. Bodies that may hold a secret value or a
//! password are read through [`object_body`], never a typed serde deserializer, because
//! serde's messages quote what they could not read ("invalid type: string \"…\"").

use axum::extract::rejection::BytesRejection;
use serde_json::{Map, Value};

use crate::ApiError;

/// A body that could not be read (too large, cut short) as our JSON error.
pub(crate) fn body_rejected(e: BytesRejection) -> ApiError {
    ApiError {
        status: e.status(),
        message: e.body_text(),
    }
}

/// The JSON object of a request body. An empty body is an empty object when `optional`.
/// Parser messages give only a position: they never quote what was sent.
pub(crate) fn object_body(
    body: &[u8],
    example: &str,
    optional: bool,
) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return if optional {
            Ok(Map::new())
        } else {
            Err(ApiError::bad_request(format!(
                "the body is empty: send a JSON object such as {example}"
            )))
        };
    }
    let json: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not valid JSON (line {}, column {}): send {example}",
            e.line(),
            e.column()
        ))
    })?;
    match json {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::bad_request(format!(
            "the body must be a JSON object: {example}"
        ))),
    }
}

/// Refuses the first field of `map` left unread, naming the ones that are read.
pub(crate) fn no_other_fields(map: &Map<String, Value>, expected: &str) -> Result<(), ApiError> {
    match map.keys().next() {
        Some(unknown) => Err(ApiError::bad_request(format!(
            "unknown field '{unknown}': expected {expected}"
        ))),
        None => Ok(()),
    }
}
