//! moto's server (`scripts/peers/moto.sh`, `SAKER_MOTO_SERVER`) on a free loopback port, for
//! the tests that drive Saker's AWS client against it; stopped when dropped.
#![allow(dead_code)] // each test file uses a different subset

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub port: u16,
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running moto server, or `None` (with a `SKIPPED` line) when the peer is not installed.
pub fn moto() -> Option<Moto> {
    let Some(server) = std::env::var_os("SAKER_MOTO_SERVER") else {
        println!("SKIPPED: SAKER_MOTO_SERVER is not set (source scripts/peers/moto.sh)");
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let moto = Moto {
        child,
        port,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "moto_server did not listen on port {port} within a minute"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(moto)
}
