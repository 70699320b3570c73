//! Key Vault's REST API (api-version 7.4) as a service principal: the client-credentials
//! grant at `<authority>/<tenant>/oauth2/v2.0/token` with scope
//! `https://vault.azure.net/.default`, the token kept until five minutes before it expires
//! and dropped when the vault answers 401. HTTP runs on the backend's bridge thread.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use zeroize::Zeroizing;

use super::config::AzureConfig;
use crate::cloud::rest::{Answer, CallError, Rest};
use crate::cloud::token::{Fresh, TokenCache};

pub(crate) const API_VERSION: &str = "7.4";
const SCOPE: &str = "https://vault.azure.net/.default";

pub(crate) struct AzureClient {
    rest: Rest,
    config: AzureConfig,
    tokens: TokenCache,
}

impl AzureClient {
    pub(crate) fn new(config: AzureConfig) -> Result<Self, String> {
        let rest = Rest::new("saker-azure-secrets", config.ca_file.as_deref())?;
        Ok(Self {
            rest,
            config,
            tokens: TokenCache::default(),
        })
    }

    pub(crate) fn config(&self) -> &AzureConfig {
        &self.config
    }

    pub(crate) fn tokens_fetched(&self) -> u32 {
        self.tokens.fetched()
    }

    fn fetch_token(&self) -> Result<Fresh, CallError> {
        let config = &self.config;
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            config.authority, config.tenant_id
        );
        let request = self.rest.http().post(&url).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", config.client_id.as_str()),
            ("client_secret", config.client_secret.as_str()),
            ("scope", SCOPE),
        ]);
        let body = self.rest.send(request)?.success().map_err(|err| {
            CallError::Transport(format!(
                "the token endpoint {url} refused client {}: {err}",
                config.client_id
            ))
        })?;
        let token = body["access_token"].as_str().ok_or_else(|| {
            CallError::Transport(format!(
                "the token endpoint {url} answered without an access_token"
            ))
        })?;
        // Microsoft sends expires_in as a number; some proxies send it as text.
        let lifetime = body["expires_in"]
            .as_u64()
            .or_else(|| body["expires_in"].as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(0);
        Ok(Fresh {
            token: Zeroizing::new(token.to_owned()),
            lifetime: Duration::from_secs(lifetime),
        })
    }

    fn send(&self, method: &Method, url: &str, body: Option<&Value>) -> Result<Answer, CallError> {
        let token = self.tokens.get(|| self.fetch_token())?;
        let mut request = self
            .rest
            .http()
            .request(method.clone(), url)
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

    /// An authenticated call to `url` (a `nextLink` as the vault gave it, or
    /// [`AzureClient::url`]); a 401 drops the token and the call is tried once more.
    pub(crate) fn call_url(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Answer, CallError> {
        let answer = self.send(&method, url, body)?;
        if answer.status != 401 {
            return Ok(answer);
        }
        self.tokens.forget();
        self.send(&method, url, body)
    }

    /// `<vault>/<path>?api-version=7.4[&<query>]`.
    pub(crate) fn url(&self, path: &str, query: &str) -> String {
        let mut url = format!("{}/{path}?api-version={API_VERSION}", self.config.vault_url);
        if !query.is_empty() {
            url.push('&');
            url.push_str(query);
        }
        url
    }

    /// An authenticated call to `<vault>/<path>`.
    pub(crate) fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, CallError> {
        self.call_url(method, &self.url(path, ""), body)
    }

    /// A call whose 404 means "nothing there" (`None`).
    pub(crate) fn call_found(
        &self,
        method: Method,
        path: &str,
    ) -> Result<Option<Value>, CallError> {
        let answer = self.call(method, path, None)?;
        if answer.status == 404 {
            return Ok(None);
        }
        answer.success().map(Some)
    }
}
