//! `saker trigger list`: the Schedule triggers the scheduler keeps, with the date each is
//! next due, read from the store (a running server's scheduler writes them).

use std::process::ExitCode;

use clap::Subcommand;
use saker_auth::namespace::covers;
use saker_model::DEFAULT_TENANT;

use crate::app::Globals;

#[derive(Debug, Subcommand)]
pub enum TriggerCommand {
    /// List the scheduled triggers and when each next starts an execution.
    List {
        /// Only this namespace and its children.
        #[arg(long)]
        namespace: Option<String>,
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
    },
}

pub fn run(globals: &Globals, command: TriggerCommand) -> anyhow::Result<ExitCode> {
    let TriggerCommand::List { namespace, tenant } = command;
    let app = globals.app()?;
    let store = app.open_existing_store()?;
    let states: Vec<_> = saker_store::Store::trigger_states(store.as_ref(), &tenant)?
        .into_iter()
        .filter(|s| {
            namespace
                .as_deref()
                .is_none_or(|ns| covers(ns, &s.namespace))
        })
        .collect();
    if states.is_empty() {
        eprintln!(
            "no scheduled trigger (a running `saker server local` records each Schedule trigger within a second of seeing it)"
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("{:<40}  {:<20}  NEXT", "FLOW", "TRIGGER");
    for s in states {
        let next = s
            .next_date
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M:%S %:z");
        println!(
            "{:<40}  {:<20}  {next}",
            format!("{}.{}", s.namespace, s.flow_id),
            s.trigger_id
        );
    }
    Ok(ExitCode::SUCCESS)
}
