//! Vault's HTTP API with a session: log in (or look the configured token up), send
//! `X-Vault-Token` and `X-Vault-Namespace`, renew the token once two thirds of its lease
//! have passed, and log in again when renewal fails or Vault answers 403 to a token it no
//! longer honours (expired or revoked). HTTP runs on the backend's [`AsyncBridge`] thread;
//! the session lives behind a mutex on the callers' side.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::config::{VaultAuth, VaultConfig};
use crate::bridge::AsyncBridge;

/// Why a call failed. Vault's error messages name paths, never values.
#[derive(Debug, Clone)]
pub(crate) enum CallError {
    /// No answer (connection refused, timeout, unreadable body).
    Transport(String),
    /// Vault answered an error status with its `errors`.
    Status { status: u16, errors: String },
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Transport(message) => f.write_str(message),
            CallError::Status { status, errors } if errors.is_empty() => {
                write!(f, "Vault answered {status}")
            }
            CallError::Status { status, errors } => write!(f, "Vault answered {status}: {errors}"),
        }
    }
}

/// One answer: status and JSON body (`null` for 204).
pub(crate) struct Answer {
    pub status: u16,
    pub body: Value,
}

struct Session {
    token: Zeroizing<String>,
    obtained: Instant,
    /// `None`: the token does not expire (a root token).
    lease: Option<Duration>,
    renewable: bool,
}

/// How many login, renewal and lookup calls a client made (for tests and the report).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SessionCounts {
    /// Logins (userpass or approle) and lookups of a configured token.
    pub logins: u32,
    /// Token renewals.
    pub renewals: u32,
}

pub(crate) struct VaultClient {
    http: reqwest::Client,
    config: VaultConfig,
    bridge: AsyncBridge,
    session: Mutex<Option<Session>>,
    counts: Mutex<SessionCounts>,
}

impl VaultClient {
    pub(crate) fn new(config: VaultConfig) -> Result<Self, String> {
        let http = crate::http::client()?;
        let bridge = AsyncBridge::start("saker-vault-secrets").map_err(|err| err.to_string())?;
        Ok(Self {
            http,
            config,
            bridge,
            session: Mutex::new(None),
            counts: Mutex::new(SessionCounts::default()),
        })
    }

    pub(crate) fn config(&self) -> &VaultConfig {
        &self.config
    }

    pub(crate) fn counts(&self) -> SessionCounts {
        *self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One HTTP call to `/v1/{path}`.
    fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> Result<Answer, CallError> {
        let url = format!("{}/v1/{path}", self.config.address);
        let mut request = self.http.request(method, &url);
        if let Some(namespace) = &self.config.namespace {
            request = request.header("X-Vault-Namespace", namespace);
        }
        if let Some(token) = token {
            request = request.header("X-Vault-Token", token);
        }
        if let Some(body) = body {
            let bytes =
                serde_json::to_vec(body).map_err(|e| CallError::Transport(e.to_string()))?;
            request = request
                .header("content-type", "application/json")
                .body(bytes);
        }
        let address = self.config.address.clone();
        let (status, bytes) = self
            .bridge
            .run(async move {
                let response = request.send().await.map_err(|err| {
                    CallError::Transport(format!(
                        "cannot reach {address}: {}",
                        crate::http::error_chain(&err)
                    ))
                })?;
                let status = response.status().as_u16();
                let bytes = response.bytes().await.map_err(|err| {
                    CallError::Transport(format!("no full answer from {address}: {err}"))
                })?;
                Ok::<_, CallError>((status, bytes))
            })
            .map_err(|err| CallError::Transport(err.to_string()))??;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|_| {
                CallError::Transport(format!(
                    "{} answered {status} to {path} with a body that is not JSON",
                    self.config.address
                ))
            })?
        };
        Ok(Answer { status, body })
    }

    fn count(&self, renewal: bool) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if renewal {
            counts.renewals += 1;
        } else {
            counts.logins += 1;
        }
    }

    /// Logs in (or looks the configured token up) and returns a fresh session.
    fn login(&self) -> Result<Session, CallError> {
        self.count(false);
        let answer = match &self.config.auth {
            VaultAuth::Token(token) => {
                let answer = self.send(Method::GET, "auth/token/lookup-self", None, Some(token))?;
                let answer = success(answer)?;
                let ttl = answer.body["data"]["ttl"].as_u64().unwrap_or(0);
                return Ok(Session {
                    token: token.clone(),
                    obtained: Instant::now(),
                    lease: (ttl > 0).then(|| Duration::from_secs(ttl)),
                    renewable: answer.body["data"]["renewable"].as_bool().unwrap_or(false),
                });
            }
            VaultAuth::UserPass { user, password } => {
                let path = format!("auth/userpass/login/{user}");
                let body = json!({"password": password.as_str()});
                self.send(Method::POST, &path, Some(&body), None)?
            }
            VaultAuth::AppRole {
                path,
                role_id,
                secret_id,
            } => {
                let body = json!({"role_id": role_id, "secret_id": secret_id.as_str()});
                self.send(
                    Method::POST,
                    &format!("auth/{path}/login"),
                    Some(&body),
                    None,
                )?
            }
        };
        let answer = success(answer)?;
        let auth = &answer.body["auth"];
        let token = auth["client_token"]
            .as_str()
            .ok_or_else(|| CallError::Status {
                status: answer.status,
                errors: "the login answer has no auth.client_token".into(),
            })?;
        let lease = auth["lease_duration"].as_u64().unwrap_or(0);
        Ok(Session {
            token: Zeroizing::new(token.to_owned()),
            obtained: Instant::now(),
            lease: (lease > 0).then(|| Duration::from_secs(lease)),
            renewable: auth["renewable"].as_bool().unwrap_or(false),
        })
    }

    fn can_log_in_again(&self) -> bool {
        !matches!(self.config.auth, VaultAuth::Token(_))
    }

    /// The token to use now, renewing or logging in again when its lease is two thirds
    /// through. The lock is held across that login or renewal on purpose: concurrent callers
    /// wait for the one new token instead of each logging in.
    fn token(&self) -> Result<Zeroizing<String>, CallError> {
        let mut guard = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let due = guard.as_ref().and_then(|s| {
            s.lease
                .map(|lease| s.obtained.elapsed() >= lease.mul_f64(2.0 / 3.0))
        });
        match (guard.as_mut(), due) {
            (None, _) => *guard = Some(self.login()?),
            (Some(session), Some(true)) => {
                let renewed = if session.renewable {
                    self.count(true);
                    self.send(
                        Method::POST,
                        "auth/token/renew-self",
                        Some(&json!({})),
                        Some(&session.token),
                    )
                    .and_then(success)
                    .ok()
                } else {
                    None
                };
                match renewed {
                    Some(answer) => {
                        let lease = answer.body["auth"]["lease_duration"].as_u64().unwrap_or(0);
                        session.obtained = Instant::now();
                        session.lease = (lease > 0).then(|| Duration::from_secs(lease));
                    }
                    None if self.can_log_in_again() => *guard = Some(self.login()?),
                    // A configured token that cannot be renewed: use it until Vault refuses.
                    None => session.lease = None,
                }
            }
            _ => {}
        }
        Ok(guard
            .as_ref()
            .map(|s| s.token.clone())
            .expect("a session was just set"))
    }

    /// An authenticated call; a 403 drops the session and, when Saker can log in by itself,
    /// the call is tried once more with a new token.
    pub(crate) fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, CallError> {
        let token = self.token()?;
        let answer = self.send(method.clone(), path, body, Some(&token))?;
        if answer.status != 403 {
            return Ok(answer);
        }
        *self.session.lock().unwrap_or_else(|e| e.into_inner()) = None;
        if !self.can_log_in_again() {
            return Ok(answer);
        }
        let token = self.token()?;
        self.send(method, path, body, Some(&token))
    }
}

/// `answer` when its status is 2xx, else its errors.
pub(crate) fn success(answer: Answer) -> Result<Answer, CallError> {
    if (200..300).contains(&answer.status) {
        Ok(answer)
    } else {
        Err(CallError::Status {
            status: answer.status,
            errors: errors_of(&answer.body),
        })
    }
}

/// Vault's `{"errors": [...]}`, joined.
pub(crate) fn errors_of(body: &Value) -> String {
    body["errors"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}
