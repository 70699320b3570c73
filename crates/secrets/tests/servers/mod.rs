//! Test servers following the documented HTTP APIs of Elasticsearch, 1Password Connect and
//! Doppler, for what Saker's backends call; each official Python client is run against the
//! same server by its backend's test, as a check of this reading of the protocol.
#![allow(dead_code)] // each test file uses one server

pub mod doppler;
pub mod elasticsearch;
pub mod onepassword;

use std::collections::HashMap;
use std::net::SocketAddr;

/// Serves `app` on a free port of 127.0.0.1 on a thread of its own; returns `http://addr`.
pub fn serve(app: axum::Router) -> String {
    let (ready, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr: SocketAddr = listener.local_addr().unwrap();
            ready.send(addr).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{}", wait.recv().unwrap())
}

/// The query string as a map (percent-decoded, `+` as space).
pub fn query(uri: &axum::http::Uri) -> HashMap<String, String> {
    uri.query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

/// Path segments, percent-decoded.
pub fn segments(uri: &axum::http::Uri) -> Vec<String> {
    uri.path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

/// A free port nothing listens on (for outage tests).
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `script` with the secret-services peers' Python, or `None` (after a SKIPPED line)
/// when `scripts/peers/secret-services.sh` was not sourced.
pub fn python(script: &str, args: &[&str]) -> Option<String> {
    let Some(python) = std::env::var_os("SAKER_SECRET_SERVICES_PYTHON") else {
        println!(
            "SKIPPED: SAKER_SECRET_SERVICES_PYTHON is not set (source \
             scripts/peers/secret-services.sh)"
        );
        return None;
    };
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{shown}");
    Some(shown)
}
