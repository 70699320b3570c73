//! The inputs of a new execution, from the request body: a JSON object, a URL-encoded form,
//! or `multipart/form-data` as Kestra's UI and clients send it. An empty body means no
//! input. Values are coerced to the flow's declared input types later, by the engine.

use std::convert::Infallible;

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use serde_json::{Map, Value};

use crate::ApiError;

/// Parses `body` according to its `Content-Type`.
pub async fn parse_inputs(
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return Ok(form_urlencoded::parse(&body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect());
    }
    if content_type.starts_with("multipart/form-data") {
        return multipart(content_type, body).await;
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request(
            "the body must be a JSON object of inputs, e.g. {\"day\": \"2026-11-22\"}",
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

/// Each text part is an input named by the part's name. File parts are refused: FILE inputs
/// need internal storage, which is not yet available.
async fn multipart(content_type: &str, body: Bytes) -> Result<Map<String, Value>, ApiError> {
    let boundary = multer::parse_boundary(content_type).map_err(|e| {
        ApiError::bad_request(format!("multipart body without a valid boundary: {e}"))
    })?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut inputs = Map::new();
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
        if field.file_name().is_some() {
            return Err(ApiError {
                status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                message: format!(
                    "input '{name}' is a file: FILE inputs are not yet available in Saker; \
                     send the value as a text part"
                ),
            });
        }
        let text = field.text().await.map_err(|e| {
            ApiError::bad_request(format!("multipart part '{name}' is not UTF-8 text: {e}"))
        })?;
        inputs.insert(name, Value::String(text));
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, content_type.parse().unwrap());
        h
    }

    fn run(content_type: &str, body: &str) -> Result<Map<String, Value>, ApiError> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(parse_inputs(
                &headers(content_type),
                Bytes::from(body.to_owned()),
            ))
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
        let file = "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nhi\r\n--B--\r\n";
        let e = run("multipart/form-data; boundary=B", file).unwrap_err();
        assert!(
            e.message.contains("FILE inputs are not yet available"),
            "{}",
            e.message
        );
        let e = run("multipart/form-data; boundary=B", "--B\r\ngarbage").unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
    }
}
