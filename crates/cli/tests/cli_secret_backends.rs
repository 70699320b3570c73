//! The remote secret backends through the real binary. AWS Secrets Manager against moto's
//! server (the peer of `scripts/peers/moto.sh`), issue 15's "done when": `saker secret set` creates the secret
//! under the configured prefix (checked with boto3, AWS's own client), a flow in a child
//! namespace resolves it by inheritance, `secret.read-only` refuses the same write, a backend
//! that is down fails closed naming the backend and the key, and the value never reaches the
//! data directory. Vault against the Vault test server of the secrets crate's tests: the same
//! path with userpass auth, versions and read-only.

mod common;
#[allow(dead_code)] // this file uses part of the test server
#[path = "../../secrets/tests/vault/server.rs"]
mod vault_server;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const VALUE: &str = "aws-e2e-value-7f3a91c2";

struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// moto's server on a free port, or `None` (and a SKIPPED line) without the peer.
fn moto() -> Option<Moto> {
    let Some(server) = std::env::var_os("SAKER_MOTO_SERVER") else {
        println!("SKIPPED: SAKER_MOTO_SERVER is not set (source scripts/peers/moto.sh)");
        return None;
    };
    let port = free_port();
    let child = Command::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let moto = Moto { child, port };
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

fn config(dir: &Path, name: &str, endpoint: &str, read_only: bool) -> PathBuf {
    write_config(
        dir,
        name,
        &format!(
            "saker:\n  secret:\n    type: aws-secret-manager\n    read-only: {read_only}\n    \
             aws-secret-manager:\n      accessKeyId: testing\n      secretKeyId: testing\n      \
             region: us-east-1\n      prefix: saker-e2e\n      endpointOverride: {endpoint}\n      \
             tags:\n        application: saker-test\n"
        ),
    )
}

fn write_config(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const FLOW: &str = "id: f\nnamespace: company.team\ntasks:\n  - id: check\n    type: \
    io.kestra.plugin.scripts.shell.Commands\n    env:\n      V: \"{{ secret('API_KEY') }}\"\n    \
    commands:\n      - 'if [ \"${V%-7f3a91c2}\" = aws-e2e-value ]; then echo inherited; \
    else echo other; fi'\n";

fn saker(data: &Path, config: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(args)
        .env("SAKER_DATA_DIR", data)
        .env("SAKER_CONFIG", config)
        .env_remove("SAKER_SECRET_TYPE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Asserts `output` never shows the value, without printing it.
fn no_value(output: &str) {
    assert!(!output.contains(VALUE), "the secret value was printed");
}

/// Every file's bytes under `dir` without the value (walked by hand: no extra crate).
fn assert_no_plaintext(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_no_plaintext(&path);
        } else {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(VALUE.len()).any(|w| w == VALUE.as_bytes()),
                "{} holds the secret in plaintext",
                path.display()
            );
        }
    }
}

/// What AWS holds, read with boto3 from the peer's venv: `name|value|tags as JSON`.
fn aws_view(port: u16) -> Option<String> {
    let python = std::env::var_os("SAKER_SECRET_PEERS_PYTHON")?;
    let script = format!(
        "import boto3, json\n\
         c = boto3.client('secretsmanager', endpoint_url='http://127.0.0.1:{port}', \
         region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\n\
         for s in c.list_secrets()['SecretList']:\n\
         \x20   v = c.get_secret_value(SecretId=s['Name'])['SecretString']\n\
         \x20   tags = {{t['Key']: t['Value'] for t in s.get('Tags', [])}}\n\
         \x20   print(s['Name'] + '|' + ('same' if v == '{VALUE}' else 'other') + '|' + \
         json.dumps(tags, sort_keys=True))\n"
    );
    let out = Command::new(python).args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "boto3: {}", text(&out));
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn set_inherit_read_only_and_outage_against_moto() {
    let Some(moto) = moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let writable = config(dir.path(), "aws.yml", &endpoint, false);

    let out = saker(
        &data,
        &writable,
        &["secret", "set", "company", "API_KEY"],
        Some(VALUE),
    );
    let shown = text(&out);
    no_value(&shown);
    assert!(out.status.success(), "{shown}");

    // A second value is a second version (each write sends its own ClientRequestToken).
    let out = saker(
        &data,
        &writable,
        &["secret", "set", "company", "API_KEY"],
        Some("interim-value"),
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = saker(
        &data,
        &writable,
        &["secret", "set", "company", "API_KEY"],
        Some(VALUE),
    );
    let shown = text(&out);
    no_value(&shown);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("version 3"), "{shown}");

    // In AWS under the prefix, with the value as is and the tags.
    if let Some(view) = aws_view(moto.port) {
        let line = view
            .lines()
            .find(|l| l.starts_with("saker-e2e/main/company/API_KEY|"))
            .unwrap_or_else(|| panic!("no secret under the prefix; AWS holds: {view}"));
        assert!(line.contains("|same|"), "the stored value differs");
        assert!(line.contains(r#""application": "saker-test""#), "{line}");
        assert!(line.contains(r#""saker:namespace": "company""#), "{line}");
        assert!(line.contains(r#""saker:version": "3""#), "{line}");
    }

    // A flow of company.team resolves the company secret by inheritance.
    let flow = dir.path().join("flow.yml");
    std::fs::write(&flow, FLOW).unwrap();
    // (The flow compares the value in two pieces, so that its stored source does not hold it.)
    let out = saker(
        &data,
        &writable,
        &["flow", "run", flow.to_str().unwrap()],
        None,
    );
    let shown = text(&out);
    no_value(&shown);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("check inherited"), "{shown}");

    // The list shows what AWS holds for the namespace.
    let out = saker(&data, &writable, &["secret", "list", "company"], None);
    let shown = text(&out);
    assert!(out.status.success() && shown.contains("API_KEY"), "{shown}");

    // Read-only: the same write fails, saying so.
    let read_only = config(dir.path(), "ro.yml", &endpoint, true);
    let out = saker(
        &data,
        &read_only,
        &["secret", "set", "company", "API_KEY"],
        Some("x-new-value"),
    );
    let shown = text(&out);
    assert!(!out.status.success(), "{shown}");
    assert!(shown.contains("read-only"), "{shown}");
    // ...and reads still work.
    let out = saker(
        &data,
        &read_only,
        &["flow", "run", flow.to_str().unwrap()],
        None,
    );
    assert!(text(&out).contains("check inherited"), "{}", text(&out));

    // A backend that is down: a clear error naming the backend and the key, and no value
    // (the previous process's cache is gone, so nothing stale can answer).
    let down = config(
        dir.path(),
        "down.yml",
        &format!("http://127.0.0.1:{}", free_port()),
        false,
    );
    let out = saker(&data, &down, &["flow", "run", flow.to_str().unwrap()], None);
    let shown = text(&out);
    no_value(&shown);
    assert!(!shown.contains("check inherited"), "{shown}");
    assert!(shown.contains("aws-secret-manager"), "{shown}");
    assert!(shown.contains("API_KEY"), "{shown}");

    // Soft delete, restore and destroy are AWS's own.
    let out = saker(
        &data,
        &writable,
        &["secret", "delete", "company", "API_KEY"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = saker(
        &data,
        &writable,
        &["flow", "run", flow.to_str().unwrap()],
        None,
    );
    assert!(!text(&out).contains("check inherited"), "{}", text(&out));

    // Every access was audited, never with the value.
    let out = saker(
        &data,
        &writable,
        &["audit", "list", "--key", "API_KEY"],
        None,
    );
    let audit = text(&out);
    no_value(&audit);
    assert!(out.status.success(), "{audit}");
    assert!(audit.to_lowercase().contains("read"), "{audit}");

    assert_no_plaintext(&data);
}

/// The API over the same backend: a write lands in AWS, the list shows what AWS holds, and
/// with `secret.read-only` the write is refused with "read-only" (405).
#[test]
fn the_api_writes_through_and_read_only_refuses() {
    let Some(moto) = moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let body = format!(r#"{{"key": "API_KEY", "value": "{VALUE}"}}"#);
    for (name, read_only) in [("rw.yml", false), ("ro.yml", true)] {
        let file = config(dir.path(), name, &endpoint, read_only);
        let data = dir.path().join(name).with_extension("data");
        let port = common::free_port();
        let mut server = common::start_server_with(&data, port, Some(&file));
        let put = common::http(
            port,
            "PUT",
            "/api/v1/main/namespaces/company/secrets",
            Some(("application/json", &body)),
        )
        .unwrap();
        let list =
            common::http(port, "GET", "/api/v1/main/namespaces/company/secrets", None).unwrap();
        let _ = server.kill();
        let _ = server.wait();
        no_value(&put.1);
        no_value(&list.1);
        if read_only {
            assert_eq!(put.0, 405, "{}", put.1);
            assert!(put.1.contains("read-only"), "{}", put.1);
        } else {
            assert_eq!(put.0, 200, "{}", put.1);
        }
        // Both servers list the secret the first one wrote into AWS.
        assert_eq!(list.0, 200, "{}", list.1);
        assert!(list.1.contains("API_KEY"), "{}", list.1);
        assert_no_plaintext(&data);
    }
    // A backend that is down: 502, saying which backend and key, never the value.
    let closed = format!("http://127.0.0.1:{}", common::free_port());
    let file = config(dir.path(), "down.yml", &closed, false);
    let data = dir.path().join("down.data");
    let port = common::free_port();
    let mut server = common::start_server_with(&data, port, Some(&file));
    let put = common::http(
        port,
        "PUT",
        "/api/v1/main/namespaces/company/secrets",
        Some(("application/json", &body)),
    )
    .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    no_value(&put.1);
    assert_eq!(put.0, 502, "{}", put.1);
    assert!(put.1.contains("aws-secret-manager"), "{}", put.1);
    assert!(put.1.contains("API_KEY"), "{}", put.1);
}

/// Vault (KV v2, userpass) through the binary: set, versions, inheritance, read-only, and no
/// plaintext in the data directory. The test server runs in this test process.
#[test]
fn vault_set_versions_inherit_and_read_only() {
    let vault = vault_server::VaultServer::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let section = |read_only: bool| {
        format!(
            "saker:\n  secret:\n    type: vault\n    readOnly: {read_only}\n    vault:\n      \
             address: {}\n      password:\n        user: saker\n        password: user-password\n      \
             secretPathPrefix: saker\n",
            vault.address
        )
    };
    let writable = write_config(dir.path(), "vault.yml", &section(false));
    for value in ["first-vault-value", VALUE] {
        let out = saker(
            &data,
            &writable,
            &["secret", "set", "company", "API_KEY"],
            Some(value),
        );
        let shown = text(&out);
        no_value(&shown);
        assert!(out.status.success(), "{shown}");
    }
    assert_eq!(
        vault.current_value("secret", "saker/main/company/API_KEY"),
        Some(serde_json::json!({"value": VALUE}))
    );
    let out = saker(
        &data,
        &writable,
        &["secret", "versions", "company", "API_KEY"],
        None,
    );
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    let rows: Vec<&str> = shown.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{shown}");
    assert!(rows[0].starts_with("2 (current)"), "{shown}");
    assert!(rows[1].starts_with('1'), "{shown}");

    let flow = dir.path().join("flow.yml");
    std::fs::write(&flow, FLOW).unwrap();
    let read_only = write_config(dir.path(), "ro.yml", &section(true));
    let out = saker(
        &data,
        &read_only,
        &["flow", "run", flow.to_str().unwrap()],
        None,
    );
    let shown = text(&out);
    no_value(&shown);
    assert!(shown.contains("check inherited"), "{shown}");
    let out = saker(
        &data,
        &read_only,
        &["secret", "set", "company", "API_KEY"],
        Some("x-y-z-w"),
    );
    let shown = text(&out);
    assert!(!out.status.success(), "{shown}");
    assert!(shown.contains("read-only"), "{shown}");

    assert_no_plaintext(&data);
}
