//! The elasticsearch, 1password and doppler secret backends through the real binary, each
//! against its test server from the secrets crate's tests (run in this test process):
//! `saker secret set` writes through Saker's layout, a flow in a child namespace resolves the
//! value by inheritance, `secret.read-only` refuses the same write with "read-only", and the
//! value never reaches the data directory (nor, for elasticsearch, the index in plaintext).

mod common;
#[path = "../../secrets/tests/servers/mod.rs"]
mod servers;

use std::path::Path;

use common::{saker_cli, write_config};

const VALUE: &str = "service-e2e-value-5c1d";

const FLOW: &str = "id: f\nnamespace: company.team\ntasks:\n  - id: check\n    type: \
    io.kestra.plugin.scripts.shell.Commands\n    env:\n      V: \"{{ secret('API_KEY') }}\"\n    \
    commands:\n      - 'if [ \"${V%-5c1d}\" = service-e2e-value ]; then echo inherited; \
    else echo other; fi'\n";

/// True when some file under `dir` holds the value.
fn plaintext_in(dir: &Path) -> Option<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .find(|e| {
            std::fs::read(e.path())
                .unwrap()
                .windows(VALUE.len())
                .any(|w| w == VALUE.as_bytes())
        })
        .map(|e| e.path().display().to_string())
}

/// Sets API_KEY in `company` with `section` as the backend, runs the flow of `company.team`,
/// then tries the write again read-only.
fn set_inherit_and_read_only(section: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config =
        |read_only: bool| format!("saker:\n  secret:\n    read-only: {read_only}\n{section}");
    let writable = write_config(dir.path(), &config(false));
    let (ok, out, err) = saker_cli(
        &data,
        &writable,
        &["secret", "set", "company", "API_KEY"],
        VALUE,
    );
    assert!(
        !out.contains(VALUE) && !err.contains(VALUE),
        "the value was printed"
    );
    assert!(ok, "{out}{err}");

    let flow = dir.path().join("flow.yml");
    std::fs::write(&flow, FLOW).unwrap();
    let (ok, out, err) = saker_cli(
        &data,
        &writable,
        &["flow", "run", flow.to_str().unwrap()],
        "",
    );
    assert!(
        !out.contains(VALUE) && !err.contains(VALUE),
        "the value was printed"
    );
    assert!(
        ok && format!("{out}{err}").contains("check inherited"),
        "{out}{err}"
    );

    let read_only = dir.path().join("ro.yml");
    std::fs::write(&read_only, config(true)).unwrap();
    let (ok, out, err) = saker_cli(
        &data,
        &read_only,
        &["secret", "set", "company", "API_KEY"],
        "another-value",
    );
    assert!(!ok, "{out}{err}");
    assert!(err.contains("read-only"), "{err}");
    assert_eq!(plaintext_in(&data), None, "plaintext in the data directory");
}

#[test]
fn elasticsearch_through_the_binary_keeps_only_ciphertext_in_the_index() {
    let es = servers::elasticsearch::EsServer::start(None);
    set_inherit_and_read_only(&format!(
        "    type: elasticsearch\n    elasticsearch:\n      hosts: {}\n      \
         secret: cli-passphrase-of-at-least-32-characters\n",
        es.address
    ));
    let index = serde_json::to_string(&es.documents("saker_secrets")).unwrap();
    assert!(index.contains("main/company/API_KEY/1"), "{index}");
    assert!(!index.contains(VALUE), "plaintext in the index");
}

#[test]
fn a_short_elasticsearch_secret_stops_the_binary_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "saker:\n  secret:\n    type: elasticsearch\n    elasticsearch:\n      \
         hosts: http://127.0.0.1:9\n      secret: short-secret-value\n",
    );
    let (ok, out, err) = saker_cli(
        &dir.path().join("data"),
        &config,
        &["secret", "list", "company"],
        "",
    );
    assert!(!ok, "{out}{err}");
    assert!(err.contains("secret.elasticsearch.secret"), "{err}");
    assert!(!err.contains("short-secret-value"), "{err}");
}

#[test]
fn onepassword_through_the_binary() {
    let connect = servers::onepassword::ConnectServer::start();
    set_inherit_and_read_only(&format!(
        "    type: 1password\n    1password:\n      address: {}\n      token: {}\n      \
         vaultId: {}\n",
        connect.address,
        servers::onepassword::TOKEN,
        servers::onepassword::VAULT
    ));
    assert!(connect.item("main/company/API_KEY").is_some());
}

#[test]
fn doppler_through_the_binary() {
    let doppler = servers::doppler::DopplerServer::start();
    set_inherit_and_read_only(&format!(
        "    type: doppler\n    doppler:\n      token: {}\n      project: {}\n      \
         config: {}\n      endpointOverride: {}\n",
        servers::doppler::TOKEN,
        servers::doppler::PROJECT,
        servers::doppler::CONFIG,
        doppler.address
    ));
    assert_eq!(
        doppler.raw("MAIN__COMPANY__API_UKEY").as_deref(),
        Some(VALUE)
    );
}
