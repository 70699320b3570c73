//! `saker execution list` and `saker execution logs`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use saker_model::{DEFAULT_TENANT, StateType};
use saker_store::ExecutionFilter;

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
                let parsed = StateType::parse(&s.to_ascii_uppercase()).ok_or_else(|| {
                    anyhow::anyhow!(
                        "unknown state '{s}': use CREATED, RUNNING, SUCCESS, WARNING, FAILED, KILLING, KILLED, SKIPPED or RETRYING"
                    )
                })?;
                filter.states = vec![parsed];
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
    }
}
