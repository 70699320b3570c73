//! moto's S3 server for tests (`scripts/peers/moto.sh` installs it): started on a free port,
//! read with raw HTTP requests. Shared by the storage crate's tests and the CLI's end-to-end
//! test (`crates/cli/tests/cli_s3_storage.rs`, through `#[path]`).
#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// moto's server on a free port; with `auth`, it checks access keys (and knows none).
pub fn moto(auth: bool) -> Option<Moto> {
    let Some(server) = std::env::var_os("SAKER_MOTO_SERVER") else {
        println!("SKIPPED: SAKER_MOTO_SERVER is not set (source scripts/peers/moto.sh)");
        return None;
    };
    let port = free_port();
    let mut command = Command::new(server);
    command
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if auth {
        command.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
    }
    let child = command.spawn().expect("moto_server starts");
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "moto_server did not listen within a minute"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(Moto { child, port })
}

/// A raw HTTP/1.1 request to moto; the status and the body. Its signature is not checked
/// (moto checks none without auth), but an `Authorization` header must be there, or moto
/// treats the request as anonymous and refuses to read a private object.
pub fn raw(port: u16, method: &str, path: &str) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIDSAKERTEST/20260101/us-east-1/s3/\
         aws4_request, SignedHeaders=host, Signature=00\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let head_end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&answer[..head_end]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = answer[head_end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[line_end + 2..line_end + 2 + size]);
        body = &body[line_end + 2 + size + 2..];
    }
}

/// Every key of `bucket` (moto answers up to 1,000, more than a test writes).
pub fn keys(port: u16, bucket: &str) -> Vec<String> {
    let (status, body) = raw(port, "GET", &format!("/{bucket}?list-type=2"));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let body = String::from_utf8(body).unwrap();
    body.split("<Key>")
        .skip(1)
        .map(|rest| rest.split("</Key>").next().unwrap().to_owned())
        .collect()
}

/// The bytes of object `key` (a key as listed: no character of it needs escaping in a URL
/// but spaces, which tests avoid).
pub fn object(port: u16, bucket: &str, key: &str) -> Vec<u8> {
    let (status, body) = raw(port, "GET", &format!("/{bucket}/{key}"));
    assert_eq!(status, 200, "{key}");
    body
}
