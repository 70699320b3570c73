//! `saker service list`: the service instances registered on the PostgreSQL store (see
//! `crate::services`), read directly from the database.

use std::process::ExitCode;

use anyhow::bail;
use clap::Subcommand;

use crate::app::Globals;

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Every service instance: id, type, state, host, start, last heartbeat, worker group.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(globals: &Globals, command: ServiceCommand) -> anyhow::Result<ExitCode> {
    let ServiceCommand::List { json } = command;
    let app = globals.app()?;
    let Some(store) = crate::services::postgres_store(&app, 1)? else {
        bail!(
            "service instances are kept only on PostgreSQL (repository.type: postgres); \
             with the embedded store, one `saker server standalone` process is the deployment"
        );
    };
    let instances = store.list_instances()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&instances)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<22} {:<10} {:<21} {:<20} {:<20} {:<20} {:<5} GROUP",
        "ID", "TYPE", "STATE", "HOST", "STARTED", "LAST HEARTBEAT", "JOBS"
    );
    for instance in instances {
        println!(
            "{:<22} {:<10} {:<21} {:<20} {:<20} {:<20} {:<5} {}",
            instance.id,
            instance.service_type.as_str(),
            instance.state.as_str(),
            instance.host,
            instance.started_at.format("%Y-%m-%d %H:%M:%S"),
            instance.last_heartbeat.format("%Y-%m-%d %H:%M:%S"),
            instance.jobs.len(),
            instance.worker_group.as_deref().unwrap_or("-"),
        );
    }
    Ok(ExitCode::SUCCESS)
}
