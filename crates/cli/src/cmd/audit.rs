//! `saker audit`: read and check the audit trail in the repository database. `verify` walks
//! the hash chain and names the first event that was edited, deleted, reordered or inserted
//! by hand; `list` shows events filtered by namespace, key, actor and time.

use std::process::ExitCode;

use clap::Subcommand;
use saker_store::{AuditFilter, AuditRecord, verify_audit};

use crate::app::Globals;
use crate::cmd::secret::{emit, emitln, parse_time, table, time};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the trail's hash chain: exit 0 if intact, else exit 1 naming the first event
    /// that was edited, deleted, reordered or inserted by hand.
    Verify,
    /// List events, oldest first.
    List {
        /// This namespace and those below it.
        #[arg(long)]
        namespace: Option<String>,
        /// Exactly this key.
        #[arg(long)]
        key: Option<String>,
        /// Exactly this actor (`cli:alice`, `execution`...).
        #[arg(long)]
        actor: Option<String>,
        /// At or after: a time (2026-11-22T10:00:00Z), a date, or a duration ago (1h).
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// At or before: a time, a date, or a duration ago.
        #[arg(long, value_name = "WHEN")]
        until: Option<String>,
        /// Only this tenant (default: every tenant).
        #[arg(long)]
        tenant: Option<String>,
        /// At most this many events.
        #[arg(long)]
        limit: Option<u32>,
    },
}

pub fn run(globals: &Globals, command: AuditCommand) -> anyhow::Result<ExitCode> {
    let app = globals.app()?;
    let store = app.open_existing_store()?;
    match command {
        AuditCommand::Verify => {
            let report = verify_audit(store.as_ref())?;
            match (&report.problem, &report.head) {
                (None, None) => emitln(format_args!("audit trail intact: no events yet"))?,
                (None, Some(head)) => emitln(format_args!(
                    "audit trail intact: {} events, last event {} with hash {}",
                    report.verified, head.seq, head.hash
                ))?,
                (Some(problem), _) => {
                    emitln(format_args!(
                        "audit trail BROKEN after {} intact events: {problem}",
                        report.verified
                    ))?;
                    return Ok(ExitCode::from(1));
                }
            }
        }
        AuditCommand::List {
            namespace,
            key,
            actor,
            since,
            until,
            tenant,
            limit,
        } => {
            let now = chrono::Utc::now();
            let filter = AuditFilter {
                tenant,
                namespace,
                key,
                actor,
                since: since
                    .map(|text| parse_time(&text, now, false))
                    .transpose()
                    .map_err(|err| err.context("--since"))?,
                until: until
                    .map(|text| parse_time(&text, now, false))
                    .transpose()
                    .map_err(|err| err.context("--until"))?,
                after_seq: None,
                limit,
            };
            let records = store.list_audit(&filter)?;
            if records.is_empty() {
                eprintln!("no matching audit events");
                return Ok(ExitCode::SUCCESS);
            }
            let mut rows = vec![
                [
                    "SEQ",
                    "TIME",
                    "TENANT",
                    "NAMESPACE",
                    "KEY",
                    "ACTION",
                    "OUTCOME",
                    "ACTOR",
                    "SERVICE",
                    "CONTEXT",
                    "DETAIL",
                ]
                .map(str::to_owned)
                .to_vec(),
            ];
            rows.extend(records.iter().map(row));
            emit(format_args!("{}", table(&rows)))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn row(record: &AuditRecord) -> Vec<String> {
    let event = &record.event;
    let dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
    let context: Vec<String> = [
        ("flow", &event.flow_id),
        ("execution", &event.execution_id),
        ("taskrun", &event.task_run_id),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.as_ref().map(|value| format!("{name}={value}")))
    .collect();
    vec![
        record.seq.to_string(),
        time(event.timestamp),
        event.tenant.clone(),
        dash(&event.namespace),
        dash(&event.key),
        event.action.clone(),
        event.outcome.clone(),
        event.actor.clone(),
        dash(&event.service),
        if context.is_empty() {
            "-".into()
        } else {
            context.join(" ")
        },
        dash(&event.detail),
    ]
}
