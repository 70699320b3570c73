//! `saker flow validate`, `saker flow deploy` and `saker flow run` (and, against a server,
//! `flow validate --server` and `flow namespace update`: `flow_remote.rs`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;
use saker_engine::files::InputUpload;
use saker_engine::{Engine, EngineError, display_masked};
use saker_model::{DEFAULT_TENANT, StateType};
use saker_store::Store;
use serde_json::{Map, Value};

use super::flow_remote;
use crate::app::{Globals, runtime};
use crate::print;

#[derive(Debug, Subcommand)]
pub enum FlowCommand {
    /// Check flow files; prints `FILE:LINE:COL: message` for each mistake. With `--server`,
    /// the server validates them (files or directories), as Kestra's CLI does.
    Validate {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        server: flow_remote::Server,
    },
    /// Kestra's `flow namespace` commands, against a server.
    Namespace {
        #[command(subcommand)]
        command: FlowNamespaceCommand,
    },
    /// Store flows (each YAML document of each file) as new revisions, as the API does, so
    /// that executions and subflows find them. Nothing is stored unless every flow is valid.
    Deploy {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The tenant to store the flows in.
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
    },
    /// Store a flow and run one execution of it here, streaming its logs. Exits 0 when the
    /// execution ends SUCCESS or WARNING, 1 otherwise.
    Run {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// An input value, `KEY=VALUE`; `KEY=@PATH` uploads the file at PATH for a FILE
        /// input. Repeat for several.
        #[arg(long = "input", short = 'i', value_name = "KEY=VALUE")]
        inputs: Vec<String>,
        /// The tenant to store the flow and execution in.
        #[arg(long, default_value = DEFAULT_TENANT)]
        tenant: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum FlowNamespaceCommand {
    /// Make NAMESPACE on the server hold exactly the flows of DIRECTORY's YAML files (its
    /// other flows are deleted unless `--no-delete`), as Kestra's `flow namespace update`.
    Update {
        namespace: String,
        #[arg(value_name = "DIRECTORY")]
        directory: PathBuf,
        /// Keep the namespace's flows that DIRECTORY does not hold.
        #[arg(long, overrides_with = "delete")]
        no_delete: bool,
        /// Delete the namespace's flows that DIRECTORY does not hold (the default).
        #[arg(long, overrides_with = "no_delete")]
        delete: bool,
        #[command(flatten)]
        server: flow_remote::Server,
    },
}

pub fn run(globals: &Globals, command: FlowCommand) -> anyhow::Result<ExitCode> {
    match command {
        FlowCommand::Validate { files, server } if server.server.is_some() => {
            flow_remote::validate(&server, &files)
        }
        FlowCommand::Validate { files, .. } => validate(&files),
        FlowCommand::Namespace {
            command:
                FlowNamespaceCommand::Update {
                    namespace,
                    directory,
                    no_delete,
                    delete: _,
                    server,
                },
        } => flow_remote::namespace_update(&server, &namespace, &directory, !no_delete),
        FlowCommand::Deploy { files, tenant } => deploy(globals, &files, &tenant),
        FlowCommand::Run {
            file,
            inputs,
            tenant,
        } => run_flow(globals, &file, &inputs, &tenant),
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn validate(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut errors = 0usize;
    for file in files {
        let source = read(file)?;
        match saker_model::parse_flow(&source) {
            Ok(flow) => {
                for warning in &flow.warnings {
                    println!("{}:{warning} (warning)", file.display());
                }
                eprintln!("{}: valid", file.display());
            }
            Err(diagnostics) => {
                errors += diagnostics.len();
                for d in diagnostics {
                    println!("{}:{d}", file.display());
                }
            }
        }
    }
    if errors > 0 {
        eprintln!("{errors} error(s)");
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

fn deploy(globals: &Globals, files: &[PathBuf], tenant: &str) -> anyhow::Result<ExitCode> {
    // Every document is read and validated before anything is stored.
    let mut flows = Vec::new();
    let mut errors = 0usize;
    for file in files {
        let source = read(file)?;
        let documents = saker_model::split_documents(&source)
            .map_err(|e| anyhow::anyhow!("{}:{e}", file.display()))?;
        for document in documents {
            match saker_model::parse_flow(document.text) {
                Ok(flow) => flows.push((flow, document.source().to_owned())),
                Err(diagnostics) => {
                    for d in document.place(diagnostics) {
                        errors += 1;
                        println!("{}:{d}", file.display());
                    }
                }
            }
        }
    }
    if errors > 0 {
        eprintln!("{errors} error(s); nothing deployed");
        return Ok(ExitCode::from(1));
    }
    let store = globals.app()?.open_store()?;
    for (flow, source) in flows {
        let saved = store.save_flow(tenant, &flow.namespace, &flow.id, &source)?;
        let unchanged = if saved.created { "" } else { " (unchanged)" };
        println!(
            "{}.{} revision {}{unchanged}",
            flow.namespace, flow.id, saved.flow.revision
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `KEY=VALUE` pairs as raw string inputs (the engine coerces them to declared types), and
/// `KEY=@PATH` for a FILE input: the file at PATH is uploaded. `@` starts a path only for
/// inputs the flow declares as FILE; for any other input it is text like the rest.
fn parse_inputs(
    flow: &saker_model::Flow,
    pairs: &[String],
) -> anyhow::Result<(Map<String, Value>, Vec<InputUpload>)> {
    let mut inputs = Map::new();
    let mut uploads = Vec::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            anyhow::bail!("--input '{pair}' must be KEY=VALUE (or KEY=@PATH for a FILE input)");
        };
        let key = key.trim();
        let is_file = flow
            .inputs
            .iter()
            .any(|d| d.id == key && d.input_type == saker_model::InputType::File);
        match value.strip_prefix('@').filter(|_| is_file) {
            Some(path) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("--input {key}=@{path}: cannot read {path}"))?;
                let file_name = Path::new(path)
                    .file_name()
                    .map_or_else(|| "file".to_owned(), |n| n.to_string_lossy().into_owned());
                uploads.push(InputUpload {
                    input: key.to_owned(),
                    file_name,
                    bytes,
                });
            }
            None => {
                inputs.insert(key.to_owned(), Value::String(value.to_owned()));
            }
        }
    }
    Ok((inputs, uploads))
}

fn run_flow(
    globals: &Globals,
    file: &Path,
    pairs: &[String],
    tenant: &str,
) -> anyhow::Result<ExitCode> {
    let source = read(file)?;
    if let Some(pair) = pairs.iter().find(|p| !p.contains('=')) {
        anyhow::bail!("--input '{pair}' must be KEY=VALUE (or KEY=@PATH for a FILE input)");
    }
    let app = globals.app()?;
    let _lock = app.lock()?;
    let store = app.open_store_to_run()?;
    let parts = app.engine_parts(store.clone(), globals.config.as_deref())?;
    let rt = runtime()?;
    rt.block_on(async move {
        let engine = Engine::start(parts);
        let (flow, saved) = match engine.deploy(tenant, &source) {
            Ok(v) => v,
            Err(EngineError::InvalidFlow(diagnostics)) => {
                for d in diagnostics {
                    println!("{}:{d}", file.display());
                }
                return Ok(ExitCode::from(1));
            }
            Err(e) => return Err(e.into()),
        };
        let (inputs, uploads) = parse_inputs(&flow, pairs)?;
        let labels = Map::new();
        let created = engine.create_execution_with_files(
            tenant,
            flow,
            saved.flow.revision,
            inputs,
            labels,
            uploads,
        );
        let execution = match created {
            Ok(e) => e,
            Err(e @ (EngineError::Inputs(_) | EngineError::NeedsEncryptionKey(_))) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(1));
            }
            Err(e) => return Err(e.into()),
        };
        eprintln!(
            "Execution {} of {}.{} (revision {}) started",
            execution.id, execution.namespace, execution.flow_id, saved.flow.revision
        );
        let finished = follow(&engine, store.as_ref(), &execution.id).await?;
        Ok(report_end(&finished))
    })
}

/// Prints how an execution ended (state, time, outputs with sealed values as `****`) and
/// the exit code that says it: 0 for SUCCESS and for WARNING (a failure the flow allowed,
/// as Kestra counts it), 1 for any other end.
pub(crate) fn report_end(finished: &saker_model::Execution) -> ExitCode {
    let took = finished
        .state
        .end_date()
        .zip(finished.state.start_date())
        .map(|(end, start)| (end - start).num_milliseconds() as f64 / 1000.0)
        .unwrap_or_default();
    println!(
        "Execution {} {} in {took:.3}s",
        finished.id, finished.state.current
    );
    if !finished.outputs.is_empty() {
        let shown = display_masked(&Value::Object(finished.outputs.clone()));
        if let Value::Object(map) = shown {
            println!("outputs: {}", print::outputs(&map));
        }
    }
    if matches!(
        finished.state.current,
        StateType::Success | StateType::Warning
    ) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Prints log lines as they are stored until the execution ends; a first Ctrl-C kills it.
pub(crate) async fn follow(
    engine: &Engine,
    store: &dyn Store,
    execution_id: &str,
) -> anyhow::Result<saker_model::Execution> {
    let engine_wait = engine.wait(execution_id);
    tokio::pin!(engine_wait);
    let mut cursor = None;
    let mut interrupted = false;
    loop {
        tokio::select! {
            done = &mut engine_wait => {
                print::logs_after(store, execution_id, &mut cursor)?;
                return done.ok_or_else(|| anyhow::anyhow!("execution {execution_id} disappeared"));
            }
            _ = tokio::time::sleep(Duration::from_millis(50)) => {
                print::logs_after(store, execution_id, &mut cursor)?;
            }
            _ = tokio::signal::ctrl_c(), if !interrupted => {
                interrupted = true;
                eprintln!("interrupted: killing execution {execution_id}");
                engine.kill(execution_id)?;
            }
        }
    }
}
