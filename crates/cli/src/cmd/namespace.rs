//! `saker namespace files update NS DIR [TO]` (Kestra's CLI shape): uploads a directory tree
//! to a namespace's files in the internal storage of the data directory, where tasks of the
//! namespace read them (`read('path')`, `namespaceFiles`). `--delete` removes the namespace
//! files under TO that DIR no longer has.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use saker_model::DEFAULT_TENANT;
use saker_storage::StorageUri;

use crate::app::Globals;

#[derive(Debug, Subcommand)]
pub enum NamespaceCommand {
    /// Manage namespace files.
    #[command(subcommand)]
    Files(FilesCommand),
    /// Manage the namespace's own secret backend.
    #[command(subcommand, name = "secret-manager")]
    SecretManager(super::namespace_secret_manager::SecretManagerCommand),
}

#[derive(Debug, Subcommand)]
pub enum FilesCommand {
    /// Upload the files of DIR (at any depth) to the namespace's files, under TO.
    Update {
        /// The namespace, such as company.team.
        namespace: String,
        /// The local directory to upload.
        dir: PathBuf,
        /// Where under the namespace's files to put them (its root by default).
        to: Option<String>,
        /// Delete the namespace files under TO that DIR does not have.
        #[arg(long)]
        delete: bool,
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
    },
}

pub fn run(globals: &Globals, command: NamespaceCommand) -> anyhow::Result<ExitCode> {
    let (namespace, dir, to, delete, tenant) = match command {
        NamespaceCommand::Files(FilesCommand::Update {
            namespace,
            dir,
            to,
            delete,
            tenant,
        }) => (namespace, dir, to, delete, tenant),
        NamespaceCommand::SecretManager(command) => {
            return super::namespace_secret_manager::run(globals, command);
        }
    };
    if let Err(e) = saker_model::ids::check_namespace(&namespace) {
        bail!("namespace '{namespace}' {e}");
    }
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let root = StorageUri::namespace_files(&namespace)?;
    let target = match to.as_deref().map(|t| t.trim_matches('/')) {
        None | Some("") => root.clone(),
        Some(to) => root
            .join(to)
            .with_context(|| format!("TO '{to}' is not a valid path among namespace files"))?,
    };
    let local = local_files(&dir)?;
    let app = globals.app()?;
    app.ensure_data_dir()?;
    let storage = app.storage()?;
    let mut uploaded = BTreeSet::new();
    for relative in &local {
        let uri = target
            .join(relative)
            .with_context(|| format!("{relative} cannot be a namespace file"))?;
        let path = dir.join(relative);
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        storage
            .put(&tenant, &uri, &bytes)
            .with_context(|| format!("cannot upload {}", path.display()))?;
        uploaded.insert(uri);
    }
    let mut deleted = 0;
    if delete {
        for info in storage.list_files(&tenant, &target)? {
            if !uploaded.contains(&info.uri) && storage.delete(&tenant, &info.uri)? {
                deleted += 1;
            }
        }
    }
    let shown = target.relative_to(&root).unwrap_or("");
    eprintln!(
        "{} file(s) uploaded to the files of {namespace} under /{shown}{}",
        uploaded.len(),
        if delete {
            format!(", {deleted} deleted")
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// The regular files under `dir`, as `/`-separated relative paths, sorted. Symbolic links
/// are skipped (with a note): what they point to is not part of the tree.
fn local_files(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let walk = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .min_depth(1)
        .sort_by_file_name();
    for entry in walk {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        if entry.file_type().is_symlink() {
            eprintln!(
                "note: {} is a symbolic link; skipped",
                entry.path().display()
            );
            continue;
        }
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        let parts: Option<Vec<&str>> = relative
            .components()
            .map(|c| c.as_os_str().to_str())
            .collect();
        let Some(parts) = parts else {
            bail!("{} has a name that is not UTF-8", entry.path().display());
        };
        out.push(parts.join("/"));
    }
    Ok(out)
}
