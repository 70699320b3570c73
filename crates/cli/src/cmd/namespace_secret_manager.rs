//! `saker namespace secret-manager set NS --file cfg.yml | show NS | remove NS`: a
//! namespace's own secret backend in the local data directory (issue 15 item 4). The file is
//! the backend part of a `secret:` section (`type`, `read-only` and the backend's own
//! section); its credentials are sealed before they are stored and shown as `****`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow};
use clap::Subcommand;
use saker_model::DEFAULT_TENANT;
use saker_secrets::Namespace;
use zeroize::Zeroizing;

use crate::app::Globals;
use crate::cmd::secret::{actor, open};

#[derive(Debug, Subcommand)]
pub enum SecretManagerCommand {
    /// Give NAMESPACE (and its children) the backend FILE describes, e.g.
    /// `{type: vault, vault: {address: ..., token: {token: ...}}}`.
    Set {
        /// The namespace, such as company.team.
        namespace: String,
        /// A YAML or JSON file holding the backend's configuration.
        #[arg(long)]
        file: PathBuf,
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
    },
    /// Print NAMESPACE's own backend configuration, credentials blanked.
    Show {
        namespace: String,
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
    },
    /// Remove NAMESPACE's own backend: it falls back to its parents' or the instance's.
    Remove {
        namespace: String,
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
    },
}

fn namespace(text: &str) -> anyhow::Result<Namespace> {
    Namespace::parse(text).map_err(|e| anyhow!("namespace '{text}': {e}"))
}

pub fn run(globals: &Globals, command: SecretManagerCommand) -> anyhow::Result<ExitCode> {
    let service = open(globals)?;
    let who = actor();
    match command {
        SecretManagerCommand::Set {
            namespace: ns,
            file,
            tenant,
        } => {
            let ns = namespace(&ns)?;
            // The file holds credentials: wiped once read.
            let text = Zeroizing::new(
                std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?,
            );
            let document = saker_model::yaml::parse(&text)
                .map_err(|e| anyhow!("{}: {}: {}", file.display(), e.pos(), e.message()))?
                .to_json();
            let shown = service.set_namespace_backend(&tenant, &ns, document, &who)?;
            println!("{}", serde_json::to_string_pretty(&shown)?);
            eprintln!("namespace {ns} now keeps its secrets in its own backend");
        }
        SecretManagerCommand::Show {
            namespace: ns,
            tenant,
        } => {
            let ns = namespace(&ns)?;
            match service.namespace_backend(&tenant, &ns)? {
                Some(shown) => println!("{}", serde_json::to_string_pretty(&shown)?),
                None => {
                    eprintln!("namespace {ns} has no backend of its own");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        SecretManagerCommand::Remove {
            namespace: ns,
            tenant,
        } => {
            let ns = namespace(&ns)?;
            if service.remove_namespace_backend(&tenant, &ns, &who)? {
                eprintln!("namespace {ns} no longer has a backend of its own");
            } else {
                eprintln!("namespace {ns} had no backend of its own");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
