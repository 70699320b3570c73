//! An engine on a data directory of its own, as a server runs one: a SQLite file, and what a
//! test adds to its parts (secrets, a sealing key, an internal storage under the directory,
//! confinement settings) before it starts.

use std::path::Path;
use std::sync::Arc;

use saker_crypto::{Keyring, SecretKey};
use saker_engine::{Engine, EngineParts, KeyringSealer};
use saker_model::{Execution, Level, StateType};
use saker_storage::LocalStorage;
use saker_store::{LogQuery, SqliteStore, Store};
use serde_json::Value;

pub struct DataDir {
    pub dir: tempfile::TempDir,
    pub store: Arc<SqliteStore>,
    pub engine: Engine,
}

impl DataDir {
    /// Starts an engine on a new directory; `configure` completes its parts first.
    pub fn start(configure: impl FnOnce(&Path, &mut EngineParts)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("saker.db")).unwrap());
        let mut parts = EngineParts::new(store.clone());
        configure(dir.path(), &mut parts);
        let engine = Engine::start(parts);
        Self { dir, store, engine }
    }

    /// An engine with an internal storage, a sealing key and one secret, `key` → `value`: what
    /// a test of a task that handles files and secrets starts from.
    pub fn with_secret(key: &'static str, value: &str) -> Self {
        let value = value.to_owned();
        Self::start(move |dir, parts| {
            parts.storage = Some(storage(dir));
            parts.sealer = Some(sealer());
            parts.secrets = Arc::new(super::KeyedSecrets::new([(key, value)]));
        })
    }

    /// Fails the test unless `execution` failed and logged `expected` as one of its lines.
    pub fn failed_saying(&self, execution: &Execution, expected: &str) {
        assert_eq!(execution.state.current, StateType::Failed, "{expected}");
        let messages = self.messages(execution);
        assert!(messages.iter().any(|m| m == expected), "{messages:?}");
    }

    /// Stops the engine, then fails the test if any file of the data directory (the
    /// database, the storage) holds `secret` in clear.
    pub fn assert_no_file_holds(self, secret: &str) {
        let DataDir { dir, store, engine } = self;
        drop(engine);
        drop(store);
        for path in super::files_under(dir.path()) {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds the secret",
                path.display()
            );
        }
    }

    /// Deploys `source`, runs one execution of it without inputs and waits for its end.
    pub async fn run(&self, source: &str) -> Execution {
        super::flows::run(&self.engine, source, Value::Null).await
    }

    /// [`DataDir::run`], failing the test (with the log) unless the execution succeeded.
    pub async fn run_ok(&self, source: &str) -> Execution {
        let done = self.run(source).await;
        assert_eq!(
            done.state.current,
            StateType::Success,
            "{:?}",
            self.messages(&done)
        );
        done
    }

    /// The messages of the execution's log lines, in order.
    pub fn messages(&self, execution: &Execution) -> Vec<String> {
        super::flows::messages(self.store.as_ref(), &execution.id)
    }

    /// The execution's log lines with their levels, in order.
    pub fn levels(&self, execution: &Execution) -> Vec<(Level, String)> {
        self.store
            .list_logs(&LogQuery::new(&execution.id))
            .unwrap()
            .into_iter()
            .map(|l| (l.entry.level, l.entry.message))
            .collect()
    }
}

/// A sealer over a fresh key, as a server's `encryption.secret-key` gives one.
pub fn sealer() -> Arc<KeyringSealer> {
    Arc::new(KeyringSealer::new(Keyring::new(SecretKey::generate())))
}

/// An internal storage under `dir`, as a server keeps one under its data directory.
pub fn storage(dir: &Path) -> Arc<LocalStorage> {
    Arc::new(LocalStorage::new(dir.join("storage")))
}
