//! `io.kestra.plugin.git.Clone` against a real git repository served over HTTP with basic
//! authentication: the test's own server checks the credentials and runs `git http-backend`
//! (CGI) on a bare repository it built. A branch cloned into a `WorkingDirectory` is read by
//! the shell task after it; the clone's `.git/config` (shown by that task in a shifted
//! alphabet the masker does not know) holds the URL without credentials and no header; the
//! password from `secret()` reaches the server but no log line, output, error or stored byte,
//! also when it is wrong.
//!
//! The peer: `scripts/peers/git.sh` exports `SAKER_GIT_HTTP_BACKEND`; without it the tests
//! say SKIPPED.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use axum::body::{Body, to_bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use saker_model::{Execution, StateType};
use tokio::io::AsyncWriteExt as _;

use common::data_dir::DataDir;

const PASSWORD: &str = "git-pass-Zq8Rk3Wm7T";
const WRONG: &str = "wrong-pass-Hx4Nc9Vb2";
const USER: &str = "alice";

fn backend() -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var_os("SAKER_GIT_HTTP_BACKEND")?);
    path.is_file().then_some(path)
}

macro_rules! backend_or_skip {
    () => {
        match backend() {
            Some(path) => path,
            None => {
                println!(
                    "SKIPPED: SAKER_GIT_HTTP_BACKEND names no git-http-backend \
                     (source scripts/peers/git.sh)"
                );
                return;
            }
        }
    };
}

/// Runs git on the host to build the served repository.
fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// A bare repository `repo.git` under `root`: `main` has `hello.txt`, `feature` adds
/// `feature.txt`. Returns the commit id of `main`.
fn make_repository(root: &Path) -> String {
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("hello.txt"), "hello from main").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "main"]);
    git(&work, &["checkout", "-q", "-b", "feature"]);
    std::fs::write(work.join("feature.txt"), "feature branch").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "feature"]);
    git(&work, &["checkout", "-q", "main"]);
    git(root, &["clone", "-q", "--bare", "work", "repo.git"]);
    let out = std::process::Command::new("git")
        .current_dir(&work)
        .args(["rev-parse", "main"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The `Authorization` headers the server received.
type Seen = Arc<Mutex<Vec<String>>>;

/// Serves `root`'s repositories with `git http-backend` behind basic authentication
/// (`USER`/`PASSWORD`). Returns the base URL and the authorizations received.
async fn serve(root: PathBuf, backend: PathBuf) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = axum::Router::new().fallback({
        let seen = seen.clone();
        move |request: axum::extract::Request| {
            let (seen, root, backend) = (seen.clone(), root.clone(), backend.clone());
            async move { answer(request, &seen, &root, &backend).await }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

async fn answer(
    request: axum::extract::Request,
    seen: &Seen,
    root: &Path,
    backend: &Path,
) -> Response {
    let (parts, body) = request.into_parts();
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    seen.lock().unwrap().push(authorization.clone());
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    );
    if authorization != expected {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"git\"")],
            "authentication required",
        )
            .into_response();
    }
    let body = to_bytes(body, 64 << 20).await.unwrap();
    let header_text = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut child = tokio::process::Command::new(backend)
        .env_clear()
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("PATH_INFO", parts.uri.path())
        .env("QUERY_STRING", parts.uri.query().unwrap_or_default())
        .env("CONTENT_TYPE", header_text(header::CONTENT_TYPE))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env(
            "HTTP_CONTENT_ENCODING",
            header_text(header::CONTENT_ENCODING),
        )
        .env("REMOTE_USER", USER)
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&body).await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    cgi_response(&output.stdout)
}

/// A CGI program's output as an HTTP response: headers (`Status:` among them), a blank
/// line, the body.
fn cgi_response(out: &[u8]) -> Response {
    let (head, body) = match out.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => (&out[..at], &out[at + 4..]),
        None => {
            let at = out.windows(2).position(|w| w == b"\n\n").unwrap();
            (&out[..at], &out[at + 2..])
        }
    };
    let mut response = Response::builder();
    for line in String::from_utf8_lossy(head).lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code: u16 = value.split(' ').next().unwrap().parse().unwrap();
            response = response.status(code);
        } else {
            response = response.header(name, value);
        }
    }
    response.body(Body::from(body.to_vec())).unwrap()
}

/// A repository served over HTTP: the directory holding it, the commit of `main`, the base
/// URL and the authorizations the server received.
async fn served(backend: PathBuf) -> (tempfile::TempDir, String, String, Seen) {
    let root = tempfile::tempdir().unwrap();
    let main = make_repository(root.path());
    let (base, seen) = serve(root.path().to_path_buf(), backend).await;
    (root, main, base, seen)
}

fn data_dir() -> DataDir {
    DataDir::start(|dir, parts| {
        parts.secrets = Arc::new(common::KeyedSecrets::new([
            ("GIT_PASSWORD", PASSWORD.to_owned()),
            ("WRONG", WRONG.to_owned()),
        ]));
        parts.sealer = Some(common::data_dir::sealer());
        parts.storage = Some(common::data_dir::storage(dir));
    })
}

/// Undoes `tr 'A-Za-z0-9' 'B-ZAb-za1-90'`, the shift the flows print `.git/config` in.
fn unshift(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'A'..='Z' => (b'A' + (c as u8 - b'A' + 25) % 26) as char,
            'a'..='z' => (b'a' + (c as u8 - b'a' + 25) % 26) as char,
            '0'..='9' => (b'0' + (c as u8 - b'0' + 9) % 10) as char,
            other => other,
        })
        .collect()
}

/// The `.git/config` a flow printed shifted, one `CFG `-prefixed line each.
fn printed_config(data: &DataDir, done: &Execution) -> String {
    data.messages(done)
        .iter()
        .filter_map(|m| m.strip_prefix("CFG "))
        .map(unshift)
        .collect::<Vec<_>>()
        .join("\n")
}

/// No form of the password (nor the header git sent) in the log, the execution or any byte
/// under the data directory (SQLite file, internal storage).
fn assert_nowhere(data: &DataDir, done: &Execution, password: &str) {
    let header = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{password}"));
    let logs = data.messages(done).join("\n");
    let execution = serde_json::to_string(done).unwrap();
    for needle in [password, header.as_str()] {
        assert!(!logs.contains(needle), "a log line holds it: {logs}");
        assert!(!execution.contains(needle), "the execution holds it");
        for file in common::files_under(data.dir.path()) {
            let bytes = std::fs::read(&file).unwrap();
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{} holds it",
                file.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_cloned_with_a_secret_password_is_read_by_the_next_task() {
    let (_root, _, base, seen) = served(backend_or_skip!()).await;
    let data = data_dir();
    let done = data
        .run_ok(&format!(
            r#"
id: clone
namespace: company.team
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: clone
        type: io.kestra.plugin.git.Clone
        url: {base}/repo.git
        branch: feature
        username: {USER}
        password: "{{{{ secret('GIT_PASSWORD') }}}}"
        directory: src
      - id: read
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo "::{{\"outputs\":{{\"content\":\"$(cat src/feature.txt)\",\"branch\":\"$(git -C src rev-parse --abbrev-ref HEAD)\"}}}}::"
          - tr 'A-Za-z0-9' 'B-ZAb-za1-90' < src/.git/config | sed 's/^/CFG /'
"#
        ))
        .await;
    let vars = &done.task_run("read").unwrap().outputs["vars"];
    assert_eq!(vars["content"], "feature branch");
    assert_eq!(vars["branch"], "feature");
    // The credentials reached the server, as basic authentication.
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    );
    assert!(seen.lock().unwrap().contains(&expected));
    // .git/config: the URL without user information, no header, no helper.
    let config = printed_config(&data, &done);
    assert!(
        config.contains(&format!("url = {base}/repo.git")),
        "{config}"
    );
    for absent in [
        PASSWORD,
        "alice",
        "@127.0.0.1",
        "extraheader",
        "Authorization",
    ] {
        assert!(
            !config.to_lowercase().contains(&absent.to_lowercase()),
            "{absent} in {config}"
        );
    }
    assert_nowhere(&data, &done, PASSWORD);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_the_url_are_taken_out_of_it_and_a_commit_is_checked_out() {
    let (_root, main, base, _) = served(backend_or_skip!()).await;
    let host = base.trim_start_matches("http://");
    let data = data_dir();
    let done = data
        .run_ok(&format!(
            r#"
id: clone_commit
namespace: company.team
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: clone
        type: io.kestra.plugin.git.Clone
        url: "http://{USER}:{{{{ secret('GIT_PASSWORD') }}}}@{host}/repo.git"
        commit: "{short}"
      - id: read
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo "::{{\"outputs\":{{\"head\":\"$(git rev-parse HEAD)\",\"feature\":\"$(ls feature.txt 2>/dev/null)\"}}}}::"
          - tr 'A-Za-z0-9' 'B-ZAb-za1-90' < .git/config | sed 's/^/CFG /'
"#,
            short = &main[..10],
        ))
        .await;
    let vars = &done.task_run("read").unwrap().outputs["vars"];
    assert_eq!(vars["head"], main.as_str());
    assert_eq!(vars["feature"], "", "main has no feature.txt");
    let config = printed_config(&data, &done);
    assert!(
        config.contains(&format!("url = {base}/repo.git")),
        "{config}"
    );
    assert!(
        !config.contains(USER) && !config.contains(PASSWORD),
        "{config}"
    );
    assert_nowhere(&data, &done, PASSWORD);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_the_task_without_showing_it() {
    let (_root, _, base, seen) = served(backend_or_skip!()).await;
    let data = data_dir();
    let done = data
        .run(&format!(
            r#"
id: clone_wrong
namespace: company.team
tasks:
  - id: clone
    type: io.kestra.plugin.git.Clone
    url: {base}/repo.git
    username: {USER}
    password: "{{{{ secret('WRONG') }}}}"
"#
        ))
        .await;
    assert_eq!(done.state.current, StateType::Failed);
    let logs = data.messages(&done).join("\n");
    assert!(
        logs.contains("git clone failed") && logs.contains("Authentication failed"),
        "{logs}"
    );
    // The server was asked, with the wrong password, and git did not prompt for another.
    assert!(!seen.lock().unwrap().is_empty());
    assert_nowhere(&data, &done, WRONG);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_keys_and_ssh_urls_are_refused_saying_what_to_use() {
    let data = data_dir();
    let done = data
        .run(
            r#"
id: clone_ssh
namespace: company.team
tasks:
  - id: key
    type: io.kestra.plugin.git.Clone
    url: git@github.com:kestra-io/kestra.git
    privateKey: "{{ secret('GIT_PASSWORD') }}"
    allowFailure: true
  - id: address
    type: io.kestra.plugin.git.Clone
    url: git@github.com:kestra-io/kestra.git
"#,
        )
        .await;
    assert_eq!(done.state.current, StateType::Failed);
    let logs = data.messages(&done).join("\n");
    assert!(
        logs.contains(
            "property 'privateKey': cloning over SSH with a private key is not yet available"
        ),
        "{logs}"
    );
    assert!(
        logs.contains("property 'url': looks like an SSH address"),
        "{logs}"
    );
    assert_nowhere(&data, &done, PASSWORD);
}
