//! The inputs of a new execution, from the request body: a JSON object, a URL-encoded form,
//! or `multipart/form-data` as Kestra's UI and clients send it, whose parts with a file name
//! are the files of FILE inputs. An empty body means no input. Values are coerced to the
//! flow's declared input types later, by the engine, which stores the files.

use std::convert::Infallible;

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use saker_engine::files::InputUpload;
use serde_json::{Map, Value};

use crate::ApiError;

/// Text inputs by name, and the files sent for FILE inputs.
pub type Inputs = (Map<String, Value>, Vec<InputUpload>);

/// Parses `body` according to its `Content-Type`.
pub async fn parse_inputs(headers: &HeaderMap, body: Bytes) -> Result<Inputs, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok((Map::new(), Vec::new()));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let form = form_urlencoded::parse(&body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        return Ok((form, Vec::new()));
    }
    if content_type.starts_with("multipart/form-data") {
        let mut inputs = Map::new();
        let mut files = Vec::new();
        for part in multipart_parts(content_type, body).await? {
            match part.file_name {
                Some(file_name) => files.push(InputUpload {
                    input: part.name,
                    file_name,
                    bytes: part.bytes.to_vec(),
                }),
                None => {
                    let text = String::from_utf8(part.bytes.to_vec()).map_err(|_| {
                        ApiError::bad_request(format!(
                            "multipart part '{}' is not UTF-8 text; send a file with a file name",
                            part.name
                        ))
                    })?;
                    inputs.insert(part.name, Value::String(text));
                }
            }
        }
        return Ok((inputs, files));
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => Ok((map, Vec::new())),
        Ok(_) => Err(ApiError::bad_request(
            "the body must be a JSON object of inputs, e.g. {\"day\": \"2026-11-22\"}",
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

/// One part of a `multipart/form-data` body.
pub(crate) struct Part {
    pub name: String,
    /// Set for a file part.
    pub file_name: Option<String>,
    pub bytes: Bytes,
}

/// The parts of a `multipart/form-data` body (also the namespace files' upload).
pub(crate) async fn multipart_parts(
    content_type: &str,
    body: Bytes,
) -> Result<Vec<Part>, ApiError> {
    let boundary = multer::parse_boundary(content_type).map_err(|e| {
        ApiError::bad_request(format!("multipart body without a valid boundary: {e}"))
    })?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    loop {
        let field = form
            .next_field()
            .await
            .map_err(|e| ApiError::bad_request(format!("malformed multipart body: {e}")))?;
        let Some(field) = field else { break };
        let name = field
            .name()
            .map(str::to_owned)
            .ok_or_else(|| ApiError::bad_request("a multipart part has no name"))?;
        let file_name = field.file_name().map(str::to_owned);
        let bytes = field.bytes().await.map_err(|e| {
            ApiError::bad_request(format!("multipart part '{name}' cannot be read: {e}"))
        })?;
        parts.push(Part {
            name,
            file_name,
            bytes,
        });
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, content_type.parse().unwrap());
        h
    }

    fn run_with_files(content_type: &str, body: &str) -> Result<Inputs, ApiError> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(parse_inputs(
                &headers(content_type),
                Bytes::from(body.to_owned()),
            ))
    }

    fn run(content_type: &str, body: &str) -> Result<Map<String, Value>, ApiError> {
        run_with_files(content_type, body).map(|(inputs, _)| inputs)
    }

    #[test]
    fn json_form_and_multipart_give_the_same_inputs() {
        let json = run("application/json", r#"{"day": "2026-11-22"}"#).unwrap();
        let form = run("application/x-www-form-urlencoded", "day=2026-11-22").unwrap();
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"day\"\r\n\r\n2026-11-22\r\n--XyZ--\r\n";
        let multi = run("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(json, form);
        assert_eq!(json, multi);
        assert!(run("application/json", "  ").unwrap().is_empty());
    }

    #[test]
    fn bad_bodies_get_clear_errors() {
        let e = run("application/json", "[1]").unwrap_err();
        assert!(e.message.contains("JSON object"), "{}", e.message);
        let e = run("multipart/form-data", "x").unwrap_err();
        assert!(e.message.contains("boundary"), "{}", e.message);
        let e = run("multipart/form-data; boundary=B", "--B\r\ngarbage").unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn file_parts_are_uploads() {
        let body = "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nhi\r\n--B\r\nContent-Disposition: form-data; name=\"day\"\r\n\r\nmonday\r\n--B--\r\n";
        let (inputs, files) = run_with_files("multipart/form-data; boundary=B", body).unwrap();
        assert_eq!(inputs["day"], "monday");
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].input, "f");
        assert_eq!(files[0].file_name, "a.txt");
        assert_eq!(files[0].bytes, b"hi");
    }
}
