//! `io.kestra.plugin.fs.ssh.Command` against a real OpenSSH server the test starts on a free
//! port of 127.0.0.1 (its own host key and configuration): password and public-key logins
//! (the password, the key and its passphrase from `secret()`), the output protocol and line
//! counts, `env` reaching the remote commands, a failed remote command and a wrong password;
//! no secret in a log line, the execution or a stored byte, and no login file left in the
//! working directory for the next task.
//!
//! The peer: `scripts/peers/sshd.sh` exports `SAKER_SSHD`, `SAKER_SSH_USER` and
//! `SAKER_SSH_PASSWORD`; without them the tests say SKIPPED.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use saker_model::{Execution, StateType};

use common::data_dir::DataDir;

const KEY_PASSPHRASE: &str = "key-passphrase-Vw3Xn8Qd";
const WRONG: &str = "wrong-ssh-pass-Lm4Tz9";

struct Peer {
    sshd: std::path::PathBuf,
    user: String,
    password: String,
}

fn peer() -> Option<Peer> {
    Some(Peer {
        sshd: std::env::var_os("SAKER_SSHD")?.into(),
        user: std::env::var("SAKER_SSH_USER").ok()?,
        password: std::env::var("SAKER_SSH_PASSWORD").ok()?,
    })
}

macro_rules! peer_or_skip {
    () => {
        match peer() {
            Some(peer) => peer,
            None => {
                println!("SKIPPED: SAKER_SSHD is not set (source scripts/peers/sshd.sh)");
                return;
            }
        }
    };
}

/// A running sshd, stopped when dropped.
struct Server {
    _dir: tempfile::TempDir,
    _child: tokio::process::Child,
    port: u16,
    /// The client's private key (OpenSSH format, encrypted with `KEY_PASSPHRASE`).
    client_key: String,
}

fn keygen(path: &Path, passphrase: &str) {
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", passphrase, "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

async fn start_sshd(peer: &Peer) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // sshd reads authorized_keys as the logged-in user.
    std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    keygen(&d.join("host_key"), "");
    keygen(&d.join("client_key"), KEY_PASSPHRASE);
    std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
    std::fs::set_permissions(
        d.join("authorized_keys"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
         PasswordAuthentication yes\nKbdInteractiveAuthentication no\nUsePAM no\n\
         PubkeyAuthentication yes\nAuthorizedKeysFile {d}/authorized_keys\nStrictModes no\n\
         AllowUsers {user}\nAcceptEnv GREETING\nLogLevel ERROR\n",
        d = d.display(),
        user = peer.user
    );
    std::fs::write(d.join("sshd_config"), config).unwrap();
    let child = tokio::process::Command::new(&peer.sshd)
        .args(["-D", "-e", "-f"])
        .arg(d.join("sshd_config"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Ready once it accepts connections.
    let mut ready = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "sshd did not start on port {port}");
    let client_key = std::fs::read_to_string(d.join("client_key")).unwrap();
    Server {
        _dir: dir,
        _child: child,
        port,
        client_key,
    }
}

/// A task after the SSH task in its WorkingDirectory: outputs the names of the files left.
const LEFT: &str = r#"      - id: left
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo "::{\"outputs\":{\"files\":\"$(ls -A | tr '\n' ' ')\"}}::"
"#;

fn data_dir(peer: &Peer, server: &Server) -> DataDir {
    let secrets = common::KeyedSecrets::new([
        ("SSH_PASSWORD", peer.password.clone()),
        ("SSH_KEY", server.client_key.clone()),
        ("SSH_KEY_PASSPHRASE", KEY_PASSPHRASE.to_owned()),
        ("WRONG", WRONG.to_owned()),
    ]);
    DataDir::start(|dir, parts| {
        parts.secrets = Arc::new(secrets);
        parts.sealer = Some(common::data_dir::sealer());
        parts.storage = Some(common::data_dir::storage(dir));
    })
}

/// No `secret` in the log, the execution or any byte under the data directory.
fn assert_nowhere(data: &DataDir, done: &Execution, secret: &str) {
    let logs = data.messages(done).join("\n");
    assert!(!logs.contains(secret), "a log line holds it: {logs}");
    assert!(!serde_json::to_string(done).unwrap().contains(secret));
    for file in common::files_under(data.dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{} holds it",
            file.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_login_runs_the_commands_and_leaves_nothing_behind() {
    let peer = peer_or_skip!();
    let server = start_sshd(&peer).await;
    let data = data_dir(&peer, &server);
    let done = data
        .run_ok(&format!(
            r#"
id: ssh
namespace: company.team
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: remote
        type: io.kestra.plugin.fs.ssh.Command
        host: 127.0.0.1
        port: "{port}"
        authMethod: PASSWORD
        username: {user}
        password: "{{{{ secret('SSH_PASSWORD') }}}}"
        env:
          GREETING: hello-over-ssh
        commands:
          - echo "remote user $(whoami)"
          - echo "::{{\"outputs\":{{\"user\":\"$(whoami)\",\"greeting\":\"$GREETING\"}}}}::"
          - echo to-stderr >&2
{LEFT}  # The outputs of a task that was handed a secret are sealed: checked inside the flow.
  - id: check
    type: io.kestra.plugin.core.execution.Assert
    conditions:
      - "{{{{ outputs.remote.vars.user == '{user}' }}}}"
      - "{{{{ outputs.remote.vars.greeting == 'hello-over-ssh' }}}}"
"#,
            port = server.port,
            user = peer.user,
            LEFT = LEFT,
        ))
        .await;
    let outputs = &done.task_run("remote").unwrap().outputs;
    assert!(outputs["vars"]["user"].get("$sealed").is_some());
    assert_eq!(outputs["exitCode"], 0);
    assert_eq!(outputs["stdOutLineCount"], 2);
    assert_eq!(outputs["stdErrLineCount"], 1);
    let levels = data.levels(&done);
    assert!(
        levels
            .iter()
            .any(|(_, m)| m == &format!("remote user {}", peer.user)),
        "{levels:?}"
    );
    assert!(
        levels
            .iter()
            .any(|(l, m)| m == "to-stderr" && *l == saker_model::Level::Warn),
        "{levels:?}"
    );
    // The askpass program is gone before the next task.
    let left = &done.task_run("left").unwrap().outputs["vars"]["files"];
    assert!(!left.as_str().unwrap().contains(".saker-"), "{left}");
    assert_nowhere(&data, &done, &peer.password);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_with_a_passphrase_logs_in_and_neither_is_kept() {
    let peer = peer_or_skip!();
    let server = start_sshd(&peer).await;
    let data = data_dir(&peer, &server);
    let done = data
        .run_ok(&format!(
            r#"
id: ssh_key
namespace: company.team
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: remote
        type: io.kestra.plugin.fs.ssh.Command
        host: 127.0.0.1
        port: {port}
        authMethod: PUBLIC_KEY
        username: {user}
        privateKey: "{{{{ secret('SSH_KEY') }}}}"
        privateKeyPassphrase: "{{{{ secret('SSH_KEY_PASSPHRASE') }}}}"
        commands:
          - echo "::{{\"outputs\":{{\"user\":\"$(whoami)\"}}}}::"
{LEFT}  - id: check
    type: io.kestra.plugin.core.execution.Assert
    conditions:
      - "{{{{ outputs.remote.vars.user == '{user}' }}}}"
"#,
            port = server.port,
            user = peer.user,
            LEFT = LEFT,
        ))
        .await;
    let left = &done.task_run("left").unwrap().outputs["vars"]["files"];
    assert!(!left.as_str().unwrap().contains(".saker-"), "{left}");
    assert_nowhere(&data, &done, KEY_PASSPHRASE);
    // The key's body: its longest line.
    let body = server.client_key.lines().max_by_key(|l| l.len()).unwrap();
    assert_nowhere(&data, &done, body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_and_a_failing_command_fail_the_task() {
    let peer = peer_or_skip!();
    let server = start_sshd(&peer).await;
    let data = data_dir(&peer, &server);
    let done = data
        .run(&format!(
            r#"
id: ssh_fail
namespace: company.team
tasks:
  - id: wrong
    type: io.kestra.plugin.fs.ssh.Command
    host: 127.0.0.1
    port: "{port}"
    username: {user}
    password: "{{{{ secret('WRONG') }}}}"
    commands: [echo never]
    allowFailure: true
  - id: exit
    type: io.kestra.plugin.fs.ssh.Command
    host: 127.0.0.1
    port: "{port}"
    username: {user}
    password: "{{{{ secret('SSH_PASSWORD') }}}}"
    commands: [exit 3]
"#,
            port = server.port,
            user = peer.user,
        ))
        .await;
    assert_eq!(done.state.current, StateType::Failed);
    assert_eq!(
        done.task_run("wrong").unwrap().state.current,
        StateType::Warning
    );
    let logs = data.messages(&done).join("\n");
    assert!(
        logs.contains("ssh could not connect or log in (exit status 255)")
            && logs.contains("Permission denied"),
        "{logs}"
    );
    assert!(
        logs.contains("SSH command fails with exit status 3"),
        "{logs}"
    );
    assert_nowhere(&data, &done, WRONG);
    assert_nowhere(&data, &done, &peer.password);
}
