//! A new execution of a flow, as both its starters build it: the engine (a run, a trigger, a
//! webhook) and the executor (a `Subflow`'s child). Inputs are coerced to their declared
//! types, SECRET inputs (and inputs a parent derived from a secret) sealed, labels merged.

use serde_json::{Map, Value as Json};

use saker_model::{Execution, ExecutionTrigger, Flow};

use crate::engine::EngineError;
use crate::sealing::Protector;

/// What an execution is made of.
pub(crate) struct Request<'a> {
    pub tenant: &'a str,
    pub flow: &'a Flow,
    pub revision: u32,
    /// Raw inputs, coerced here.
    pub inputs: Map<String, Json>,
    /// Files for FILE inputs, stored under the new execution.
    pub uploads: Vec<crate::files::InputUpload>,
    pub trigger: Option<ExecutionTrigger>,
    /// The caller's labels, added to the flow's (`system.*` ones are ignored).
    pub labels: Map<String, Json>,
    /// `system.correlationId`: a parent's, or the new execution's own id.
    pub correlation_id: Option<String>,
    /// Inputs sealed whatever their type (a parent derived them from a secret).
    pub seal_inputs: &'a [String],
}

/// Builds (but does not store) the execution.
pub(crate) fn build(
    protector: &Protector,
    files: &crate::files::ExecutionFiles,
    request: Request<'_>,
) -> Result<Execution, EngineError> {
    let Request {
        tenant,
        flow,
        revision,
        inputs,
        uploads,
        trigger,
        labels,
        correlation_id,
        seal_inputs,
    } = request;
    let mut execution = Execution::new(tenant, &flow.namespace, &flow.id, revision);
    // FILE inputs are stored under the execution, so its id comes first; its trigger too,
    // since a subflow's child may take its parent's files.
    execution.trigger = trigger.map(Box::new);
    let coerced = crate::files::coerce_inputs_with_files(files, flow, &execution, inputs, uploads)
        .map_err(EngineError::Inputs)?;
    for input in &flow.inputs {
        let Some(value) = coerced.get(&input.id) else {
            continue;
        };
        let must_seal = input.is_secret() || seal_inputs.contains(&input.id);
        let value = if must_seal && !value.is_null() {
            if protector.sealer.is_none() {
                return Err(EngineError::NeedsEncryptionKey(input.id.clone()));
            }
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            protector.seal_string(&execution.id, &format!("inputs.{}", input.id), &text)
        } else {
            value.clone()
        };
        execution.inputs.insert(input.id.clone(), value);
    }
    for (key, value) in &flow.labels {
        execution
            .labels
            .insert(key.clone(), Json::String(value.clone()));
    }
    for (key, value) in labels {
        if !key.starts_with("system.") {
            execution.labels.insert(key, value);
        }
    }
    let correlation = correlation_id.unwrap_or_else(|| execution.id.clone());
    execution
        .labels
        .insert("system.correlationId".into(), Json::String(correlation));
    Ok(execution)
}
