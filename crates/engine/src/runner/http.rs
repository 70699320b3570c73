//! Kestra's HTTP tasks, `io.kestra.plugin.core.http.Request` and `Download`: what they share
//! is here, reading the request from the task's properties and sending it; each task's
//! runner is in `http/`.
//!
//! Secrets. Every property is rendered through [`TaskContext`], so a URI, header or body
//! built from a secret leaves its text in the mask set and its render in the task's
//! [`crate::sealing::OutputTaint`] (the `uri` output, that text, is sealed). The URI is only
//! ever shown with its tainted ranges as `****` ([`Rendered::masked`]), and errors from the
//! client are shown without the URL they carry. The server is a peer outside Saker that may
//! answer with any part of what it got, in any form (a token exchange answers with a new
//! secret): when the request held a secret (a tainted render, a sealed file sent), the
//! answer's body and its credential-like headers (cookies, tokens) are treated as derived
//! from one (`TaskContext::taint_output`, [`HttpCall::taint_headers`]): sealed, and masked
//! wherever they appear later. Such a request follows redirects only on its own origin: a
//! header it carries (an API key) would go along to another host.
//! Other headers (`content-type`, `date`) are left to the mask-set net: sealing them would
//! put `application/json` in the mask set and mask it in every later log line.

pub(crate) mod client;
mod download;
mod form;
mod request;

use std::time::Duration;

use reqwest::{Method, Response, Url};
use saker_expr::Rendered;
use saker_mask::MASK;
use serde_json::{Map, Value};

use super::{TaskContext, TaskError};
use client::{ClientSettings, DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT};
use form::{FormBody, form_body, is_multipart};

pub(super) use download::Download;
pub(super) use request::Request;

/// One HTTP request, as the task's properties describe it.
pub(super) struct HttpCall {
    /// The URI as rendered, taint ranges kept: shown only masked.
    uri: Rendered,
    url: Url,
    method: Method,
    headers: Vec<(String, String)>,
    body: Option<FormBody>,
    /// `Content-Type`, unless a header sets it.
    content_type: Option<String>,
    auth: Option<Auth>,
    connect_timeout: Duration,
    read_timeout: Duration,
    follow_redirects: bool,
    /// `sslOptions.insecureTrustAllCertificates`: any certificate is accepted.
    insecure: bool,
    pub(super) allow_failed: bool,
    /// `options.maxContentLength`, when set.
    pub(super) max_content_length: Option<u64>,
    /// A file stored sealed is part of the form sent.
    sends_sealed_file: bool,
    /// Something sent was derived from a secret (a tainted render, a sealed file): the
    /// answer is treated as derived from it, a download stored sealed.
    pub(super) secret: bool,
}

enum Auth {
    Basic { username: String, password: String },
    Bearer { token: String },
}

impl HttpCall {
    /// Reads the request from the task's properties.
    pub(super) fn from_task(ctx: &mut TaskContext) -> Result<Self, TaskError> {
        let uri = ctx
            .render_rendered_string("uri")?
            .ok_or_else(|| property("uri", "is required: the URL to call"))?;
        let url = parse_url(&uri, "uri")?;
        let method = match ctx.render_string("method")? {
            None => Method::GET,
            Some(m) => Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes())
                .map_err(|_| property("method", "is not an HTTP method (GET, POST, PUT, ...)"))?,
        };
        let headers = ctx.render_string_map("headers")?;
        let options = object(ctx.render_output_value("options")?, "options")?;
        let auth = auth(object(ctx.render_output_value("auth")?, "auth")?, &options)?;
        let content_type = ctx.render_string("contentType")?;
        let body = ctx.render_string("body")?;
        let form = ctx.render_output_value("formData")?;
        let mut sends_sealed_file = false;
        let (body, content_type) = match (body, form) {
            (Some(_), Some(form)) if !form.is_null() => {
                return Err(property(
                    "formData",
                    "and 'body' are both set: send one of them",
                ));
            }
            (_, Some(form)) if !form.is_null() => {
                let multipart = is_multipart(content_type.as_deref());
                let (form, sealed) = form_body(ctx, form, multipart)?;
                sends_sealed_file = sealed;
                if multipart {
                    // The client writes the content type with its boundary.
                    (Some(form), None)
                } else {
                    let content_type = content_type
                        .unwrap_or_else(|| "application/x-www-form-urlencoded".to_owned());
                    (Some(form), Some(content_type))
                }
            }
            (body, _) => (
                body.map(|b| FormBody::UrlEncoded(b.into_bytes())),
                content_type,
            ),
        };
        let ssl = object(ctx.render_output_value("sslOptions")?, "sslOptions")?;
        let insecure = flag(
            option_text(&ssl, "insecureTrustAllCertificates"),
            "sslOptions.insecureTrustAllCertificates",
        )?
        .or(flag(
            option_text(&options, "insecureTrustAllCertificates"),
            "options.insecureTrustAllCertificates",
        )?)
        .unwrap_or(false);
        if insecure {
            ctx.log(
                saker_model::Level::Warn,
                "sslOptions.insecureTrustAllCertificates is set: the server's certificate is not \
                 checked, so anyone between Saker and the server can read and change the \
                 request",
            );
        }
        let allow_failed = flag(ctx.render_string("allowFailed")?, "allowFailed")?
            .or(flag(
                option_text(&options, "allowFailed"),
                "options.allowFailed",
            )?)
            .unwrap_or(false);
        Ok(Self {
            uri,
            url,
            method,
            headers,
            body,
            content_type,
            auth,
            connect_timeout: duration(&options, "connectTimeout")?
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            read_timeout: duration(&options, "readTimeout")?.unwrap_or(DEFAULT_READ_TIMEOUT),
            follow_redirects: flag(
                option_text(&options, "followRedirects"),
                "options.followRedirects",
            )?
            .unwrap_or(true),
            insecure,
            allow_failed,
            sends_sealed_file,
            secret: false,
            max_content_length: match option_text(&options, "maxContentLength") {
                None => None,
                Some(text) => Some(text.trim().parse::<u64>().map_err(|_| {
                    property("options.maxContentLength", "is not a number of bytes")
                })?),
            },
        })
    }

    /// A JSON `payload` POSTed to the webhook `url` (the notification tasks), with the task's
    /// `options` timeouts; redirects are not followed (a webhook answers where it is).
    pub(super) fn webhook(
        ctx: &mut TaskContext,
        url: Rendered,
        payload: String,
    ) -> Result<Self, TaskError> {
        let parsed = parse_url(&url, "url")?;
        let options = object(ctx.render_output_value("options")?, "options")?;
        Ok(Self {
            uri: url,
            url: parsed,
            method: Method::POST,
            headers: Vec::new(),
            body: Some(FormBody::UrlEncoded(payload.into_bytes())),
            content_type: Some("application/json".to_owned()),
            auth: None,
            connect_timeout: duration(&options, "connectTimeout")?
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            read_timeout: duration(&options, "readTimeout")?.unwrap_or(DEFAULT_READ_TIMEOUT),
            follow_redirects: false,
            insecure: false,
            allow_failed: false,
            max_content_length: None,
            sends_sealed_file: false,
            secret: false,
        })
    }

    /// Notes whether anything sent was derived from a secret: any render of the task, or a
    /// sealed file of the form. Call once the task's properties are all rendered.
    pub(super) fn note_secret(&mut self, ctx: &TaskContext) {
        self.secret = ctx.saw_taint() || self.sends_sealed_file;
    }

    /// Treats the answer's credential-like headers as derived from a secret when the request
    /// was (see the module comment).
    pub(super) fn taint_headers(&self, ctx: &mut TaskContext, response: &Response) {
        if !self.secret {
            return;
        }
        for (name, value) in response.headers() {
            if credential_header(name.as_str()) {
                ctx.taint_output(&String::from_utf8_lossy(value.as_bytes()));
            }
        }
    }

    /// The URI for a person: every byte that came from a secret is `****`.
    pub(super) fn shown_uri(&self) -> String {
        self.uri.masked(MASK)
    }

    /// The URI as the flow wrote it (rendered): the `uri` output. Derived from a secret, it
    /// is the text of a tainted render and so is sealed with the outputs.
    pub(super) fn uri_text(&self) -> &str {
        &self.uri.text
    }

    /// The last segment of the URL's path, when the URL came from no secret.
    pub(super) fn file_name_hint(&self) -> Option<&str> {
        if self.uri.is_tainted() {
            return None;
        }
        self.url.path_segments()?.next_back()
    }

    /// Sends the request and waits for the head of the answer (the body is read by
    /// [`read_body`]); ends early when the task is cancelled.
    pub(super) async fn send(&self, ctx: &TaskContext) -> Result<Response, TaskError> {
        let client = client::client(&ClientSettings {
            connect_timeout: self.connect_timeout,
            read_timeout: self.read_timeout,
            follow_redirects: self.follow_redirects,
            insecure: self.insecure,
            url: &self.url,
            secret: self.secret,
            cross_origin_refused: "the server redirects to another host, port or scheme, and \
                                   this request holds a secret that would go along: call the \
                                   final URL directly, or set 'options.followRedirects: false' \
                                   to get the redirect as the answer",
        })
        .map_err(|err| TaskError::Failed(format!("building the HTTP client: {}", describe(err))))?;
        let mut request = client.request(self.method.clone(), self.url.clone());
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let sets_content_type = self
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
        if let (Some(content_type), false) = (&self.content_type, sets_content_type) {
            request = request.header(reqwest::header::CONTENT_TYPE, content_type.as_str());
        }
        request = match &self.auth {
            Some(Auth::Basic { username, password }) => {
                request.basic_auth(username, Some(password))
            }
            Some(Auth::Bearer { token }) => request.bearer_auth(token),
            None => request,
        };
        request = match &self.body {
            None => request,
            Some(FormBody::UrlEncoded(bytes)) => request.body(bytes.clone()),
            Some(FormBody::Multipart(parts)) => {
                let mut form = reqwest::multipart::Form::new();
                for part in parts {
                    let mut piece = reqwest::multipart::Part::bytes(part.bytes.clone());
                    if let Some(file_name) = &part.file_name {
                        piece = piece.file_name(file_name.clone());
                    }
                    form = form.part(part.name.clone(), piece);
                }
                request.multipart(form)
            }
        };
        let cancel = ctx.cancellation();
        tokio::select! {
            sent = request.send() => sent.map_err(|err| self.failed(err)),
            () = cancel.cancelled() => Err(TaskError::Killed(format!(
                "killed while calling {}", self.shown_uri()
            ))),
        }
    }

    /// A client error, shown with the masked URI and without the URL the error carries.
    pub(super) fn failed(&self, err: reqwest::Error) -> TaskError {
        TaskError::Failed(format!(
            "{} {}: {}",
            self.method,
            self.shown_uri(),
            describe(err)
        ))
    }

    /// The error for a status Kestra fails on (400 and above), unless `allowFailed`.
    pub(super) fn check_status(&self, response: &Response) -> Result<(), TaskError> {
        let status = response.status();
        if status.as_u16() < 400 || self.allow_failed {
            return Ok(());
        }
        Err(TaskError::Failed(format!(
            "{} {} answered {status}: set 'allowFailed: true' to accept a failed answer",
            self.method,
            self.shown_uri()
        )))
    }
}

/// Reads the whole body, refused once past `max` bytes; ends early when the task is
/// cancelled.
pub(super) async fn read_body(
    call: &HttpCall,
    ctx: &TaskContext,
    mut response: Response,
    max: u64,
    what: &str,
) -> Result<Vec<u8>, TaskError> {
    let cancel = ctx.cancellation();
    let mut body = Vec::new();
    loop {
        let chunk = tokio::select! {
            chunk = response.chunk() => chunk.map_err(|err| call.failed(err))?,
            () = cancel.cancelled() => {
                return Err(TaskError::Killed(format!(
                    "killed while reading the answer of {}", call.shown_uri()
                )));
            }
        };
        let Some(chunk) = chunk else {
            return Ok(body);
        };
        if (body.len() + chunk.len()) as u64 > max {
            return Err(TaskError::Failed(format!(
                "the answer of {} {} is more than the {max} bytes {what}",
                call.method,
                call.shown_uri()
            )));
        }
        body.extend_from_slice(&chunk);
    }
}

/// The response headers as Kestra outputs them: each name with the list of its values.
pub(super) fn headers_output(response: &Response) -> Value {
    let mut out: Map<String, Value> = Map::new();
    for (name, value) in response.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match out
            .entry(name.as_str().to_owned())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(values) => values.push(Value::String(value)),
            _ => unreachable!("every entry is created as a list"),
        }
    }
    Value::Object(out)
}

/// A header that carries a credential: a cookie, a token, a key, a session.
fn credential_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "cookie", "auth", "token", "key", "secret", "session", "password",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// A client error's message and its causes, without the URL (which may hold a secret).
fn describe(err: reqwest::Error) -> String {
    let timeout = err.is_timeout();
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if timeout {
        text.push_str(
            " (timed out: raise 'options.connectTimeout' or 'options.readTimeout' if the \
             server is slow)",
        );
    }
    text
}

/// `auth` ({type: BASIC, username, password} or {type: BEARER, token}), or Kestra's older
/// `options.basicAuthUser` / `options.basicAuthPassword`.
fn auth(auth: Map<String, Value>, options: &Map<String, Value>) -> Result<Option<Auth>, TaskError> {
    let text = |map: &Map<String, Value>, key: &str| map.get(key).and_then(scalar_text);
    if auth.is_empty() {
        return Ok(
            match (
                text(options, "basicAuthUser"),
                text(options, "basicAuthPassword"),
            ) {
                (Some(username), Some(password)) => Some(Auth::Basic { username, password }),
                _ => None,
            },
        );
    }
    let kind = text(&auth, "type")
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    match kind.as_str() {
        "BASIC" => Ok(Some(Auth::Basic {
            username: text(&auth, "username")
                .ok_or_else(|| property("auth.username", "is required for BASIC auth"))?,
            password: text(&auth, "password").unwrap_or_default(),
        })),
        "BEARER" => Ok(Some(Auth::Bearer {
            token: text(&auth, "token")
                .ok_or_else(|| property("auth.token", "is required for BEARER auth"))?,
        })),
        _ => Err(property("auth.type", "must be BASIC or BEARER")),
    }
}

/// The URL of property `name`: http or https only. The parser's message never holds the
/// text it parsed, so no part of a secret URL reaches the error.
fn parse_url(uri: &Rendered, name: &str) -> Result<Url, TaskError> {
    let url = Url::parse(uri.text.trim())
        .map_err(|err| property(name, &format!("is not a valid URL ({err})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(property(
            name,
            &format!(
                "uses '{}': only http and https URLs can be called",
                url.scheme()
            ),
        ));
    }
    Ok(url)
}

/// A rendered map property; empty when absent.
fn object(value: Option<Value>, name: &str) -> Result<Map<String, Value>, TaskError> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(property(name, "expected a map")),
    }
}

fn option_text(options: &Map<String, Value>, key: &str) -> Option<String> {
    options.get(key).and_then(scalar_text)
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::Null | Value::Array(_) | Value::Object(_) => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn flag(text: Option<String>, name: &str) -> Result<Option<bool>, TaskError> {
    match text.as_deref().map(str::trim) {
        None => Ok(None),
        Some(t) if t.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(t) if t.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(property(name, "expected true or false")),
    }
}

fn duration(options: &Map<String, Value>, key: &str) -> Result<Option<Duration>, TaskError> {
    option_text(options, key)
        .map(|text| {
            saker_model::duration::parse(text.trim()).map_err(|err| {
                property(
                    &format!("options.{key}"),
                    &format!("{err} (write an ISO-8601 duration such as PT30S)"),
                )
            })
        })
        .transpose()
}

fn property(name: &str, message: &str) -> TaskError {
    TaskError::Property {
        property: name.to_owned(),
        message: message.to_owned(),
    }
}
