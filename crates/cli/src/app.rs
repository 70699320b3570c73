//! Opening what a command needs: configuration, data directory, store, encryption key and
//! the engine's parts.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use saker_confine::{Confinement, Mode, Settings, Status};
use saker_crypto::{Keyring, SecretKey};
use saker_engine::{EngineParts, KeyringSealer};
use saker_server::StoreGate;
use saker_store::{Database, PgStore, SqliteStore};
use zeroize::Zeroizing;

use crate::config::Config;

/// Options every subcommand shares.
#[derive(Debug, Clone)]
pub struct Globals {
    pub data_dir: Option<PathBuf>,
    pub config: Option<PathBuf>,
}

/// The configuration and data directory of one command.
pub struct App {
    pub config: Config,
    pub data_dir: PathBuf,
}

impl Globals {
    /// Loads the configuration and resolves the data directory.
    pub fn app(&self) -> anyhow::Result<App> {
        let config = Config::load(self.config.as_deref(), std::env::vars())?;
        let data_dir = crate::config::data_dir(self.data_dir.clone())?;
        Ok(App { config, data_dir })
    }
}

impl App {
    /// Creates the data directory (mode 0700) if needed.
    pub fn ensure_data_dir(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                self.data_dir.display()
            )
        })?;
        set_mode(&self.data_dir, 0o700)?;
        Ok(())
    }

    /// Opens (creating if needed) the configured store: the embedded SQLite database of the
    /// data directory, or PostgreSQL with `repository.type: postgres` and
    /// `datasources.postgres.{url,username,password}` (Kestra's keys).
    pub fn open_store(&self) -> anyhow::Result<Arc<dyn Database>> {
        match self.config.get_str("repository.type").as_deref() {
            None | Some("sqlite" | "h2") => {
                self.ensure_data_dir()?;
                let path = self.data_dir.join("saker.db");
                let store = SqliteStore::open(&path)
                    .with_context(|| format!("cannot open the database {}", path.display()))?;
                Ok(Arc::new(store))
            }
            Some("postgres") => {
                let url = crate::datasource::postgres_url(&self.config)?;
                let pool = crate::datasource::pool_settings(&self.config)?;
                let store = PgStore::connect_with(&url, pool)
                    .context("cannot open the PostgreSQL store")?;
                Ok(Arc::new(store))
            }
            Some(other) => bail!(
                "repository.type `{other}` is not available: use `sqlite` (the default, embedded) \
                 or `postgres`"
            ),
        }
    }

    /// How the API reaches the store ([`StoreGate`]): `server.store-calls.concurrency`
    /// requests at once (default 64), each waiting at most `server.store-calls.wait`
    /// milliseconds for its turn (default: `datasources.postgres.connection-timeout` on
    /// PostgreSQL, else 30000) before a 503.
    pub fn store_gate(&self) -> anyhow::Result<StoreGate> {
        let defaults = StoreGate::default();
        let setting = |key: &str| crate::datasource::whole_above_zero(&self.config, key);
        let concurrency = match setting("server.store-calls.concurrency")? {
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
            None => defaults.concurrency(),
        };
        let wait = match setting("server.store-calls.wait")? {
            Some(ms) => Duration::from_millis(ms),
            None if self.config.get_str("repository.type").as_deref() == Some("postgres") => {
                crate::datasource::pool_settings(&self.config)?.wait
            }
            None => defaults.wait(),
        };
        Ok(StoreGate::new(concurrency, wait))
    }

    /// [`App::open_store`] for a process that runs executions with its own worker
    /// (`saker server standalone`): refused while another process runs executions on the same
    /// database.
    pub fn open_store_to_run(&self) -> anyhow::Result<Arc<dyn Database>> {
        let store = self.open_store()?;
        if !store
            .claim_executor()
            .context("cannot claim the right to run executions")?
        {
            bail!(
                "another Saker process runs executions on this database; use its API, or stop \
                 it first (to run several processes on one database, use the distributed \
                 services: saker server executor, worker, webserver and scheduler)"
            );
        }
        Ok(store)
    }

    /// Opens the store of an existing data directory, for read-only commands.
    pub fn open_existing_store(&self) -> anyhow::Result<Arc<dyn Database>> {
        let embedded = matches!(
            self.config.get_str("repository.type").as_deref(),
            None | Some("sqlite" | "h2")
        );
        let path = self.data_dir.join("saker.db");
        if embedded && !path.exists() {
            bail!(
                "no Saker database in {} (run a flow first, or pass --data-dir)",
                self.data_dir.display()
            );
        }
        self.open_store()
    }

    /// Takes the data directory for this process alone: only one process may run
    /// executions on an embedded store, since on start it resumes what it finds running.
    pub fn lock(&self) -> anyhow::Result<File> {
        self.ensure_data_dir()?;
        let path = self.data_dir.join("saker.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "the data directory {} is in use by another Saker process (a server or a flow run); \
                 use its API, stop it, or pass another --data-dir",
                self.data_dir.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).context("cannot lock the data directory")
            }
        }
    }

    /// The keyring from `encryption.secret-key`; in local mode, with no key configured, a
    /// key generated once into the data directory (mode 0600).
    pub fn keyring(&self, generate: bool) -> anyhow::Result<Option<Keyring>> {
        if let Some(text) = self.config.get_str("encryption.secret-key") {
            let key = SecretKey::from_base64(&text)
                .map_err(|e| anyhow::anyhow!("encryption.secret-key: {e}"))?;
            return Ok(Some(Keyring::new(key)));
        }
        let path = self.data_dir.join("encryption.key");
        if path.exists() {
            let text = Zeroizing::new(
                std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            );
            let key = SecretKey::from_base64(text.trim())
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            return Ok(Some(Keyring::new(key)));
        }
        if !generate {
            return Ok(None);
        }
        self.ensure_data_dir()?;
        let key = SecretKey::generate();
        // Written whole to a private temporary file, then linked into place: a concurrent
        // process either wins the link or reads the complete key the winner wrote.
        let tmp = self
            .data_dir
            .join(format!(".encryption.key.{}", std::process::id()));
        {
            let mut file = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .open(&tmp)
                .with_context(|| format!("cannot create {}", tmp.display()))?;
            set_mode(&tmp, 0o600)?;
            file.write_all(key.to_base64().as_bytes())?;
            file.sync_all()?;
        }
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => eprintln!(
                "note: no encryption.secret-key is configured; generated one at {} (keep it: without it, \
                 encrypted values cannot be read)",
                path.display()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return self.keyring(false),
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
        Ok(Some(Keyring::new(key)))
    }

    /// Everything the engine needs, for a process that runs executions. `config_file` is
    /// the configuration file this process read (hidden from tasks like the data directory).
    pub fn engine_parts(
        &self,
        store: Arc<dyn Database>,
        config_file: Option<&Path>,
    ) -> anyhow::Result<EngineParts> {
        let service = crate::secret_service::open_secret_service(
            self,
            store.clone(),
            saker_secrets::Service::Worker,
        )?;
        self.engine_parts_with(store, service, config_file)
    }

    /// [`App::engine_parts`] with a secret service opened by the caller, so that several
    /// roles of one process share its cache (a change through one is seen by all at once).
    pub fn engine_parts_with(
        &self,
        store: Arc<dyn Database>,
        service: saker_secrets::SecretService,
        config_file: Option<&Path>,
    ) -> anyhow::Result<EngineParts> {
        let service = service.for_service(saker_secrets::Service::Worker);
        let mut parts = EngineParts::new(store);
        parts.confinement = self.confinement(config_file)?;
        parts.secrets = Arc::new(crate::engine_secrets::ServiceSecrets { service });
        if let Some(keyring) = self.keyring(true)? {
            parts.sealer = Some(Arc::new(KeyringSealer::new(keyring)));
        }
        if let Some(n) = self.config.get("worker.concurrency") {
            parts.worker_concurrency =
                n.as_u64()
                    .filter(|n| (1..=10_000).contains(n))
                    .ok_or_else(|| {
                        anyhow::anyhow!("worker.concurrency must be a number from 1 to 10000")
                    })? as usize;
        }
        parts.expression_limits = self.expression_limits()?;
        parts.storage = Some(self.storage()?);
        parts.globals.globals = match self.config.subtree("variables.globals") {
            serde_json::Value::Object(map) => map,
            _ => bail!("variables.globals must be a map"),
        };
        let prefix = self
            .config
            .get_str("variables.env-vars-prefix")
            .unwrap_or_else(|| "ENV_".to_owned());
        parts.globals.envs = saker_secrets::env::envs_map_from_process(&prefix)
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        Ok(parts)
    }
}

impl App {
    /// The internal storage (execution and namespace files): `storage/` under the data
    /// directory, hidden from tasks with it, or with `storage.type: s3` the bucket of
    /// `storage.s3` (Kestra's keys); files up to `storage.max-file-bytes` (64 MiB by default).
    pub fn storage(&self) -> anyhow::Result<Arc<dyn saker_storage::Storage>> {
        let max_file_bytes = self.max_file_bytes()?;
        match self.config.get_str("storage.type").as_deref() {
            None | Some("local") => {
                let mut storage = saker_storage::LocalStorage::new(self.data_dir.join("storage"));
                storage.max_file_bytes = max_file_bytes;
                Ok(Arc::new(storage))
            }
            #[cfg(feature = "s3")]
            Some("s3") => {
                let config = saker_storage::S3Config::from_section(
                    &self.config.subtree("storage.s3"),
                    &|name| std::env::var(name).ok(),
                )?;
                let mut storage = saker_storage::S3Storage::new(config)?;
                storage.max_file_bytes = max_file_bytes;
                Ok(Arc::new(storage))
            }
            Some(other) => bail!(
                "storage.type `{other}` is not available: use `local` (the default, the data \
                 directory) or `s3` (S3 and S3-compatible services)"
            ),
        }
    }

    /// `storage.max-file-bytes`, or the default.
    fn max_file_bytes(&self) -> anyhow::Result<u64> {
        let mut max = saker_storage::DEFAULT_MAX_FILE_BYTES;
        if let Some(value) = self.config.get("storage.max-file-bytes") {
            max = value
                .as_u64()
                .filter(|n| (1..=1 << 40).contains(n))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "storage.max-file-bytes must be a number of bytes from 1 to 1099511627776 \
                         (default {})",
                        saker_storage::DEFAULT_MAX_FILE_BYTES
                    )
                })?;
        }
        Ok(max)
    }

    /// The budgets of every template a task renders: `expressions.max-steps` and
    /// `expressions.max-value-bytes` (the defaults of `saker_expr::Limits` otherwise).
    pub fn expression_limits(&self) -> anyhow::Result<saker_expr::Limits> {
        let mut limits = saker_expr::Limits::default();
        if let Some(value) = self.config.get("expressions.max-steps") {
            limits.max_steps = value
                .as_u64()
                .filter(|n| (1_000..=1_000_000_000).contains(n))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "expressions.max-steps must be a number from 1000 to 1000000000 \
                         (default {})",
                        limits.max_steps
                    )
                })?;
        }
        if let Some(value) = self.config.get("expressions.max-value-bytes") {
            limits.max_value_bytes = value
                .as_u64()
                .filter(|n| (64 * 1024..=4 << 30).contains(n))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "expressions.max-value-bytes must be a number of bytes from 65536 to \
                         4294967296 (default {})",
                        limits.max_value_bytes
                    )
                })?;
        }
        Ok(limits)
    }

    /// How task processes are confined (`tasks.*`), with the data directory, the key file,
    /// `config_file` and the work root hidden from them. Says at start how tasks will run:
    /// a warning when unconfined by choice, an error when confinement is required and cannot
    /// run (task processes are then refused, each with the same explanation).
    pub fn confinement(&self, config_file: Option<&Path>) -> anyhow::Result<Confinement> {
        let settings = self.confinement_settings(config_file)?;
        let confinement = Confinement::new(settings);
        match confinement.status() {
            Status::Confined => {}
            Status::Unconfined => tracing::warn!(
                "tasks.confinement is `none`: task processes run unconfined and can read \
                 Saker's data directory, keys, configuration and environment"
            ),
            Status::Unavailable(reason) => tracing::error!(
                "tasks that start processes will be refused: confinement (tasks.confinement: \
                 bubblewrap) is not available: {reason}. Install bubblewrap (`apt-get install \
                 bubblewrap`) or set tasks.bubblewrap-path"
            ),
        }
        Ok(confinement)
    }

    fn confinement_settings(&self, config_file: Option<&Path>) -> anyhow::Result<Settings> {
        let mut settings = Settings::default();
        if let Some(mode) = self.config.get_str("tasks.confinement") {
            settings.mode = Mode::parse(&mode)?;
        }
        if let Some(path) = self.config.get_str("tasks.bubblewrap-path") {
            settings.bubblewrap = absolute("tasks.bubblewrap-path", &path)?;
        }
        match self.config.get("tasks.network") {
            None => {}
            Some(serde_json::Value::Bool(on)) => settings.network = *on,
            Some(_) => bail!(
                "tasks.network must be true (tasks reach the network, the default) or false \
                 (each task gets a network namespace of its own, loopback only)"
            ),
        }
        let work_root = match self.config.get_str("tasks.work-dir") {
            Some(path) => absolute("tasks.work-dir", &path)?,
            None => self.data_dir.join("work"),
        };
        settings
            .read_only
            .extend(self.path_list("tasks.read-only-paths")?);
        settings
            .hidden
            .extend(self.path_list("tasks.hidden-paths")?);
        settings.hide(&self.data_dir);
        settings.hide(self.data_dir.join("encryption.key"));
        settings.hide(&work_root);
        if let Some(file) = config_file {
            settings.hide(file);
        }
        settings.work_root = Some(work_root);
        Ok(settings)
    }

    /// A setting holding a list of absolute paths (empty when absent).
    fn path_list(&self, key: &str) -> anyhow::Result<Vec<PathBuf>> {
        let items = match self.config.get(key) {
            None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
            Some(serde_json::Value::Array(items)) => items,
            Some(_) => bail!("{key} must be a list of absolute paths"),
        };
        items
            .iter()
            .map(|item| match item.as_str() {
                Some(path) => absolute(key, path),
                None => bail!("{key} must be a list of absolute paths"),
            })
            .collect()
    }
}

/// A path setting, which must be absolute (a relative one would depend on where Saker was
/// started).
fn absolute(key: &str, path: &str) -> anyhow::Result<PathBuf> {
    let path = PathBuf::from(path);
    if !path.is_absolute() {
        bail!("{key} must be an absolute path, not `{}`", path.display());
    }
    Ok(path)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the permissions of {}", path.display()))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> anyhow::Result<()> {
    Ok(())
}

/// A multi-threaded runtime for commands that run the engine or the server.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> Config {
        Config::from_yaml(yaml)
    }

    #[test]
    fn an_unknown_repository_type_is_refused_with_the_choices() {
        let dir = tempfile::tempdir().unwrap();
        let app = App {
            config: config("saker:\n  repository:\n    type: elasticsearch\n"),
            data_dir: dir.path().to_path_buf(),
        };
        let err = app.open_store().err().unwrap().to_string();
        assert!(
            err.contains("elasticsearch") && err.contains("postgres"),
            "{err}"
        );
    }

    #[test]
    fn task_settings_are_read_and_saker_paths_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let app = App {
            config: config(
                "saker:\n  tasks:\n    confinement: none\n    network: false\n    bubblewrap-path: /opt/bw/bwrap\n    read-only-paths: [/opt/tools]\n    hidden-paths: [/etc/saker]\n",
            ),
            data_dir: dir.path().join("data"),
        };
        let settings = app
            .confinement_settings(Some(Path::new("/etc/saker/app.yml")))
            .unwrap();
        assert_eq!(settings.mode, Mode::None);
        assert!(!settings.network);
        assert_eq!(settings.bubblewrap, Path::new("/opt/bw/bwrap"));
        assert!(settings.read_only.contains(&PathBuf::from("/opt/tools")));
        assert_eq!(settings.work_root, Some(app.data_dir.join("work")));
        for hidden in [
            app.data_dir.clone(),
            app.data_dir.join("encryption.key"),
            PathBuf::from("/etc/saker/app.yml"),
            PathBuf::from("/etc/saker"),
        ] {
            assert!(settings.hidden.contains(&hidden), "{}", hidden.display());
        }
        // The default is confined, and bad values are named.
        let app = App {
            config: config("saker: {}\n"),
            data_dir: dir.path().to_path_buf(),
        };
        assert_eq!(
            app.confinement_settings(None).unwrap().mode,
            Mode::Bubblewrap
        );
        for (yaml, named) in [
            (
                "saker:\n  tasks:\n    confinement: chroot\n",
                "tasks.confinement",
            ),
            ("saker:\n  tasks:\n    network: maybe\n", "tasks.network"),
            (
                "saker:\n  tasks:\n    work-dir: rel/dir\n",
                "tasks.work-dir",
            ),
        ] {
            let app = App {
                config: config(yaml),
                data_dir: dir.path().to_path_buf(),
            };
            let err = app.confinement_settings(None).unwrap_err().to_string();
            assert!(err.contains(named), "{yaml}: {err}");
        }
    }
}
