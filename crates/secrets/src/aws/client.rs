//! One Secrets Manager call: a signed `POST /` with `X-Amz-Target: secretsmanager.<Action>`
//! and a JSON body, answered by JSON or by an error `{"__type": ..., "message": ...}`. Runs
//! on the backend's [`AsyncBridge`] thread.

use serde_json::Value;

use super::config::AwsConfig;
use super::sigv4::{ToSign, sign};
use crate::bridge::AsyncBridge;

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Why a call failed. Neither variant can hold a secret value: AWS error messages name
/// secrets, never their values, and transport errors name the endpoint.
#[derive(Debug, Clone)]
pub(crate) enum CallError {
    /// AWS answered with an error code (`ResourceNotFoundException`...).
    Service { code: String, message: String },
    /// No answer: connection refused, timeout, an unreadable response.
    Transport(String),
}

impl CallError {
    pub(crate) fn is(&self, code: &str) -> bool {
        matches!(self, CallError::Service { code: c, .. } if c == code)
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Service { code, message } => write!(f, "{code}: {message}"),
            CallError::Transport(message) => f.write_str(message),
        }
    }
}

pub(crate) struct AwsClient {
    http: reqwest::Client,
    config: AwsConfig,
    host: String,
    bridge: AsyncBridge,
}

impl AwsClient {
    pub(crate) fn new(config: AwsConfig) -> Result<Self, String> {
        let url = reqwest::Url::parse(&config.endpoint).map_err(|err| err.to_string())?;
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err("the endpoint has no host".into()),
        };
        let http = crate::http::client()?;
        let bridge = AsyncBridge::start("saker-aws-secrets").map_err(|err| err.to_string())?;
        Ok(Self {
            http,
            config,
            host,
            bridge,
        })
    }

    pub(crate) fn endpoint(&self) -> &str {
        &self.config.endpoint
    }

    pub(crate) fn prefix(&self) -> Option<&str> {
        self.config.prefix.as_deref()
    }

    /// Calls `action` with `body` and returns the JSON answer (`{}` for an empty one).
    pub(crate) fn call(&self, action: &str, body: &Value) -> Result<Value, CallError> {
        let body = serde_json::to_vec(body).map_err(|err| CallError::Transport(err.to_string()))?;
        let target = format!("secretsmanager.{action}");
        let signed = sign(
            &ToSign {
                host: &self.host,
                target: &target,
                content_type: CONTENT_TYPE,
                body: &body,
                region: &self.config.region,
                service: "secretsmanager",
                at: chrono::Utc::now(),
            },
            &self.config.credentials,
        );
        let mut request = self
            .http
            .post(format!("{}/", self.config.endpoint))
            .header("content-type", CONTENT_TYPE)
            .header("x-amz-target", target)
            .header("x-amz-date", signed.amz_date)
            .header("authorization", signed.authorization)
            .body(body);
        if let Some(token) = signed.security_token {
            request = request.header("x-amz-security-token", token);
        }
        let endpoint = self.config.endpoint.clone();
        let answer = self.bridge.run(async move {
            let response = request.send().await.map_err(|err| {
                CallError::Transport(format!(
                    "cannot reach {endpoint}: {}",
                    crate::http::error_chain(&err)
                ))
            })?;
            let status = response.status();
            let bytes = response.bytes().await.map_err(|err| {
                CallError::Transport(format!("no full answer from {endpoint}: {err}"))
            })?;
            Ok::<_, CallError>((status, bytes))
        });
        let (status, bytes) = answer.map_err(|err| CallError::Transport(err.to_string()))??;
        let json: Value = if bytes.is_empty() {
            Value::Object(Default::default())
        } else {
            serde_json::from_slice(&bytes).map_err(|_| {
                CallError::Transport(format!(
                    "{} answered {status} with a body that is not JSON",
                    self.config.endpoint
                ))
            })?
        };
        if status.is_success() {
            return Ok(json);
        }
        let code = json["__type"]
            .as_str()
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
            .unwrap_or_else(|| format!("HTTP {status}"));
        let message = json["message"]
            .as_str()
            .or_else(|| json["Message"].as_str())
            .unwrap_or("")
            .to_owned();
        Err(CallError::Service { code, message })
    }
}
