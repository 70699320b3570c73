//! Kestra's incoming-webhook notification tasks (`io.kestra.plugin.notifications.*`): Slack,
//! Discord, Microsoft Teams, Google Chat and Mattermost. Each POSTs a JSON `payload` to the
//! webhook `url`; Slack's newer `messageText` sends `{"text": ...}` instead.
//!
//! A webhook URL is a credential (whoever holds it posts to the channel), so flows take it
//! from a secret: it is only ever shown with its secret parts as `****` (through
//! [`HttpCall`]), and an error never carries it. What the payload holds of a secret is sent,
//! as the flow asks; it is masked wherever Saker shows it.

use saker_expr::Rendered;
use saker_model::Level;
use serde_json::Value;

use super::http::{HttpCall, read_body};
use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

/// How much of a failed answer is shown in the error (Slack answers `invalid_payload`).
const SHOWN_ANSWER: usize = 300;
/// A webhook's answer is read up to this; it is only shown, never kept.
const MAX_ANSWER: u64 = 64 * 1024;

/// One incoming-webhook task; `service` names it in messages.
pub struct IncomingWebhook {
    pub service: &'static str,
}

impl TaskRunner for IncomingWebhook {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let url = webhook_url(ctx)?;
            let payload = payload(ctx)?;
            post(ctx, self.service, url, payload).await
        })
    }
}

/// The rendered `url` property, required.
pub(super) fn webhook_url(ctx: &mut TaskContext) -> Result<Rendered, TaskError> {
    ctx.render_rendered_string("url")?.ok_or_else(|| {
        property(
            "url",
            "is required: the incoming webhook's URL (keep it in a secret)",
        )
    })
}

/// POSTs `payload` (JSON) to the webhook `url` of `service`; a refusal fails the task with
/// the start of the service's answer.
pub(super) async fn post(
    ctx: &mut TaskContext,
    service: &str,
    url: Rendered,
    payload: String,
) -> Result<TaskOutcome, TaskError> {
    let mut call = HttpCall::webhook(ctx, url, payload)?;
    call.note_secret(ctx);
    let response = call.send(ctx).await?;
    let status = response.status();
    let answer = read_body(&call, ctx, response, MAX_ANSWER, "a webhook may answer")
        .await
        .unwrap_or_default();
    if !status.is_success() {
        let answer = String::from_utf8_lossy(&answer);
        let answer: String = answer.chars().take(SHOWN_ANSWER).collect();
        return Err(TaskError::Failed(format!(
            "{service} webhook {} answered {status}: {}",
            call.shown_uri(),
            answer.trim()
        )));
    }
    ctx.log(
        Level::Info,
        &format!("{service} notification sent to {}", call.shown_uri()),
    );
    Ok(TaskOutcome::default())
}

/// The JSON sent: `payload` as written (checked to be JSON, as every one of these services
/// wants), or Slack's `messageText` as `{"text": ...}`.
fn payload(ctx: &mut TaskContext) -> Result<String, TaskError> {
    if let Some(payload) = ctx.render_string("payload")? {
        if let Err(err) = serde_json::from_str::<Value>(&payload) {
            // serde_json's message names a line and column, never the text.
            return Err(property(
                "payload",
                &format!(
                    "is not JSON ({err}): write the message the service expects, such as {{\"text\": \"...\"}}"
                ),
            ));
        }
        return Ok(payload);
    }
    if let Some(text) = ctx.render_string("messageText")? {
        return Ok(serde_json::json!({ "text": text }).to_string());
    }
    Err(property(
        "payload",
        "is required (or, for Slack, messageText): the message to send",
    ))
}

pub(super) fn property(name: &str, message: &str) -> TaskError {
    TaskError::Property {
        property: name.to_owned(),
        message: message.to_owned(),
    }
}
