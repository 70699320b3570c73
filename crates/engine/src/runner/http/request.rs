//! `io.kestra.plugin.core.http.Request`: calls a URL and outputs the answer's `code`,
//! `headers` and `body` (as text), and the `uri` called. A status of 400 or above fails the
//! task unless `allowFailed` (as in Kestra: a 3xx left unfollowed is an answer, not a
//! failure).

use saker_model::Level;
use serde_json::{Map, Value};

use super::{HttpCall, headers_output, read_body};
use crate::runner::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

/// What a body held in memory (and then in the execution's outputs) may weigh when
/// `options.maxContentLength` does not say: larger answers belong in a `Download`.
const DEFAULT_MAX_BODY: u64 = 16 * 1024 * 1024;

pub struct Request;

impl TaskRunner for Request {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let mut call = HttpCall::from_task(ctx)?;
            let encrypt_body = ctx
                .render_string("encryptBody")?
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("true"));
            call.note_secret(ctx);
            let response = call.send(ctx).await?;
            call.check_status(&response)?;
            let code = response.status().as_u16();
            let headers = headers_output(&response);
            call.taint_headers(ctx, &response);
            let max = call.max_content_length.unwrap_or(DEFAULT_MAX_BODY);
            let body = read_body(
                &call,
                ctx,
                response,
                max,
                "the Request task keeps in memory: use io.kestra.plugin.core.http.Download to \
                 store it as a file, or raise 'options.maxContentLength'",
            )
            .await?;
            let body = String::from_utf8(body).map_err(|_| {
                TaskError::Failed(format!(
                    "the answer of {} is not UTF-8 text: use io.kestra.plugin.core.http.Download \
                     to store it as a file",
                    call.shown_uri()
                ))
            })?;
            // See the module comment of `http`: the answer to a request that held a secret
            // may hold it in any form. `encryptBody` asks for the body sealed in any case.
            if call.secret || encrypt_body {
                ctx.taint_output(&body);
            }
            ctx.log(
                Level::Debug,
                &format!("request '{}' answered {code}", call.shown_uri()),
            );
            let mut outputs = Map::new();
            outputs.insert("uri".into(), Value::String(call.uri_text().to_owned()));
            outputs.insert("code".into(), Value::from(code));
            outputs.insert("headers".into(), headers);
            outputs.insert("body".into(), Value::String(body));
            Ok(TaskOutcome::with_outputs(outputs))
        })
    }
}
