//! The executor: the state machine of every running execution. It runs on its own thread,
//! takes events (a new execution, a worker's result, a retry that is due, a kill, a pause
//! that ends, a resume), decides what comes next with [`plan::plan`], records each change in
//! the store *before* acting on it, and hands task attempts to the workers.
//!
//! It never renders a task's properties nor runs a task; only the flow outputs are rendered
//! here, once every task has ended.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use saker_model::{Execution, Flow, Level, LogEntry, StateType, TaskKind, TaskRun, TaskRunAttempt};
use saker_store::{Store, Write};
use tokio::sync::{mpsc, oneshot};

mod for_each_item;
mod limits;
mod loops;
mod outbox;
mod pause;
mod resubmit;
mod result;
mod retry_execution;
mod shared;
mod subflow;

/// The trigger type a Subflow's (or ForEachItem's) child execution records.
pub(crate) const SUBFLOW_TRIGGER: &str = subflow::SUBFLOW_TYPE;
mod triggers;

use crate::masks::MaskRegistry;
use crate::outputs::FlowOutputs;
use crate::plan;
use crate::queue::{Queue, WorkerJob, WorkerResult};
use outbox::{MAX_BATCH, Outbox, Owned, execution_header};
use shared::SharedExecution;

/// What the executor reacts to.
pub enum Event {
    /// A new execution, already stored as CREATED.
    Start {
        flow: Arc<Flow>,
        execution: Box<Execution>,
    },
    /// A worker finished an attempt.
    Result(WorkerResult),
    /// The delay before a new attempt of a task run is over.
    RetryDue {
        execution_id: String,
        task_run_id: String,
    },
    /// Stop an execution: running attempts are cancelled, nothing new starts.
    Kill { execution_id: String },
    /// A `Pause` with a duration is over: it ends as its `behavior` says.
    PauseDue {
        execution_id: String,
        task_run_id: String,
    },
    /// A CREATE_NEW_EXECUTION retry's delay is over: a new execution like `ended` starts.
    RetryExecution {
        flow: Arc<Flow>,
        ended: Box<Execution>,
    },
    /// A MAX_DURATION SLA (the `index`th of the flow's `sla`) of an execution ran out.
    SlaDue { execution_id: String, index: usize },
    /// The interval after a `LoopUntil`'s check is over: its next iteration starts.
    LoopDue {
        execution_id: String,
        task_run_id: String,
    },
    /// Resume the paused task runs of an execution; `outputs` become each one's
    /// `onResume` output (already coerced and sealed by the engine).
    Resume {
        execution_id: String,
        outputs: serde_json::Map<String, serde_json::Value>,
    },
    /// The liveness coordinator handed the job of a dead worker (`holder`) to another one:
    /// the task run's history shows RESUBMITTED, then RUNNING again.
    Resubmitted {
        execution_id: String,
        task_run_id: String,
        attempt: u32,
        holder: String,
    },
    /// The coordinator gave up the job of a dead worker: under the restart strategy NEVER
    /// the attempt fails, and the task's retry policy decides what follows; `cancelled` (its
    /// execution ended or is being killed) the attempt ends KILLED.
    Abandoned {
        execution_id: String,
        task_run_id: String,
        attempt: u32,
        holder: String,
        cancelled: bool,
    },
    /// Answer once every event sent before this one is recorded in the store (what came
    /// from another process can then be acknowledged there).
    Barrier(oneshot::Sender<()>),
    /// Call back when the execution ends (at once if it is not running here).
    Watch {
        execution_id: String,
        reply: oneshot::Sender<Option<Execution>>,
    },
}

struct Live {
    flow: Arc<Flow>,
    execution: SharedExecution,
    killing: bool,
    /// Set by an `Exit` task: the state the execution ends in once nothing runs.
    exit: Option<StateType>,
    /// Set by a failed task whose retry is CREATE_NEW_EXECUTION: once this execution ends, a
    /// new one starts after this delay.
    retry_new: Option<std::time::Duration>,
    watchers: Vec<oneshot::Sender<Option<Execution>>>,
}

/// The executor's connections to the rest of the engine.
pub struct Executor {
    pub store: Arc<dyn Store>,
    pub jobs: Arc<dyn Queue<WorkerJob>>,
    pub events: mpsc::UnboundedSender<Event>,
    pub runtime: tokio::runtime::Handle,
    /// Cancels and ends sent to the workers (nothing else of theirs is reachable from here).
    pub controls: Arc<dyn Queue<crate::wire::Control>>,
    pub masks: Arc<MaskRegistry>,
    pub outputs: FlowOutputs,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Where task attempts work: the directory a `WorkingDirectory`'s tasks shared is removed
    /// here when it ends (one process; separate workers will be told by a control message).
    pub confinement: saker_confine::Confinement,
    /// The execution files, for the FILE inputs of a subflow's child.
    pub files: crate::files::ExecutionFiles,
    /// Changes on every deploy: the Flow triggers' list of listening flows is read again.
    pub flows_generation: Arc<std::sync::atomic::AtomicU64>,
}

impl Executor {
    /// Tells the workers to stop every attempt of `execution` that runs (or is on its way).
    fn cancel_running(&self, execution: &Execution) {
        let task_run_ids: Vec<String> = execution
            .task_run_list
            .iter()
            .filter(|r| r.state.current == StateType::Running)
            .map(|r| r.id.clone())
            .collect();
        if task_run_ids.is_empty() {
            return;
        }
        let _ = self.controls.push(crate::wire::Control::Cancel {
            execution_id: execution.id.clone(),
            task_run_ids,
        });
    }

    /// Handles events until every sender is gone. Events that are already waiting are
    /// handled together and their changes committed in one transaction (group commit); only
    /// then are jobs sent, retries scheduled and watchers answered, so nothing acts on a
    /// change the store does not hold yet.
    pub fn run(self, mut events: mpsc::UnboundedReceiver<Event>) {
        let mut live: HashMap<String, Live> = HashMap::new();
        let mut outbox = Outbox::default();
        let mut triggers = triggers::FlowTriggerState::default();
        while let Some(first) = events.blocking_recv() {
            self.handle(&mut live, &mut outbox, first);
            for _ in 1..MAX_BATCH {
                match events.try_recv() {
                    Ok(event) => self.handle(&mut live, &mut outbox, event),
                    Err(_) => break,
                }
            }
            if !outbox.ended.is_empty() {
                self.fire_flow_triggers(&mut live, &mut outbox, &mut triggers);
            }
            self.flush(&mut outbox);
        }
    }

    fn handle(&self, live: &mut HashMap<String, Live>, outbox: &mut Outbox, event: Event) {
        match event {
            Event::Start { flow, execution } => {
                let id = execution.id.clone();
                if live.contains_key(&id) {
                    // A second start (a command delivered twice): it runs already.
                    return;
                }
                self.metrics.execution_started();
                live.insert(
                    id.clone(),
                    Live {
                        flow,
                        execution: SharedExecution::new(*execution),
                        killing: false,
                        exit: None,
                        retry_new: None,
                        watchers: Vec::new(),
                    },
                );
                self.admit(live, outbox, &id);
            }
            Event::Result(result) => self.on_result(live, outbox, result),
            Event::RetryDue {
                execution_id,
                task_run_id,
            } => self.on_retry_due(live, outbox, &execution_id, &task_run_id),
            Event::Kill { execution_id } => self.on_kill(live, outbox, &execution_id),
            Event::PauseDue {
                execution_id,
                task_run_id,
            } => self.on_pause_due(live, outbox, &execution_id, &task_run_id),
            Event::Resume {
                execution_id,
                outputs,
            } => self.on_resume(live, outbox, &execution_id, outputs),
            Event::LoopDue {
                execution_id,
                task_run_id,
            } => self.on_loop_due(live, outbox, &execution_id, &task_run_id),
            Event::SlaDue {
                execution_id,
                index,
            } => self.on_sla_due(live, outbox, &execution_id, index),
            Event::RetryExecution { flow, ended } => {
                self.on_retry_execution(live, outbox, flow, &ended)
            }
            Event::Resubmitted {
                execution_id,
                task_run_id,
                attempt,
                holder,
            } => self.on_resubmitted(live, outbox, &execution_id, &task_run_id, attempt, &holder),
            Event::Abandoned {
                execution_id,
                task_run_id,
                attempt,
                holder,
                cancelled,
            } => {
                let job = resubmit::GivenUp {
                    task_run_id,
                    attempt,
                    holder,
                    cancelled,
                };
                self.on_abandoned(live, outbox, execution_id, job)
            }
            Event::Barrier(reply) => outbox.barriers.push(reply),
            Event::Watch {
                execution_id,
                reply,
            } => match live.get_mut(&execution_id) {
                Some(l) => l.watchers.push(reply),
                None => outbox.lookups.push((execution_id, reply)),
            },
        }
    }

    /// Commits the batch, then acts on it.
    fn flush(&self, outbox: &mut Outbox) {
        if !outbox.writes.is_empty() {
            let writes: Vec<Write> = outbox.writes.iter().map(Owned::as_write).collect();
            self.write_until_recorded(&writes);
            outbox.writes.clear();
        }
        for job in outbox.jobs.drain(..) {
            self.metrics.attempt_dispatched();
            if self.jobs.push(job).is_err() {
                tracing::error!("the worker is gone; the job stays recorded as RUNNING");
            }
        }
        for (execution_id, task_run_id, delay) in outbox.retries.drain(..) {
            self.metrics.retry_scheduled();
            let events = self.events.clone();
            self.runtime.spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = events.send(Event::RetryDue {
                    execution_id,
                    task_run_id,
                });
            });
        }
        for (execution_id, task_run_id, delay) in outbox.pauses.drain(..) {
            let events = self.events.clone();
            self.runtime.spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = events.send(Event::PauseDue {
                    execution_id,
                    task_run_id,
                });
            });
        }
        for (execution_id, task_run_id, delay) in outbox.loops.drain(..) {
            self.schedule_loop(execution_id, task_run_id, delay);
        }
        for (reply, execution) in outbox.replies.drain(..) {
            let _ = reply.send(Some(execution));
        }
        for (id, reply) in outbox.lookups.drain(..) {
            let _ = reply.send(self.store.get_execution(&id).ok().flatten());
        }
        for reply in outbox.barriers.drain(..) {
            let _ = reply.send(());
        }
    }

    /// Records `writes`, waiting out a database that is unreachable or busy (a restart, a
    /// cut connection): the executor acts on nothing it has not recorded, so it holds its
    /// events until the database answers again. A write refused for what it holds is logged
    /// and given up.
    fn write_until_recorded(&self, writes: &[Write<'_>]) {
        let mut pause = std::time::Duration::from_millis(50);
        let mut warned = false;
        loop {
            match self.store.write(writes) {
                Ok(()) => {
                    if warned {
                        tracing::warn!("the database answers again; execution changes recorded");
                    }
                    return;
                }
                Err(e) if e.is_retryable() => {
                    if !warned {
                        warned = true;
                        tracing::warn!(error = %e, "cannot record execution changes yet; the executor waits for the database");
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_secs(2));
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not record execution changes");
                    return;
                }
            }
        }
    }

    fn on_retry_due(
        &self,
        live: &mut HashMap<String, Live>,
        outbox: &mut Outbox,
        execution_id: &str,
        task_run_id: &str,
    ) {
        let Some(l) = live.get_mut(execution_id) else {
            return;
        };
        // Only a run waiting for its retry starts a new attempt: a second RetryDue (a command
        // applied again after a takeover) changes nothing.
        if l.execution
            .task_run_by_id(task_run_id)
            .is_none_or(|run| run.state.current != StateType::Retrying)
        {
            return;
        }
        if l.killing {
            let mut changed = Vec::new();
            if let Some(run) = l
                .execution
                .task_run_list
                .iter_mut()
                .find(|t| t.id == task_run_id)
            {
                run.state.transition(StateType::Killed);
                changed.push(run.clone());
            }
            let id = execution_id.to_owned();
            self.advance(live, outbox, &id, Vec::new(), changed);
            return;
        }
        let Some(run) = l
            .execution
            .task_run_list
            .iter_mut()
            .find(|t| t.id == task_run_id)
        else {
            return;
        };
        run.state.transition(StateType::Running);
        run.attempts.push(TaskRunAttempt {
            state: saker_model::State::starting_at(StateType::Running, Utc::now()),
        });
        let run = run.clone();
        outbox.writes.push(Owned::TaskRun(run.clone()));
        let snapshot = l.execution.snapshot();
        outbox.jobs.extend(job_for(&l.flow, &snapshot, run));
    }

    fn on_kill(&self, live: &mut HashMap<String, Live>, outbox: &mut Outbox, execution_id: &str) {
        let Some(l) = live.get_mut(execution_id) else {
            return;
        };
        if l.killing {
            return;
        }
        l.killing = true;
        l.execution.state.transition(StateType::Killing);
        self.cancel_running(&l.execution);
        // The children a Subflow waits for are killed with it.
        let children: Vec<String> = l
            .execution
            .task_run_list
            .iter()
            .filter(|r| r.state.current == StateType::Running)
            .filter(|r| r.resolved.as_ref().is_some_and(|x| x.subflow.is_some()))
            .filter_map(|r| r.outputs.get("executionId").and_then(|v| v.as_str()))
            .map(str::to_owned)
            // A ForEachItem's batches, listed on its `<id>_items` run.
            .chain(
                l.execution
                    .task_run_list
                    .iter()
                    .filter(|r| r.state.current == StateType::Running)
                    .filter_map(|r| r.resolved.as_ref()?.values.as_ref())
                    .flatten()
                    .filter_map(|e| e.get("executionId")?.as_str())
                    .map(str::to_owned),
            )
            .collect();
        // Nothing resumes a pause of an execution being killed.
        let mut changed = Vec::new();
        for run in l.execution.task_run_list.iter_mut() {
            if run.state.current == StateType::Paused {
                run.state.transition(StateType::Killed);
                changed.push(run.clone());
            }
        }
        let id = execution_id.to_owned();
        self.advance(live, outbox, &id, Vec::new(), changed);
        for child in children {
            self.on_kill(live, outbox, &child);
        }
    }

    /// Applies [`plan::plan`]: finishes the flowable runs whose children have all ended
    /// (planning again after each round, since a finish can let a sibling start), then
    /// starts every task run the plan lists, or ends the execution. The changes are written
    /// together with `logs` and the task runs that just changed (`changed_runs`) in one
    /// transaction.
    fn advance(
        &self,
        live: &mut HashMap<String, Live>,
        outbox: &mut Outbox,
        id: &str,
        logs: Vec<LogEntry>,
        mut changed_runs: Vec<TaskRun>,
    ) {
        let mut logs = logs;
        let Some(l) = live.get_mut(id) else {
            return;
        };
        if l.execution.state.current == StateType::Created {
            l.execution.state.transition(StateType::Running);
        }
        let flow = l.flow.clone();
        let mut dispatch: Vec<TaskRun> = Vec::new();
        let mut checks: Vec<TaskRun> = Vec::new();
        let mut ended = false;
        loop {
            let step = plan::plan(&flow, &l.execution, l.killing);
            if !step.finish.is_empty() {
                let now = Utc::now();
                let execution = &mut *l.execution;
                for (run_id, state) in step.finish {
                    if let Some(run) = execution.task_run_list.iter_mut().find(|r| r.id == run_id) {
                        run.state.transition_at(state, now);
                        changed_runs.push(run.clone());
                        let kind = flow.find_task(&run.task_id).map(|t| t.kind);
                        if kind == Some(TaskKind::WorkingDirectory)
                            && let Err(e) =
                                self.confinement.remove_shared_dir(&execution.id, &run.id)
                        {
                            tracing::warn!(error = %e, "cannot remove a WorkingDirectory's shared directory");
                        }
                    }
                }
                continue;
            }
            for run_id in step.check {
                if let Some(run) = l
                    .execution
                    .task_run_list
                    .iter_mut()
                    .find(|r| r.id == run_id)
                    && let Some(resolved) = run.resolved.as_mut()
                {
                    resolved.between_iterations = true;
                    changed_runs.push(run.clone());
                    checks.push(run.clone());
                }
            }
            let now = Utc::now();
            for new in step.start {
                let mut run = TaskRun::new(&l.execution, &new.task.id);
                run.parent_task_run_id = new.parent_task_run_id;
                run.value = new.value;
                run.iteration = new.iteration;
                run.state.transition_at(StateType::Running, now);
                run.attempts.push(TaskRunAttempt {
                    state: saker_model::State::starting_at(StateType::Running, now),
                });
                l.execution.task_run_list.push(run.clone());
                changed_runs.push(run.clone());
                dispatch.push(run);
            }
            if let Some(state) = step.end {
                let (outputs, output_logs, outputs_failed) =
                    self.outputs.render(&l.flow, &l.execution, state);
                logs.extend(output_logs);
                l.execution.outputs = outputs;
                let final_state = if let Some(exit) = l.exit {
                    exit
                } else if outputs_failed && !state.is_failed() {
                    StateType::Failed
                } else {
                    state
                };
                let final_state = if l.exit.is_none() && !l.flow.sla.is_empty() {
                    self.check_assertions(l, final_state, &mut logs)
                } else {
                    final_state
                };
                l.execution.state.transition(final_state);
                ended = true;
            }
            break;
        }
        if !logs.is_empty() {
            outbox.writes.push(Owned::Logs(logs));
        }
        outbox
            .writes
            .extend(changed_runs.into_iter().map(Owned::TaskRun));
        outbox
            .writes
            .push(Owned::Execution(execution_header(&l.execution)));

        if !dispatch.is_empty() || !checks.is_empty() {
            // One snapshot for every job of this step (a Parallel starts many at once).
            let snapshot = l.execution.snapshot();
            for run in dispatch {
                outbox.jobs.extend(job_for(&l.flow, &snapshot, run));
            }
            for run in checks {
                outbox
                    .jobs
                    .extend(job_for(&l.flow, &snapshot, run).map(|mut job| {
                        job.check = true;
                        job
                    }));
            }
        }
        if ended && let Some(l) = live.remove(id) {
            self.metrics.execution_ended(l.execution.state.current);
            self.masks.remove(id);
            let _ = self.controls.push(crate::wire::Control::Ended {
                execution_id: id.to_owned(),
            });
            let execution = l.execution.into_inner();
            for w in l.watchers {
                outbox.replies.push((w, execution.clone()));
            }
            self.on_child_end(live, outbox, &l.flow, &execution);
            if l.flow.concurrency.is_some() {
                self.dequeue(live, outbox, &execution);
            }
            if let Some(delay) = l.retry_new {
                self.schedule_new_execution(l.flow.clone(), execution.clone(), delay);
            }
            outbox.ended.push((l.flow, execution));
        }
    }
}

fn job_for(flow: &Arc<Flow>, execution: &Arc<Execution>, task_run: TaskRun) -> Option<WorkerJob> {
    let task = flow.find_task(&task_run.task_id)?;
    let working_directory = if task.kind == TaskKind::WorkingDirectory {
        Some(task_run.id.clone())
    } else {
        execution
            .parents_of(&task_run)
            .into_iter()
            .find(|p| {
                flow.find_task(&p.task_id).map(|t| t.kind) == Some(TaskKind::WorkingDirectory)
            })
            .map(|p| p.id.clone())
    };
    Some(WorkerJob {
        check: false,
        working_directory,
        flow: flow.clone(),
        execution: execution.clone(),
        task: Arc::new(task.clone()),
        attempt: task_run.attempts.len() as u32,
        task_run,
    })
}

/// Which execution a log line written by the engine belongs to.
#[derive(Debug, Clone)]
pub(crate) struct ExecutionKey {
    tenant_id: String,
    namespace: String,
    flow_id: String,
    id: String,
}

impl From<&Execution> for ExecutionKey {
    fn from(e: &Execution) -> Self {
        Self {
            tenant_id: e.tenant_id.clone(),
            namespace: e.namespace.clone(),
            flow_id: e.flow_id.clone(),
            id: e.id.clone(),
        }
    }
}

impl From<&SharedExecution> for ExecutionKey {
    fn from(e: &SharedExecution) -> Self {
        Self::from(&**e)
    }
}

/// A log line written by the engine itself about an execution or a task run.
pub(crate) fn system_log(
    execution: impl Into<ExecutionKey>,
    task_run: Option<&TaskRun>,
    level: Level,
    message: String,
) -> LogEntry {
    let execution: ExecutionKey = execution.into();
    LogEntry {
        tenant_id: execution.tenant_id,
        namespace: execution.namespace,
        flow_id: execution.flow_id,
        execution_id: execution.id,
        task_run_id: task_run.map(|t| t.id.clone()),
        task_id: task_run.map(|t| t.task_id.clone()),
        attempt_number: task_run.map(|t| t.attempts.len() as u32),
        timestamp: Utc::now(),
        level,
        message,
    }
}
