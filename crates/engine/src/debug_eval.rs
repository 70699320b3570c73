//! The debug expression of seed 000: renders an expression against what a task run saw,
//! for a person looking at an execution. `secret()` is refused outright, and the result is
//! masked like a log line (sealed inputs and outputs open tainted, so anything derived from
//! them prints as `****`).

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
    #[error(transparent)]
    Store(#[from] saker_store::StoreError),
}

/// Renders `expression` against task run `task_run_id` of execution `execution_id`.
pub fn evaluate(
    store: &dyn Store,
    protector: &Protector,
    globals: &GlobalVariables,
    execution_id: &str,
    task_run_id: &str,
    expression: &str,
) -> Result<String, EvalError> {
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
    );
    let template =
        Template::compile(expression).map_err(|e| EvalError::Expression(e.to_string()))?;
    let env = RenderEnv {
        secrets: None,
        allow_secrets: false,
        ..RenderEnv::default()
    };
    let rendered = template
        .render(&variables, &env)
        .map_err(|e| EvalError::Expression(masks.mask(&e.to_string()).into_owned()))?;
    Ok(masks.mask(&rendered.masked("****")).into_owned())
}
