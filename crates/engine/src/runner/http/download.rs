//! `io.kestra.plugin.core.http.Download`: calls a URL and stores the answer's body as a file
//! of the task run in the internal storage; outputs its `uri` (`kestra:///...`), `code`,
//! `length` and `headers`. An empty answer fails the task unless `failOnEmptyResponse` is
//! false (or `allowFailed` is set, as in Kestra).
//!
//! The file is stored sealed when the request held a secret (the server may answer with it
//! in any form) or when the body holds a value of the execution's mask set.

use std::borrow::Cow;

use saker_model::Level;
use serde_json::{Map, Value};

use super::{HttpCall, headers_output, read_body};
use crate::files::FileError;
use crate::runner::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

/// The file's name when neither the answer nor the URL gives a usable one.
const DEFAULT_NAME: &str = "download";

pub struct Download;

impl TaskRunner for Download {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let mut call = HttpCall::from_task(ctx)?;
            let fail_on_empty = match ctx.render_string("failOnEmptyResponse")? {
                None => true,
                Some(t) => !t.trim().eq_ignore_ascii_case("false"),
            };
            call.note_secret(ctx);
            let files = ctx.task_files()?.clone();
            let storage_max = files
                .files
                .storage()
                .map_err(|err| TaskError::Failed(err.to_string()))?
                .max_file_bytes();
            let max = call
                .max_content_length
                .map_or(storage_max, |m| m.min(storage_max));
            let response = call.send(ctx).await?;
            call.check_status(&response)?;
            let code = response.status().as_u16();
            let headers = headers_output(&response);
            call.taint_headers(ctx, &response);
            let disposition = response
                .headers()
                .get(reqwest::header::CONTENT_DISPOSITION)
                .and_then(|v| v.to_str().ok())
                .and_then(disposition_name)
                .map(str::to_owned);
            let bytes = read_body(
                &call,
                ctx,
                response,
                max,
                "a stored file may hold (or 'options.maxContentLength')",
            )
            .await?;
            if bytes.is_empty() {
                if fail_on_empty && !call.allow_failed {
                    return Err(TaskError::Failed(format!(
                        "{} answered {code} with an empty body: set 'failOnEmptyResponse: false' \
                         to accept an empty file",
                        call.shown_uri()
                    )));
                }
                ctx.log(
                    Level::Warn,
                    &format!("the file downloaded from {} is empty", call.shown_uri()),
                );
            }
            let masks = ctx.mask_set();
            let seal = call.secret || matches!(masks.mask_bytes(&bytes), Cow::Owned(_));
            // A name the answer or the URL gives, unless it holds a secret: a file's name is
            // part of its URI, stored and shown as it is.
            let name = disposition
                .as_deref()
                .or(call.file_name_hint())
                .filter(|n| usable_name(n) && matches!(masks.mask(n), Cow::Borrowed(_)))
                .unwrap_or(DEFAULT_NAME);
            let uri = files
                .task_run_folder()
                .and_then(|folder| folder.join(name).map_err(FileError::from))
                .map_err(|err| TaskError::Failed(err.to_string()))?;
            files
                .put(&uri, &bytes, seal)
                .map_err(|err| TaskError::Failed(err.to_string()))?;
            ctx.log(
                Level::Debug,
                &format!("file '{}' downloaded to '{uri}'", call.shown_uri()),
            );
            let mut outputs = Map::new();
            outputs.insert("uri".into(), Value::String(uri.to_string()));
            outputs.insert("code".into(), Value::from(code));
            outputs.insert("length".into(), Value::from(bytes.len() as u64));
            outputs.insert("headers".into(), headers);
            Ok(TaskOutcome::with_outputs(outputs))
        })
    }
}

/// The `filename` of a `Content-Disposition` header (`attachment; filename="a.csv"`).
fn disposition_name(header: &str) -> Option<&str> {
    header.split(';').find_map(|part| {
        let (key, value) = part.trim().split_once('=')?;
        (key.trim().eq_ignore_ascii_case("filename")).then(|| value.trim().trim_matches('"'))
    })
}

/// A plain file name: letters, digits, `.`, `_` and `-`, not hidden, not too long.
fn usable_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::{disposition_name, usable_name};

    #[test]
    fn disposition_names_are_read_and_checked() {
        assert_eq!(
            disposition_name("attachment; filename=\"report.csv\""),
            Some("report.csv")
        );
        assert_eq!(disposition_name("inline"), None);
        assert!(usable_name("report-2024.csv"));
        assert!(!usable_name("../etc/passwd"));
        assert!(!usable_name(".hidden"));
        assert!(!usable_name("a b"));
    }
}
