//! A side effect a test can count: an HTTP server that records every request it gets
//! (its path and the address it came from) the moment it arrives, then holds the answer
//! for as long as the path's `hold` query asks (`GET /hit/<key>?hold=<ms>`), so that a task
//! calling it (`io.kestra.plugin.core.http.Request`) stays on its worker that long. The
//! answer's body is the caller's address: a task's output then says which worker ran it.
#![allow(dead_code)] // each test binary uses a part

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request, as it arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The path without its query, e.g. `/hit/<execution>/<task>`.
    pub path: String,
    pub from: IpAddr,
}

/// The server; it runs until the test process ends.
#[derive(Clone)]
pub struct Hits {
    pub port: u16,
    seen: Arc<Mutex<Vec<Hit>>>,
}

impl Hits {
    /// Listens on every address of this machine (a network namespace reaches it through its
    /// link's host address), on a free port.
    pub fn start() -> Hits {
        let listener = TcpListener::bind("0.0.0.0:0").expect("bind the hits server");
        let port = listener.local_addr().expect("local address").port();
        let hits = Hits {
            port,
            seen: Arc::default(),
        };
        let seen = hits.seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = seen.clone();
                std::thread::spawn(move || answer(stream, &seen));
            }
        });
        hits
    }

    /// Every request so far.
    pub fn all(&self) -> Vec<Hit> {
        self.seen.lock().unwrap().clone()
    }

    /// The requests to `path` so far.
    pub fn of(&self, path: &str) -> Vec<Hit> {
        self.all().into_iter().filter(|h| h.path == path).collect()
    }
}

fn answer(stream: TcpStream, seen: &Mutex<Vec<Hit>>) {
    let Ok(from) = stream.peer_addr() else { return };
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // The headers, up to the blank line (a GET has no body).
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line.trim() != "" {
        line.clear();
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let hold = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("hold="))
        .and_then(|ms| ms.parse::<u64>().ok())
        .unwrap_or(0);
    seen.lock().unwrap().push(Hit {
        path: path.to_owned(),
        from: from.ip(),
    });
    std::thread::sleep(Duration::from_millis(hold));
    let body = from.ip().to_string();
    let _ = (&stream).write_all(
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
}
