//! How `saker secret` shows metadata: `list`, `info` and `versions`, and the table and time
//! formats `saker audit list` shares. Nothing here has a value to show.

use std::io::Write as _;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use saker_secrets::duration::format_duration;
use saker_secrets::{Namespace, SecretMetadata, SecretService, SecretState};

use super::Target;

/// Writes to stdout. A reader that went away (`saker secret list | head`) ends the output
/// quietly instead of the panic `print!` would raise; other write errors are reported.
pub(crate) fn emit(text: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    match std::io::stdout().lock().write_fmt(text) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(err).context("cannot write to stdout"))
        }
        _ => Ok(()),
    }
}

/// [`emit`] and a newline.
pub(crate) fn emitln(text: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    emit(format_args!("{text}\n"))
}

/// `2026-11-22T10:00:00Z`.
pub(crate) fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Rows as left-aligned columns separated by two spaces.
pub(crate) fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|row| row.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub(super) fn state(state: &SecretState) -> String {
    match state {
        SecretState::Active => "active".into(),
        SecretState::Deleted { at } => format!("deleted at {}", time(*at)),
        SecretState::Revoked { at, reason } => match reason {
            Some(reason) => format!("revoked at {} ({reason})", time(*at)),
            None => format!("revoked at {}", time(*at)),
        },
    }
}

fn short_state(meta: &SecretMetadata, now: DateTime<Utc>) -> &'static str {
    match meta.state {
        SecretState::Active if meta.is_expired(now) => "expired",
        SecretState::Active => "active",
        SecretState::Deleted { .. } => "deleted",
        SecretState::Revoked { .. } => "revoked",
    }
}

pub(super) fn list(
    service: &SecretService,
    tenant: &str,
    namespace: &Namespace,
    inherited: bool,
    due: bool,
) -> anyhow::Result<ExitCode> {
    let now = service.now();
    let entries: Vec<(SecretMetadata, Vec<Namespace>)> = if inherited {
        service
            .list_visible(tenant, namespace)?
            .into_iter()
            .map(|visible| (visible.metadata, visible.shadows))
            .collect()
    } else {
        service
            .list(tenant, namespace)?
            .into_iter()
            .map(|meta| (meta, Vec::new()))
            .collect()
    };
    let entries: Vec<_> = entries
        .into_iter()
        .filter(|(meta, _)| !due || meta.is_rotation_due(now) || meta.is_expired(now))
        .collect();
    if entries.is_empty() {
        eprintln!(
            "no {}secrets in {namespace}{}",
            if due { "due " } else { "" },
            if inherited { " or its parents" } else { "" }
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![vec![
        "KEY".to_owned(),
        "NAMESPACE".to_owned(),
        "VERSION".to_owned(),
        "STATE".to_owned(),
        "UPDATED".to_owned(),
        "EXPIRES".to_owned(),
        "ROTATION DUE".to_owned(),
    ]];
    for (meta, shadows) in entries {
        let mut stored = meta
            .namespace
            .as_ref()
            .map_or_else(|| "(env)".to_owned(), Namespace::to_string);
        if !shadows.is_empty() {
            let names: Vec<&str> = shadows.iter().map(Namespace::as_str).collect();
            stored.push_str(&format!(" (overrides {})", names.join(", ")));
        }
        rows.push(vec![
            meta.key.clone(),
            stored,
            meta.version.to_string(),
            short_state(&meta, now).to_owned(),
            meta.updated_at.map_or_else(|| "-".into(), time),
            meta.expires_at.map_or_else(|| "-".into(), time),
            meta.rotation_due_at().map_or_else(|| "-".into(), time),
        ]);
    }
    emit(format_args!("{}", table(&rows)))?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn info(service: &SecretService, target: &Target) -> anyhow::Result<ExitCode> {
    let levels = service.describe(&target.tenant.tenant, &target.namespace, &target.key)?;
    let Some(meta) = levels
        .iter()
        .find(|meta| !matches!(meta.state, SecretState::Deleted { .. }))
        .or_else(|| levels.first())
    else {
        let searched: Vec<String> = target
            .namespace
            .chain()
            .iter()
            .map(Namespace::to_string)
            .collect();
        eprintln!(
            "error: secret '{}' not found in {}",
            target.key,
            searched.join(", ")
        );
        return Ok(ExitCode::from(1));
    };
    let now = service.now();
    let stored = match &meta.namespace {
        None => format!("every namespace ({} backend)", service.backend_name()),
        Some(ns) if ns == &target.namespace => ns.to_string(),
        Some(ns) => format!("{ns} (inherited by {})", target.namespace),
    };
    let shadows: Vec<String> = levels
        .iter()
        .filter(|other| other.namespace != meta.namespace)
        .filter_map(|other| other.namespace.as_ref().map(Namespace::to_string))
        .collect();
    let mut lines = vec![
        ("key", meta.key.clone()),
        ("namespace", stored),
        (
            "state",
            if meta.is_expired(now) {
                "expired".into()
            } else {
                state(&meta.state)
            },
        ),
        ("version", meta.version.to_string()),
        (
            "description",
            meta.description.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            "tags",
            if meta.tags.is_empty() {
                "-".into()
            } else {
                meta.tags
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ),
        ("created", meta.created_at.map_or_else(|| "-".into(), time)),
        ("updated", meta.updated_at.map_or_else(|| "-".into(), time)),
        (
            "last read",
            meta.last_read_at.map_or_else(|| "never".into(), time),
        ),
        (
            "expires",
            meta.expires_at.map_or_else(|| "never".into(), time),
        ),
        (
            "rotation",
            match (meta.rotation_period, meta.rotation_due_at()) {
                (Some(period), Some(due)) => {
                    format!("every {} (due {})", format_duration(period), time(due))
                }
                (Some(period), None) => format!("every {}", format_duration(period)),
                _ => "-".into(),
            },
        ),
    ];
    if !shadows.is_empty() {
        lines.push(("overrides", shadows.join(", ")));
    }
    for (label, value) in lines {
        emitln(format_args!("{:<12} {value}", format!("{label}:")))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn versions(service: &SecretService, target: &Target) -> anyhow::Result<ExitCode> {
    let current = service
        .metadata(&target.tenant.tenant, &target.namespace, &target.key)?
        .map(|meta| meta.version);
    let versions = service.versions(&target.tenant.tenant, &target.namespace, &target.key)?;
    let mut rows = vec![vec![
        "VERSION".into(),
        "CREATED".into(),
        "BY".into(),
        "AVAILABLE".into(),
    ]];
    for v in versions {
        let marker = if Some(v.version) == current {
            " (current)"
        } else {
            ""
        };
        rows.push(vec![
            format!("{}{marker}", v.version),
            time(v.created_at),
            v.created_by.unwrap_or_else(|| "-".into()),
            if v.available { "yes" } else { "no" }.into(),
        ]);
    }
    emit(format_args!("{}", table(&rows)))?;
    Ok(ExitCode::SUCCESS)
}
