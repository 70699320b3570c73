//! MailSend against a real SMTP server: aiosmtpd (a Python package, installed by
//! `scripts/peers/smtp.sh`, which exports `SAKER_AIOSMTPD_PYTHON`), started by each test on
//! a free port with AUTH LOGIN/PLAIN and a handler that parses every message received with
//! Python's own `email` package and saves what it found. The tests check what arrived
//! (envelope, headers, both bodies, attachment and inline image bytes), that the password
//! taken from a secret reaches the server but no log line, error, output or stored byte, and
//! that a wrong password or a closed port fail saying why.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use common::data_dir::DataDir;
use saker_model::{DEFAULT_TENANT, StateType};
use saker_storage::StorageUri;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

const USER: &str = "mailer";
const PASSWORD: &str = "smtp-Pa55-Wq7Rz4Kd";

/// The server: saves each message as `<n>.json` (parsed) and `<n>.eml` (raw) in the
/// directory given, accepts only USER/PASSWORD, prints `READY <port>` once listening and
/// stops when its stdin closes.
const SERVER: &str = r#"
import asyncio, base64, json, os, socket, ssl, sys
from email import policy
from email.parser import BytesParser
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

out, user, password, mode = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode(), sys.argv[4]
tls = None
if mode != "plain":
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(sys.argv[5], sys.argv[6])

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == user and auth_data.password == password
    # Not handled: aiosmtpd answers 535 itself.
    return AuthResult(success=ok, handled=False)

class Saver:
    count = 0
    async def handle_DATA(self, server, session, envelope):
        Saver.count += 1
        base = os.path.join(out, str(Saver.count))
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        msg = BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        plain = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        files = []
        for part in msg.walk():
            disposition = part.get_content_disposition()
            if disposition in ("attachment", "inline") and part.get_filename():
                files.append({
                    "disposition": disposition,
                    "filename": part.get_filename(),
                    "contentType": part.get_content_type(),
                    "contentId": part.get("Content-ID"),
                    "content": base64.b64encode(part.get_payload(decode=True)).decode(),
                })
        saved = {
            "authenticated": session.authenticated,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "mailFrom": envelope.mail_from,
            "rcptTos": envelope.rcpt_tos,
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "cc": str(msg["Cc"]) if msg["Cc"] else None,
            "subject": str(msg["Subject"]),
            "plain": plain.get_content() if plain else None,
            "html": html.get_content() if html else None,
            "files": files,
        }
        with open(base + ".json", "w") as f:
            json.dump(saved, f)
        return "250 OK"

sock = socket.socket()
sock.bind(("127.0.0.1", 0))
port = sock.getsockname()[1]
sock.close()
options = {}
if mode == "starttls":
    options = {"tls_context": tls, "require_starttls": True}
elif mode == "smtps":
    options = {"ssl_context": tls}
controller = Controller(Saver(), hostname="127.0.0.1", port=port, authenticator=authenticator,
                        auth_require_tls=False, auth_required=False, **options)
controller.start()
print("READY", port, flush=True)
sys.stdin.read()
controller.stop()
"#;

fn aiosmtpd_python() -> Option<PathBuf> {
    let python = PathBuf::from(std::env::var_os("SAKER_AIOSMTPD_PYTHON")?);
    python.exists().then_some(python)
}

/// How the server secures connections.
enum Security<'a> {
    Plain,
    /// STARTTLS required, with this certificate and key.
    StartTls(&'a Path, &'a Path),
    /// TLS from the first byte (SMTPS).
    Implicit(&'a Path, &'a Path),
}

/// A running aiosmtpd; stopped (killed) when dropped.
struct SmtpServer {
    port: u16,
    dir: tempfile::TempDir,
    _child: tokio::process::Child,
}

impl SmtpServer {
    async fn start(python: &Path) -> Self {
        Self::start_with(python, Security::Plain).await
    }

    async fn start_with(python: &Path, security: Security<'_>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("server.py");
        std::fs::write(&script, SERVER).unwrap();
        let received = dir.path().join("received");
        std::fs::create_dir(&received).unwrap();
        let mut child = tokio::process::Command::new(python)
            .arg(&script)
            .arg(&received)
            .arg(USER)
            .arg(PASSWORD)
            .args(match security {
                Security::Plain => vec!["plain".as_ref()],
                Security::StartTls(cert, key) => {
                    vec!["starttls".as_ref(), cert.as_os_str(), key.as_os_str()]
                }
                Security::Implicit(cert, key) => {
                    vec!["smtps".as_ref(), cert.as_os_str(), key.as_os_str()]
                }
            })
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("aiosmtpd did not start")
            .unwrap()
            .expect("aiosmtpd ended before listening");
        let port = ready
            .strip_prefix("READY ")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        Self {
            port,
            dir,
            _child: child,
        }
    }

    /// The messages received, parsed, in order.
    fn received(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for n in 1.. {
            let path = self.dir.path().join(format!("received/{n}.json"));
            let Ok(text) = std::fs::read_to_string(&path) else {
                return out;
            };
            out.push(serde_json::from_str(&text).unwrap());
        }
        out
    }

    /// The raw bytes of every message received.
    fn raw(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for path in common::files_under(&self.dir.path().join("received")) {
            if path.extension().is_some_and(|e| e == "eml") {
                out.extend(std::fs::read(path).unwrap());
            }
        }
        out
    }
}

fn start_engine() -> DataDir {
    DataDir::start(|dir, parts| {
        parts.secrets = Arc::new(common::KeyedSecrets::new([
            ("SMTP_PASSWORD", PASSWORD.to_owned()),
            ("WRONG_PASSWORD", "not-the-Pa55word-9x".to_owned()),
        ]));
        parts.sealer = Some(common::data_dir::sealer());
        parts.storage = Some(common::data_dir::storage(dir));
    })
}

/// Puts a namespace file of `company.team` and answers its `kestra:///` URI.
fn namespace_file(data: &DataDir, path: &str, bytes: &[u8]) -> String {
    let storage = data.engine.files().storage().unwrap().clone();
    let uri = StorageUri::namespace_files("company.team")
        .unwrap()
        .join(path)
        .unwrap();
    storage.put(DEFAULT_TENANT, &uri, bytes).unwrap();
    uri.to_string()
}

/// No byte of the data directory (SQLite file, storage) holds `secret`.
fn assert_not_stored(data: DataDir, secret: &str) {
    let dir = data.dir;
    drop(data.engine);
    for path in common::files_under(dir.path()) {
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(secret),
            "{} holds the secret",
            path.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_with_both_bodies_cc_and_files_arrives_as_written() {
    let Some(python) = aiosmtpd_python() else {
        eprintln!(
            "SKIPPED: SAKER_AIOSMTPD_PYTHON is unset (scripts/peers/smtp.sh installs aiosmtpd)"
        );
        return;
    };
    let server = SmtpServer::start(&python).await;
    let data = start_engine();
    let csv = namespace_file(&data, "reports/daily.csv", b"day,count\nmon,3\n");
    let png: &[u8] = b"\x89PNG\r\n\x1a\n-not-really-an-image";
    let logo = namespace_file(&data, "logo.png", png);
    let flow = format!(
        r#"
id: mail
namespace: company.team
tasks:
  - id: send
    type: io.kestra.plugin.email.MailSend
    host: 127.0.0.1
    port: {port}
    transportStrategy: SMTP
    username: {USER}
    password: "{{{{ secret('SMTP_PASSWORD') }}}}"
    from: Saker <saker@example.com>
    to: "ada@example.com; bob@example.com"
    cc: carol@example.com
    subject: "Flow {{{{ flow.id }}}} ran"
    plainTextContent: "plain body of {{{{ flow.id }}}}"
    htmlTextContent: "<p>html body</p><img src=\"cid:logo.png\">"
    attachments:
      - name: daily.csv
        uri: "{csv}"
        contentType: text/csv
    embeddedImages: '[{{"name": "logo.png", "uri": "{logo}", "contentType": "image/png"}}]'
"#,
        port = server.port
    );
    let done = data.run(&flow).await;
    let lines = data.messages(&done);
    assert_eq!(done.state.current, StateType::Success, "{lines:?}");
    let received = server.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let mail = &received[0];
    assert_eq!(mail["authenticated"], true);
    assert_eq!(mail["mailFrom"], "saker@example.com");
    assert_eq!(
        mail["rcptTos"],
        serde_json::json!(["ada@example.com", "bob@example.com", "carol@example.com"])
    );
    assert_eq!(mail["from"], "Saker <saker@example.com>");
    assert_eq!(mail["to"], "ada@example.com, bob@example.com");
    assert_eq!(mail["cc"], "carol@example.com");
    assert_eq!(mail["subject"], "Flow mail ran");
    assert_eq!(
        mail["plain"].as_str().unwrap().trim_end(),
        "plain body of mail"
    );
    assert_eq!(
        mail["html"].as_str().unwrap().trim_end(),
        "<p>html body</p><img src=\"cid:logo.png\">"
    );
    let files = mail["files"].as_array().unwrap();
    let file = |name: &str| {
        files
            .iter()
            .find(|f| f["filename"] == name)
            .unwrap_or_else(|| panic!("no {name} in {files:?}"))
    };
    use base64::Engine as _;
    let decode = |f: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(f["content"].as_str().unwrap())
            .unwrap()
    };
    let csv_part = file("daily.csv");
    assert_eq!(csv_part["disposition"], "attachment");
    assert_eq!(csv_part["contentType"], "text/csv");
    assert_eq!(decode(csv_part), b"day,count\nmon,3\n");
    let image = file("logo.png");
    assert_eq!(image["disposition"], "inline");
    assert_eq!(image["contentType"], "image/png");
    assert_eq!(image["contentId"], "<logo.png>");
    assert_eq!(decode(image), png);
    assert!(
        lines.iter().any(|l| l
            == &format!(
                "mail sent to 3 recipient(s) through 127.0.0.1:{}",
                server.port
            )),
        "{lines:?}"
    );
    // The password went to the server (it authenticated) and nowhere else.
    assert!(!String::from_utf8_lossy(&server.raw()).contains(PASSWORD));
    assert!(lines.iter().all(|l| !l.contains(PASSWORD)), "{lines:?}");
    let stored = serde_json::to_string(&done).unwrap();
    assert!(!stored.contains(PASSWORD));
    assert_not_stored(data, PASSWORD);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_and_a_closed_port_fail_without_showing_the_password() {
    let Some(python) = aiosmtpd_python() else {
        eprintln!(
            "SKIPPED: SAKER_AIOSMTPD_PYTHON is unset (scripts/peers/smtp.sh installs aiosmtpd)"
        );
        return;
    };
    let server = SmtpServer::start(&python).await;
    let data = start_engine();
    let flow = |port: u16, secret: &str| {
        format!(
            r#"
id: refused
namespace: company.team
tasks:
  - id: send
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: {port}
    transportStrategy: SMTP
    sessionTimeout: 5000
    username: {USER}
    password: "{{{{ secret('{secret}') }}}}"
    from: saker@example.com
    to: ada@example.com
    subject: never arrives
"#
        )
    };
    let done = data.run(&flow(server.port, "WRONG_PASSWORD")).await;
    let lines = data.messages(&done);
    assert_eq!(done.state.current, StateType::Failed, "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains(&format!(
            "sending mail through 127.0.0.1:{} failed: permanent error (535)",
            server.port
        ))),
        "{lines:?}"
    );
    assert!(
        lines.iter().all(|l| !l.contains("not-the-Pa55word-9x")),
        "{lines:?}"
    );
    assert!(server.received().is_empty());

    // A port nothing listens on: the one of a server stopped.
    let closed = {
        let other = SmtpServer::start(&python).await;
        other.port
    };
    let done = data.run(&flow(closed, "SMTP_PASSWORD")).await;
    let lines = data.messages(&done);
    assert_eq!(done.state.current, StateType::Failed, "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("sending mail through 127.0.0.1:{closed} failed: "))),
        "{lines:?}"
    );
    assert!(lines.iter().all(|l| !l.contains(PASSWORD)), "{lines:?}");

    // A server that accepts the connection and never says a word: the session timeout ends
    // the task, not the task's own timeout.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let done = data
        .run(&flow(silent_port, "SMTP_PASSWORD").replace("5000", "500"))
        .await;
    let lines = data.messages(&done);
    held.abort();
    assert_eq!(done.state.current, StateType::Failed, "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains(&format!(
            "sending mail through 127.0.0.1:{silent_port} took more than sessionTimeout (500 ms)"
        ))),
        "{lines:?}"
    );
    assert_not_stored(data, PASSWORD);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_addresses_and_missing_files_are_named() {
    // No server is needed: the message is built, and refused, before connecting.
    let data = start_engine();
    let flow = |extra: &str| {
        format!(
            "id: bad\nnamespace: company.team\ntasks:\n  - id: send\n    type: io.kestra.plugin.email.MailSend\n    host: 127.0.0.1\n    port: 1\n    transportStrategy: SMTP\n    from: saker@example.com\n{extra}"
        )
    };
    for (extra, expected) in [
        (
            "    to: not-an-address\n",
            "property 'to': holds an address that is not valid",
        ),
        (
            "    to: ada@example.com\n    attachments:\n      - name: x.csv\n        uri: kestra:///company/team/_files/missing.csv\n",
            "property 'attachments[0].uri'",
        ),
        (
            "    to: ada@example.com\n    attachments:\n      - uri: kestra:///company/team/_files/x.csv\n",
            "property 'attachments[0].name': is required",
        ),
    ] {
        let done = data.run(&flow(extra)).await;
        let lines = data.messages(&done);
        assert_eq!(done.state.current, StateType::Failed, "{extra}: {lines:?}");
        assert!(
            lines.iter().any(|l| l.contains(expected)),
            "{extra}: {lines:?}"
        );
    }
}

/// A self-signed certificate for 127.0.0.1 (and its key), made with the openssl command.
fn self_signed(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    made.success().then_some((cert, key))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtps_and_starttls_check_the_certificate_unless_the_host_is_trusted() {
    let Some(python) = aiosmtpd_python() else {
        eprintln!(
            "SKIPPED: SAKER_AIOSMTPD_PYTHON is unset (scripts/peers/smtp.sh installs aiosmtpd)"
        );
        return;
    };
    let certs = tempfile::tempdir().unwrap();
    let Some((cert, key)) = self_signed(certs.path()) else {
        eprintln!("SKIPPED: the openssl command could not make a test certificate");
        return;
    };
    let data = start_engine();
    for (strategy, security) in [
        ("SMTPS", Security::Implicit(&cert, &key)),
        ("SMTP_TLS", Security::StartTls(&cert, &key)),
    ] {
        let server = SmtpServer::start_with(&python, security).await;
        let flow = |trusted: &str| {
            format!(
                "id: tls\nnamespace: company.team\ntasks:\n  - id: send\n    type: io.kestra.plugin.email.MailSend\n    host: 127.0.0.1\n    port: {}\n    transportStrategy: {strategy}\n    username: {USER}\n    password: \"{{{{ secret('SMTP_PASSWORD') }}}}\"\n    from: saker@example.com\n    to: ada@example.com\n    subject: over {strategy}\n{trusted}",
                server.port
            )
        };
        // Self-signed: refused as the server's identity cannot be checked.
        let done = data.run(&flow("")).await;
        let lines = data.messages(&done);
        assert_eq!(
            done.state.current,
            StateType::Failed,
            "{strategy}: {lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("failed: ") && l.to_lowercase().contains("certificate")),
            "{strategy}: {lines:?}"
        );
        assert!(server.received().is_empty(), "{strategy}");
        // Trusted by name: sent over TLS, with a warning that the certificate is not checked.
        let done = data
            .run(&flow("    trustedHosts:\n      - 127.0.0.1\n"))
            .await;
        let lines = data.messages(&done);
        assert_eq!(
            done.state.current,
            StateType::Success,
            "{strategy}: {lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("certificate is not fully checked")),
            "{lines:?}"
        );
        let received = server.received();
        assert_eq!(received.len(), 1, "{strategy}");
        assert_eq!(received[0]["tls"], true, "{strategy}");
        assert_eq!(received[0]["authenticated"], true, "{strategy}");
        assert_eq!(received[0]["subject"], format!("over {strategy}"));
    }
    assert_not_stored(data, PASSWORD);
}
