//! The debug expression of seed 000: renders an expression against what a task run saw,
//! for a person looking at an execution. `secret()` is refused outright, and the result is
//! masked twice: by the render's taint ranges (anything derived from a sealed input or
//! output, which open tainted, prints as `****`) and by value (the execution's sealed values
//! and every tainted string the render produced, wherever else they appear).
//!
//! An expression can be expensive (`jq('def f: f; f')` never ends), so a render runs under an
//! [`EvalControl`]: a deadline, and a cancel flag the API sets when its client goes away.
//! They are checked between the steps here and handed to the template engine where the
//! render is set up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use saker_expr::{RenderEnv, Template};
use saker_store::Store;

use crate::context::{self, GlobalVariables};
use crate::masks::ExecutionMasks;
use crate::sealing::Protector;

/// Why an expression could not be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("execution {0} not found")]
    ExecutionNotFound(String),
    #[error("task run {0} not found in this execution")]
    TaskRunNotFound(String),
    #[error("{0}")]
    Flow(String),
    /// The expression failed; the message never holds a secret.
    #[error("{0}")]
    Expression(String),
    /// The deadline passed before the expression was rendered.
    #[error("the expression did not finish within {} ms", .0.as_millis())]
    TimedOut(Duration),
    /// The client went away; nobody waits for the result.
    #[error("the evaluation was cancelled")]
    Cancelled,
    #[error(transparent)]
    Store(#[from] saker_store::StoreError),
}

/// The bounds of one evaluation: a deadline and a cancel flag, shared with whoever may
/// cancel it (the API handler's drop guard).
#[derive(Debug, Clone)]
pub struct EvalControl {
    pub cancel: Arc<AtomicBool>,
    pub deadline: Instant,
    /// What the deadline was set to, for the error message.
    pub timeout: Duration,
}

impl EvalControl {
    /// Bounds that end `timeout` from now, with a fresh cancel flag.
    pub fn new(timeout: Duration) -> Self {
        EvalControl {
            cancel: Arc::new(AtomicBool::new(false)),
            deadline: Instant::now() + timeout,
            timeout,
        }
    }

    /// Asks the evaluation to stop as soon as it next looks.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// `Err` once cancelled or past the deadline.
    pub fn check(&self) -> Result<(), EvalError> {
        if self.cancel.load(Ordering::Relaxed) {
            Err(EvalError::Cancelled)
        } else if Instant::now() >= self.deadline {
            Err(EvalError::TimedOut(self.timeout))
        } else {
            Ok(())
        }
    }
}

/// What of the engine an evaluation reads: its store, how sealed values open, its global
/// variables and the budgets of every render.
pub struct EvalEngine<'a> {
    pub store: &'a dyn Store,
    pub protector: &'a Protector,
    pub globals: &'a GlobalVariables,
    pub limits: saker_expr::Limits,
}

/// Renders `expression` against task run `task_run_id` of execution `execution_id`, within
/// `control`'s deadline and cancel flag and the budgets of `limits`.
pub fn evaluate(
    control: &EvalControl,
    engine: &EvalEngine<'_>,
    execution_id: &str,
    task_run_id: &str,
    expression: &str,
) -> Result<String, EvalError> {
    control.check()?;
    let EvalEngine {
        store,
        protector,
        globals,
        limits,
    } = *engine;
    let execution = store
        .get_execution(execution_id)?
        .ok_or_else(|| EvalError::ExecutionNotFound(execution_id.to_owned()))?;
    let task_run = execution
        .task_run_list
        .iter()
        .find(|t| t.id == task_run_id)
        .ok_or_else(|| EvalError::TaskRunNotFound(task_run_id.to_owned()))?;
    let record = store
        .get_flow(
            &execution.tenant_id,
            &execution.namespace,
            &execution.flow_id,
            Some(execution.flow_revision),
        )?
        .ok_or_else(|| EvalError::Flow("the flow revision of this execution is gone".into()))?;
    let flow = saker_model::parse_flow(&record.source)
        .map_err(|_| EvalError::Flow("the stored flow no longer validates".into()))?;
    let task = flow.find_task(&task_run.task_id).ok_or_else(|| {
        EvalError::Flow(format!(
            "task '{}' is no longer in the flow",
            task_run.task_id
        ))
    })?;
    let masks = ExecutionMasks::default();
    let mut variables = context::execution_context(&flow, &execution, globals, protector, &masks)
        .map_err(EvalError::Expression)?;
    context::add_task(
        &mut variables,
        task,
        task_run,
        task_run.attempts.len().max(1) as u32,
        &execution,
        protector,
        &masks,
    )
    .map_err(EvalError::Expression)?;
    let template =
        Template::compile(expression).map_err(|e| EvalError::Expression(e.to_string()))?;
    control.check()?;
    let env = RenderEnv {
        secrets: None,
        allow_secrets: false,
        // The server's deadline and its client-gone flag stop the render between steps.
        cancel: Some(control.cancel.as_ref()),
        deadline: Some(control.deadline),
        limits,
        ..RenderEnv::default()
    };
    let rendered = template.render(&variables, &env);
    // A render that ran past the bounds answers as such, whatever it produced.
    control.check()?;
    let rendered =
        rendered.map_err(|e| EvalError::Expression(masks.mask(&e.to_string()).into_owned()))?;
    // This set lives for this call only: the render's tainted strings and range texts join it
    // so that a copy of them outside a tainted range is masked too.
    masks.add_rendered(&rendered);
    Ok(masks.mask(&rendered.masked("****")).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_refuse_once_cancelled_or_past_the_deadline() {
        let control = EvalControl::new(Duration::from_secs(3600));
        assert!(control.check().is_ok());
        control.cancel();
        assert!(matches!(control.check(), Err(EvalError::Cancelled)));
        let past = EvalControl::new(Duration::ZERO);
        assert!(matches!(past.check(), Err(EvalError::TimedOut(_))));
    }
}
