//! One JSON-over-HTTP call on a backend's [`AsyncBridge`] thread, for the backends whose
//! APIs are plain REST with a bearer or basic credential (elasticsearch, 1password,
//! doppler): the request is built on the caller's thread, sent on the bridge, and answered
//! as a status and a JSON body. Transport failures name the URL (never a body or a header),
//! so they can go into errors as they are.

use reqwest::{Method, RequestBuilder};
use serde_json::Value;

use crate::bridge::AsyncBridge;

/// A client for one backend: the bounded-wait HTTP client of [`crate::http`] and the
/// backend's bridge thread.
pub(crate) struct JsonApi {
    http: reqwest::Client,
    bridge: AsyncBridge,
}

/// An answer: the status and the body as JSON (`null` when empty or not JSON, so error
/// pages of proxies do not hide the status).
pub(crate) struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl JsonApi {
    /// A client whose thread is named `thread` (`saker-doppler-secrets`); `insecure` accepts
    /// any TLS certificate (`trustAllSsl`, for development clusters only).
    fn new(thread: &str, insecure: bool) -> Result<Self, String> {
        let http = if insecure {
            crate::http::builder()
                .danger_accept_invalid_certs(true)
                .build()
                .map_err(|err| err.to_string())?
        } else {
            crate::http::client()?
        };
        let bridge = AsyncBridge::start(thread).map_err(|err| err.to_string())?;
        Ok(Self { http, bridge })
    }

    /// [`Self::new`] for backend `backend`, its failure as that backend's error.
    pub(crate) fn for_backend(
        backend: &'static str,
        thread: &str,
        insecure: bool,
    ) -> Result<Self, crate::StoreError> {
        Self::new(thread, insecure).map_err(|message| crate::StoreError::Backend {
            backend,
            message: format!("cannot set up its HTTP client: {message}"),
        })
    }

    /// A request to `url`, to be completed with headers and body and passed to [`Self::send`].
    pub(crate) fn request(&self, method: Method, url: reqwest::Url) -> RequestBuilder {
        self.http.request(method, url)
    }

    /// Sends `request` and waits for its answer; `Err` is a transport failure, worded with
    /// the URL and its causes.
    pub(crate) fn send(&self, request: RequestBuilder) -> Result<Reply, String> {
        let answer = self.bridge.run(async move {
            let response = request
                .send()
                .await
                .map_err(|err| format!("cannot reach it: {}", crate::http::error_chain(&err)))?;
            let status = response.status().as_u16();
            let bytes = response
                .bytes()
                .await
                .map_err(|err| format!("no full answer: {}", crate::http::error_chain(&err)))?;
            Ok::<_, String>((status, bytes))
        });
        let (status, bytes) = answer.map_err(|err| err.to_string())??;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Reply { status, body })
    }
}

/// `request` with `body` as its JSON body (reqwest's `json` feature is not in Saker's build).
pub(crate) fn with_json(request: RequestBuilder, body: &Value) -> RequestBuilder {
    request
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
}

/// `base` with `segments` appended as path segments, each percent-encoded (so a `/` in a
/// document id or a title stays inside its segment).
pub(crate) fn url_with(base: &reqwest::Url, segments: &[&str]) -> reqwest::Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        path.extend(segments);
    }
    url
}

/// Parses a configured base URL (`http(s)://host[:port][/path]`), naming `key` when it is
/// not one.
pub(crate) fn base_url(key: &str, text: &str) -> Result<reqwest::Url, crate::ConfigError> {
    let url = reqwest::Url::parse(text.trim()).map_err(|err| {
        crate::ConfigError::new(
            key,
            format!("not a URL ({err}): write it as http://host:port"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(crate::ConfigError::new(
            key,
            "must be an http:// or https:// URL with a host",
        ));
    }
    Ok(url)
}
