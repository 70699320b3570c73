//! Building this process's secret service from configuration: the backend `secret.type`
//! names (`jdbc`, the default, `env`, or a remote one such as `aws-secret-manager`), made
//! read-only by `secret.read-only`, the jdbc store's keys, and the audit trail in the
//! repository database. Every caller (the engine's worker and executor, `expr render`, the
//! `secret` commands) gets its service here, naming its own role.
//!
//! Keys of the jdbc store, in order:
//! * it seals with `secret.jdbc.secret` when set, else with the `encryption.secret-key`
//!   keyring (generated once into the data directory when nothing is configured, see
//!   [`App::keyring`]);
//! * it still opens values sealed under `secret.jdbc.previous-secrets` and, when
//!   `secret.jdbc.secret` is set, under the encryption key, so that moving from one to the
//!   other is `saker secret rekey` away.

use std::ffi::OsString;
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use saker_crypto::{Keyring, SecretKey};
use saker_secrets::{
    BackendKind, BackendSettings, EnvSecretStore, JdbcSecretStore, SecretConfig, SecretService,
    SecretStore, Service,
};
use saker_store::Database;

use crate::app::App;

/// The secret service of role `service`, over the configured backend, auditing into `store`.
pub fn open_secret_service(
    app: &App,
    store: Arc<dyn Database>,
    service: Service,
) -> anyhow::Result<SecretService> {
    open_with(app, store, service, std::env::vars_os(), None)
}

/// The validated `secret:` section.
pub fn secret_config(app: &App) -> anyhow::Result<SecretConfig> {
    let section = app
        .config
        .get("secret")
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    SecretConfig::from_value(section).map_err(|err| anyhow!("invalid configuration: {err}"))
}

/// [`open_secret_service`] with the environment to read `SECRET_*` variables from, and for
/// `saker secret rekey --new-key-file`, a new primary key that makes the configured one an
/// older key.
pub(crate) fn open_with(
    app: &App,
    store: Arc<dyn Database>,
    service: Service,
    env: impl IntoIterator<Item = (OsString, OsString)>,
    new_key: Option<SecretKey>,
) -> anyhow::Result<SecretService> {
    let config = secret_config(app)?;
    let service = service_for(app, &config, store.clone(), service, env, new_key)?;
    // Namespaces may have backends of their own, sealed with the instance key.
    let keyring = app
        .keyring(true)?
        .context("no encryption key could be set up for namespace secret backends")?;
    Ok(service.with_namespace_backends(BackendSettings {
        rows: store,
        keyring,
    }))
}

/// The secret service of role `service` over the backend `config` describes, which need not
/// be this process's own `secret:` (`saker secret migrate` opens two).
pub(crate) fn service_for(
    app: &App,
    config: &SecretConfig,
    store: Arc<dyn Database>,
    service: Service,
    env: impl IntoIterator<Item = (OsString, OsString)>,
    new_key: Option<SecretKey>,
) -> anyhow::Result<SecretService> {
    let backend: Arc<dyn SecretStore> = match config.backend {
        BackendKind::Jdbc => Arc::new(jdbc_store(app, config, store.clone(), new_key)?),
        BackendKind::Env => {
            if new_key.is_some() {
                bail!(
                    "secret.type is env: its values live in SECRET_* variables, there is \
                     nothing to re-encrypt"
                );
            }
            let env = EnvSecretStore::from_vars(env);
            for warning in env.warnings() {
                eprintln!("warning: {warning}");
            }
            Arc::new(env)
        }
        _ => {
            if new_key.is_some() {
                bail!(
                    "secret.type is {}: its values are kept and encrypted by that system, \
                     there is nothing for Saker to re-encrypt",
                    config.backend
                );
            }
            saker_secrets::open_remote(config)?
        }
    };
    let backend = saker_secrets::apply_read_only(config, backend);
    Ok(SecretService::new(backend, store, config, service))
}

fn jdbc_store(
    app: &App,
    config: &SecretConfig,
    rows: Arc<dyn Database>,
    new_key: Option<SecretKey>,
) -> anyhow::Result<JdbcSecretStore> {
    let configured = match &config.jdbc.key {
        Some(key) => Keyring::new(key.clone()),
        None => app
            .keyring(true)?
            .context("no encryption key could be set up for the secret store")?,
    };
    let mut older = Vec::new();
    let primary = match new_key {
        Some(key) => {
            if configured.contains(key.id()) {
                bail!(
                    "the new key is the one already in use (key {}): generate a new one with \
                     `openssl rand -base64 32`",
                    key.id()
                );
            }
            older.push(configured);
            Keyring::new(key)
        }
        None => configured,
    };
    if config.jdbc.key.is_some()
        && let Some(encryption) = app.keyring(false)?
    {
        older.push(encryption);
    }
    older.extend(config.jdbc.previous_keys.iter().cloned().map(Keyring::new));
    let mut store = JdbcSecretStore::new(rows, primary, config.jdbc.max_versions);
    for keyring in older {
        store = store.with_older_keyring(keyring);
    }
    Ok(store)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::Utc;
    use saker_secrets::{Accessor, Namespace, SecretValue, SecretWrite};
    use saker_store::AuditFilter;

    use super::*;
    use crate::config::Config;

    fn app(dir: &Path, config: &str) -> App {
        let file = dir.join("saker.yml");
        std::fs::write(&file, config).unwrap();
        App {
            config: Config::load(Some(&file), Vec::<(String, String)>::new()).unwrap(),
            data_dir: dir.join("data"),
        }
    }

    fn ns(text: &str) -> Namespace {
        Namespace::parse(text).unwrap()
    }

    fn who() -> Accessor {
        Accessor::execution("flow", "exec", None)
    }

    #[test]
    fn the_env_backend_resolves_the_seed_example() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path(), "saker:\n  secret:\n    type: env\n");
        let store = app.open_store().unwrap();
        let env = [(
            OsString::from("SECRET_MYPASSWORD"),
            OsString::from("bXlQcml2YXRlQ29kZQ=="),
        )];
        let service = open_with(&app, store, Service::Worker, env, None).unwrap();
        assert_eq!(service.backend_name(), "env");
        let found = service
            .resolve("main", &ns("company.team"), "MYPASSWORD", None, &who())
            .unwrap();
        assert!(
            found.value.expose() == "myPrivateCode",
            "the seed value decodes"
        );
        // Read-only: writes are refused with the backend's explanation.
        let err = service
            .put(
                "main",
                &ns("company"),
                "X",
                SecretWrite::new(SecretValue::new("abcd")),
                &who(),
            )
            .unwrap_err();
        assert!(err.to_string().contains("SECRET_<KEY>"), "{err}");
    }

    #[test]
    fn jdbc_is_the_default_and_uses_the_data_directory_key() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path(), "saker: {}\n");
        let store = app.open_store().unwrap();
        let service = open_secret_service(&app, store, Service::Worker).unwrap();
        assert_eq!(service.backend_name(), "jdbc");
        assert!(app.data_dir.join("encryption.key").exists());
        service
            .put(
                "main",
                &ns("company"),
                "K",
                SecretWrite::new(SecretValue::new("stored-value")),
                &who(),
            )
            .unwrap();
        let found = service
            .resolve("main", &ns("company.team"), "K", None, &who())
            .unwrap();
        assert!(found.value.expose() == "stored-value", "round trip");
    }

    #[test]
    fn isolation_revocation_and_expiry_through_the_configured_service() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(
            dir.path(),
            "saker:\n  secret:\n    isolation:\n      enabled: true\n      \
             denied-services: [EXECUTOR]\n",
        );
        let store = app.open_store().unwrap();
        let worker = open_secret_service(&app, store.clone(), Service::Worker).unwrap();
        let executor = open_secret_service(&app, store.clone(), Service::Executor).unwrap();
        worker
            .put(
                "main",
                &ns("company"),
                "K",
                SecretWrite::new(SecretValue::new("a-value")),
                &who(),
            )
            .unwrap();
        let err = executor
            .resolve("main", &ns("company"), "K", None, &who())
            .unwrap_err();
        assert!(err.to_string().contains("EXECUTOR"), "{err}");
        assert!(err.to_string().contains("isolation denies it"), "{err}");
        let last = store
            .list_audit(&AuditFilter::default())
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(last.event.outcome, "denied");

        let mut expired = SecretWrite::new(SecretValue::new("old-value"));
        expired.update.expires_at = Some(Some(Utc::now() - chrono::Duration::hours(1)));
        worker
            .put("main", &ns("company"), "OLD", expired, &who())
            .unwrap();
        let err = worker
            .resolve("main", &ns("company"), "OLD", None, &who())
            .unwrap_err();
        assert!(err.to_string().contains("expired"), "{err}");

        worker
            .revoke("main", &ns("company"), "K", None, &who())
            .unwrap();
        let err = worker
            .resolve("main", &ns("company.team"), "K", None, &who())
            .unwrap_err();
        assert!(err.to_string().contains("revoked"), "{err}");
    }

    #[test]
    fn bad_secret_configuration_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let google = app(
            dir.path(),
            "saker:\n  secret:\n    type: google-secret-manager\n",
        );
        let store = google.open_store().unwrap();
        if std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS").is_none() {
            let err = open_secret_service(&google, store.clone(), Service::Worker).unwrap_err();
            assert!(
                err.to_string()
                    .contains("secret.google-secret-manager.serviceAccount"),
                "{err}"
            );
        }
        // A remote backend without its section names the first missing key.
        let other = tempfile::tempdir().unwrap();
        let vault = app(
            other.path(),
            "saker:\n  secret:\n    type: vault\n    vault:\n      address: http://127.0.0.1:1\n",
        );
        if std::env::var_os("VAULT_TOKEN").is_none() {
            let err = open_secret_service(&vault, store, Service::Worker).unwrap_err();
            assert!(
                err.to_string().contains("secret.vault.token.token"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_jdbc_passphrase_reads_values_sealed_under_the_data_directory_key() {
        let dir = tempfile::tempdir().unwrap();
        let before = app(dir.path(), "saker: {}\n");
        let store = before.open_store().unwrap();
        open_secret_service(&before, store.clone(), Service::Worker)
            .unwrap()
            .put(
                "main",
                &ns("company"),
                "K",
                SecretWrite::new(SecretValue::new("sealed-early")),
                &who(),
            )
            .unwrap();
        let after = app(
            dir.path(),
            "saker:\n  secret:\n    jdbc:\n      secret: a-passphrase-of-at-least-32-characters\n",
        );
        let service = open_secret_service(&after, store, Service::Worker).unwrap();
        let found = service
            .resolve("main", &ns("company"), "K", None, &who())
            .unwrap();
        assert!(found.value.expose() == "sealed-early", "older key reads");
        let report = service.rekey(None, &who()).unwrap();
        assert_eq!(report.resealed, 1);
    }
}
