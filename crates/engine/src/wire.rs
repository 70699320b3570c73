//! The worker protocol as plain messages: a job, its result, and the control messages the
//! executor sends the workers (cancel these attempts; this execution ended). Nothing else
//! joins executor and worker, so the same messages can cross a process boundary.
//!
//! [`JsonQueue`] carries them as JSON text through an in-memory queue. The engine uses it
//! when `EngineParts::wire` is set (`SAKER_ENGINE_WIRE=json` in the environment of a test
//! run), with a mask registry of the worker's own: every engine test then proves that no
//! state but the messages is shared.

use std::sync::Arc;

use saker_model::{Execution, Flow, TaskRun};
use serde::{Deserialize, Serialize};

use crate::queue::{LocalQueue, PopFuture, Queue, QueueClosed, WorkerJob, WorkerResult};

/// What the executor tells the workers besides jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Control {
    /// Stop these attempts (a kill, an Exit task, an SLA): each is cancelled if running, or
    /// as soon as it starts if its job is still on the way.
    Cancel {
        execution_id: String,
        task_run_ids: Vec<String>,
    },
    /// The execution ended: the worker forgets what it kept for it (its mask set).
    Ended { execution_id: String },
}

/// A message that can be written as JSON text and read back.
pub trait WireMessage: Sized + Send + 'static {
    fn to_wire(&self) -> Result<String, String>;
    fn from_wire(text: &str) -> Result<Self, String>;
}

/// A job as it travels: the flow as its source (parsed again on the other side), the
/// execution snapshot, the task by id.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobOnWire {
    flow_source: String,
    execution: Execution,
    task_id: String,
    task_run: TaskRun,
    attempt: u32,
    working_directory: Option<String>,
    check: bool,
}

impl WireMessage for WorkerJob {
    fn to_wire(&self) -> Result<String, String> {
        serde_json::to_string(&JobOnWire {
            flow_source: self.flow.source.clone(),
            execution: (*self.execution).clone(),
            task_id: self.task.id.clone(),
            task_run: self.task_run.clone(),
            attempt: self.attempt,
            working_directory: self.working_directory.clone(),
            check: self.check,
        })
        .map_err(|e| e.to_string())
    }

    fn from_wire(text: &str) -> Result<Self, String> {
        let job: JobOnWire = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let flow: Flow = saker_model::parse_flow(&job.flow_source)
            .map_err(|_| "the job's flow no longer validates".to_owned())?;
        let task = flow
            .find_task(&job.task_id)
            .cloned()
            .ok_or_else(|| format!("the job's task '{}' is not in its flow", job.task_id))?;
        Ok(WorkerJob {
            flow: Arc::new(flow),
            execution: Arc::new(job.execution),
            task: Arc::new(task),
            task_run: job.task_run,
            attempt: job.attempt,
            working_directory: job.working_directory,
            check: job.check,
        })
    }
}

macro_rules! serde_wire {
    ($t:ty) => {
        impl WireMessage for $t {
            fn to_wire(&self) -> Result<String, String> {
                serde_json::to_string(self).map_err(|e| e.to_string())
            }

            fn from_wire(text: &str) -> Result<Self, String> {
                serde_json::from_str(text).map_err(|e| e.to_string())
            }
        }
    };
}

serde_wire!(WorkerResult);
serde_wire!(Control);

/// A queue that writes every message as JSON text and reads it back on the other side.
pub struct JsonQueue<T> {
    inner: LocalQueue<String>,
    _kind: std::marker::PhantomData<fn() -> T>,
}

impl<T> Default for JsonQueue<T> {
    fn default() -> Self {
        Self {
            inner: LocalQueue::default(),
            _kind: std::marker::PhantomData,
        }
    }
}

impl<T: WireMessage> Queue<T> for JsonQueue<T> {
    fn push(&self, item: T) -> Result<(), QueueClosed> {
        match item.to_wire() {
            Ok(text) => self.inner.push(text),
            Err(e) => {
                tracing::error!(error = %e, "a message could not be written; it is dropped");
                Ok(())
            }
        }
    }

    fn pop(&self) -> PopFuture<'_, T> {
        Box::pin(async move {
            loop {
                let text = self.inner.pop().await?;
                match T::from_wire(&text) {
                    Ok(item) => return Some(item),
                    Err(e) => {
                        tracing::error!(error = %e, "a message could not be read; it is dropped")
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_job_crosses_as_text_and_comes_back_whole() {
        let flow = Arc::new(
            saker_model::parse_flow(
                "id: f\nnamespace: n\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [a]\n    tasks:\n      - id: inner\n        type: Log\n        message: hi\n",
            )
            .unwrap(),
        );
        let execution = Execution::new("main", "n", "f", 3);
        let mut run = TaskRun::new(&execution, "inner");
        run.value = Some(serde_json::json!("a"));
        let job = WorkerJob {
            flow: flow.clone(),
            execution: Arc::new(execution),
            task: Arc::new(flow.find_task("inner").unwrap().clone()),
            task_run: run.clone(),
            attempt: 2,
            working_directory: None,
            check: false,
        };
        let queue: JsonQueue<WorkerJob> = JsonQueue::default();
        queue.push(job).unwrap();
        let back = queue.pop().await.unwrap();
        assert_eq!(back.task.id, "inner");
        assert_eq!(back.task_run, run);
        assert_eq!(back.attempt, 2);
        assert_eq!(back.flow.id, "f");

        let controls: JsonQueue<Control> = JsonQueue::default();
        let cancel = Control::Cancel {
            execution_id: "e".into(),
            task_run_ids: vec!["r".into()],
        };
        controls.push(cancel.clone()).unwrap();
        assert_eq!(controls.pop().await, Some(cancel));
    }
}
