//! Secrets used by flows and templates through the real binary: inheritance between
//! namespaces, the seed's `jq` example, the env backend, and `expr render` with a data
//! directory. Values go in through stdin pipes (never argv) and are never printed by a
//! failing assertion.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn saker(data: &Path, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_saker"));
    cmd.args(args)
        .env("SAKER_DATA_DIR", data)
        .env_remove("SAKER_CONFIG")
        .env_remove("SAKER_SECRET_TYPE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn flow_file(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn a_flow_uses_a_parent_secret_and_the_nearest_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let set = |ns: &str, value: &str| {
        let out = saker(
            &data,
            &["secret", "set", ns, "DB_PASSWORD"],
            Some(value),
            &[],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    let flow = flow_file(
        dir.path(),
        "f.yml",
        "id: f\nnamespace: company.team\ntasks:\n  - id: check\n    type: io.kestra.plugin.scripts.shell.Commands\n    env:\n      PW: \"{{ secret('DB_PASSWORD') }}\"\n    commands:\n      - 'if [ \"$PW\" = from-company-level ]; then echo parent; elif [ \"$PW\" = from-team-level ]; then echo child; else echo other; fi'\n",
    );
    set("company", "from-company-level");
    let out = saker(&data, &["flow", "run", flow.to_str().unwrap()], None, &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("INFO  check parent"), "{stdout}");

    set("company.team", "from-team-level");
    let out = saker(&data, &["flow", "run", flow.to_str().unwrap()], None, &[]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("INFO  check child"), "{stdout}");
    assert!(!stdout.contains("from-team-level") && !stdout.contains("from-company-level"));

    // Every read by the flow is in the audit trail, with the execution, without the value.
    let out = saker(&data, &["audit", "list", "--key", "DB_PASSWORD"], None, &[]);
    let audit = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(audit.to_lowercase().contains("read"), "{audit}");
    assert!(!audit.contains("from-team-level"));
}

#[test]
fn the_seeds_jq_example_logs_stars() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = saker(
        &data,
        &["secret", "set", "company.team", "jsonSecret"],
        Some(r#"{"token":"SUPER_SECRET_TOKEN_123"}"#),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/secret-jq.yml");
    let out = saker(
        &data,
        &["flow", "run", example.to_str().unwrap()],
        None,
        &[],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("You can see my secret token ****"),
        "{stdout}"
    );
    assert!(!stdout.contains("SUPER_SECRET_TOKEN_123"));
}

#[test]
fn the_env_backend_reads_secret_variables_as_in_seed_002() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flow = flow_file(
        dir.path(),
        "f.yml",
        "id: f\nnamespace: company.team\ntasks:\n  - id: check\n    type: io.kestra.plugin.scripts.shell.Commands\n    env:\n      PW: \"{{ secret('MYPASSWORD') }}\"\n    commands:\n      - '[ \"$PW\" = myPrivateCode ] && echo decoded'\n      - echo \"$PW\"\n",
    );
    let env = [
        ("SAKER_SECRET_TYPE", "env"),
        ("SECRET_MYPASSWORD", "bXlQcml2YXRlQ29kZQ=="),
    ];
    let out = saker(&data, &["flow", "run", flow.to_str().unwrap()], None, &env);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("INFO  check decoded"), "{stdout}");
    assert!(stdout.contains("INFO  check ****"), "{stdout}");
    assert!(!stdout.contains("myPrivateCode"));
}

#[test]
fn expr_render_resolves_secrets_of_the_data_directory_tainted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = saker(
        &data,
        &["secret", "set", "company", "A"],
        Some(r#"{"token":"tok-en-value"}"#),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let template = "{{ secret('A') | jq('.token') | first | upper }}";
    let out = saker(
        &data,
        &["expr", "render", template, "--namespace", "company.team"],
        None,
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "****\n");
    let out = saker(
        &data,
        &[
            "expr",
            "render",
            template,
            "--namespace",
            "company.team",
            "--reveal",
        ],
        None,
        &[],
    );
    assert_eq!(text(&out.stdout), "TOK-EN-VALUE\n");
    let out = saker(
        &data,
        &[
            "expr",
            "render",
            "{{ secret('NOPE') }}",
            "--namespace",
            "company.team",
        ],
        None,
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("secret 'NOPE' not found in company.team, company"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_bad_encryption_key_stops_start_up_naming_the_key_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello.yml");
    let out = saker(
        &data,
        &["flow", "run", example.to_str().unwrap()],
        None,
        &[("SAKER_ENCRYPTION_SECRET_KEY", "dG9vLXNob3J0")],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("encryption.secret-key"), "{stderr}");
    assert!(stderr.contains("openssl rand -base64 32"), "{stderr}");
    assert!(!stderr.contains("dG9vLXNob3J0"), "{stderr}");
}

#[test]
fn isolation_denies_the_worker_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = saker(
        &data,
        &["secret", "set", "company", "TOKEN"],
        Some("isolated-value-123"),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config = flow_file(
        dir.path(),
        "saker.yml",
        "saker:\n  secret:\n    isolation:\n      enabled: true\n      denied-services: [WORKER]\n",
    );
    let flow = flow_file(
        dir.path(),
        "f.yml",
        "id: f\nnamespace: company.team\ntasks:\n  - id: use\n    type: Log\n    message: \"{{ secret('TOKEN') }}\"\n",
    );
    let out = saker(
        &data,
        &[
            "--config",
            config.to_str().unwrap(),
            "flow",
            "run",
            flow.to_str().unwrap(),
        ],
        None,
        &[],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("WORKER"), "{stdout}");
    assert!(stdout.contains("isolation"), "{stdout}");
    assert!(!stdout.contains("isolated-value-123"));
    let out = saker(&data, &["audit", "list", "--key", "TOKEN"], None, &[]);
    let audit = text(&out.stdout).to_lowercase();
    assert!(audit.contains("denied"), "{audit}");
}

#[test]
fn a_secret_close_to_expiry_warns_in_the_execution_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = saker(
        &data,
        &["secret", "set", "company", "SOON", "--expires-at", "2d"],
        Some("expiring-value-456"),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let flow = flow_file(
        dir.path(),
        "f.yml",
        "id: f\nnamespace: company.team\ntasks:\n  - id: use\n    type: Log\n    message: \"uses {{ secret('SOON') }}\"\n",
    );
    let out = saker(&data, &["flow", "run", flow.to_str().unwrap()], None, &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("WARN  use secret 'SOON' in company expires at"),
        "{stdout}"
    );
    assert!(stdout.contains("INFO  use uses ****"), "{stdout}");
}
