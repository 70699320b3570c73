//! TLS to PostgreSQL (`sslmode`, `sslrootcert`) against real servers: one that takes TCP
//! connections with TLS only, with a certificate for `localhost` and `127.0.0.1` from a CA
//! made here (rcgen), and one without TLS. That TLS is in use is asked of the server
//! (`pg_stat_ssl`), not assumed.
//!
//! Each `#[test]` starts one cluster and runs its cases on it; a failing case is reported by
//! name and the others still run. The clusters trust every local user, so no URL here
//! carries a password.

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use common::pg::{self, PgCluster};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use saker_store::{PgStore, Store, StoreError};

/// Files and addresses a case needs.
struct Env {
    port: u16,
    /// The CA that signed the server's certificate.
    ca: PathBuf,
    /// A CA that signed nothing the server has.
    other_ca: PathBuf,
    dir: PathBuf,
}

impl Env {
    /// A URL for the test database on `host` with `query` (may be empty).
    fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres@{host}:{}/tls?{query}", self.port)
    }
}

/// A CA certificate (PEM) and its issuer, named `name`.
fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), Issuer::new(params, key))
}

/// A server certificate for `names` signed by `issuer`, and its key, both PEM.
fn server_cert(names: &[&str], issuer: &Issuer<'_, KeyPair>) -> (String, String) {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "saker test server");
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Connects, round-trips a flow and asks the server whether the session is encrypted.
fn connects_encrypted(url: &str) {
    let store = PgStore::connect(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    let id = format!("f{}", std::process::id());
    store.save_flow("main", "tls", &id, "id: f").unwrap();
    let flow = store.get_flow("main", "tls", &id, None).unwrap().unwrap();
    assert_eq!(flow.source, "id: f");
    assert!(
        store.connection_is_encrypted().unwrap(),
        "{url}: not encrypted"
    );
}

/// The message of the [`StoreError::Connect`] that connecting to `url` fails with.
fn connect_error(url: &str) -> String {
    match PgStore::connect(url) {
        Ok(_) => panic!("{url}: connected"),
        Err(err @ StoreError::Connect { .. }) => err.to_string(),
        Err(other) => panic!("{url}: not a connection error: {other}"),
    }
}

fn assert_contains(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }
}

#[test]
fn tls_modes_against_a_tls_only_server() {
    let files = tempfile::tempdir().unwrap();
    let (ca_pem, issuer) = ca("Saker test CA");
    let (other_pem, _) = ca("Some other CA");
    let (cert, key) = server_cert(&["localhost", "127.0.0.1"], &issuer);
    let started = Instant::now();
    let cluster = PgCluster::start_tls(&cert, &key);
    eprintln!("cluster started in {:?}", started.elapsed());
    cluster.create_database("tls");
    let env = Env {
        port: cluster.port(),
        ca: write(files.path(), "ca.pem", &ca_pem),
        other_ca: write(files.path(), "other-ca.pem", &other_pem),
        dir: files.path().to_owned(),
    };
    pg::run_cases(
        &[
            (
                "verify_full_to_localhost_round_trips_a_flow",
                verify_full_to_localhost_round_trips_a_flow,
            ),
            (
                "verify_full_to_an_ip_address_in_the_certificate",
                verify_full_to_an_ip_address_in_the_certificate,
            ),
            (
                "verify_full_in_key_value_form",
                verify_full_in_key_value_form,
            ),
            (
                "another_ca_is_refused_naming_sslrootcert",
                another_ca_is_refused_naming_sslrootcert,
            ),
            (
                "a_host_name_not_in_the_certificate_fails_only_verify_full",
                a_host_name_not_in_the_certificate_fails_only_verify_full,
            ),
            (
                "the_verify_modes_default_to_the_public_cas",
                the_verify_modes_default_to_the_public_cas,
            ),
            (
                "require_encrypts_without_verifying",
                require_encrypts_without_verifying,
            ),
            (
                "prefer_and_allow_use_tls_when_offered",
                prefer_and_allow_use_tls_when_offered,
            ),
            (
                "disable_is_refused_by_a_tls_only_server",
                disable_is_refused_by_a_tls_only_server,
            ),
            (
                "bad_settings_are_named_before_connecting",
                bad_settings_are_named_before_connecting,
            ),
        ],
        |_| &env,
    );
}

fn verify_full_to_localhost_round_trips_a_flow(env: &Env) {
    let query = format!("sslmode=verify-full&sslrootcert={}", env.ca.display());
    connects_encrypted(&env.url("localhost", &query));
}

fn verify_full_to_an_ip_address_in_the_certificate(env: &Env) {
    let query = format!(
        "connect_timeout=5&sslmode=verify-full&sslrootcert={}",
        env.ca.display()
    );
    connects_encrypted(&env.url("127.0.0.1", &query));
}

fn verify_full_in_key_value_form(env: &Env) {
    connects_encrypted(&format!(
        "host=localhost port={} user=postgres dbname=tls sslmode=verify-full sslrootcert='{}'",
        env.port,
        env.ca.display()
    ));
}

/// The lesser modes verify the chain too when sslrootcert is given (libpq's behaviour).
fn another_ca_is_refused_naming_sslrootcert(env: &Env) {
    let other = env.other_ca.display().to_string();
    for mode in ["verify-full", "verify-ca", "require", "prefer"] {
        let query = format!("sslmode={mode}&sslrootcert={other}");
        let message = connect_error(&env.url("localhost", &query));
        assert_contains(
            &message,
            &[
                &format!("sslmode={mode}: the server's certificate is not signed by a CA"),
                &format!("sslrootcert={other}"),
            ],
        );
    }
}

/// `hostaddr` reaches the server under a name its certificate does not list.
fn a_host_name_not_in_the_certificate_fails_only_verify_full(env: &Env) {
    let query = |mode: &str| {
        format!(
            "hostaddr=127.0.0.1&sslmode={mode}&sslrootcert={}",
            env.ca.display()
        )
    };
    let message = connect_error(&env.url("db.not-in-cert.invalid", &query("verify-full")));
    assert_contains(
        &message,
        &[
            "sslmode=verify-full: the server's certificate does not name the host",
            "db.not-in-cert.invalid",
            "sslmode=verify-ca",
        ],
    );
    connects_encrypted(&env.url("db.not-in-cert.invalid", &query("verify-ca")));
}

fn the_verify_modes_default_to_the_public_cas(env: &Env) {
    for query in [
        "sslmode=verify-full",
        "sslmode=verify-ca&sslrootcert=system",
    ] {
        let message = connect_error(&env.url("localhost", query));
        assert_contains(
            &message,
            &[
                "the server's certificate is not signed by a public CA",
                "sslrootcert",
            ],
        );
    }
}

fn require_encrypts_without_verifying(env: &Env) {
    // Neither the CA nor the name (the address is not in the certificate under this name)
    // is checked.
    connects_encrypted(&env.url("localhost", "sslmode=require"));
    connects_encrypted(&env.url(
        "db.not-in-cert.invalid",
        "hostaddr=127.0.0.1&sslmode=require",
    ));
}

fn prefer_and_allow_use_tls_when_offered(env: &Env) {
    connects_encrypted(&env.url("localhost", ""));
    connects_encrypted(&env.url("127.0.0.1", "sslmode=prefer"));
    connects_encrypted(&env.url("127.0.0.1", "sslmode=allow"));
    // With the right CA, prefer verifies the chain and still connects.
    let query = format!("sslmode=prefer&sslrootcert={}", env.ca.display());
    connects_encrypted(&env.url("127.0.0.1", &query));
}

fn disable_is_refused_by_a_tls_only_server(env: &Env) {
    let message = connect_error(&env.url("localhost", "sslmode=disable"));
    assert_contains(
        &message,
        &[
            "pg_hba.conf rejects connection",
            "no encryption",
            "sslmode=verify-full",
        ],
    );
}

fn bad_settings_are_named_before_connecting(env: &Env) {
    let message = connect_error(&env.url("localhost", "sslmode=verify"));
    assert_contains(
        &message,
        &["sslmode=verify is not a valid mode", "verify-full"],
    );

    let missing = env.dir.join("missing.pem");
    let message = connect_error(&env.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", missing.display()),
    ));
    assert_contains(
        &message,
        &[&format!("sslrootcert={} cannot be read", missing.display())],
    );

    let empty = write(&env.dir, "empty.pem", "");
    let not_a_cert = write(
        &env.dir,
        "key.pem",
        &KeyPair::generate().unwrap().serialize_pem(),
    );
    for path in [empty, not_a_cert] {
        let message = connect_error(&env.url(
            "localhost",
            &format!("sslmode=require&sslrootcert={}", path.display()),
        ));
        assert_contains(
            &message,
            &[&format!(
                "sslmode=require: sslrootcert={} holds no certificate",
                path.display()
            )],
        );
    }

    let message = connect_error(&env.url("localhost", "sslcert=client.pem"));
    assert_contains(&message, &["sslcert is not supported"]);
}

#[test]
fn tls_modes_against_a_server_without_tls() {
    let files = tempfile::tempdir().unwrap();
    let (ca_pem, _) = ca("Saker test CA");
    let cluster = PgCluster::start();
    cluster.create_database("tls");
    let env = Env {
        port: cluster.port(),
        ca: write(files.path(), "ca.pem", &ca_pem),
        other_ca: PathBuf::new(),
        dir: files.path().to_owned(),
    };
    pg::run_cases(
        &[
            ("prefer_connects_in_plaintext", prefer_connects_in_plaintext),
            (
                "the_mandatory_modes_are_refused_clearly",
                the_mandatory_modes_are_refused_clearly,
            ),
        ],
        |_| &env,
    );
}

fn prefer_connects_in_plaintext(env: &Env) {
    for query in ["", "sslmode=prefer", "sslmode=allow", "sslmode=disable"] {
        let url = env.url("localhost", query);
        let store = PgStore::connect(&url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(!store.connection_is_encrypted().unwrap(), "{url}");
    }
}

fn the_mandatory_modes_are_refused_clearly(env: &Env) {
    for mode in ["require", "verify-ca", "verify-full"] {
        let query = format!("sslmode={mode}&sslrootcert={}", env.ca.display());
        let message = connect_error(&env.url("localhost", &query));
        assert_contains(
            &message,
            &[&format!(
                "sslmode={mode} requires TLS, but the server does not accept TLS connections"
            )],
        );
    }
}
