//! `saker secret`: manage secrets in the configured backend, through the secret service (so
//! every change is audited). Values go in (stdin, a hidden prompt, or generated) and never
//! come out: no command prints a value, and none takes one from the command line, where it
//! would land in shell history and `ps`.
//!
//! These commands act as the management plane, the WEBSERVER role (values are write-only
//! through it); the audit trail tells them apart from API calls by the actor `cli:<user>`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};
use saker_crypto::SecretKey;
use saker_secrets::duration::parse_duration;
use saker_secrets::{
    Accessor, Charset, GenerateSpec, MetadataUpdate, Namespace, SecretService, SecretValue,
    SecretWrite, Service,
};
use zeroize::Zeroizing;

use crate::app::{App, Globals};
use crate::secret_service::{open_secret_service, open_with};

mod migrate;
mod show;

pub(crate) use show::{emit, emitln, table, time};
use show::{info, list, state, versions};

/// Values shorter than this are not masked inside other text (they would match everywhere).
const SHORT_VALUE: usize = 4;

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Set a secret's value: read from stdin when it is piped (one trailing newline is
    /// dropped), else from a hidden prompt. Never from the command line.
    Set {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        meta: MetaArgs,
    },
    /// Set a secret to a random value, without ever printing it.
    Generate {
        #[command(flatten)]
        target: Target,
        /// Number of characters.
        #[arg(long, default_value_t = 32)]
        length: usize,
        /// Characters to draw from: alnum, hex, base64 or ascii (printable, no space).
        #[arg(long, default_value = "alnum")]
        charset: Charset,
        #[command(flatten)]
        meta: MetaArgs,
    },
    /// List the secrets of a namespace (metadata only).
    List {
        namespace: Namespace,
        /// Also show what the namespace inherits from its parents, as a flow in it resolves.
        #[arg(long)]
        inherited: bool,
        /// Only secrets due for rotation (rotation period elapsed) or expired.
        #[arg(long)]
        due: bool,
        #[command(flatten)]
        tenant: TenantArg,
    },
    /// Show a secret's metadata as a flow in NAMESPACE sees it (inherited ones included).
    Info {
        #[command(flatten)]
        target: Target,
    },
    /// List a secret's kept versions.
    Versions {
        #[command(flatten)]
        target: Target,
    },
    /// Make an older version's value current again (as a new version).
    Rollback {
        #[command(flatten)]
        target: Target,
        version: u64,
    },
    /// Soft-delete a secret: flows stop seeing it (and see a parent's instead) until restored.
    Delete {
        #[command(flatten)]
        target: Target,
    },
    /// Undo a soft delete.
    Restore {
        #[command(flatten)]
        target: Target,
    },
    /// Erase every version of a secret for good.
    Destroy {
        #[command(flatten)]
        target: Target,
        /// Confirm: this cannot be undone.
        #[arg(long)]
        yes: bool,
    },
    /// Revoke a compromised secret: resolution fails with "revoked" (no fallback to a
    /// parent) and its stored versions are erased, until a new value is set.
    Revoke {
        #[command(flatten)]
        target: Target,
        /// Why, for the record.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Re-encrypt every stored secret under the primary key.
    #[command(long_about = REKEY_HELP)]
    Rekey {
        /// A file holding the new key: a passphrase of at least 32 characters, as
        /// `secret.jdbc.secret` takes (`openssl rand -base64 32 > new.key`).
        #[arg(long, value_name = "FILE")]
        new_key_file: Option<PathBuf>,
        /// Re-encrypt at most N values, then stop; run again to go on.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
    },
    /// Copy every secret's current value (every tenant and namespace) from one backend to
    /// another, without printing any; audited per key, and resumable: run it again after an
    /// interruption and what was copied is skipped.
    Migrate {
        /// The source: a backend type (this configuration's secret: section with that type)
        /// or a configuration file with a secret: section.
        #[arg(long, value_name = "TYPE|FILE")]
        from: String,
        /// The target, likewise.
        #[arg(long, value_name = "TYPE|FILE")]
        to: String,
        /// Where copied secrets are recorded (default: a file in the data directory named
        /// after both sides).
        #[arg(long, value_name = "FILE")]
        progress: Option<PathBuf>,
    },
    /// Turn a .env file into SECRET_-prefixed base64 variables for `secret.type: env`,
    /// printed to stdout.
    EncodeEnv { file: PathBuf },
}

const REKEY_HELP: &str = "Re-encrypt every stored secret (every tenant) under the primary key, \
while older keys still read. Values already under it are skipped, so the command is safe to \
interrupt and to run again.

Rotating the key, the no-downtime way (servers keep reading throughout):
  1. Generate a key: openssl rand -base64 32
  2. In the configuration of every Saker process, set secret.jdbc.secret to the new key and
     list the old one under secret.jdbc.previous-secrets (if the old one was the
     encryption key or the data directory's key, nothing to list: it stays readable).
  3. Run `saker secret rekey` until it reports every value done.
  4. Remove the old key from secret.jdbc.previous-secrets.

Or in one step, with processes that read secrets stopped:
  saker secret rekey --new-key-file new.key
then set secret.jdbc.secret to the file's content before starting them again.";

/// `NAMESPACE KEY [--tenant T]`.
#[derive(Debug, Args)]
pub struct Target {
    namespace: Namespace,
    key: String,
    #[command(flatten)]
    tenant: TenantArg,
}

#[derive(Debug, Args)]
pub struct TenantArg {
    /// The tenant.
    #[arg(long, default_value = saker_secrets::DEFAULT_TENANT)]
    tenant: String,
}

/// Metadata options of `set` and `generate`.
#[derive(Debug, Args)]
pub struct MetaArgs {
    /// A free-text description.
    #[arg(long)]
    description: Option<String>,
    /// A tag `NAME=VALUE`; repeat for several. Replaces the secret's tags.
    #[arg(long = "tag", value_name = "NAME=VALUE")]
    tags: Vec<String>,
    /// When resolution starts failing: a time (2026-12-31T18:00:00Z), a date (2026-12-31,
    /// midnight UTC) or a duration from now (90d, PT12H).
    #[arg(long, value_name = "WHEN")]
    expires_at: Option<String>,
    /// How often the value should change (90d); `saker secret list --due` shows those due.
    #[arg(long, value_name = "DURATION")]
    rotation_period: Option<String>,
}

impl MetaArgs {
    fn update(&self, now: DateTime<Utc>) -> anyhow::Result<MetadataUpdate> {
        let mut update = MetadataUpdate::default();
        if let Some(description) = &self.description {
            update.description = Some(Some(description.clone()));
        }
        if !self.tags.is_empty() {
            let mut tags = BTreeMap::new();
            for tag in &self.tags {
                let (name, value) = tag
                    .split_once('=')
                    .filter(|(name, _)| !name.trim().is_empty())
                    .ok_or_else(|| anyhow!("--tag must be NAME=VALUE"))?;
                tags.insert(name.trim().to_owned(), value.to_owned());
            }
            update.tags = Some(tags);
        }
        if let Some(text) = &self.expires_at {
            update.expires_at = Some(Some(parse_time(text, now, true).context("--expires-at")?));
        }
        if let Some(text) = &self.rotation_period {
            update.rotation_period = Some(Some(parse_duration(text).context("--rotation-period")?));
        }
        Ok(update)
    }
}

/// An instant: RFC 3339, a date (midnight UTC), or a duration from `now` (into the future
/// when `future`, else into the past).
pub(crate) fn parse_time(
    text: &str,
    now: DateTime<Utc>,
    future: bool,
) -> anyhow::Result<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    let span = parse_duration(text)
        .ok()
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .ok_or_else(|| {
            anyhow!("write a time (2026-12-31T18:00:00Z), a date (2026-12-31) or a duration (7d)")
        })?;
    let at = if future {
        now.checked_add_signed(span)
    } else {
        now.checked_sub_signed(span)
    };
    at.ok_or_else(|| anyhow!("that duration is out of range"))
}

/// Who acts, for the audit trail.
pub(crate) fn actor() -> Accessor {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default();
    Accessor::user(if user.is_empty() {
        "cli".to_owned()
    } else {
        format!("cli:{user}")
    })
}

pub(crate) fn open(globals: &Globals) -> anyhow::Result<SecretService> {
    let app: App = globals.app()?;
    let store = app.open_store()?;
    open_secret_service(&app, store, Service::Webserver)
}

pub fn run(globals: &Globals, command: SecretCommand) -> anyhow::Result<ExitCode> {
    let who = actor();
    match command {
        SecretCommand::EncodeEnv { file } => return encode_env(&file),
        SecretCommand::Migrate { from, to, progress } => {
            return migrate::migrate(globals, &from, &to, progress);
        }
        SecretCommand::Rekey {
            new_key_file,
            limit,
        } => return rekey(globals, new_key_file.as_deref(), limit),
        SecretCommand::Set { target, meta } => {
            let service = open(globals)?;
            let update = meta.update(service.now())?;
            let mut value = read_value(&target)?;
            if value.chars().count() < SHORT_VALUE {
                eprintln!(
                    "warning: the value is shorter than {SHORT_VALUE} characters: masking will \
                     not hide it where it appears inside other text"
                );
            }
            let mut write = SecretWrite::new(SecretValue::new(std::mem::take(&mut *value)));
            write.update = update;
            let meta = service.put(
                &target.tenant.tenant,
                &target.namespace,
                &target.key,
                write,
                &who,
            )?;
            emitln(format_args!(
                "set {} (version {})",
                name(&target),
                meta.version
            ))?;
        }
        SecretCommand::Generate {
            target,
            length,
            charset,
            meta,
        } => {
            let service = open(globals)?;
            let spec = GenerateSpec {
                length,
                charset,
                update: meta.update(service.now())?,
            };
            let meta = service.generate(
                &target.tenant.tenant,
                &target.namespace,
                &target.key,
                spec,
                &who,
            )?;
            emitln(format_args!(
                "generated {} ({length} {charset} characters, version {}); the value is not shown",
                name(&target),
                meta.version
            ))?;
        }
        SecretCommand::List {
            namespace,
            inherited,
            due,
            tenant,
        } => return list(&open(globals)?, &tenant.tenant, &namespace, inherited, due),
        SecretCommand::Info { target } => return info(&open(globals)?, &target),
        SecretCommand::Versions { target } => return versions(&open(globals)?, &target),
        SecretCommand::Rollback { target, version } => {
            let service = open(globals)?;
            let meta = service.rollback(
                &target.tenant.tenant,
                &target.namespace,
                &target.key,
                version,
                &who,
            )?;
            emitln(format_args!(
                "rolled {} back to the value of version {version} (now version {})",
                name(&target),
                meta.version
            ))?;
        }
        SecretCommand::Delete { target } => {
            let service = open(globals)?;
            if !service.delete(&target.tenant.tenant, &target.namespace, &target.key, &who)? {
                eprintln!(
                    "error: {} does not exist or is already deleted",
                    name(&target)
                );
                return Ok(ExitCode::from(1));
            }
            emitln(format_args!(
                "deleted {} (restore it with `saker secret restore`)",
                name(&target)
            ))?;
        }
        SecretCommand::Restore { target } => {
            let service = open(globals)?;
            let meta =
                service.restore(&target.tenant.tenant, &target.namespace, &target.key, &who)?;
            emitln(format_args!(
                "restored {}: {}",
                name(&target),
                state(&meta.state)
            ))?;
        }
        SecretCommand::Destroy { target, yes } => {
            if !yes {
                bail!(
                    "destroy erases every version of {} for good: pass --yes to confirm",
                    name(&target)
                );
            }
            let service = open(globals)?;
            if !service.destroy(&target.tenant.tenant, &target.namespace, &target.key, &who)? {
                eprintln!("error: {} does not exist", name(&target));
                return Ok(ExitCode::from(1));
            }
            emitln(format_args!("destroyed {}", name(&target)))?;
        }
        SecretCommand::Revoke { target, reason } => {
            let service = open(globals)?;
            service.revoke(
                &target.tenant.tenant,
                &target.namespace,
                &target.key,
                reason.as_deref(),
                &who,
            )?;
            emitln(format_args!(
                "revoked {}: flows resolving it now fail until a new value is set",
                name(&target)
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn name(target: &Target) -> String {
    format!("secret '{}' in {}", target.key, target.namespace)
}

/// The value to set: stdin when piped, else a hidden prompt. Wiped on drop.
fn read_value(target: &Target) -> anyhow::Result<Zeroizing<String>> {
    let value = crate::prompt::read_hidden(&format!("value of {} (hidden): ", name(target)))?;
    if value.is_empty() {
        bail!(
            "the value is empty: pipe it on stdin (printf %s \"$VALUE\" | saker secret set NS KEY) or type it at the prompt"
        );
    }
    Ok(value)
}

fn rekey(
    globals: &Globals,
    new_key_file: Option<&std::path::Path>,
    limit: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let app = globals.app()?;
    let new_key = match new_key_file {
        None => None,
        Some(path) => {
            let text = Zeroizing::new(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            );
            let passphrase = text.trim_end_matches(['\n', '\r']);
            Some(
                SecretKey::from_passphrase(passphrase)
                    .map_err(|err| anyhow!("{}: {err}", path.display()))?,
            )
        }
    };
    let store = app.open_store()?;
    let service = open_with(
        &app,
        store,
        Service::Webserver,
        std::env::vars_os(),
        new_key,
    )?;
    let report = service.rekey(limit, &actor())?;
    emitln(format_args!(
        "re-encrypted {} value(s); {} already were under the primary key{}",
        report.resealed,
        report.already_current,
        if report.changed_concurrently > 0 {
            format!("; {} changed meanwhile", report.changed_concurrently)
        } else {
            String::new()
        }
    ))?;
    for failure in &report.failed {
        eprintln!(
            "error: {}/{}/{} version {}: {}",
            failure.tenant, failure.namespace, failure.key, failure.version, failure.message
        );
    }
    if report.stopped_early {
        emitln(format_args!(
            "stopped at --limit: run the command again to go on"
        ))?;
    } else if report.failed.is_empty() && new_key_file.is_some() {
        emitln(format_args!(
            "done: now set secret.jdbc.secret to the new key's content"
        ))?;
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn encode_env(file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let text = Zeroizing::new(
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?,
    );
    match saker_secrets::dotenv::encode_env(&text) {
        Ok(encoded) => {
            for warning in &encoded.warnings {
                eprintln!("warning: {}:{warning}", file.display());
            }
            emit(format_args!("{}", encoded.text.as_str()))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            eprintln!("error: {}:{err}", file.display());
            Ok(ExitCode::from(1))
        }
    }
}
