//! One poll of an HTTP trigger: its properties rendered (over `flow`, with `secret()` resolved
//! as the SCHEDULER) into a request, sent with reqwest, and the answer read.
//!
//! The properties and their shapes are those of the `http.Request` task (`uri`, `method`,
//! `body`, `contentType`, `headers`, `auth` BASIC/BEARER or `options.basicAuthUser`/
//! `basicAuthPassword`, `options.connectTimeout`/`readTimeout`/`followRedirects`,
//! `sslOptions`/`options.ssl`): the task's own reader needs a task run's context, which a
//! trigger does not have. A failed status is an answer like any other here (Kestra's trigger
//! sets `allowFailed`): `responseCondition` decides.

use std::time::Duration;

use indexmap::IndexMap;
use reqwest::{Method, Url};

use crate::runner::http_client::{
    self, ClientSettings, DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT,
};
use saker_expr::{Context, RenderEnv, Rendered, Template};
use saker_mask::MASK;
use serde_json::{Map, Value as Json};
use zeroize::Zeroizing;

/// The largest answer a poll reads: its body goes into the execution as `trigger.body`.
pub(super) const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Renders a trigger's templates and keeps every tainted string they produced, to mask what
/// the trigger shows and stores.
pub(super) struct Renderer<'a> {
    pub(super) ctx: Context,
    pub(super) env: RenderEnv<'a>,
    pub(super) tainted: Vec<Zeroizing<String>>,
}

impl Renderer<'_> {
    pub(super) fn render(&mut self, at: &str, source: &str) -> Result<Rendered, String> {
        let template = Template::compile(source).map_err(|e| format!("'{at}': {e}"))?;
        let rendered = template
            .render(&self.ctx, &self.env)
            .map_err(|e| format!("'{at}': {e}"))?;
        self.tainted.extend(
            rendered
                .tainted_strings
                .iter()
                .map(|s| Zeroizing::new(s.clone())),
        );
        Ok(rendered)
    }

    /// A scalar property as text (`None` when absent or null).
    fn text(&mut self, at: &str, value: Option<&Json>) -> Result<Option<String>, String> {
        match value {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(self.render(at, s)?.text)),
            Some(v @ (Json::Bool(_) | Json::Number(_))) => Ok(Some(v.to_string())),
            Some(_) => Err(format!("'{at}' must be a string")),
        }
    }

    fn map(&self, at: &str, value: Option<&Json>) -> Result<Map<String, Json>, String> {
        match value {
            None | Some(Json::Null) => Ok(Map::new()),
            Some(Json::Object(map)) => Ok(map.clone()),
            Some(_) => Err(format!("'{at}' must be a map")),
        }
    }

    /// A mask set of every secret value and derived text the renders produced.
    pub(super) fn masks(&self) -> saker_mask::MaskSet {
        saker_mask::MaskSet::from_values(self.tainted.iter().map(|s| s.as_str()))
    }
}

enum Auth {
    Basic {
        username: String,
        password: Zeroizing<String>,
    },
    Bearer {
        token: Zeroizing<String>,
    },
}

/// The request of one poll.
pub(super) struct PollRequest {
    /// As rendered, taint ranges kept: shown only masked.
    uri: Rendered,
    url: Url,
    method: Method,
    headers: Vec<(String, Zeroizing<String>)>,
    body: Option<Zeroizing<String>>,
    content_type: String,
    auth: Option<Auth>,
    connect_timeout: Duration,
    read_timeout: Duration,
    follow_redirects: bool,
    insecure: bool,
}

/// What the server answered.
pub(super) struct PollResponse {
    pub(super) status: u16,
    /// Name → list of values, as Kestra's `headers` output.
    pub(super) headers: Map<String, Json>,
    pub(super) body: Option<String>,
}

impl PollRequest {
    pub(super) fn from_properties(
        props: &IndexMap<String, Json>,
        r: &mut Renderer<'_>,
    ) -> Result<Self, String> {
        for name in ["formData", "params"] {
            if props.get(name).is_some_and(|v| !v.is_null()) {
                return Err(format!(
                    "'{name}' on an HTTP trigger is not yet available in Saker: put the \
                     parameters in 'uri' or the form in 'body'"
                ));
            }
        }
        if r.text("encryptBody", props.get("encryptBody"))?
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        {
            return Err(
                "'encryptBody' on an HTTP trigger is not yet available in Saker: \
                        remove it (the answer's secret values are masked in trigger.body)"
                    .to_owned(),
            );
        }
        let uri = match props.get("uri") {
            Some(Json::String(s)) => r.render("uri", s)?,
            _ => return Err("'uri' is required: the URL to poll".to_owned()),
        };
        // The parser's message never holds the text it parsed.
        let url = Url::parse(uri.text.trim()).map_err(|e| format!("'uri' is not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("'uri' must be an http or https URL".to_owned());
        }
        let method = match r.text("method", props.get("method"))? {
            None => Method::GET,
            Some(m) => Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes())
                .map_err(|_| "'method' is not an HTTP method (GET, POST, ...)".to_owned())?,
        };
        let mut headers = Vec::new();
        for (name, value) in r.map("headers", props.get("headers"))? {
            let at = format!("headers.{name}");
            let value = r.text(&at, Some(&value))?.unwrap_or_default();
            headers.push((name, Zeroizing::new(value)));
        }
        let body = r.text("body", props.get("body"))?.map(Zeroizing::new);
        let content_type = r
            .text("contentType", props.get("contentType"))?
            .unwrap_or_else(|| "application/json".to_owned());
        let options = r.map("options", props.get("options"))?;
        let auth = auth(r, &r.map("auth", props.get("auth"))?, &options)?;
        let ssl = match props.get("sslOptions") {
            Some(v) => r.map("sslOptions", Some(v))?,
            None => r.map("options.ssl", options.get("ssl"))?,
        };
        let insecure = flag(
            r,
            "sslOptions.insecureTrustAllCertificates",
            ssl.get("insecureTrustAllCertificates"),
        )?
        .unwrap_or(false);
        Ok(Self {
            uri,
            url,
            method,
            headers,
            body,
            content_type,
            auth,
            connect_timeout: duration(r, &options, "connectTimeout")?
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            read_timeout: duration(r, &options, "readTimeout")?.unwrap_or(DEFAULT_READ_TIMEOUT),
            follow_redirects: flag(r, "options.followRedirects", options.get("followRedirects"))?
                .unwrap_or(true),
            insecure,
        })
    }

    /// The URI for a person or the store: every byte that came from a secret is `****`.
    pub(super) fn shown_uri(&self) -> String {
        self.uri.masked(MASK)
    }

    /// Sends the request and reads the whole answer. The error never holds the URL.
    pub(super) async fn send(&self) -> Result<PollResponse, String> {
        let client = http_client::client(&ClientSettings {
            connect_timeout: self.connect_timeout,
            read_timeout: self.read_timeout,
            follow_redirects: self.follow_redirects,
            insecure: self.insecure,
            url: &self.url,
            // A request holding a secret (a header, the URL) stays on its origin.
            secret: self.uri.is_tainted() || self.auth.is_some() || !self.headers.is_empty(),
            cross_origin_refused: "the server redirects to another origin; poll the final URL",
        })
        .map_err(describe)?;
        let mut request = client.request(self.method.clone(), self.url.clone());
        let mut sets_content_type = false;
        for (name, value) in &self.headers {
            sets_content_type |= name.eq_ignore_ascii_case("content-type");
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(body) = &self.body {
            if !sets_content_type {
                request = request.header(reqwest::header::CONTENT_TYPE, &self.content_type);
            }
            request = request.body(body.as_str().to_owned());
        }
        request = match &self.auth {
            Some(Auth::Basic { username, password }) => {
                request.basic_auth(username, Some(password.as_str()))
            }
            Some(Auth::Bearer { token }) => request.bearer_auth(token.as_str()),
            None => request,
        };
        let mut response = request.send().await.map_err(describe)?;
        let status = response.status().as_u16();
        let mut headers: Map<String, Json> = Map::new();
        for (name, value) in response.headers() {
            let value = Json::String(String::from_utf8_lossy(value.as_bytes()).into_owned());
            if let Json::Array(values) = headers
                .entry(name.as_str().to_owned())
                .or_insert_with(|| Json::Array(Vec::new()))
            {
                values.push(value);
            }
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(format!(
                    "the answer is more than {MAX_BODY_BYTES} bytes, which a trigger does not read"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(PollResponse {
            status,
            headers,
            body: (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned()),
        })
    }
}

fn auth(
    r: &mut Renderer<'_>,
    auth: &Map<String, Json>,
    options: &Map<String, Json>,
) -> Result<Option<Auth>, String> {
    if auth.is_empty() {
        let user = r.text("options.basicAuthUser", options.get("basicAuthUser"))?;
        let password = r.text(
            "options.basicAuthPassword",
            options.get("basicAuthPassword"),
        )?;
        return Ok(match (user, password) {
            (Some(username), Some(password)) => Some(Auth::Basic {
                username,
                password: Zeroizing::new(password),
            }),
            _ => None,
        });
    }
    let kind = r
        .text("auth.type", auth.get("type"))?
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    match kind.as_str() {
        "BASIC" => Ok(Some(Auth::Basic {
            username: r
                .text("auth.username", auth.get("username"))?
                .ok_or("'auth.username' is required for BASIC auth")?,
            password: Zeroizing::new(
                r.text("auth.password", auth.get("password"))?
                    .unwrap_or_default(),
            ),
        })),
        "BEARER" => Ok(Some(Auth::Bearer {
            token: Zeroizing::new(
                r.text("auth.token", auth.get("token"))?
                    .ok_or("'auth.token' is required for BEARER auth")?,
            ),
        })),
        _ => Err("'auth.type' must be BASIC or BEARER".to_owned()),
    }
}

fn flag(r: &mut Renderer<'_>, at: &str, value: Option<&Json>) -> Result<Option<bool>, String> {
    match r.text(at, value)? {
        None => Ok(None),
        Some(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(format!("'{at}' must be true or false")),
        },
    }
}

fn duration(
    r: &mut Renderer<'_>,
    options: &Map<String, Json>,
    name: &str,
) -> Result<Option<Duration>, String> {
    let at = format!("options.{name}");
    match r.text(&at, options.get(name))? {
        None => Ok(None),
        Some(text) => saker_model::duration::parse(text.trim())
            .map(Some)
            .map_err(|e| format!("'{at}': {e}")),
    }
}

/// A client error and its causes, without the URL (which may hold a secret).
fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
