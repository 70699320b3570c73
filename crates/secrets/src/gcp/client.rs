//! Secret Manager's REST API (v1) as the service account: a JWT signed RS256 with the
//! account's key (`iss` the account, `aud` its `token_uri`, `scope` cloud-platform) is
//! exchanged at `token_uri` for an access token (the "JWT bearer" grant of RFC 7523, as
//! Google's libraries do), kept until five minutes before it expires, and dropped when the
//! API answers 401. HTTP runs on the backend's bridge thread.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::config::GcpConfig;
use crate::cloud::rest::{Answer, CallError, Rest};
use crate::cloud::token::{Fresh, TokenCache};

const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Lifetime asked for the signed assertion (Google accepts at most an hour).
const ASSERTION_LIFETIME: i64 = 3600;

pub(crate) struct GcpClient {
    rest: Rest,
    config: GcpConfig,
    key: EncodingKey,
    tokens: TokenCache,
}

impl GcpClient {
    pub(crate) fn new(config: GcpConfig) -> Result<Self, String> {
        let key = EncodingKey::from_rsa_pem(config.account.private_key.as_bytes())
            .map_err(|_| "the service account's private_key is not an RSA key in PEM")?;
        let rest = Rest::new("saker-gcp-secrets", None)?;
        Ok(Self {
            rest,
            config,
            key,
            tokens: TokenCache::default(),
        })
    }

    pub(crate) fn config(&self) -> &GcpConfig {
        &self.config
    }

    /// Access tokens fetched so far.
    pub(crate) fn tokens_fetched(&self) -> u32 {
        self.tokens.fetched()
    }

    /// `projects/<project>/secrets`.
    pub(crate) fn secrets(&self) -> String {
        format!("projects/{}/secrets", self.config.project)
    }

    fn fetch_token(&self) -> Result<Fresh, CallError> {
        let account = &self.config.account;
        let now = chrono::Utc::now().timestamp();
        let claims = json!({"iss": account.client_email, "scope": SCOPE,
            "aud": account.token_uri, "iat": now, "exp": now + ASSERTION_LIFETIME});
        let mut header = Header::new(Algorithm::RS256);
        header.kid = account.private_key_id.clone();
        let assertion = Zeroizing::new(
            jsonwebtoken::encode(&header, &claims, &self.key)
                .map_err(|err| CallError::Transport(format!("cannot sign the JWT: {err}")))?,
        );
        let request = self
            .rest
            .http()
            .post(&account.token_uri)
            .form(&[("grant_type", GRANT), ("assertion", assertion.as_str())]);
        let body = self.rest.send(request)?.success().map_err(|err| {
            CallError::Transport(format!(
                "the token endpoint {} refused the service account {}: {err}",
                account.token_uri, account.client_email
            ))
        })?;
        let token = body["access_token"].as_str().ok_or_else(|| {
            CallError::Transport(format!(
                "the token endpoint {} answered without an access_token",
                account.token_uri
            ))
        })?;
        Ok(Fresh {
            token: Zeroizing::new(token.to_owned()),
            lifetime: Duration::from_secs(body["expires_in"].as_u64().unwrap_or(0)),
        })
    }

    fn send(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Answer, CallError> {
        let token = self.tokens.get(|| self.fetch_token())?;
        let url = format!("{}/v1/{path}", self.config.endpoint);
        let mut request = self
            .rest
            .http()
            .request(method.clone(), url)
            .query(query)
            .bearer_auth(token.as_str());
        if let Some(body) = body {
            let bytes =
                serde_json::to_vec(body).map_err(|e| CallError::Transport(e.to_string()))?;
            request = request
                .header("content-type", "application/json")
                .body(bytes);
        }
        self.rest.send(request)
    }

    /// An authenticated call to `/v1/<path>`; a 401 drops the token and the call is tried
    /// once more with a new one.
    pub(crate) fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Answer, CallError> {
        let answer = self.send(&method, path, query, body)?;
        if answer.status != 401 {
            return Ok(answer);
        }
        self.tokens.forget();
        self.send(&method, path, query, body)
    }

    /// A call whose 404 means "nothing there" (`None`).
    pub(crate) fn call_found(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Option<Value>, CallError> {
        let answer = self.call(method, path, query, body)?;
        if answer.status == 404 {
            return Ok(None);
        }
        answer.success().map(Some)
    }
}
