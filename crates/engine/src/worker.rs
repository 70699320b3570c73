//! The worker: takes jobs from the executor, renders and runs one task attempt each, and
//! reports the result. It is the only part of the engine that resolves secrets (the WORKER
//! service), and everything a task emits leaves it masked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use saker_model::{Level, StateType};
use saker_store::Store;
use serde_json::Map;
use tokio::sync::Semaphore;

use crate::cancel::Cancellation;
use crate::context::{self, GlobalVariables};
use crate::logs::{LogOrigin, TaskLogger};
use crate::masks::MaskRegistry;
use crate::queue::{Queue, WorkerJob, WorkerResult};
use crate::runner::{Registry, TaskContext, TaskError};
use crate::sealing::Protector;
use crate::secrets::{SecretRequester, SecretSource, TaskSecrets};
use crate::wire::Control;

/// What a worker needs, shared by all its jobs.
pub struct WorkerDeps {
    pub store: Arc<dyn Store>,
    pub registry: Registry,
    pub secrets: Arc<dyn SecretSource>,
    pub masks: Arc<MaskRegistry>,
    pub globals: Arc<GlobalVariables>,
    pub protector: Protector,
    /// Cancellation flags of the attempts running now, by task run id.
    pub running: Arc<Mutex<HashMap<String, Cancellation>>>,
    /// Attempts cancelled before their job arrived, by (execution, task run): cancelled as
    /// they start. Forgotten when their execution ends.
    pub cancelled_early: Arc<Mutex<std::collections::HashSet<(String, String)>>>,
    /// How many task attempts run at once.
    pub concurrency: usize,
    /// How task processes are confined.
    pub confinement: saker_confine::Confinement,
    /// Budgets of the templates tasks render.
    pub expression_limits: saker_expr::Limits,
    /// The internal storage as tasks see it (`read()`, input and output files).
    pub files: crate::files::ExecutionFiles,
}

/// A worker running on its own (distributed mode): jobs from a queue over the database,
/// its results and the executor's control messages through queues too.
pub struct WorkerService {
    deps: Arc<WorkerDeps>,
}

impl WorkerService {
    /// What a worker built from `parts` shares between its jobs, with `masks` as its mask
    /// registry.
    pub(crate) fn deps(
        parts: &crate::engine::EngineParts,
        masks: Arc<MaskRegistry>,
    ) -> Arc<WorkerDeps> {
        let protector = Protector {
            sealer: parts.sealer.clone(),
        };
        Arc::new(WorkerDeps {
            store: parts.store.clone(),
            registry: parts.registry.clone(),
            secrets: parts.secrets.clone(),
            masks,
            globals: Arc::new(parts.globals.clone()),
            protector: protector.clone(),
            running: Arc::new(Mutex::new(HashMap::new())),
            cancelled_early: Arc::default(),
            concurrency: parts.worker_concurrency,
            confinement: parts.confinement.clone(),
            expression_limits: parts.expression_limits,
            files: crate::files::ExecutionFiles::new(parts.storage.clone(), protector),
        })
    }

    /// Starts taking jobs from `queues.jobs` (at most `parts.worker_concurrency` at once)
    /// and control messages from `queues.controls`, pushing results to `queues.results`.
    /// Must be called inside a multi-threaded tokio runtime.
    pub fn start(parts: &crate::engine::EngineParts, queues: crate::WorkerQueues) -> Self {
        let deps = Self::deps(parts, parts.masks.clone());
        tokio::spawn(run_controls(deps.clone(), queues.controls));
        tokio::spawn(run_worker(deps.clone(), queues.jobs, queues.results));
        Self { deps }
    }

    /// How many attempts run now.
    pub fn running(&self) -> usize {
        lock(&self.deps.running).len()
    }

    /// Cancels every attempt running now (the worker was declared gone, or its grace period
    /// ran out): each ends KILLED as a cancelled attempt does.
    pub fn cancel_all(&self) {
        for flag in lock(&self.deps.running).values() {
            flag.cancel();
        }
    }
}

/// Runs jobs until the job queue closes, pushing each result to `results`. A slot is taken
/// before a job is asked for, so a worker never holds a job it cannot start yet.
pub async fn run_worker(
    deps: Arc<WorkerDeps>,
    jobs: Arc<dyn Queue<WorkerJob>>,
    results: Arc<dyn Queue<WorkerResult>>,
) {
    let slots = Arc::new(Semaphore::new(deps.concurrency.max(1)));
    loop {
        let Ok(first) = slots.clone().acquire_owned().await else {
            return;
        };
        // As many jobs as there are free slots, so that one claim can fetch several.
        let free = 1 + slots.available_permits();
        let Some(batch) = jobs.pop_up_to(free).await else {
            return;
        };
        let mut permit = Some(first);
        for job in batch {
            let permit = match permit.take() {
                Some(permit) => permit,
                // The slots counted free are ours: nothing else takes them.
                None => match slots.clone().acquire_owned().await {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
            };
            let deps = deps.clone();
            let results = results.clone();
            tokio::spawn(async move {
                let result = run_job(&deps, job).await;
                drop(permit);
                if results.push(result).is_err() {
                    tracing::warn!("the executor is gone; the result stays unrecorded");
                }
            });
        }
    }
}

/// Applies the executor's control messages until their queue closes: cancels attempts (now,
/// or as they start) and forgets what it kept for an execution that ended.
pub async fn run_controls(deps: Arc<WorkerDeps>, controls: Arc<dyn Queue<Control>>) {
    while let Some(control) = controls.pop().await {
        match control {
            Control::Cancel {
                execution_id,
                task_run_ids,
            } => {
                let running = lock(&deps.running);
                let mut early = lock(&deps.cancelled_early);
                for id in task_run_ids {
                    match running.get(&id) {
                        Some(flag) => flag.cancel(),
                        None => {
                            early.insert((execution_id.clone(), id));
                        }
                    }
                }
            }
            Control::Ended { execution_id } => {
                deps.masks.remove(&execution_id);
                lock(&deps.cancelled_early).retain(|(e, _)| *e != execution_id);
            }
        }
    }
}

/// Runs one attempt of one task run.
pub async fn run_job(deps: &WorkerDeps, job: WorkerJob) -> WorkerResult {
    let started_at = chrono::Utc::now();
    let task = job.task.clone();
    let execution = &job.execution;
    let masks = deps.masks.get(&execution.id);
    let cancel = Cancellation::new();
    lock(&deps.running).insert(job.task_run.id.clone(), cancel.clone());
    if lock(&deps.cancelled_early).remove(&(execution.id.clone(), job.task_run.id.clone())) {
        cancel.cancel();
    }

    let origin = LogOrigin {
        tenant_id: execution.tenant_id.clone(),
        namespace: execution.namespace.clone(),
        flow_id: execution.flow_id.clone(),
        execution_id: execution.id.clone(),
        task_run_id: Some(job.task_run.id.clone()),
        task_id: Some(task.id.clone()),
        attempt_number: Some(job.attempt),
    };
    let logger = TaskLogger::new(
        origin,
        task.log_level.unwrap_or(Level::Trace),
        masks.clone(),
        deps.store.clone(),
    );
    let variables =
        context::execution_context(&job.flow, execution, &deps.globals, &deps.protector, &masks);
    let secrets = TaskSecrets::new(
        deps.secrets.clone(),
        SecretRequester {
            tenant_id: execution.tenant_id.clone(),
            namespace: execution.namespace.clone(),
            flow_id: execution.flow_id.clone(),
            execution_id: execution.id.clone(),
            task_run_id: Some(job.task_run.id.clone()),
        },
        masks.clone(),
    );
    // Inside a WorkingDirectory, `taskrun.value` is the WorkingDirectory's (Kestra's
    // `workerTaskrun`): its tasks run as one worker task of that iteration.
    let mut shown_run = job.task_run.clone();
    if shown_run.value.is_none()
        && let Some(owner) = &job.working_directory
    {
        shown_run.value = execution
            .task_run_by_id(owner)
            .and_then(|r| r.value.clone());
    }
    let variables = variables.and_then(|mut v| {
        context::add_task(
            &mut v,
            &task,
            &shown_run,
            job.attempt,
            execution,
            &deps.protector,
            &masks,
        )
        .map(|()| v)
    });
    let (variables, context_error) = match variables {
        Ok(v) => (v, None),
        Err(e) => (saker_expr::Context::new(), Some(e)),
    };
    let mut ctx = TaskContext::new(task.clone(), variables, secrets, logger, cancel.clone());
    ctx.limits = deps.expression_limits;
    ctx.files = Some(
        deps.files
            .for_task(execution, &task.id, &job.task_run.id, &masks),
    );
    ctx.kv = Some(crate::kv::TaskKv::new(
        deps.store.clone(),
        deps.protector.clone(),
        masks.clone(),
        execution,
    ));
    ctx.error_logs = Some(crate::error_logs::TaskErrorLogs::new(
        deps.store.clone(),
        &execution.id,
    ));
    ctx.sandbox = Some(match &job.working_directory {
        Some(owner) => deps
            .confinement
            .shared(&execution.id, &job.task_run.id, job.attempt, owner),
        None => deps
            .confinement
            .attempt(&execution.id, &job.task_run.id, job.attempt),
    });

    let outcome = match context_error {
        Some(e) => Err(TaskError::Render(e)),
        None if job.check && task.kind == saker_model::TaskKind::WorkingDirectory => {
            crate::runner::finish_working_directory(&mut ctx)
                .await
                .map(Some)
        }
        None if job.check => check_condition(&mut ctx).map(Some),
        None => run_attempt(deps, &mut ctx).await,
    };
    let mut labels = Map::new();
    let mut exit = None;
    let mut resume = None;
    let mut variables = None;
    let (state, outputs, mut resolved) = match outcome {
        Ok(Some(outcome)) => {
            labels = outcome.labels;
            exit = outcome.exit;
            resume = outcome.resume;
            variables = outcome.variables;
            let state = if outcome.warning {
                StateType::Warning
            } else {
                StateType::Success
            };
            let resolved = outcome.resolved.map(|mut resolved| {
                seal_values(
                    deps,
                    &execution.id,
                    &mut resolved,
                    &outcome.tainted_values,
                    &masks,
                );
                resolved
            });
            (state, outcome.outputs, resolved)
        }
        Ok(None) => (StateType::Skipped, Map::new(), None),
        Err(error) => {
            let state = if matches!(error, TaskError::Killed(_)) {
                StateType::Killed
            } else {
                StateType::Failed
            };
            let message = error.to_string();
            tracing::debug!(execution = %execution.id, task = %task.id, error = %masks.mask(&message), "task attempt failed");
            ctx.log(Level::Error, &message);
            (state, Map::new(), None)
        }
    };
    if state == StateType::Skipped {
        resolved = None;
    }
    lock(&deps.running).remove(&job.task_run.id);
    let (mut logger, taint) = ctx.finish();
    // Sealed here, so that a tainted output never travels to the executor in plaintext.
    let outputs =
        deps.protector
            .protect_task_outputs(&execution.id, &task.id, outputs, &taint, &masks);
    // A subflow's inputs leave like outputs: what a secret produced is sealed (opened again,
    // with this path, by the executor that starts the child).
    if let Some(resolved) = resolved.as_mut() {
        let calls = resolved
            .subflow
            .iter_mut()
            .chain(resolved.subflows.iter_mut().flatten());
        for call in calls {
            let inputs = std::mem::take(&mut call.inputs);
            call.inputs = deps.protector.protect_task_outputs(
                &execution.id,
                &subflow_inputs_path(&task.id),
                inputs,
                &taint,
                &masks,
            );
        }
    }
    WorkerResult {
        execution_id: job.execution.id.clone(),
        task_run_id: job.task_run.id.clone(),
        attempt: job.attempt,
        state,
        outputs,
        resolved: resolved.map(Box::new),
        labels,
        exit,
        resume,
        variables,
        started_at,
        ended_at: chrono::Utc::now(),
        logs: logger.take_pending(),
    }
}

/// A `LoopUntil`'s `condition`, rendered after an iteration with its outputs.
fn check_condition(ctx: &mut TaskContext) -> Result<crate::runner::TaskOutcome, TaskError> {
    let condition = ctx.render_string("condition")?.unwrap_or_default();
    Ok(crate::runner::TaskOutcome {
        resolved: Some(saker_model::Resolved {
            condition: Some(crate::task_context::is_truthy(&condition)),
            ..saker_model::Resolved::default()
        }),
        ..crate::runner::TaskOutcome::default()
    })
}

/// `Ok(None)` when `runIf` says the task must not run.
async fn run_attempt(
    deps: &WorkerDeps,
    ctx: &mut TaskContext,
) -> Result<Option<crate::runner::TaskOutcome>, TaskError> {
    let task = ctx.task().clone();
    if let Some(condition) = &task.run_if {
        let rendered = ctx.render_template(condition)?;
        if !crate::task_context::is_truthy(&rendered) {
            return Ok(None);
        }
    }
    let runner = deps.registry.get(&task.type_name).cloned().ok_or_else(|| {
        TaskError::Failed(format!(
            "task type '{}' has no runner in this worker",
            task.type_name
        ))
    })?;
    let run = runner.run(ctx);
    let outcome = match task.timeout {
        Some(limit) => match tokio::time::timeout(limit, run).await {
            Ok(outcome) => outcome,
            Err(_) => {
                // Dropping the runner's future stops it (a child process is killed on drop).
                return Err(TaskError::Failed(format!(
                    "the task timed out after {}",
                    humanize(limit)
                )));
            }
        },
        None => run.await,
    };
    outcome.map(Some)
}

/// The task id under which a subflow's inputs are sealed: their leaves are sealed at
/// `outputs.<task id>.inputs.<name>`.
pub(crate) fn subflow_inputs_path(task_id: &str) -> String {
    format!("{task_id}.inputs")
}

/// Where a `ForEach` value is sealed: bound to the execution, not to one task run, since
/// every run of the iteration carries the same ciphertext.
pub(crate) const VALUE_PATH: &str = "taskrun.value";

/// Seals the values of a flowable's decision that a secret produced, and, as a second net,
/// any the execution's mask set would change.
fn seal_values(
    deps: &WorkerDeps,
    execution_id: &str,
    resolved: &mut saker_model::Resolved,
    tainted: &[usize],
    masks: &crate::masks::ExecutionMasks,
) {
    let Some(values) = resolved.values.as_mut() else {
        return;
    };
    for (i, value) in values.iter_mut().enumerate() {
        let plain = std::mem::take(value);
        *value = match plain {
            serde_json::Value::String(text) if tainted.binary_search(&i).is_ok() => {
                deps.protector.seal_string(execution_id, VALUE_PATH, &text)
            }
            other => deps
                .protector
                .protect_tree(execution_id, VALUE_PATH, other, masks),
        };
    }
}

fn humanize(d: std::time::Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
