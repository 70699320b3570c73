//! JSON calls for the Google and Azure backends on their bridge thread, with the services'
//! error answers (`{"error": {"code": ..., "message": ..., "status": ...}}` for Google,
//! `{"error": {"code": ..., "message": ...}}` for Azure) read into [`CallError`]. Neither
//! service puts secret values in error messages; transport errors name the URL.

use std::path::Path;

use serde_json::Value;

use crate::bridge::AsyncBridge;

/// Why a call failed.
#[derive(Debug, Clone)]
pub(crate) enum CallError {
    /// No answer: connection refused, timeout, TLS, an unreadable body.
    Transport(String),
    /// The service answered an error status.
    Status {
        status: u16,
        /// Google's `status` (`NOT_FOUND`) or Azure's `code` (`SecretNotFound`).
        code: String,
        message: String,
    },
}

impl CallError {
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            CallError::Status { status, .. } => Some(*status),
            CallError::Transport(_) => None,
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Transport(message) => f.write_str(message),
            CallError::Status {
                status,
                code,
                message,
            } => write!(f, "answered {status} {code}: {message}"),
        }
    }
}

/// One answer: status and JSON body (`null` when empty).
pub(crate) struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The body when the status is 2xx, else the service's error.
    pub(crate) fn success(self) -> Result<Value, CallError> {
        if (200..300).contains(&self.status) {
            return Ok(self.body);
        }
        let error = &self.body["error"];
        let code = error["status"]
            .as_str()
            .or_else(|| error["code"].as_str())
            .or_else(|| self.body["error"].as_str())
            .unwrap_or("")
            .to_owned();
        let message = error["message"]
            .as_str()
            .or_else(|| self.body["error_description"].as_str())
            .unwrap_or("")
            .to_owned();
        Err(CallError::Status {
            status: self.status,
            code,
            message,
        })
    }
}

/// An HTTP client and the bridge thread its calls run on.
pub(crate) struct Rest {
    http: reqwest::Client,
    bridge: AsyncBridge,
}

impl Rest {
    /// A client on a new bridge thread named `thread`; `ca_file` adds a PEM root certificate
    /// to the public ones (a private endpoint, or a test server).
    pub(crate) fn new(thread: &str, ca_file: Option<&Path>) -> Result<Self, String> {
        let http = match ca_file {
            None => crate::http::client()?,
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|err| format!("cannot read the CA file {}: {err}", path.display()))?;
                let certificate = reqwest::Certificate::from_pem(&pem).map_err(|err| {
                    format!(
                        "the CA file {} is not a PEM certificate: {err}",
                        path.display()
                    )
                })?;
                crate::http::client_builder()
                    .add_root_certificate(certificate)
                    .build()
                    .map_err(|err| err.to_string())?
            }
        };
        let bridge = AsyncBridge::start(thread).map_err(|err| err.to_string())?;
        Ok(Self { http, bridge })
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends `request` (built on [`Rest::http`]) and reads its JSON answer.
    pub(crate) fn send(&self, request: reqwest::RequestBuilder) -> Result<Answer, CallError> {
        let (status, url, bytes) = self
            .bridge
            .run(async move {
                let response = request.send().await.map_err(|err| {
                    let url = err.url().map(without_query).unwrap_or_default();
                    CallError::Transport(format!(
                        "cannot reach {url}: {}",
                        crate::http::error_chain(&err)
                    ))
                })?;
                let status = response.status().as_u16();
                let url = without_query(response.url());
                let bytes = response.bytes().await.map_err(|err| {
                    CallError::Transport(format!("no full answer from {url}: {err}"))
                })?;
                Ok::<_, CallError>((status, url, bytes))
            })
            .map_err(|err| CallError::Transport(err.to_string()))??;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|_| {
                CallError::Transport(format!(
                    "{url} answered {status} with a body that is not JSON"
                ))
            })?
        };
        Ok(Answer { status, body })
    }
}

/// `url` without its query (page tokens and API versions are noise in a message).
fn without_query(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.to_string()
}
