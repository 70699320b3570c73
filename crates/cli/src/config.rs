//! Configuration: a YAML file (`--config FILE` or `SAKER_CONFIG`) whose root is `saker:` (or
//! `kestra:`, so a Kestra configuration file works), overridden by `SAKER_...` environment
//! variables, and the data directory (`--data-dir`, `SAKER_DATA_DIR`, else
//! `$XDG_DATA_HOME/saker`, else `~/.local/share/saker`).
//!
//! An environment override names a configuration key in upper case with `.` and `-` turned
//! into `_`: `SAKER_SERVER_PORT=9090` sets `server.port`, `SAKER_ENCRYPTION_SECRET_KEY` sets
//! `encryption.secret-key`. Only the keys listed in [`OVERRIDABLE`] can be set that way, so
//! an unrelated `SAKER_...` variable never changes the configuration by accident.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde_json::{Map, Value};

/// Keys that `SAKER_...` environment variables may set.
pub const OVERRIDABLE: &[&str] = &[
    "server.port",
    "server.basic-auth.username",
    "server.basic-auth.password",
    "encryption.secret-key",
    "secret.type",
    "secret.jdbc.secret",
    "secret.cache.enabled",
    "secret.cache.maximum-size",
    "secret.cache.expire-after-write",
    "secret.cache.stale-if-error",
    "secret.read-only",
    "secret.isolation.enabled",
    "variables.env-vars-prefix",
    "worker.concurrency",
    "tasks.confinement",
    "tasks.bubblewrap-path",
    "tasks.network",
    "tasks.work-dir",
    "repository.type",
    "queue.type",
    "datasources.postgres.url",
    "datasources.postgres.username",
    "datasources.postgres.password",
    "datasources.postgres.maximum-pool-size",
    "datasources.postgres.connection-timeout",
    "datasources.postgres.statement-timeout",
    "storage.type",
    "server.store-calls.concurrency",
    "server.store-calls.wait",
    "server.debug-expression.timeout",
    "server.debug-expression.concurrency",
    "expressions.max-steps",
    "expressions.max-value-bytes",
    // Retention (see `retention`): how long ended executions are kept.
    "executions.retention",
    // Liveness of service instances (see `services`).
    "server.liveness.enabled",
    "server.liveness.interval",
    "server.liveness.timeout",
    "server.liveness.initial-delay",
    "server.liveness.heartbeat-interval",
    "server.worker-task-restart-strategy",
    "server.termination-grace-period",
    "server.service.purge.retention",
];

/// The loaded configuration: the tree under `saker:` after overrides.
#[derive(Debug, Clone, Default)]
pub struct Config {
    tree: Map<String, Value>,
}

impl Config {
    /// Loads `file` (if given) and applies the overrides found in `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Self> {
        let mut tree = Map::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("cannot read the configuration file {}", path.display())
            })?;
            tree = parse_root(&text)
                .with_context(|| format!("in the configuration file {}", path.display()))?;
        }
        for (name, value) in env {
            if let Some(key) = OVERRIDABLE.iter().find(|k| env_name(k) == name) {
                set_path(&mut tree, key, scalar(&value));
            }
        }
        Ok(Self { tree })
    }

    /// A configuration read from YAML text alone (tests).
    #[cfg(test)]
    pub(crate) fn from_yaml(text: &str) -> Self {
        Self {
            tree: parse_root(text).unwrap(),
        }
    }

    /// The value at a dotted key such as `server.port`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        let mut parts = key.split('.');
        let mut node = self.tree.get(parts.next()?)?;
        for part in parts {
            node = node.as_object()?.get(part)?;
        }
        Some(node)
    }

    /// A string setting; numbers and booleans are accepted as their text.
    pub fn get_str(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The HTTP port: `server.port`, default 8080.
    pub fn server_port(&self) -> anyhow::Result<u16> {
        match self.get("server.port") {
            None => Ok(8080),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    anyhow::anyhow!("server.port must be a port number between 1 and 65535")
                }),
        }
    }

    /// The subtree at `key` (an empty object when absent).
    pub fn subtree(&self, key: &str) -> Value {
        self.get(key)
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()))
    }
}

/// The environment variable that overrides `key`.
pub fn env_name(key: &str) -> String {
    format!(
        "SAKER_{}",
        key.to_ascii_uppercase().replace(['.', '-'], "_")
    )
}

fn parse_root(text: &str) -> anyhow::Result<Map<String, Value>> {
    let node = saker_model::yaml::parse(text)
        .map_err(|e| anyhow::anyhow!("{}: {}", e.pos(), e.message()))?;
    let json = node.to_json();
    let Value::Object(mut root) = json else {
        if json.is_null() {
            return Ok(Map::new());
        }
        bail!("the configuration must be a map with a `saker:` (or `kestra:`) root");
    };
    let inner = root.remove("saker").or_else(|| root.remove("kestra"));
    // Kestra (Micronaut) keeps its database connections at the top level.
    let datasources = root.remove("datasources");
    if let Some(unknown) = root.keys().next() {
        bail!(
            "unknown top-level key `{unknown}`: settings go under a `saker:` (or `kestra:`) root"
        );
    }
    let mut tree = match inner {
        Some(Value::Object(map)) => map,
        Some(Value::Null) | None => Map::new(),
        Some(_) => bail!("`saker:` must hold a map of settings"),
    };
    if let Some(datasources) = datasources {
        if tree.contains_key("datasources") {
            bail!("`datasources` is set twice: at the top level and under the root");
        }
        tree.insert("datasources".into(), datasources);
    }
    Ok(tree)
}

/// An override's text as YAML would read a scalar: numbers and booleans typed, else text.
fn scalar(text: &str) -> Value {
    if let Ok(n) = text.parse::<i64>() {
        return Value::from(n);
    }
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(text.to_owned()),
    }
}

fn set_path(tree: &mut Map<String, Value>, key: &str, value: Value) {
    let parts: Vec<&str> = key.split('.').collect();
    let mut node = tree;
    for part in &parts[..parts.len() - 1] {
        let child = node
            .entry((*part).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !child.is_object() {
            *child = Value::Object(Map::new());
        }
        node = child.as_object_mut().expect("made an object above");
    }
    node.insert(parts[parts.len() - 1].to_owned(), value);
}

/// The data directory: the flag or `SAKER_DATA_DIR` (clap reads both), else the XDG default.
pub fn data_dir(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir);
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("saker"));
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/share/saker")),
        None => bail!("no data directory: pass --data-dir DIR or set SAKER_DATA_DIR"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kestra_datasources_at_the_top_level_are_kept() {
        let tree = parse_root(
            "kestra:\n  repository:\n    type: postgres\ndatasources:\n  postgres:\n    url: jdbc:postgresql://db:5432/kestra\n",
        )
        .unwrap();
        let config = Config { tree };
        assert_eq!(
            config.get_str("repository.type").as_deref(),
            Some("postgres")
        );
        assert_eq!(
            config.get_str("datasources.postgres.url").as_deref(),
            Some("jdbc:postgresql://db:5432/kestra")
        );
        let twice = parse_root("saker:\n  datasources: {}\ndatasources: {}\n").unwrap_err();
        assert!(twice.to_string().contains("set twice"), "{twice}");
        let unknown = parse_root("saker: {}\nother: 1\n").unwrap_err();
        assert!(unknown.to_string().contains("`other`"), "{unknown}");
        // The password need not be in the file.
        let env = [(
            "SAKER_DATASOURCES_POSTGRES_PASSWORD".to_owned(),
            "from-the-environment".to_owned(),
        )];
        let config = Config::load(None, env).unwrap();
        assert_eq!(
            config.get_str("datasources.postgres.password").as_deref(),
            Some("from-the-environment")
        );
    }

    #[test]
    fn kestra_root_and_env_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.yml");
        std::fs::write(
            &file,
            "kestra:\n  server:\n    port: 9000\n  secret:\n    type: env\n",
        )
        .unwrap();
        let cfg = Config::load(
            Some(&file),
            [
                ("SAKER_SERVER_PORT".to_owned(), "9100".to_owned()),
                ("SAKER_UNRELATED".to_owned(), "x".to_owned()),
            ],
        )
        .unwrap();
        assert_eq!(cfg.server_port().unwrap(), 9100);
        assert_eq!(cfg.get_str("secret.type").as_deref(), Some("env"));
        assert!(cfg.get("unrelated").is_none());
    }

    #[test]
    fn bad_root_and_bad_port_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.yml");
        std::fs::write(&file, "server:\n  port: 1\n").unwrap();
        let err = Config::load(Some(&file), []).unwrap_err();
        assert!(format!("{err:#}").contains("saker:"), "{err:#}");
        let cfg =
            Config::load(None, [("SAKER_SERVER_PORT".to_owned(), "70000".to_owned())]).unwrap();
        assert!(
            cfg.server_port()
                .unwrap_err()
                .to_string()
                .contains("server.port")
        );
    }

    #[test]
    fn env_names() {
        assert_eq!(
            env_name("encryption.secret-key"),
            "SAKER_ENCRYPTION_SECRET_KEY"
        );
    }
}
