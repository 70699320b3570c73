//! The engine as the rest of Saker sees it: start it on a store, deploy flows, create
//! executions, follow their logs, wait for them, kill them, and resume what a crash
//! interrupted.

use std::sync::Arc;

use saker_model::{Execution, ExecutionTrigger, Flow, StateType};
use saker_store::{FlowRecord, SavedFlow, Store, StoreError, TriggerState, Write};
use serde_json::{Map, Value as Json};
use tokio::sync::{mpsc, oneshot};

use crate::command::{CommandSink, ExecutorCommand, ExecutorPort};
use crate::context::GlobalVariables;
use crate::executor::{Event, Executor};
use crate::masks::MaskRegistry;
use crate::outputs::FlowOutputs;
use crate::queue::{LocalQueue, Queue, WorkerJob, WorkerResult};
use crate::runner::Registry;
use crate::sealing::{Protector, ValueSealer};
use crate::secrets::{NoSecrets, SecretSource};
use crate::wire::{Control, JsonQueue};
use crate::worker::{WorkerService, run_controls, run_worker};

/// What the engine is built from.
pub struct EngineParts {
    pub store: Arc<dyn Store>,
    pub secrets: Arc<dyn SecretSource>,
    /// Seals SECRET inputs/outputs and secret-derived outputs; without one, flows with
    /// SECRET inputs are refused and derived outputs are stored as `****`.
    pub sealer: Option<Arc<dyn ValueSealer>>,
    /// The mask sets of the running executions (given, so that tests can inspect them).
    pub masks: Arc<MaskRegistry>,
    pub registry: Registry,
    pub globals: GlobalVariables,
    /// Task attempts run at once by the in-process worker.
    pub worker_concurrency: usize,
    /// How task processes are confined (and where their working directories live).
    pub confinement: saker_confine::Confinement,
    /// Step and memory budgets of every template a task renders (`expressions.*`).
    pub expression_limits: saker_expr::Limits,
    /// The internal storage (FILE inputs, output files, namespace files); without one, those
    /// features answer "no internal storage is configured".
    pub storage: Option<Arc<dyn saker_storage::Storage>>,
    /// Carry every job, result and control message as JSON text, with a mask registry of
    /// the worker's own, as between separate processes. Set from `SAKER_ENGINE_WIRE=json`
    /// by [`EngineParts::new`], so that a whole test run can go through the wire format.
    pub wire: bool,
}

impl EngineParts {
    /// Parts with no secret backend, no sealer and the built-in task types (the purge tasks
    /// acting on `store`).
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store: store.clone(),
            secrets: Arc::new(NoSecrets),
            sealer: None,
            masks: Arc::default(),
            // The purge tasks act on the engine's own store; the *Execution notifications read
            // the execution they report from it.
            registry: Registry::builtin()
                .with_store_tasks(store.clone())
                .with_execution_notifications(store.clone()),
            globals: GlobalVariables::default(),
            worker_concurrency: 16,
            confinement: saker_confine::Confinement::new(saker_confine::Settings::default()),
            expression_limits: saker_expr::Limits::default(),
            storage: None,
            wire: std::env::var("SAKER_ENGINE_WIRE").is_ok_and(|v| v == "json"),
        }
    }
}

/// Why the engine refused a request.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the flow is invalid:\n{}", .0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))]
    InvalidFlow(Vec<saker_model::Diagnostic>),
    #[error("{}", .0.join("\n"))]
    Inputs(Vec<String>),
    #[error(
        "input '{0}' is of type SECRET, which is stored encrypted: configure encryption.secret-key (generate one with `openssl rand -base64 32`)"
    )]
    NeedsEncryptionKey(String),
    #[error("flow {namespace}.{id} not found")]
    FlowNotFound { namespace: String, id: String },
    #[error("stored flow {namespace}.{id} revision {revision} no longer validates")]
    StoredFlowInvalid {
        namespace: String,
        id: String,
        revision: u32,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the engine has stopped")]
    Stopped,
    /// The executor runs in another process and the request could not be handed to it.
    #[error("cannot reach the executor: {0}")]
    Executor(String),
    #[error("execution {0} not found")]
    ExecutionNotFound(String),
    /// Only a PAUSED execution can be resumed.
    #[error("execution {id} is {state}, not PAUSED: only a paused execution can be resumed")]
    NotPaused { id: String, state: StateType },
    /// Only an execution that ended FAILED or KILLED can be restarted.
    #[error(
        "execution {id} is {state}: only a FAILED or KILLED execution can be restarted (replay it from a task run instead)"
    )]
    NotRestartable { id: String, state: StateType },
    /// A restart needs a failed or killed task run to start from.
    #[error("execution {0} has no FAILED or KILLED task run to restart from")]
    NothingToRestart(String),
    /// Only an ended execution can be replayed.
    #[error("execution {id} is {state}: only an ended execution can be replayed (kill it first)")]
    NotReplayable { id: String, state: StateType },
    #[error("execution {execution} has no task run {task_run}")]
    TaskRunNotFound { execution: String, task_run: String },
}

/// What started an execution, beyond its flow and inputs: the `create_execution*` methods
/// differ only in this.
#[derive(Default)]
struct Origin<'a> {
    /// The trigger, recorded on the execution (its variables are the flow's `trigger.*`).
    trigger: Option<ExecutionTrigger>,
    /// The caller's labels, added to the flow's.
    labels: Map<String, Json>,
    /// The trigger's advanced state, stored in the same transaction as the execution.
    trigger_state: Option<&'a TriggerState>,
    /// Files sent for FILE inputs, stored under the new execution.
    uploads: Vec<crate::files::InputUpload>,
}

/// What joins an executor to its workers: jobs out, results back, control messages out.
pub struct WorkerQueues {
    pub jobs: Arc<dyn Queue<WorkerJob>>,
    pub results: Arc<dyn Queue<WorkerResult>>,
    pub controls: Arc<dyn Queue<Control>>,
}

/// What joins the executor and the worker: the job, result and control queues, and the
/// worker's mask registry.
type WorkerLinks = (
    Arc<dyn Queue<WorkerJob>>,
    Arc<dyn Queue<WorkerResult>>,
    Arc<dyn Queue<Control>>,
    Arc<MaskRegistry>,
);

/// A running engine: one executor thread and an in-process worker.
pub struct Engine {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) events: ExecutorPort,
    pub(crate) protector: Protector,
    globals: Arc<GlobalVariables>,
    metrics: Arc<crate::metrics::Metrics>,
    executor: Option<std::thread::JoinHandle<()>>,
    pub(crate) confinement: saker_confine::Confinement,
    /// The budgets of every render, the debug expression's included.
    expression_limits: saker_expr::Limits,
    files: crate::files::ExecutionFiles,
    /// Bumped on every deploy, so that the executor reads the listening flows again.
    flows_generation: Arc<std::sync::atomic::AtomicU64>,
}

impl Engine {
    /// Starts the executor and the worker. Must be called inside a multi-threaded tokio
    /// runtime.
    pub fn start(parts: EngineParts) -> Self {
        // The worker protocol: in memory, or written as JSON and read back (`parts.wire`), in
        // which case the worker also keeps mask sets of its own, as a separate process would.
        let (jobs, results, controls, worker_masks): WorkerLinks = if parts.wire {
            (
                Arc::new(JsonQueue::default()),
                Arc::new(JsonQueue::default()),
                Arc::new(JsonQueue::default()),
                Arc::new(MaskRegistry::default()),
            )
        } else {
            (
                Arc::new(LocalQueue::default()),
                Arc::new(LocalQueue::default()),
                Arc::new(LocalQueue::default()),
                parts.masks.clone(),
            )
        };
        let jobs: Arc<dyn Queue<WorkerJob>> = Arc::new(crate::one_worker::OneWorkerJobs::new(jobs));
        let worker = WorkerService::deps(&parts, worker_masks);
        tokio::spawn(run_controls(worker.clone(), controls.clone()));
        tokio::spawn(run_worker(worker, jobs.clone(), results.clone()));
        Self::start_executor(
            parts,
            WorkerQueues {
                jobs,
                results,
                controls,
            },
        )
    }

    /// Starts the executor alone, its workers reached through `queues` (distributed mode:
    /// queues over the database, the workers in other processes). Must be called inside a
    /// multi-threaded tokio runtime.
    pub fn start_executor(parts: EngineParts, queues: WorkerQueues) -> Self {
        let WorkerQueues {
            jobs,
            results,
            controls,
        } = queues;
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let masks = parts.masks.clone();
        let globals = Arc::new(parts.globals);
        let protector = Protector {
            sealer: parts.sealer,
        };
        let files = crate::files::ExecutionFiles::new(parts.storage, protector.clone());
        // Results go back to the executor as events.
        let forward = events_tx.clone();
        tokio::spawn(async move {
            while let Some(result) = results.pop().await {
                if forward.send(Event::Result(result)).is_err() {
                    return;
                }
            }
        });

        let metrics = Arc::new(crate::metrics::Metrics::default());
        let flows_generation = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let executor = Executor {
            flows_generation: flows_generation.clone(),
            files: files.clone(),
            confinement: parts.confinement.clone(),
            metrics: metrics.clone(),
            store: parts.store.clone(),
            jobs,
            events: events_tx.clone(),
            runtime: tokio::runtime::Handle::current(),
            controls,
            masks: masks.clone(),
            outputs: FlowOutputs {
                protector: protector.clone(),
                masks,
                secrets: parts.secrets,
                globals: globals.clone(),
            },
        };
        let handle = std::thread::Builder::new()
            .name("saker-executor".into())
            .spawn(move || executor.run(events_rx))
            .expect("spawning the executor thread");
        Self {
            store: parts.store,
            events: ExecutorPort::Local(events_tx),
            protector,
            globals,
            metrics,
            executor: Some(handle),
            confinement: parts.confinement,
            expression_limits: parts.expression_limits,
            files,
            flows_generation,
        }
    }

    /// An engine without executor nor worker (a webserver or a scheduler of distributed
    /// mode): it stores flows and executions itself and hands every request for the
    /// executor to `sink`. [`Engine::wait`] reads the store until the execution ends.
    pub fn client(parts: EngineParts, sink: Arc<dyn CommandSink>) -> Self {
        let protector = Protector {
            sealer: parts.sealer,
        };
        let files = crate::files::ExecutionFiles::new(parts.storage, protector.clone());
        Self {
            store: parts.store,
            events: ExecutorPort::Remote(sink),
            protector,
            globals: Arc::new(parts.globals),
            metrics: Arc::default(),
            executor: None,
            confinement: parts.confinement,
            expression_limits: parts.expression_limits,
            files,
            flows_generation: Arc::default(),
        }
    }

    /// Waits until everything this engine's executor was handed before is recorded in the
    /// store; `false` if the executor has stopped (or is in another process). Blocking: call
    /// it from a thread that may wait (the command pump's).
    pub fn wait_recorded(&self) -> bool {
        let Some(events) = self.events.local() else {
            return false;
        };
        let (reply, recorded) = oneshot::channel();
        events.send(Event::Barrier(reply)).is_ok() && recorded.blocking_recv().is_ok()
    }

    /// Hands a command from another process to this engine's executor, reading what it
    /// names from the store. A command about an execution that is unknown or has ended is
    /// dropped (it may be a copy delivered twice).
    pub fn apply_command(&self, command: ExecutorCommand) -> Result<(), EngineError> {
        let cancelled = matches!(command, ExecutorCommand::JobCancelled { .. });
        let event = match command {
            ExecutorCommand::Start { execution_id } => {
                let Some(execution) = self.store.get_execution(&execution_id)? else {
                    tracing::warn!(execution = %execution_id, "start of an unknown execution ignored");
                    return Ok(());
                };
                if execution.state.current.is_terminated() {
                    return Ok(());
                }
                let (flow, _) = self.load_flow(
                    &execution.tenant_id,
                    &execution.namespace,
                    &execution.flow_id,
                    Some(execution.flow_revision),
                )?;
                Event::Start {
                    flow,
                    execution: Box::new(execution),
                }
            }
            ExecutorCommand::Kill { execution_id } => Event::Kill { execution_id },
            ExecutorCommand::Resume {
                execution_id,
                outputs,
            } => Event::Resume {
                execution_id,
                outputs,
            },
            ExecutorCommand::RetryDue {
                execution_id,
                task_run_id,
            } => Event::RetryDue {
                execution_id,
                task_run_id,
            },
            ExecutorCommand::JobResubmitted {
                execution_id,
                task_run_id,
                attempt,
                holder,
            } => Event::Resubmitted {
                execution_id,
                task_run_id,
                attempt,
                holder,
            },
            ExecutorCommand::JobAbandoned {
                execution_id,
                task_run_id,
                attempt,
                holder,
            }
            | ExecutorCommand::JobCancelled {
                execution_id,
                task_run_id,
                attempt,
                holder,
            } => Event::Abandoned {
                execution_id,
                task_run_id,
                attempt,
                holder,
                cancelled,
            },
        };
        self.events.send(event)
    }

    /// The internal storage as the engine uses it (execution files, sealed or not).
    pub fn files(&self) -> &crate::files::ExecutionFiles {
        &self.files
    }

    /// What this process's engine did since it started.
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    /// The store the engine records into.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Validates a flow and stores it as a new revision (or returns the current one if the
    /// source is unchanged).
    pub fn deploy(
        &self,
        tenant: &str,
        source: &str,
    ) -> Result<(Arc<Flow>, SavedFlow), EngineError> {
        let flow = saker_model::parse_flow(source).map_err(EngineError::InvalidFlow)?;
        let saved = self
            .store
            .save_flow(tenant, &flow.namespace, &flow.id, source)?;
        self.flows_generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Ok((Arc::new(flow), saved))
    }

    /// The latest (or a given) revision of a stored flow, parsed.
    pub fn load_flow(
        &self,
        tenant: &str,
        namespace: &str,
        id: &str,
        revision: Option<u32>,
    ) -> Result<(Arc<Flow>, FlowRecord), EngineError> {
        let record = self
            .store
            .get_flow(tenant, namespace, id, revision)?
            .ok_or_else(|| EngineError::FlowNotFound {
                namespace: namespace.to_owned(),
                id: id.to_owned(),
            })?;
        let flow = saker_model::parse_flow(&record.source).map_err(|_| {
            EngineError::StoredFlowInvalid {
                namespace: namespace.to_owned(),
                id: id.to_owned(),
                revision: record.revision,
            }
        })?;
        Ok((Arc::new(flow), record))
    }

    /// Creates an execution of `flow` (stored as `revision`) with raw inputs coerced to their
    /// declared types, records it, and starts it.
    pub fn create_execution(
        &self,
        tenant: &str,
        flow: Arc<Flow>,
        revision: u32,
        inputs: Map<String, Json>,
    ) -> Result<Execution, EngineError> {
        self.create(tenant, flow, revision, inputs, Origin::default())
    }

    /// [`Engine::create_execution`] with labels of the caller's own, added to the flow's
    /// (and overriding them). `system.*` labels are Saker's; callers cannot set them.
    pub fn create_execution_labeled(
        &self,
        tenant: &str,
        flow: Arc<Flow>,
        revision: u32,
        inputs: Map<String, Json>,
        labels: Map<String, Json>,
    ) -> Result<Execution, EngineError> {
        self.create(
            tenant,
            flow,
            revision,
            inputs,
            Origin {
                labels,
                ..Origin::default()
            },
        )
    }

    /// [`Engine::create_execution_labeled`] with files for the flow's FILE inputs: each is
    /// stored under the new execution and the input's value is its `kestra:///` URI.
    pub fn create_execution_with_files(
        &self,
        tenant: &str,
        flow: Arc<Flow>,
        revision: u32,
        inputs: Map<String, Json>,
        labels: Map<String, Json>,
        uploads: Vec<crate::files::InputUpload>,
    ) -> Result<Execution, EngineError> {
        let origin = Origin {
            labels,
            uploads,
            ..Origin::default()
        };
        self.create(tenant, flow, revision, inputs, origin)
    }

    /// [`Engine::create_execution`] for an execution a trigger starts: `trigger` is recorded
    /// on the execution and its variables are the flow's `trigger.*`.
    pub fn create_execution_triggered(
        &self,
        tenant: &str,
        flow: Arc<Flow>,
        revision: u32,
        inputs: Map<String, Json>,
        trigger: ExecutionTrigger,
    ) -> Result<Execution, EngineError> {
        self.create(
            tenant,
            flow,
            revision,
            inputs,
            Origin {
                trigger: Some(trigger),
                ..Origin::default()
            },
        )
    }

    /// [`Engine::create_execution_triggered`] for a scheduled date: the execution and the
    /// trigger's advanced `state` are stored in one transaction, so a crash can neither lose
    /// the execution nor, by leaving the state behind, start it twice.
    pub fn create_execution_scheduled(
        &self,
        tenant: &str,
        flow: Arc<Flow>,
        revision: u32,
        inputs: Map<String, Json>,
        trigger: ExecutionTrigger,
        state: &TriggerState,
    ) -> Result<Execution, EngineError> {
        self.create(
            tenant,
            flow,
            revision,
            inputs,
            Origin {
                trigger: Some(trigger),
                trigger_state: Some(state),
                ..Origin::default()
            },
        )
    }

    fn create(
        &self,
        tenant: &str,
        flow: Arc<Flow>,
        revision: u32,
        inputs: Map<String, Json>,
        origin: Origin<'_>,
    ) -> Result<Execution, EngineError> {
        let Origin {
            trigger,
            labels,
            trigger_state,
            uploads,
        } = origin;
        let execution = crate::new_execution::build(
            &self.protector,
            &self.files,
            crate::new_execution::Request {
                tenant,
                flow: &flow,
                revision,
                inputs,
                uploads,
                trigger,
                labels,
                correlation_id: None,
                seal_inputs: &[],
            },
        )?;
        // With the executor in another process, the request to start is a command written in
        // the same transaction as the execution: both are stored, or neither.
        let start = self.events.is_remote().then(|| ExecutorCommand::Start {
            execution_id: execution.id.clone(),
        });
        let start_payload = start.as_ref().map(ExecutorCommand::to_json);
        let mut writes = vec![Write::CreateExecution(&execution)];
        if let Some(state) = trigger_state {
            writes.push(Write::SaveTriggerState(state));
        }
        if let (Some(command), Some(payload)) = (&start, &start_payload) {
            writes.push(Write::QueueCommand(saker_store::commands::NewCommand {
                kind: command.kind(),
                execution_id: command.execution_id(),
                payload,
            }));
        }
        self.store.write(&writes)?;
        if start.is_none() {
            self.events.send(Event::Start {
                flow,
                execution: Box::new(execution.clone()),
            })?;
        }
        Ok(execution)
    }

    /// Waits for an execution to end and returns it as stored (`None` if unknown).
    pub async fn wait(&self, execution_id: &str) -> Option<Execution> {
        let Some(events) = self.events.local() else {
            return self.wait_in_store(execution_id).await;
        };
        let (reply, rx) = oneshot::channel();
        events
            .send(Event::Watch {
                execution_id: execution_id.to_owned(),
                reply,
            })
            .ok()?;
        rx.await.ok().flatten()
    }

    /// [`Engine::wait`] without an executor here: reads the execution until it has ended,
    /// every 20 ms at first, then less often (at most every second).
    async fn wait_in_store(&self, execution_id: &str) -> Option<Execution> {
        let mut pause = std::time::Duration::from_millis(20);
        loop {
            let store = self.store.clone();
            let id = execution_id.to_owned();
            let execution = tokio::task::spawn_blocking(move || store.get_execution(&id))
                .await
                .ok()?
                .ok()??;
            if execution.state.current.is_terminated() {
                return Some(execution);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_secs(1));
        }
    }

    /// Renders a debug expression against a task run (`secret()` refused, result masked).
    pub fn evaluate(
        &self,
        control: &crate::debug_eval::EvalControl,
        execution_id: &str,
        task_run_id: &str,
        expression: &str,
    ) -> Result<String, crate::debug_eval::EvalError> {
        let engine = crate::debug_eval::EvalEngine {
            store: self.store.as_ref(),
            protector: &self.protector,
            globals: &self.globals,
            limits: self.expression_limits,
        };
        crate::debug_eval::evaluate(control, &engine, execution_id, task_run_id, expression)
    }

    /// Asks a running execution to stop.
    pub fn kill(&self, execution_id: &str) -> Result<(), EngineError> {
        self.events.send(Event::Kill {
            execution_id: execution_id.to_owned(),
        })
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // The executor thread ends when every event sender is gone; it is not joined here
        // because the worker's tasks (which hold senders) stop with the runtime.
        let _ = self.executor.take();
    }
}
