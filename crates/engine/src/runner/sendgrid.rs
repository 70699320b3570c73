//! Kestra's `SendGridMailSend` (`io.kestra.plugin.notifications.sendgrid.SendGridMailSend`):
//! one e-mail POSTed as JSON to SendGrid's v3 `mail/send` API with the `sendgridApiKey` as
//! a bearer token. Outputs Kestra's `statusCode`, `body` and `headers` of the answer.
//!
//! The task has no URL property: the API's base URL is `https://api.sendgrid.com`, or what
//! the environment variable [`API_URL_VARIABLE`] says when the registry is built (a
//! SendGrid-compatible relay, or a local server in tests).
//!
//! Secrets. The key is only ever in the `Authorization` header; errors from the client are
//! shown without a URL, and every line is masked by value. SendGrid answers 202 with an
//! empty body; when the request held a secret (the key always does, in a flow that takes it
//! from `secret()`) the answer's body is treated as derived
//! from it, as the HTTP tasks do (SendGrid's headers, message ids and rate limits, carry no
//! credential and are output as they are).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Url;
use saker_model::Level;
use serde_json::{Map, Value, json};

use super::mail_files::{MailFile, mail_files, property};
use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

/// The environment variable naming SendGrid's API base URL.
pub const API_URL_VARIABLE: &str = "SAKER_SENDGRID_API_URL";
/// SendGrid's API.
const DEFAULT_API_URL: &str = "https://api.sendgrid.com";
/// How long connecting and each read may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// SendGrid's answer is read up to this (it is an empty body or a short JSON error).
const MAX_ANSWER: usize = 64 * 1024;

pub struct SendGridMailSend {
    /// `{base}/v3/mail/send`, or why the configured base is unusable (said when the task
    /// runs, so that a bad setting fails the tasks that need it and nothing else).
    endpoint: Result<Url, String>,
}

impl SendGridMailSend {
    /// Sends to the API at `base` (`https://api.sendgrid.com`).
    pub fn with_api_url(base: &str) -> Self {
        let endpoint = Url::parse(base.trim())
            .map_err(|err| format!("{API_URL_VARIABLE} is not a URL ({err})"))
            .and_then(|base| {
                base.join("/v3/mail/send")
                    .map_err(|err| format!("{API_URL_VARIABLE} cannot hold a path ({err})"))
            });
        Self { endpoint }
    }

    /// Sends to the API that [`API_URL_VARIABLE`] names, SendGrid's own by default.
    pub fn from_environment() -> Self {
        match std::env::var(API_URL_VARIABLE) {
            Ok(url) if !url.trim().is_empty() => Self::with_api_url(&url),
            _ => Self::with_api_url(DEFAULT_API_URL),
        }
    }
}

impl TaskRunner for SendGridMailSend {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let endpoint = self.endpoint.clone().map_err(TaskError::Failed)?;
            let key = ctx
                .render_string("sendgridApiKey")?
                .filter(|k| !k.trim().is_empty())
                .ok_or_else(|| {
                    property(
                        "sendgridApiKey",
                        "is required: the API key (keep it in a secret)",
                    )
                })?;
            let body = mail_json(ctx)?;
            let secret = ctx.saw_taint();
            let client = reqwest::Client::builder()
                .connect_timeout(TIMEOUT)
                .read_timeout(TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|err| failed("building the HTTP client", err))?;
            let request = client
                .post(endpoint.clone())
                .bearer_auth(key.trim())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string())
                .send();
            let cancel = ctx.cancellation();
            let response = tokio::select! {
                sent = request => sent.map_err(|err| failed(&format!("POST {}", endpoint), err))?,
                () = cancel.cancelled() => {
                    return Err(TaskError::Killed(format!("killed while calling {}", endpoint)));
                }
            };
            let status = response.status();
            let mut headers = Map::new();
            for (name, value) in response.headers() {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                headers.insert(name.as_str().to_owned(), Value::String(value));
            }
            let answer = response
                .bytes()
                .await
                .map_err(|err| failed(&format!("reading the answer of {}", endpoint), err))?;
            let answer =
                String::from_utf8_lossy(&answer[..answer.len().min(MAX_ANSWER)]).into_owned();
            if !status.is_success() {
                return Err(TaskError::Failed(format!(
                    "SendGrid {} answered {status}: {}",
                    endpoint,
                    answer.trim()
                )));
            }
            if secret && !answer.is_empty() {
                ctx.taint_output(&answer);
            }
            ctx.log(Level::Info, &format!("mail handed to SendGrid ({status})"));
            let mut outputs = Map::new();
            outputs.insert("statusCode".into(), Value::from(status.as_u16()));
            outputs.insert("body".into(), Value::String(answer));
            outputs.insert("headers".into(), Value::Object(headers));
            Ok(TaskOutcome::with_outputs(outputs))
        })
    }
}

/// SendGrid's v3 message: one personalization with the recipients and subject, the text
/// and HTML contents in that order (SendGrid wants text/plain first), and the files as
/// base64 (embedded images inline, their `content_id` the file name, as `cid:<name>`).
fn mail_json(ctx: &mut TaskContext) -> Result<Value, TaskError> {
    let from = ctx
        .render_string("from")?
        .filter(|f| !f.trim().is_empty())
        .ok_or_else(|| property("from", "is required: the sender's address"))?;
    let to = emails(ctx.render_string_or_list("to")?);
    if to.is_empty() {
        return Err(property(
            "to",
            "is required: at least one recipient address",
        ));
    }
    let cc = emails(ctx.render_string_or_list("cc")?);
    let subject = ctx.render_string("subject")?;
    let html = match ctx.render_string("htmlContent")? {
        Some(html) => Some(html),
        None => ctx.render_string("htmlTextContent")?,
    };
    let text = ctx.render_string("textContent")?;
    let mut personalization = Map::new();
    personalization.insert("to".into(), Value::Array(to));
    if !cc.is_empty() {
        personalization.insert("cc".into(), Value::Array(cc));
    }
    let mut mail = Map::new();
    if let Some(subject) = &subject {
        personalization.insert("subject".into(), Value::String(subject.clone()));
        mail.insert("subject".into(), Value::String(subject.clone()));
    }
    mail.insert(
        "personalizations".into(),
        Value::Array(vec![Value::Object(personalization)]),
    );
    mail.insert("from".into(), email(from.trim()));
    let mut content = Vec::new();
    if let Some(text) = text {
        content.push(json!({"type": "text/plain", "value": text}));
    }
    if let Some(html) = html {
        content.push(json!({"type": "text/html", "value": html}));
    }
    if content.is_empty() {
        return Err(property(
            "htmlContent",
            "or textContent is required: SendGrid sends no mail without a body",
        ));
    }
    mail.insert("content".into(), Value::Array(content));
    let mut files: Vec<Value> = mail_files(ctx, "attachments")?
        .iter()
        .map(|file| attachment(file, false))
        .collect();
    files.extend(
        mail_files(ctx, "embeddedImages")?
            .iter()
            .map(|file| attachment(file, true)),
    );
    if !files.is_empty() {
        mail.insert("attachments".into(), Value::Array(files));
    }
    Ok(Value::Object(mail))
}

fn attachment(file: &MailFile, inline: bool) -> Value {
    let mut value = json!({
        "content": STANDARD.encode(&file.bytes[..]),
        "filename": file.name,
        "type": file.content_type,
        "disposition": if inline { "inline" } else { "attachment" },
    });
    if inline {
        value["content_id"] = Value::String(file.name.clone());
    }
    value
}

/// `{"email": ...}` of each address; a text may hold several, separated by `;` or `,`.
fn emails(texts: Vec<String>) -> Vec<Value> {
    texts
        .iter()
        .flat_map(|text| text.split([';', ',']))
        .map(str::trim)
        .filter(|address| !address.is_empty())
        .map(email)
        .collect()
}

/// SendGrid's address object: `Ada <ada@example.com>` is `{"email", "name"}`.
fn email(address: &str) -> Value {
    match address.rsplit_once('<') {
        Some((name, rest)) if rest.ends_with('>') => {
            let email = rest.trim_end_matches('>').trim();
            let name = name.trim().trim_matches('"').trim();
            if name.is_empty() {
                json!({"email": email})
            } else {
                json!({"email": email, "name": name})
            }
        }
        _ => json!({"email": address}),
    }
}

/// A client error with its causes, without the URL it carries.
fn failed(what: &str, err: reqwest::Error) -> TaskError {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    TaskError::Failed(format!("{what}: {text}"))
}
