//! The Google Secret Manager and Azure Key Vault backends through the real binary, against
//! the test servers of the secrets crate's tests (run in this test process; Azure's over
//! HTTPS with a CA file): `saker secret set` writes under Saker's layout, a second set is a
//! second version, a flow of a child namespace resolves the value by inheritance,
//! `secret.read-only` refuses the same write with "read-only" and still resolves, a backend
//! that is down fails closed naming the backend and the key, and the value never reaches the
//! data directory.

#[allow(dead_code)] // this file uses part of the test server
#[path = "../../secrets/tests/azure/server.rs"]
mod azure_server;
#[allow(dead_code)] // this file uses part of the test server
#[path = "../../secrets/tests/gcp/server.rs"]
mod gcp_server;

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const VALUE: &str = "cloud-e2e-value-7f3a91c2";

const FLOW: &str = "id: f\nnamespace: company.team\ntasks:\n  - id: check\n    type: \
    io.kestra.plugin.scripts.shell.Commands\n    env:\n      V: \"{{ secret('API_KEY') }}\"\n    \
    commands:\n      - 'if [ \"${V%-7f3a91c2}\" = cloud-e2e-value ]; then echo inherited; \
    else echo other; fi'\n";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn saker(
    data: &Path,
    config: &Path,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: Option<&str>,
) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_saker"));
    command
        .args(args)
        .env("SAKER_DATA_DIR", data)
        .env("SAKER_CONFIG", config)
        .env_remove("SAKER_SECRET_TYPE")
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
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

/// Every file's bytes under `dir` without the value.
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

/// The shared path: set twice, versions, inheritance, read-only, outage, no plaintext.
/// `config(read_only, endpoint)` writes the configuration; `stored()` reads what the
/// service holds under Saker's name.
fn set_versions_inherit_read_only_and_outage(
    dir: &Path,
    backend: &str,
    env: &[(&str, &str)],
    config: &dyn Fn(&Path, bool, Option<&str>) -> std::path::PathBuf,
    stored: &dyn Fn() -> Option<String>,
) {
    let data = dir.join("data");
    let writable = config(dir, false, None);
    for value in ["first-cloud-value", VALUE] {
        let out = saker(
            &data,
            &writable,
            env,
            &["secret", "set", "company", "API_KEY"],
            Some(value),
        );
        let shown = text(&out);
        no_value(&shown);
        assert!(out.status.success(), "{shown}");
    }
    assert!(
        stored().as_deref() == Some(VALUE),
        "the service holds another value"
    );
    let out = saker(
        &data,
        &writable,
        env,
        &["secret", "versions", "company", "API_KEY"],
        None,
    );
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    let rows: Vec<&str> = shown.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{shown}");
    assert!(rows[0].starts_with("2 (current)"), "{shown}");

    let flow = dir.join("flow.yml");
    std::fs::write(&flow, FLOW).unwrap();
    let out = saker(
        &data,
        &writable,
        env,
        &["flow", "run", flow.to_str().unwrap()],
        None,
    );
    let shown = text(&out);
    no_value(&shown);
    assert!(shown.contains("check inherited"), "{shown}");

    let out = saker(&data, &writable, env, &["secret", "list", "company"], None);
    let shown = text(&out);
    assert!(out.status.success() && shown.contains("API_KEY"), "{shown}");

    let read_only = config(dir, true, None);
    let out = saker(
        &data,
        &read_only,
        env,
        &["secret", "set", "company", "API_KEY"],
        Some("x-y-z-w"),
    );
    let shown = text(&out);
    assert!(!out.status.success(), "{shown}");
    assert!(shown.contains("read-only"), "{shown}");
    let out = saker(
        &data,
        &read_only,
        env,
        &["flow", "run", flow.to_str().unwrap()],
        None,
    );
    assert!(text(&out).contains("check inherited"), "{}", text(&out));

    let closed = format!("http://127.0.0.1:{}", free_port());
    let down = config(dir, false, Some(&closed));
    let out = saker(
        &data,
        &down,
        env,
        &["flow", "run", flow.to_str().unwrap()],
        None,
    );
    let shown = text(&out);
    no_value(&shown);
    assert!(!shown.contains("check inherited"), "{shown}");
    assert!(shown.contains(backend), "{shown}");
    assert!(shown.contains("API_KEY"), "{shown}");

    let out = saker(
        &data,
        &writable,
        env,
        &["secret", "delete", "company", "API_KEY"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = saker(
        &data,
        &writable,
        env,
        &["flow", "run", flow.to_str().unwrap()],
        None,
    );
    assert!(!text(&out).contains("check inherited"), "{}", text(&out));

    assert_no_plaintext(&data);
}

#[test]
fn google_secret_manager_through_the_binary() {
    let gcp = gcp_server::GcpServer::start();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("service-account.json");
    std::fs::write(&key_file, gcp.service_account_json()).unwrap();
    let key_path = key_file.display().to_string();
    let address = gcp.address.clone();
    let config = move |dir: &Path, read_only: bool, endpoint: Option<&str>| {
        let path = dir.join(format!("gcp-{read_only}-{}.yml", endpoint.is_some()));
        std::fs::write(
            &path,
            format!(
                "saker:\n  secret:\n    type: google-secret-manager\n    read-only: {read_only}\n    \
                 google-secret-manager:\n      project: {}\n      prefix: saker-e2e\n      \
                 endpoint: {}\n      tags:\n        application: saker-test\n",
                gcp_server::PROJECT,
                endpoint.unwrap_or(&address)
            ),
        )
        .unwrap();
        path
    };
    let id = "saker-e2e--main--company--API_KEY";
    set_versions_inherit_read_only_and_outage(
        dir.path(),
        "google-secret-manager",
        &[("GOOGLE_APPLICATION_CREDENTIALS", &key_path)],
        &config,
        &|| gcp.latest_value(id),
    );
    let (labels, annotations) = gcp.labels_and_annotations(id).unwrap();
    assert_eq!(labels["application"], "saker-test");
    assert_eq!(annotations["saker-namespace"], "company");
}

#[test]
fn azure_key_vault_through_the_binary() {
    let azure = azure_server::AzureServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &azure.ca_pem).unwrap();
    let ca_path = ca_file.display().to_string();
    let address = azure.address.clone();
    let config = move |dir: &Path, read_only: bool, endpoint: Option<&str>| {
        let path = dir.join(format!("azure-{read_only}-{}.yml", endpoint.is_some()));
        std::fs::write(
            &path,
            format!(
                "saker:\n  secret:\n    type: azure-key-vault\n    readOnly: {read_only}\n    \
                 azureKeyVault:\n      clientSecret:\n        tenantId: {}\n        clientId: {}\n        \
                 clientSecret: {}\n      keyVaultUri: {}\n      authority: {address}\n      \
                 caFile: {ca_path}\n      prefix: saker-e2e\n      tags:\n        application: saker-test\n",
                azure_server::TENANT_ID,
                azure_server::CLIENT_ID,
                azure_server::CLIENT_SECRET,
                endpoint.unwrap_or(&address),
            ),
        )
        .unwrap();
        path
    };
    let name = "saker-e2e--main--company---uapi-5fkey";
    set_versions_inherit_read_only_and_outage(dir.path(), "azure-key-vault", &[], &config, &|| {
        azure.current(name).map(|(value, _)| value)
    });
    // The delete at the end is Key Vault's soft delete.
    assert!(azure.is_deleted(name));
}
