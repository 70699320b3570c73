//! Kestra's CLI shapes against a remote server, so a CI deploy step changes only the
//! binary's name: `saker flow namespace update NAMESPACE DIRECTORY [--no-delete] --server URL
//! [--api-token T | --user USER:PASSWORD]` and `saker flow validate --server URL PATH...`.
//!
//! Both send the flows as one multi-document YAML body to the server's API
//! (`POST …/flows/{namespace}`, `POST …/flows/validate`) and print what it answers.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use clap::Args;
use saker_model::DEFAULT_TENANT;
use serde_json::Value;

use crate::app::runtime;

/// Where the server is and who calls it (Kestra's `--server`, `--api-token`, `--user`).
#[derive(Debug, Args)]
pub struct Server {
    /// The server's URL, e.g. http://localhost:8080.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// An API token (`saker token create`), sent as a bearer token.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SAKER_API_TOKEN",
        conflicts_with = "user"
    )]
    pub api_token: Option<String>,
    /// Basic authentication as USER:PASSWORD.
    #[arg(long, value_name = "USER:PASSWORD")]
    pub user: Option<String>,
    /// The tenant on the server.
    #[arg(long, default_value = DEFAULT_TENANT)]
    pub tenant: String,
}

/// Files and directories can name a lot; a body larger than this is not sent (the server
/// refuses bodies over 4 MiB anyway).
const MAX_BODY: usize = 4 * 1024 * 1024;
/// How long one call may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// `saker flow namespace update`.
pub fn namespace_update(
    server: &Server,
    namespace: &str,
    directory: &Path,
    delete: bool,
) -> anyhow::Result<ExitCode> {
    let body = flows_body(&[directory.to_path_buf()])?;
    let path = format!("flows/{namespace}?delete={delete}");
    let (status, answer) = call(server, &path, body)?;
    if !(200..300).contains(&status) {
        return refused(status, &answer);
    }
    let flows = answer.as_array().cloned().unwrap_or_default();
    for flow in &flows {
        println!(
            "{}.{} revision {}",
            flow["namespace"].as_str().unwrap_or_default(),
            flow["id"].as_str().unwrap_or_default(),
            flow["revision"]
        );
    }
    eprintln!(
        "{} flow(s) deployed to namespace {namespace}{}",
        flows.len(),
        if delete {
            "; its other flows were deleted"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// `saker flow validate --server`: the server validates, as Kestra's CLI does.
pub fn validate(server: &Server, paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let body = flows_body(paths)?;
    let (status, answer) = call(server, "flows/validate", body)?;
    if !(200..300).contains(&status) {
        return refused(status, &answer);
    }
    let mut errors = 0;
    for result in answer.as_array().cloned().unwrap_or_default() {
        match result["constraints"].as_str() {
            None => eprintln!(
                "{}.{}: valid",
                result["namespace"].as_str().unwrap_or_default(),
                result["flow"].as_str().unwrap_or_default()
            ),
            Some(constraints) => {
                errors += 1;
                println!("document {}: {constraints}", result["index"]);
            }
        }
    }
    if errors > 0 {
        eprintln!("{errors} invalid flow(s)");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The YAML files under `paths` (a directory's `.yml` and `.yaml` files, recursively, in
/// name order) as one multi-document body.
fn flows_body(paths: &[PathBuf]) -> anyhow::Result<String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
                let entry = entry.with_context(|| format!("cannot read {}", path.display()))?;
                let yaml = entry
                    .path()
                    .extension()
                    .is_some_and(|e| e == "yml" || e == "yaml");
                if entry.file_type().is_file() && yaml {
                    files.push(entry.into_path());
                }
            }
        } else {
            files.push(path.clone());
        }
    }
    if files.is_empty() {
        anyhow::bail!("no .yml or .yaml file found in the paths given");
    }
    let mut body = String::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        if !body.is_empty() {
            body.push_str("---\n");
        }
        body.push_str(&text);
        if !text.ends_with('\n') {
            body.push('\n');
        }
        if body.len() > MAX_BODY {
            anyhow::bail!(
                "the flows weigh more than {} MiB: deploy them in several calls",
                MAX_BODY / 1024 / 1024
            );
        }
    }
    Ok(body)
}

/// POSTs `body` to `/api/v1/{tenant}/{path}`; the status and the JSON answer.
fn call(server: &Server, path: &str, body: String) -> anyhow::Result<(u16, Value)> {
    let base = server.server.as_deref().context(
        "--server is required: the URL of the Saker (or Kestra) server, e.g. http://localhost:8080",
    )?;
    let url = format!(
        "{}/api/v1/{}/{path}",
        base.trim_end_matches('/'),
        server.tenant
    );
    let authorization = match (&server.api_token, &server.user) {
        (Some(token), _) => Some(format!("Bearer {token}")),
        (None, Some(user)) => {
            if !user.contains(':') {
                anyhow::bail!("--user must be USER:PASSWORD");
            }
            Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(user)
            ))
        }
        (None, None) => None,
    };
    runtime()?.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .context("cannot build the HTTP client")?;
        let mut request = client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-yaml")
            .body(body);
        if let Some(authorization) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, authorization);
        }
        let response = request
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach {base}: {}", e.without_url()))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| anyhow::anyhow!("reading the answer of {base}: {}", e.without_url()))?;
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, json))
    })
}

/// The server said no: its message, and exit code 1.
fn refused(status: u16, answer: &Value) -> anyhow::Result<ExitCode> {
    let message = answer["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| answer.to_string());
    eprintln!("the server answered {status}: {message}");
    Ok(ExitCode::from(1))
}
