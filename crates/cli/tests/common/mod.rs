//! What the server tests share: a free port, a server process, a minimal HTTP client.
// Each test binary uses only some of these.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn start_server(data: &Path, port: u16) -> Child {
    start_server_with(data, port, None)
}

pub fn start_server_with(data: &Path, port: u16, config: Option<&Path>) -> Child {
    start_server_args(data, port, config, &[])
}

pub fn start_server_args(data: &Path, port: u16, config: Option<&Path>, extra: &[&str]) -> Child {
    start_server_logging(data, port, config, extra, None)
}

/// [`start_server_args`] with the server's own log (stderr) written to `log`.
pub fn start_server_logging(
    data: &Path,
    port: u16,
    config: Option<&Path>,
    extra: &[&str],
    log: Option<&Path>,
) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_saker"));
    command.args(["server", "local"]).args(extra);
    match config {
        Some(file) => command.env("SAKER_CONFIG", file),
        None => command.env_remove("SAKER_CONFIG"),
    };
    let mut child = command
        .args(["--port", &port.to_string()])
        .env("SAKER_DATA_DIR", data)
        .stdout(Stdio::null())
        .stderr(match log {
            Some(file) => Stdio::from(std::fs::File::create(file).unwrap()),
            None => Stdio::null(),
        })
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok((200, _)) = http(port, "GET", "/health", None) {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not answer /health within 30 s");
}

/// A minimal HTTP/1.1 client (one request per connection), enough for these tests.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<(&str, &str)>,
) -> std::io::Result<(u16, String)> {
    http_as(port, method, path, body, None)
}

/// [`http`] with an `Authorization` header.
pub fn http_as(
    port: u16,
    method: &str,
    path: &str,
    body: Option<(&str, &str)>,
    authorization: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    exchange(stream, method, path, body, authorization)
}

/// [`http_as`] from the client address `source` (any of 127.0.0.0/8 on Linux), for what the
/// server decides per client address (login throttling).
pub fn http_from(
    source: std::net::Ipv4Addr,
    port: u16,
    method: &str,
    path: &str,
    authorization: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind((source, 0).into())?;
        socket
            .connect(([127, 0, 0, 1], port).into())
            .await?
            .into_std()
    })?;
    stream.set_nonblocking(false)?;
    exchange(stream, method, path, None, authorization)
}

/// Sends one request on `stream` and reads the whole answer, scanned for remembered secrets.
fn exchange(
    mut stream: TcpStream,
    method: &str,
    path: &str,
    body: Option<(&str, &str)>,
    authorization: Option<&str>,
) -> std::io::Result<(u16, String)> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let (content_type, body) = body.unwrap_or(("application/json", ""));
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{auth}Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    assert_no_secret(&format!("{method} {path}"), &response);
    Ok((status, body))
}

/// Secret values this test process created, with their common encodings.
static SECRETS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Records a secret value the test put into the server: from now on every response this
/// process reads through [`http_as`] (status line, headers and body) is scanned for it and
/// for its base64, URL and JSON encodings, and the test fails if one appears.
pub fn remember_secret(value: &str) {
    use base64::Engine as _;
    let mut secrets = SECRETS.lock().unwrap();
    secrets.push(value.to_owned());
    secrets.push(base64::engine::general_purpose::STANDARD.encode(value));
    secrets.push(form_urlencoded::byte_serialize(value.as_bytes()).collect());
    let json = serde_json::to_string(value).unwrap();
    secrets.push(json[1..json.len() - 1].to_owned());
    secrets.retain(|s| s.len() >= 4);
    secrets.sort();
    secrets.dedup();
}

/// Fails the test if `response` holds a remembered secret; the message never quotes it.
pub fn assert_no_secret(what: &str, response: &str) {
    let secrets = SECRETS.lock().unwrap();
    if let Some(i) = secrets.iter().position(|s| response.contains(s.as_str())) {
        drop(secrets);
        panic!("the response to {what} holds remembered secret #{i} (or an encoding of it)");
    }
}

pub fn json(port: u16, method: &str, path: &str, body: Option<(&str, &str)>) -> (u16, Value) {
    let (status, body) = http(port, method, path, body).unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

/// Polls the execution until its state is `state` (20 s at most) and returns it.
pub fn wait_for_state(port: u16, id: &str, state: &str) -> Value {
    eventually(&format!("never {state}"), || {
        let (_, execution) = json(port, "GET", &format!("/api/v1/main/executions/{id}"), None);
        if execution["state"]["current"] == state {
            Ok(execution)
        } else {
            Err(execution.to_string())
        }
    })
}

/// Polls `poll` until it gives `Ok`, for what a server does in the background (an execution
/// ending, the scheduler's next tick). Panics after 30 s with `what` and the last `Err`.
pub fn eventually<T>(what: &str, mut poll: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match poll() {
            Ok(done) => return done,
            Err(seen) => assert!(Instant::now() < deadline, "{what}: {seen}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `saker` on a data directory with `stdin` piped in; returns (status, stdout, stderr).
pub fn saker_cli(data: &Path, config: &Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(args)
        .env("SAKER_DATA_DIR", data)
        .env("SAKER_CONFIG", config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A configuration whose API user is `admin` / `Admin-pass-2026!`.
pub const ADMIN_CONFIG: &str =
    "saker:\n  server:\n    basic-auth:\n      username: admin\n      password: Admin-pass-2026!\n";

/// `Authorization` for the admin of [`ADMIN_CONFIG`].
pub const ADMIN_BASIC: &str = "Basic YWRtaW46QWRtaW4tcGFzcy0yMDI2IQ=="; // admin:Admin-pass-2026!
/// `Authorization` for the user [`add_team_user_alice`] makes.
pub const ALICE_BASIC: &str = "Basic YWxpY2U6QWxpY2UtcGFzcy0yMDI2IQ=="; // alice:Alice-pass-2026!

/// Prepares `data` (with an [`ADMIN_CONFIG`]-like `config`) for the namespace-access tests:
/// starts the server once, which creates the admin role that bindings need, then adds the
/// user `alice` (password `Alice-pass-2026!`) and binds her to `admin` on `company.team`
/// only, through the CLI.
pub fn add_team_user_alice(data: &Path, config: &Path) {
    stop(start_server_with(data, free_port(), Some(config)));
    let (ok, _, err) = saker_cli(
        data,
        config,
        &["user", "add", "alice"],
        "Alice-pass-2026!\n",
    );
    assert!(ok, "{err}");
    let bind = [
        "user",
        "bind",
        "alice",
        "admin",
        "--namespace",
        "company.team",
    ];
    let (ok, _, err) = saker_cli(data, config, &bind, "");
    assert!(ok, "{err}");
}

/// Writes `saker.yml` with `body` into `dir`.
pub fn write_config(dir: &Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("saker.yml");
    std::fs::write(&path, body).unwrap();
    path
}

/// Deploys a flow without credentials and checks it was accepted.
pub fn deploy(port: u16, flow: &str) {
    let (status, body) = json(
        port,
        "POST",
        "/api/v1/main/flows",
        Some(("application/x-yaml", flow)),
    );
    assert_eq!(status, 200, "{body}");
}

/// Stops a server process (SIGKILL) and reaps it.
pub fn stop(mut server: Child) {
    server.kill().unwrap();
    server.wait().unwrap();
}

/// What the identity tests (`cli_api_iam*.rs`) share: a server with users enabled, requests
/// as its admin, as another user or without credentials, and the password policy they use.
pub mod iam;
