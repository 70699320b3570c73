//! `saker kv`: the KV store of a namespace in the local data directory (or the configured
//! PostgreSQL), as flows read it with `kv()`. A value is given as Kestra's API takes it: JSON
//! text (`'"text"'`, `42`, `'{"a": 1}'`) or plain text, typed by `--type` when given.
//!
//! A value a flow derived from a secret is stored sealed and is never printed: `get` shows
//! `****` for it.

use std::io::Read as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use chrono::Utc;
use clap::{Args, Subcommand};
use saker_engine::kv_value::{expiry, validate_key, validate_namespace, value_from_text};
use saker_model::DEFAULT_TENANT;
use saker_store::{KvEntry, KvType};
use serde_json::Value;

use crate::app::Globals;
use crate::cmd::secret::{emitln, table, time};

#[derive(Debug, Subcommand)]
pub enum KvCommand {
    /// Set a key's value: VALUE, or stdin when VALUE is absent.
    Set {
        #[command(flatten)]
        target: Target,
        /// The value: JSON text ('"text"', 42, true, '{"a": 1}') or plain text.
        value: Option<String>,
        /// Read the value as this type: STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION or
        /// JSON (default: the value's own).
        #[arg(long = "type", value_name = "TYPE", value_parser = parse_type)]
        kv_type: Option<KvType>,
        /// Expire the key after this ISO-8601 duration (PT1H, P7D).
        #[arg(long, value_name = "DURATION")]
        ttl: Option<String>,
    },
    /// Print a key's value (`****` for one derived from a secret).
    Get {
        #[command(flatten)]
        target: Target,
    },
    /// List the keys of a namespace.
    List {
        namespace: String,
        #[command(flatten)]
        tenant: TenantArg,
    },
    /// Delete a key.
    Delete {
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Debug, Args)]
pub struct Target {
    /// The namespace, e.g. company.team.
    namespace: String,
    /// The key: letters, digits, '.', '_' and '-'.
    key: String,
    #[command(flatten)]
    tenant: TenantArg,
}

#[derive(Debug, Args)]
pub struct TenantArg {
    /// The tenant.
    #[arg(long, default_value = DEFAULT_TENANT)]
    tenant: String,
}

fn parse_type(text: &str) -> Result<KvType, String> {
    KvType::parse(text).ok_or_else(|| {
        format!(
            "unknown type '{text}': use STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION or JSON"
        )
    })
}

fn checked(target: &Target) -> anyhow::Result<()> {
    validate_namespace(&target.namespace).map_err(anyhow::Error::msg)?;
    validate_key(&target.key).map_err(anyhow::Error::msg)?;
    Ok(())
}

pub fn run(globals: &Globals, command: KvCommand) -> anyhow::Result<ExitCode> {
    let app = globals.app()?;
    match command {
        KvCommand::Set {
            target,
            value,
            kv_type,
            ttl,
        } => {
            checked(&target)?;
            let text = match value {
                Some(text) => text,
                None => {
                    let mut text = String::new();
                    std::io::stdin()
                        .read_to_string(&mut text)
                        .context("cannot read the value from stdin")?;
                    text.strip_suffix('\n').unwrap_or(&text).to_owned()
                }
            };
            let (kv_type, value) = value_from_text(&text, kv_type).map_err(anyhow::Error::msg)?;
            let expires_at = ttl
                .map(|ttl| expiry(&ttl, Utc::now()))
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let entry = KvEntry {
                expires_at,
                ..KvEntry::new(
                    target.tenant.tenant,
                    target.namespace,
                    target.key,
                    kv_type,
                    value.to_string(),
                )
            };
            app.open_store()?.put_kv(&entry, true)?;
            eprintln!("set {} in {} ({kv_type})", entry.key, entry.namespace);
            Ok(ExitCode::SUCCESS)
        }
        KvCommand::Get { target } => {
            checked(&target)?;
            let store = app.open_existing_store()?;
            let Some(entry) =
                store.get_kv(&target.tenant.tenant, &target.namespace, &target.key)?
            else {
                eprintln!(
                    "error: no key {} in namespace {} (never set, deleted or expired)",
                    target.key, target.namespace
                );
                return Ok(ExitCode::from(1));
            };
            if entry.sealed {
                eprintln!(
                    "{}: derived from a secret; stored encrypted, never shown",
                    entry.key
                );
                emitln(format_args!("****"))?;
                return Ok(ExitCode::SUCCESS);
            }
            let value: Value = serde_json::from_str(&entry.value)
                .with_context(|| format!("KV entry {} does not hold JSON", entry.id()))?;
            match value {
                Value::String(text) => emitln(format_args!("{text}"))?,
                other => emitln(format_args!("{other}"))?,
            }
            Ok(ExitCode::SUCCESS)
        }
        KvCommand::List { namespace, tenant } => {
            if let Err(e) = validate_namespace(&namespace) {
                bail!(e);
            }
            let entries = app
                .open_existing_store()?
                .list_kv(&tenant.tenant, &namespace, None)?;
            let mut rows = vec![vec![
                "KEY".to_owned(),
                "TYPE".to_owned(),
                "UPDATED".to_owned(),
                "EXPIRES".to_owned(),
            ]];
            for entry in &entries {
                let kind = if entry.sealed {
                    format!("{} (sealed)", entry.kv_type)
                } else {
                    entry.kv_type.to_string()
                };
                rows.push(vec![
                    entry.key.clone(),
                    kind,
                    time(entry.updated_at),
                    entry.expires_at.map(time).unwrap_or_else(|| "-".to_owned()),
                ]);
            }
            emitln(format_args!("{}", table(&rows).trim_end()))?;
            Ok(ExitCode::SUCCESS)
        }
        KvCommand::Delete { target } => {
            checked(&target)?;
            let deleted = app.open_existing_store()?.delete_kv(
                &target.tenant.tenant,
                &target.namespace,
                &target.key,
            )?;
            if deleted {
                eprintln!("deleted {} from {}", target.key, target.namespace);
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!(
                    "error: no key {} in namespace {}",
                    target.key, target.namespace
                );
                Ok(ExitCode::from(1))
            }
        }
    }
}
