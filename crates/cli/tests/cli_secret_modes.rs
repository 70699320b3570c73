//! Issue 15's cross-cutting secret modes through the real binary: `saker secret migrate`
//! from the built-in jdbc store to the Vault test server and to moto (every tenant and
//! namespace copied, audited per key, values never printed, a second run skipping what was
//! copied, an interrupted run finished by running it again), and Kestra's read-only Vault
//! layout read by a flow with `secret('api', subkey='API_TOKEN')`, the field masked.

#[path = "../../secrets/tests/moto/peer.rs"]
mod moto_peer;
#[allow(dead_code)] // this file uses part of the test server
#[path = "../../secrets/tests/vault/server.rs"]
mod vault_server;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::json;

/// Values set in the jdbc store: tenant, namespace, key, value.
const SECRETS: [(&str, &str, &str, &str); 3] = [
    ("main", "company", "API_KEY", "migrated-api-key-4d2f"),
    (
        "main",
        "company.team",
        "DB_PASSWORD",
        "migrated-db-pass-8e1a",
    ),
    ("other", "sales", "TOKEN", "migrated-token-b7c3"),
];

fn run(data: &Path, config: Option<&Path>, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_saker"));
    command
        .args(args)
        .env("SAKER_DATA_DIR", data)
        .env_remove("SAKER_CONFIG")
        .env_remove("SAKER_SECRET_TYPE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(config) = config {
        command.env("SAKER_CONFIG", config);
    }
    let mut child = command.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

/// stdout and stderr, checked to hold none of the values.
fn shown(output: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for (.., value) in SECRETS {
        assert!(!text.contains(value), "a secret value was printed");
    }
    text
}

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The jdbc store of `data` with [`SECRETS`].
fn seed_jdbc(data: &Path) {
    for (tenant, namespace, key, value) in SECRETS {
        let out = run(
            data,
            None,
            &["secret", "set", namespace, key, "--tenant", tenant],
            Some(value),
        );
        assert!(out.status.success(), "{}", shown(&out));
    }
}

fn migrate(data: &Path, to: &Path, progress: &Path) -> (bool, String) {
    let out = run(
        data,
        None,
        &[
            "secret",
            "migrate",
            "--from",
            "jdbc",
            "--to",
            to.to_str().unwrap(),
            "--progress",
            progress.to_str().unwrap(),
        ],
        None,
    );
    (out.status.success(), shown(&out))
}

#[test]
fn migrate_jdbc_to_vault_audited_and_resumable() {
    let vault = vault_server::VaultServer::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed_jdbc(&data);
    let to = write_file(
        dir.path(),
        "vault.yml",
        &format!(
            "saker:\n  secret:\n    type: vault\n    vault:\n      address: {}\n      \
             token:\n        token: {}\n      secret-path-prefix: saker\n",
            vault.address,
            vault_server::ROOT_TOKEN
        ),
    );
    let progress = dir.path().join("progress");
    let (ok, text) = migrate(&data, &to, &progress);
    assert!(ok, "{text}");
    assert!(
        text.contains("copied 3, already copied 0, failed 0"),
        "{text}"
    );
    for (tenant, namespace, key, value) in SECRETS {
        assert!(
            vault.current_value("secret", &format!("saker/{tenant}/{namespace}/{key}"))
                == Some(json!({"value": value})),
            "{tenant}/{namespace}/{key} is not in Vault with its value"
        );
    }
    // Each key's read and write are in the audit trail.
    let out = run(
        &data,
        None,
        &["audit", "list", "--key", "DB_PASSWORD"],
        None,
    );
    let audit = shown(&out);
    assert!(audit.contains("exported for migration"), "{audit}");
    assert!(
        audit.lines().filter(|l| l.contains("write")).count() >= 1,
        "{audit}"
    );

    // The progress file names what was copied, never a value.
    let recorded = std::fs::read_to_string(&progress).unwrap();
    assert_eq!(recorded.lines().count(), 3);
    for (.., value) in SECRETS {
        assert!(!recorded.contains(value), "the progress file holds a value");
    }

    // Run again: nothing to do.
    let (ok, text) = migrate(&data, &to, &progress);
    assert!(ok, "{text}");
    assert!(
        text.contains("copied 0, already copied 3, failed 0"),
        "{text}"
    );

    // A run cut short after its first copy (the progress file lost its other lines, the last
    // one cut mid-way) and a value changed since: the next run copies exactly what is left.
    let lines: Vec<String> = std::fs::read_to_string(&progress)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    std::fs::write(&progress, format!("{}\n{{\"tenant\":\"ma", lines[0])).unwrap();
    let out = run(
        &data,
        None,
        &["secret", "set", "company", "API_KEY"],
        Some("migrated-api-key-4d2f"),
    );
    assert!(out.status.success(), "{}", shown(&out));
    let (ok, text) = migrate(&data, &to, &progress);
    assert!(ok, "{text}");
    assert!(
        text.contains("copied 3, already copied 0, failed 0"),
        "{text}"
    );
    let (ok, text) = migrate(&data, &to, &progress);
    assert!(ok && text.contains("copied 0, already copied 3"), "{text}");
}

#[test]
fn migrate_jdbc_to_moto_then_a_flow_resolves_from_aws() {
    let Some(moto) = moto_peer::moto() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed_jdbc(&data);
    let aws = write_file(
        dir.path(),
        "aws.yml",
        &format!(
            "saker:\n  secret:\n    type: aws-secret-manager\n    aws-secret-manager:\n      \
             accessKeyId: testing\n      secretKeyId: testing\n      region: us-east-1\n      \
             prefix: migrated\n      endpointOverride: {}\n",
            moto.endpoint
        ),
    );
    let progress = dir.path().join("progress");
    let (ok, text) = migrate(&data, &aws, &progress);
    assert!(ok, "{text}");
    assert!(
        text.contains("copied 3, already copied 0, failed 0"),
        "{text}"
    );
    let (ok, text) = migrate(&data, &aws, &progress);
    assert!(ok && text.contains("copied 0, already copied 3"), "{text}");

    // The copy is what a flow now reads, from AWS, by inheritance.
    let flow = write_file(
        dir.path(),
        "flow.yml",
        "id: f\nnamespace: company.team\ntasks:\n  - id: check\n    type: \
         io.kestra.plugin.scripts.shell.Commands\n    env:\n      V: \"{{ secret('API_KEY') }}\"\n    \
         commands:\n      - 'if [ \"${V%-4d2f}\" = migrated-api-key ]; then echo from-aws; \
         else echo other; fi'\n",
    );
    let out = run(
        &data,
        Some(&aws),
        &["flow", "run", flow.to_str().unwrap()],
        None,
    );
    let text = shown(&out);
    assert!(text.contains("from-aws"), "{text}");
}

#[test]
fn a_flow_reads_one_field_of_a_read_only_vault_secret() {
    let vault = vault_server::VaultServer::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // As Vault's own tools write it: one secret, several fields, under `app1/`.
    let status = runtime.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/v1/secret/data/app1/api", vault.address))
            .header("X-Vault-Token", vault_server::ROOT_TOKEN)
            .body(
                json!({"data": {"API_TOKEN": "api-token-5521zz", "OTHER": "other-field-9"}})
                    .to_string(),
            )
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(status.is_success());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_file(
        dir.path(),
        "vault.yml",
        &format!(
            "kestra:\n  secret:\n    type: vault\n    read-only: true\n    vault:\n      \
             address: {}\n      root-engine: secret\n      secret-path-prefix: app1\n      \
             token:\n        token: {}\n",
            vault.address,
            vault_server::ROOT_TOKEN
        ),
    );
    let flow = write_file(
        dir.path(),
        "flow.yml",
        "id: sub\nnamespace: company.team\ntasks:\n  - id: log\n    type: \
         io.kestra.plugin.core.log.Log\n    message: \"token {{ secret('api', subkey='API_TOKEN') }}\"\n  \
         - id: check\n    type: io.kestra.plugin.scripts.shell.Commands\n    env:\n      \
         T: \"{{ secret('api', subkey='API_TOKEN') }}\"\n    commands:\n      - 'if [ \
         \"${T%-5521zz}\" = api-token ]; then echo subkey-ok; else echo other; fi'\n      \
         - 'echo \"$T\"'\n",
    );
    let out = run(
        &data,
        Some(&config),
        &["flow", "run", flow.to_str().unwrap()],
        None,
    );
    let text = shown(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("subkey-ok"), "{text}");
    assert!(text.contains("token ****"), "{text}");
    assert!(
        !text.contains("api-token-5521zz") && !text.contains("other-field-9"),
        "a field of the secret was printed"
    );
    // A field the secret does not have is an error naming the field, never the value.
    let missing = write_file(
        dir.path(),
        "missing.yml",
        "id: missing\nnamespace: company\ntasks:\n  - id: log\n    type: \
         io.kestra.plugin.core.log.Log\n    message: \"{{ secret('api', subkey='NOPE') }}\"\n",
    );
    let out = run(
        &data,
        Some(&config),
        &["flow", "run", missing.to_str().unwrap()],
        None,
    );
    let text = shown(&out);
    assert!(text.contains("cannot find sub-key 'NOPE'"), "{text}");
    assert!(!text.contains("api-token-5521zz") && !text.contains("other-field-9"));
}
