//! `saker execution list`, `logs` and `purge`, and what acts on one execution as Kestra's API
//! does: `resume` (a PAUSED one, with its `onResume` inputs), `restart` (a FAILED or KILLED
//! one, from its failed task runs) and `replay` (a new execution from a chosen task run).
//!
//! Those three need an engine. This process starts one on the data directory, as `saker flow
//! run` does, and follows the execution to its end, streaming its logs; the exit code is
//! `flow run`'s (0 for SUCCESS and WARNING). The data directory admits one such process at a
//! time: while a server runs on it, the error says to use the server's API instead.

use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use saker_model::{DEFAULT_TENANT, StateType};
use saker_store::{ExecutionFilter, ExecutionPurge, LogPurge, PurgeScope};

use crate::app::{Globals, runtime};
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
    /// Resume a PAUSED execution and follow it to its end.
    Resume {
        #[arg(value_name = "ID")]
        id: String,
        /// An `onResume` input of the paused task, `KEY=VALUE`. Repeat for several.
        #[arg(long = "input", short = 'i', value_name = "KEY=VALUE")]
        inputs: Vec<String>,
    },
    /// Restart a FAILED or KILLED execution from its failed task runs (same execution) and
    /// follow it to its end.
    Restart {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Replay an ended execution from one of its task runs as a new execution, and follow
    /// that one to its end.
    Replay {
        #[arg(value_name = "ID")]
        id: String,
        /// The task run to replay from.
        #[arg(long, value_name = "TASK_RUN_ID", required_unless_present = "task")]
        task_run_id: Option<String>,
        /// Or the task to replay from (its first run).
        #[arg(long, value_name = "TASK_ID", conflicts_with = "task_run_id")]
        task: Option<String>,
    },
}

pub fn run(globals: &Globals, command: ExecutionCommand) -> anyhow::Result<ExitCode> {
    // The store as it is, for the commands that only read or purge it.
    let open = || globals.app()?.open_existing_store();
    match command {
        ExecutionCommand::Resume { id, inputs } => {
            let inputs = parse_pairs(&inputs)?;
            control(globals, &id, Control::Resume(inputs))
        }
        ExecutionCommand::Restart { id } => control(globals, &id, Control::Restart),
        ExecutionCommand::Replay {
            id,
            task_run_id,
            task,
        } => {
            let from = match (task_run_id, task) {
                (Some(run), _) => ReplayFrom::TaskRun(run),
                (None, Some(task)) => ReplayFrom::Task(task),
                (None, None) => anyhow::bail!("replay needs --task-run-id or --task"),
            };
            control(globals, &id, Control::Replay(from))
        }
        ExecutionCommand::List {
            namespace,
            flow_id,
            state,
            limit,
            tenant,
        } => {
            let store = open()?;
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
            let store = open()?;
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
            let store = open()?;
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

/// What `resume`, `restart` and `replay` do once the engine runs.
enum Control {
    Resume(serde_json::Map<String, serde_json::Value>),
    Restart,
    Replay(ReplayFrom),
}

enum ReplayFrom {
    TaskRun(String),
    /// The first run of this task id.
    Task(String),
}

/// `KEY=VALUE` pairs as raw string inputs (the engine coerces them to the declared types).
fn parse_pairs(pairs: &[String]) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    pairs
        .iter()
        .map(|pair| {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--input '{pair}' must be KEY=VALUE"))?;
            Ok((
                key.trim().to_owned(),
                serde_json::Value::String(value.to_owned()),
            ))
        })
        .collect()
}

/// Starts an engine on the data directory, does `action` to execution `id`, and follows the
/// execution it concerns (the new one of a replay) to its end.
fn control(globals: &Globals, id: &str, action: Control) -> anyhow::Result<ExitCode> {
    let app = globals.app()?;
    let _lock = app.lock().map_err(|e| {
        anyhow::anyhow!(
            "{e:#}\nwhile a server runs on this data directory, ask it instead: POST /api/v1/{{tenant}}/executions/{id}/resume, /restart or /replay"
        )
    })?;
    let store = app.open_store_to_run()?;
    let parts = app.engine_parts(store.clone(), globals.config.as_deref())?;
    let rt = runtime()?;
    rt.block_on(async move {
        let engine = saker_engine::Engine::start(parts);
        let followed = match action {
            Control::Resume(inputs) => {
                let state = saker_store::Store::get_execution(store.as_ref(), id)?
                    .ok_or_else(|| anyhow::anyhow!("execution {id} not found"))?
                    .state
                    .current;
                if state != StateType::Paused {
                    return Err(saker_engine::EngineError::NotPaused {
                        id: id.to_owned(),
                        state,
                    }
                    .into());
                }
                // A paused execution waits in the store: this process takes up what the
                // last one left unfinished (as `saker server local` does at start), it
                // among them, before resuming it.
                let taken = engine.recover()?;
                if taken > 1 {
                    eprintln!(
                        "took up {} other unfinished execution(s) of this data directory; they stop again with this command (`saker server local` runs them to their end)",
                        taken - 1
                    );
                }
                engine.resume(id, inputs)?;
                eprintln!("Execution {id} resumed");
                id.to_owned()
            }
            Control::Restart => {
                engine.restart(id)?;
                eprintln!("Execution {id} restarted");
                id.to_owned()
            }
            Control::Replay(from) => {
                let task_run_id = match from {
                    ReplayFrom::TaskRun(run) => run,
                    ReplayFrom::Task(task) => {
                        let execution = saker_store::Store::get_execution(store.as_ref(), id)?
                            .ok_or_else(|| anyhow::anyhow!("execution {id} not found"))?;
                        execution
                            .task_run(&task)
                            .map(|r| r.id.clone())
                            .ok_or_else(|| {
                                anyhow::anyhow!("execution {id} has no run of task '{task}'")
                            })?
                    }
                };
                let replayed = engine.replay(id, &task_run_id)?;
                eprintln!(
                    "Execution {} replays {id} from task run {task_run_id}",
                    replayed.id
                );
                replayed.id
            }
        };
        let finished = super::flow::follow(&engine, store.as_ref(), &followed).await?;
        Ok(super::flow::report_end(&finished))
    })
}

fn parse_state(name: &str) -> anyhow::Result<StateType> {
    StateType::parse(&name.to_ascii_uppercase()).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown state '{name}': use CREATED, RUNNING, SUCCESS, WARNING, FAILED, KILLING, KILLED, SKIPPED or RETRYING"
        )
    })
}
