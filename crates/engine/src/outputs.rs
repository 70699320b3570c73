//! Outputs leaving a task or a flow: task outputs are protected (secret-derived strings
//! sealed) before the executor records them; flow `outputs` are rendered once every task has
//! ended, coerced to their declared type, and sealed when SECRET or secret-derived.

use std::sync::Arc;

use saker_expr::{RenderEnv, Template};
use saker_model::{Execution, Flow, Level, LogEntry, StateType};
use serde_json::{Map, Value as Json};

use crate::context::{self, GlobalVariables};
use crate::executor::system_log;
use crate::masks::MaskRegistry;
use crate::sealing::Protector;
use crate::secrets::{SecretRequester, SecretSource, TaskSecrets};

/// Protects task outputs and renders flow outputs.
#[derive(Clone)]
pub struct FlowOutputs {
    pub protector: Protector,
    pub masks: Arc<MaskRegistry>,
    pub secrets: Arc<dyn SecretSource>,
    pub globals: Arc<GlobalVariables>,
}

impl FlowOutputs {
    /// The outputs of task `task_id` as they may be stored: secret-derived strings sealed.
    pub fn protect(
        &self,
        execution_id: &str,
        task_id: &str,
        outputs: Map<String, Json>,
    ) -> Map<String, Json> {
        let masks = self.masks.get(execution_id);
        outputs
            .into_iter()
            .map(|(k, v)| {
                let path = format!("outputs.{task_id}.{k}");
                (
                    k,
                    self.protector.protect_tree(execution_id, &path, v, &masks),
                )
            })
            .collect()
    }

    /// Renders the flow's outputs for an execution that ended in `state`. Returns the
    /// outputs, log lines about failures, and whether any output failed (which fails the
    /// execution, as in Kestra).
    pub fn render(
        &self,
        flow: &Flow,
        execution: &Execution,
        state: StateType,
    ) -> (Map<String, Json>, Vec<LogEntry>, bool) {
        let mut outputs = Map::new();
        let mut logs = Vec::new();
        if flow.outputs.is_empty() || !matches!(state, StateType::Success | StateType::Warning) {
            return (outputs, logs, false);
        }
        let masks = self.masks.get(&execution.id);
        let fail = |logs: &mut Vec<LogEntry>, message: String| {
            let masked = masks.mask(&message).into_owned();
            logs.push(system_log(execution, None, Level::Error, masked));
        };
        let variables = match context::execution_context(
            flow,
            execution,
            &self.globals,
            &self.protector,
            &masks,
        ) {
            Ok(v) => v,
            Err(e) => {
                fail(&mut logs, format!("flow outputs: {e}"));
                return (outputs, logs, true);
            }
        };
        let resolver = TaskSecrets::new(
            self.secrets.clone(),
            SecretRequester {
                tenant_id: execution.tenant_id.clone(),
                namespace: execution.namespace.clone(),
                flow_id: execution.flow_id.clone(),
                execution_id: execution.id.clone(),
                task_run_id: None,
            },
            masks.clone(),
        );
        let env = RenderEnv {
            secrets: Some(&resolver),
            ..RenderEnv::default()
        };
        let mut failed = false;
        for output in &flow.outputs {
            let path = format!("outputs.{}", output.id);
            let rendered = render_deep(&output.value, &variables, &env, &masks);
            let value = rendered.and_then(|(v, tainted)| match output.coerce_rendered(v) {
                Ok(v) => Ok((v, tainted)),
                // The coercion error quotes the value; one derived from a secret is not shown.
                Err(_) if tainted => Err(
                    "its value, derived from a secret, does not fit the declared type (the value is not shown)"
                        .to_owned(),
                ),
                Err(e) => Err(e.to_string()),
            });
            match value {
                Ok((value, tainted)) => {
                    let stored = if output.is_secret() || tainted {
                        let text = match &value {
                            Json::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        self.protector.seal_string(&execution.id, &path, &text)
                    } else {
                        self.protector
                            .protect_tree(&execution.id, &path, value, &masks)
                    };
                    outputs.insert(output.id.clone(), stored);
                }
                Err(e) => {
                    failed = true;
                    fail(&mut logs, format!("flow output '{}': {e}", output.id));
                }
            }
        }
        (outputs, logs, failed)
    }
}

impl FlowOutputs {
    /// Renders every string of `value` in the context of an execution of `flow` (its inputs,
    /// outputs, labels, trigger), with `secret()` resolved for that execution: what a Flow
    /// trigger gives the execution it starts, a Subflow's `outputs`. The flag says whether
    /// anything came from a secret.
    pub fn render_value(
        &self,
        flow: &Flow,
        execution: &Execution,
        value: &Json,
    ) -> Result<(Json, bool), String> {
        // The execution has ended: its own mask set is gone, and one made here is dropped
        // with the call rather than registered again (nothing is logged for it any more).
        let masks = Arc::new(crate::masks::ExecutionMasks::default());
        let variables =
            context::execution_context(flow, execution, &self.globals, &self.protector, &masks)?;
        let resolver = TaskSecrets::new(
            self.secrets.clone(),
            SecretRequester {
                tenant_id: execution.tenant_id.clone(),
                namespace: execution.namespace.clone(),
                flow_id: execution.flow_id.clone(),
                execution_id: execution.id.clone(),
                task_run_id: None,
            },
            masks.clone(),
        );
        let env = RenderEnv {
            secrets: Some(&resolver),
            ..RenderEnv::default()
        };
        render_deep(value, &variables, &env, &masks)
    }
}

/// Renders every string inside `value`; the flag says whether anything was tainted.
fn render_deep(
    value: &Json,
    variables: &saker_expr::Context,
    env: &RenderEnv<'_>,
    masks: &crate::masks::ExecutionMasks,
) -> Result<(Json, bool), String> {
    Ok(match value {
        Json::String(s) => {
            let template = Template::compile(s).map_err(|e| e.to_string())?;
            let rendered = template.render(variables, env).map_err(|e| e.to_string())?;
            let tainted = rendered.is_tainted();
            if tainted {
                masks.add_rendered(&rendered);
            }
            (Json::String(rendered.text), tainted)
        }
        Json::Array(items) => {
            let mut tainted = false;
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let (v, t) = render_deep(item, variables, env, masks)?;
                tainted |= t;
                out.push(v);
            }
            (Json::Array(out), tainted)
        }
        Json::Object(map) => {
            let mut tainted = false;
            let mut out = Map::new();
            for (k, v) in map {
                let (v, t) = render_deep(v, variables, env, masks)?;
                tainted |= t;
                out.insert(k.clone(), v);
            }
            (Json::Object(out), tainted)
        }
        other => (other.clone(), false),
    })
}
