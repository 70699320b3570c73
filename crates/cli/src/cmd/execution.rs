//! `saker execution list`, `saker execution logs` and `saker execution purge`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use saker_model::{DEFAULT_TENANT, StateType};
use saker_store::{ExecutionFilter, ExecutionPurge, LogPurge, PurgeScope};

use crate::app::Globals;
use crate::print;

#[derive(Debug, Subcommand)]
pub enum ExecutionCommand {
    /// List executions, newest first.
    List {
        /// Only this namespace and its children.
        #[arg(long)]
        namespace: Option<String>,
        /// Only executions of this flow id.
        #[arg(long = "flow")]
        flow_id: Option<String>,
        /// Only executions in this state (SUCCESS, FAILED, RUNNING, ...).
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
    },
    /// Print the log lines of an execution.
    Logs {
        #[arg(value_name = "ID")]
        id: String,
        /// Keep printing new lines until the execution ends.
        #[arg(long, short = 'f')]
        follow: bool,
    },
    /// Delete ended executions (with their task runs and log lines) older than a duration.
    /// Executions that have not ended are never deleted, nor is the audit trail.
    Purge {
        /// Purge what ended longer ago than this: 30d, 12h, PT1H, ...
        #[arg(long, value_name = "DURATION")]
        older_than: String,
        /// Only this namespace and its children (with --flow-id: this namespace only).
        #[arg(long)]
        namespace: Option<String>,
        /// Only executions of this flow id.
        #[arg(long)]
        flow_id: Option<String>,
        /// Only executions that ended in this state (repeatable: --state SUCCESS --state
        /// WARNING) [default: every ended state].
        #[arg(long = "state", value_name = "STATE", conflicts_with = "logs_only")]
        states: Vec<String>,
        /// Delete only log lines older than the duration, of every execution, and keep
        /// the executions.
        #[arg(long)]
        logs_only: bool,
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
    },
}

pub fn run(globals: &Globals, command: ExecutionCommand) -> anyhow::Result<ExitCode> {
    let app = globals.app()?;
    let store = app.open_existing_store()?;
    match command {
        ExecutionCommand::List {
            namespace,
            flow_id,
            state,
            limit,
            tenant,
        } => {
            let mut filter = ExecutionFilter::new(tenant);
            filter.namespace_prefix = namespace;
            filter.flow_id = flow_id;
            filter.limit = Some(limit);
            if let Some(s) = state {
                filter.states = vec![parse_state(&s)?];
            }
            let executions = saker_store::Store::list_executions(store.as_ref(), &filter)?;
            if executions.is_empty() {
                eprintln!("no execution");
            }
            println!(
                "{:<22}  {:<8}  {:<24}  {:<30}",
                "ID", "STATE", "STARTED", "FLOW"
            );
            for e in executions {
                let started = e
                    .state
                    .start_date()
                    .map(|d| {
                        d.with_timezone(&chrono::Local)
                            .format("%Y-%m-%d %H:%M:%S")
                            .to_string()
                    })
                    .unwrap_or_default();
                println!(
                    "{:<22}  {:<8}  {:<24}  {}.{}",
                    e.id, e.state.current, started, e.namespace, e.flow_id
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ExecutionCommand::Logs { id, follow } => {
            let store: &dyn saker_store::Store = store.as_ref();
            if store.get_execution(&id)?.is_none() {
                anyhow::bail!("execution {id} not found");
            }
            let mut cursor = None;
            loop {
                // The state first: an execution's last lines are written in the same
                // transaction as its final state, so lines read after it include them all.
                let ended = store
                    .get_execution(&id)?
                    .is_none_or(|e| e.state.current.is_terminated());
                print::logs_after(store, &id, &mut cursor)?;
                if !follow || ended {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            Ok(ExitCode::SUCCESS)
        }
        ExecutionCommand::Purge {
            older_than,
            namespace,
            flow_id,
            states,
            logs_only,
            tenant,
        } => {
            let keep = saker_secrets::duration::parse_duration(&older_than)
                .map_err(|err| anyhow::anyhow!("--older-than {older_than}: {err}"))?;
            let before = crate::retention::cutoff(chrono::Utc::now(), keep)?;
            let scope = PurgeScope {
                namespace,
                flow_id,
                ..PurgeScope::new(tenant)
            };
            let store: &dyn saker_store::Store = store.as_ref();
            if logs_only {
                let removed = store.purge_logs(&LogPurge::new(scope, before))?;
                println!("log lines:  {removed}");
                return Ok(ExitCode::SUCCESS);
            }
            let states = states
                .iter()
                .map(|s| parse_state(s))
                .collect::<anyhow::Result<Vec<_>>>()?;
            if let Some(running) = states.iter().find(|s| !s.is_terminated()) {
                anyhow::bail!(
                    "--state {running}: only ended executions are purged; use SUCCESS, WARNING, FAILED, KILLED or SKIPPED"
                );
            }
            let purge = ExecutionPurge {
                states,
                ..ExecutionPurge::new(scope, before)
            };
            let removed = store.purge_executions(&purge)?;
            println!("executions: {}", removed.executions);
            println!("task runs:  {}", removed.task_runs);
            println!("log lines:  {}", removed.logs);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn parse_state(name: &str) -> anyhow::Result<StateType> {
    StateType::parse(&name.to_ascii_uppercase()).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown state '{name}': use CREATED, RUNNING, SUCCESS, WARNING, FAILED, KILLING, KILLED, SKIPPED or RETRYING"
        )
    })
}
