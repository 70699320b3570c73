//! `saker secret migrate --from A --to B`: copies the current value of every secret (every
//! tenant, every namespace) from one backend to another, each read and each write audited
//! in this data directory's trail, never printing a value. The source is read as the WORKER
//! reads (so `secret.isolation` denying it denies the migration), the target written as the
//! management plane writes.
//!
//! A side is a backend type (`jdbc`, `vault`, ...: this process's `secret:` section with
//! that `type`) or a configuration file whose `secret:` section (under `saker:` or
//! `kestra:`) describes it. Resuming: every copied secret is appended to a progress file
//! (tenant, namespace, key, source version; never a value or a digest of one) as soon as the
//! target has it, so a run that was interrupted, or that failed on some keys, is finished by
//! running the same command again: secrets whose source version is recorded are skipped,
//! and a secret changed since its copy (a newer version) is copied again.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use saker_secrets::{
    MetadataUpdate, SecretConfig, SecretMetadata, SecretState, SecretWrite, Service,
};
use serde_json::{Value, json};

use super::{actor, emitln};
use crate::app::{App, Globals};
use crate::config::Config;
use crate::secret_service::{secret_config, service_for};

/// tenant, namespace, key → the source version copied: the progress file, one JSON object
/// per line (`{"tenant", "namespace", "key", "version"}`).
type Done = HashMap<(String, String, String), u64>;

/// The `secret:` configuration of one side: a file, or this process's with another type.
fn side_config(app: &App, side: &str, flag: &str) -> anyhow::Result<SecretConfig> {
    let path = Path::new(side);
    if path.is_file() {
        let config = Config::load(Some(path), std::iter::empty())?;
        let section = config
            .get("secret")
            .cloned()
            .ok_or_else(|| anyhow!("{flag} {side}: the file has no secret: section"))?;
        return SecretConfig::from_value(section)
            .map_err(|err| anyhow!("{flag} {side}: invalid configuration: {err}"));
    }
    let mut section = app
        .config
        .get("secret")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let Some(tree) = section.as_object_mut() else {
        bail!("secret: must be a map of settings");
    };
    tree.insert("type".into(), Value::String(side.to_owned()));
    // Read-only belongs to the configured backend; the other type is written as asked.
    tree.remove("read-only");
    tree.remove("readOnly");
    SecretConfig::from_value(section).map_err(|err| {
        anyhow!("{flag} {side}: neither a configuration file nor a usable backend type: {err}")
    })
}

/// `vault`, `aws.yml` → a file-name-safe label.
fn label(side: &str) -> String {
    let name = Path::new(side)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(side);
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn read_progress(path: &Path) -> anyhow::Result<Done> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Done::new()),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    // A line cut short by an interruption is not a copy: it is simply not recorded.
    Ok(text
        .lines()
        .filter_map(|line| {
            let line: Value = serde_json::from_str(line).ok()?;
            let text = |name: &str| line[name].as_str().map(str::to_owned);
            let id = (text("tenant")?, text("namespace")?, text("key")?);
            Some((id, line["version"].as_u64()?))
        })
        .collect())
}

/// What a copy writes along with the value: the source's description, tags, expiry and
/// rotation period.
fn write_of(value: saker_secrets::SecretValue, metadata: &SecretMetadata) -> SecretWrite {
    let mut write = SecretWrite::new(value);
    write.update = MetadataUpdate {
        description: Some(metadata.description.clone()),
        tags: Some(metadata.tags.clone()),
        expires_at: Some(metadata.expires_at),
        rotation_period: Some(metadata.rotation_period),
    };
    write
}

#[derive(Default)]
struct Tally {
    copied: u64,
    skipped: u64,
    failed: u64,
}

pub(super) fn migrate(
    globals: &Globals,
    from: &str,
    to: &str,
    progress: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let app = globals.app()?;
    // The process's own section must be valid too: it is what a type name starts from.
    secret_config(&app)?;
    let source_config = side_config(&app, from, "--from")?;
    let target_config = side_config(&app, to, "--to")?;
    if target_config.read_only {
        bail!(
            "--to {to}: that backend is read-only (secret.read-only): nothing can be copied to it"
        );
    }
    if source_config == target_config {
        bail!("--from {from} and --to {to} are the same backend: nothing to copy");
    }
    app.ensure_data_dir()?;
    let progress = progress.unwrap_or_else(|| {
        app.data_dir.join(format!(
            "secret-migrate-{}-to-{}.progress",
            label(from),
            label(to)
        ))
    });
    let done = read_progress(&progress)?;
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&progress)
        .with_context(|| format!("cannot open the progress file {}", progress.display()))?;
    if std::fs::read(&progress).is_ok_and(|bytes| bytes.last().is_some_and(|b| *b != b'\n')) {
        // A line cut short by an interruption: end it, so the next record stands alone.
        writeln!(log).with_context(|| format!("cannot write {}", progress.display()))?;
    }

    let store = app.open_store()?;
    // Values are read as tasks read them (the WEBSERVER never resolves a value), so secret
    // isolation denying the WORKER denies a migration too; they are written as the
    // management plane writes them.
    let env = || std::env::vars_os();
    let source = service_for(
        &app,
        &source_config,
        store.clone(),
        Service::Worker,
        env(),
        None,
    )?;
    let target = service_for(&app, &target_config, store, Service::Webserver, env(), None)?;
    let who = actor();
    let mut tally = Tally::default();
    let namespaces = source.namespaces()?;
    eprintln!(
        "migrating secrets from {} to {}: {} namespace(s); progress in {}",
        source.backend_name(),
        target.backend_name(),
        namespaces.len(),
        progress.display()
    );
    for (tenant, namespace) in namespaces {
        for metadata in source.list(&tenant, &namespace)? {
            if metadata.state != SecretState::Active {
                continue;
            }
            let key = metadata.key.clone();
            let name = format!("{tenant}/{namespace}/{key}");
            let id = (tenant.clone(), namespace.to_string(), key.clone());
            if done.get(&id) == Some(&metadata.version) {
                tally.skipped += 1;
                eprintln!(
                    "skipped {name}: version {} already copied",
                    metadata.version
                );
                continue;
            }
            let copied = source
                .export(&tenant, &namespace, &key, &who)
                .map_err(anyhow::Error::from)
                .and_then(|found| {
                    let Some((value, current)) = found else {
                        return Ok(None);
                    };
                    let written =
                        target.put(&tenant, &namespace, &key, write_of(value, &current), &who)?;
                    Ok(Some((current.version, written.version)))
                });
            match copied {
                Ok(Some((from_version, to_version))) => {
                    let line = json!({"tenant": id.0, "namespace": id.1, "key": id.2,
                        "version": from_version});
                    writeln!(log, "{line}")
                        .and_then(|()| log.flush())
                        .with_context(|| format!("cannot write {}", progress.display()))?;
                    tally.copied += 1;
                    eprintln!("copied {name} (version {from_version} → version {to_version})");
                }
                Ok(None) => eprintln!("skipped {name}: it has no current value any more"),
                Err(err) => {
                    tally.failed += 1;
                    eprintln!("failed {name}: {err:#}");
                }
            }
        }
    }
    emitln(format_args!(
        "copied {}, already copied {}, failed {}",
        tally.copied, tally.skipped, tally.failed
    ))?;
    if tally.failed > 0 {
        eprintln!("run the same command again to retry the failed ones");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_cut_progress_lines() {
        assert_eq!(label("vault"), "vault");
        assert_eq!(label("/etc/saker/aws prod.yml"), "aws_prod");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        std::fs::write(
            &path,
            "{\"tenant\":\"main\",\"namespace\":\"company\",\"key\":\"A\",\"version\":2}\n\
             {\"tenant\":\"main\",\"namespace\":\"comp",
        )
        .unwrap();
        let done = read_progress(&path).unwrap();
        assert_eq!(done.len(), 1);
        assert_eq!(
            done.get(&("main".into(), "company".into(), "A".into())),
            Some(&2)
        );
        assert!(read_progress(&dir.path().join("none")).unwrap().is_empty());
    }
}
