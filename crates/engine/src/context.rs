//! The variables a task's templates see, built the way Kestra builds them: `flow`,
//! `execution`, `task`, `taskrun`, `inputs`, `outputs`, `vars`, `labels`, `envs`, `globals`,
//! and `trigger` when a trigger started the execution.

use std::collections::HashMap;

use indexmap::IndexMap;
use saker_expr::{Context, Value};
use saker_model::{Execution, ExecutionTrigger, Flow, TaskDef, TaskRun};
use serde_json::{Map, Value as Json};

use crate::masks::ExecutionMasks;
use crate::sealing::Protector;

/// Process-wide variables: `envs` and `globals`.
#[derive(Debug, Clone, Default)]
pub struct GlobalVariables {
    /// Environment variables with the configured prefix, stripped and lower-cased.
    pub envs: Map<String, Json>,
    /// `variables.globals` from the configuration.
    pub globals: Map<String, Json>,
}

/// The context of one execution, without task-specific variables. Sealed inputs and outputs
/// are opened here (tainted, and added to `masks`); an error names the value that could not
/// be opened.
pub fn execution_context(
    flow: &Flow,
    execution: &Execution,
    globals: &GlobalVariables,
    protector: &Protector,
    masks: &ExecutionMasks,
) -> Result<Context, String> {
    let mut ctx = Context::new();
    let mut flow_vars = Map::new();
    flow_vars.insert("id".into(), flow.id.clone().into());
    flow_vars.insert("namespace".into(), flow.namespace.clone().into());
    flow_vars.insert("revision".into(), execution.flow_revision.into());
    flow_vars.insert("tenantId".into(), execution.tenant_id.clone().into());
    ctx.insert("flow", Value::from_json(&Json::Object(flow_vars)));

    let mut exec_vars = Map::new();
    exec_vars.insert("id".into(), execution.id.clone().into());
    exec_vars.insert("originalId".into(), execution.id.clone().into());
    if let Some(start) = execution.state.start_date() {
        exec_vars.insert("startDate".into(), iso(start).into());
    }
    exec_vars.insert("state".into(), execution.state.current.as_str().into());
    ctx.insert("execution", Value::from_json(&Json::Object(exec_vars)));

    if let Some(inputs) = inputs_variable(flow, execution) {
        ctx.insert(
            "inputs",
            protector.open_tree(&execution.id, "inputs", &inputs, masks)?,
        );
    }
    // The flow's variables, or the execution's once a SetVariables/UnsetVariables changed
    // them.
    let variables = match &execution.variables {
        Some(variables) => variables.clone(),
        None => flow.variables_json(),
    };
    ctx.insert("vars", Value::from_json(&Json::Object(variables)));
    ctx.insert(
        "labels",
        Value::from_json(&Json::Object(nest_dotted(&execution.labels))),
    );
    ctx.insert(
        "envs",
        Value::from_json(&Json::Object(globals.envs.clone())),
    );
    ctx.insert(
        "globals",
        Value::from_json(&Json::Object(globals.globals.clone())),
    );
    if let Some(trigger) = &execution.trigger {
        ctx.insert("trigger", Value::from_json(&trigger_variables(trigger)));
    }

    ctx.insert("outputs", outputs_tree(execution, protector, masks)?);
    Ok(ctx)
}

/// `inputs`, as Kestra's `RunVariables` builds it: the execution's inputs, with every input
/// the flow declares (one that was not given is null; coercion already gave defaults), and no
/// variable at all when that leaves nothing. So `{{ inputs.undeclared }}` fails as Kestra's
/// strict rendering fails ("Missing variable"), naming `inputs` when the flow has none and
/// the attribute otherwise, instead of rendering as empty.
fn inputs_variable(flow: &Flow, execution: &Execution) -> Option<Json> {
    let mut inputs = execution.inputs.clone();
    for declared in &flow.inputs {
        inputs.entry(declared.id.clone()).or_insert(Json::Null);
    }
    (!inputs.is_empty()).then_some(Json::Object(inputs))
}

/// `outputs`, addressed as Kestra addresses them: `outputs.<task id>.<name>` for a task run
/// outside any loop; inside loops, one level per iteration value on the way down, so
/// `outputs.inner['beta'].value` and, nested, `outputs.inner[outer][inner].value`. Sealed
/// values are opened (tainted) with the path they were sealed with. A map keyed by a value
/// derived from a secret is tainted as a whole, so its keys never print in clear.
fn outputs_tree(
    execution: &Execution,
    protector: &Protector,
    masks: &ExecutionMasks,
) -> Result<Value, String> {
    let by_id: HashMap<&str, &TaskRun, Hasher> = execution
        .task_run_list
        .iter()
        .map(|r| (r.id.as_str(), r))
        .collect();
    let mut tree: IndexMap<String, OutputNode, Hasher> = IndexMap::default();
    for run in &execution.task_run_list {
        // As in Kestra, every run's outputs, whatever its state: a running LoopUntil's
        // `iterationCount` is read by its own tasks. (A failed attempt returns none.)
        if run.outputs.is_empty() {
            continue;
        }
        let opened = open_outputs(execution, protector, &run.task_id, &run.outputs, masks)?;
        // The iteration values from the outermost loop in, bounded by the list's length so
        // that a stored cycle cannot loop forever.
        let mut path = Vec::new();
        let mut current = Some(run);
        while let Some(r) = current {
            if path.len() > execution.task_run_list.len() {
                break;
            }
            if let Some(value) = &r.value {
                path.push(open_value(execution, protector, value, masks)?);
            }
            current = r
                .parent_task_run_id
                .as_deref()
                .and_then(|id| by_id.get(id).copied());
        }
        path.reverse();
        match tree.get_mut(run.task_id.as_str()) {
            Some(node) => node.insert(&path, opened),
            None => tree
                .entry(run.task_id.clone())
                .or_default()
                .insert(&path, opened),
        }
    }
    Ok(Value::map(
        tree.into_iter()
            .map(|(k, node)| (k, node.into_value()))
            .collect::<Vec<(String, Value)>>(),
    ))
}

/// One task run's outputs as templates see them: sealed values opened (tainted) with the
/// path they were sealed with. Every job builds the outputs of every run before it, so the
/// common case (nothing sealed) converts in place instead of copying the map first.
fn open_outputs(
    execution: &Execution,
    protector: &Protector,
    task_id: &str,
    outputs: &Map<String, Json>,
    masks: &ExecutionMasks,
) -> Result<Value, String> {
    let sealed = outputs.len() == 1 && outputs.contains_key(saker_model::execution::SEALED_KEY)
        || outputs.values().any(crate::sealing::contains_sealed);
    if !sealed {
        return Ok(Value::map(
            outputs
                .iter()
                .map(|(k, v)| (k.as_str(), Value::from_json(v))),
        ));
    }
    protector.open_tree(
        &execution.id,
        &format!("outputs.{task_id}"),
        &Json::Object(outputs.clone()),
        masks,
    )
}

/// The maps the outputs tree is built in, for every job over every run: foldhash, not
/// SipHash (see `plan::RunIndex`).
type Hasher = foldhash::quality::RandomState;

/// The outputs of one task id: its own (outside loops), and one child per iteration value.
#[derive(Default)]
struct OutputNode {
    own: Option<Value>,
    by_value: IndexMap<String, OutputNode, Hasher>,
    /// Some iteration value below this node came from a secret.
    tainted_keys: bool,
}

impl OutputNode {
    fn insert(&mut self, path: &[Value], outputs: Value) {
        match path.split_first() {
            None => self.own = Some(outputs),
            Some((key, rest)) => {
                self.tainted_keys |= key.is_tainted();
                let text = key.as_str().unwrap_or_default().to_owned();
                self.by_value.entry(text).or_default().insert(rest, outputs);
            }
        }
    }

    fn into_value(self) -> Value {
        if self.by_value.is_empty() {
            return self
                .own
                .unwrap_or_else(|| Value::map(Vec::<(String, Value)>::new()));
        }
        let mut entries: Vec<(String, Value)> = match self.own {
            Some(Value::Map(map, _)) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => Vec::new(),
        };
        for (key, node) in self.by_value {
            entries.push((key, node.into_value()));
        }
        let map = Value::map(entries);
        if self.tainted_keys {
            map.tainted()
        } else {
            map
        }
    }
}

/// A task run's iteration value as templates see it: opened (tainted) when sealed.
pub fn open_value(
    execution: &Execution,
    protector: &Protector,
    value: &Json,
    masks: &ExecutionMasks,
) -> Result<Value, String> {
    match value {
        Json::String(s) => Ok(Value::from(s.as_str())),
        other => protector.open_tree(&execution.id, crate::worker::VALUE_PATH, other, masks),
    }
}

/// `trigger`: what the trigger gave the flow (a webhook's `body`, `headers`, `parameters`),
/// with the trigger's `id` and `type`.
fn trigger_variables(trigger: &ExecutionTrigger) -> Json {
    let mut vars = trigger.variables.clone();
    vars.insert("id".into(), trigger.id.clone().into());
    vars.insert("type".into(), trigger.type_name.clone().into());
    Json::Object(vars)
}

/// Adds `task`, `taskrun`, `parent` and `parents` to an execution's context. `taskrun.value`
/// is the iteration value (opened, tainted, when sealed); `parents` lists the ancestors that
/// have a value or outputs, nearest first, as `{taskrun: {value}, outputs}`, and `parent` is
/// the first of them.
pub fn add_task(
    ctx: &mut Context,
    task: &TaskDef,
    task_run: &TaskRun,
    attempt: u32,
    execution: &Execution,
    protector: &Protector,
    masks: &ExecutionMasks,
) -> Result<(), String> {
    let mut task_vars = Map::new();
    task_vars.insert("id".into(), task.id.clone().into());
    task_vars.insert("type".into(), task.type_name.clone().into());
    ctx.insert("task", Value::from_json(&Json::Object(task_vars)));

    let mut run_vars = vec![("id".to_owned(), Value::from(task_run.id.as_str()))];
    if let Some(start) = task_run.state.start_date() {
        run_vars.push(("startDate".into(), Value::from(iso(start).as_str())));
    }
    // As in Kestra, the attempts made before this one: 0 on a first attempt.
    run_vars.push((
        "attemptsCount".into(),
        Value::from_json(&attempt.saturating_sub(1).into()),
    ));
    if let Some(parent) = &task_run.parent_task_run_id {
        run_vars.push(("parentId".into(), Value::from(parent.as_str())));
    }
    if let Some(value) = &task_run.value {
        run_vars.push((
            "value".into(),
            open_value(execution, protector, value, masks)?,
        ));
    }
    if let Some(iteration) = task_run.iteration {
        run_vars.push(("iteration".into(), Value::from_json(&iteration.into())));
    }
    ctx.insert("taskrun", Value::map(run_vars));

    let mut parents = Vec::new();
    for parent in execution.parents_of(task_run) {
        let mut entry = Vec::new();
        if let Some(value) = &parent.value {
            let value = open_value(execution, protector, value, masks)?;
            entry.push(("taskrun".to_owned(), Value::map([("value", value)])));
        }
        if !parent.outputs.is_empty() {
            let outputs = open_outputs(
                execution,
                protector,
                &parent.task_id,
                &parent.outputs,
                masks,
            )?;
            entry.push(("outputs".to_owned(), outputs));
        }
        if !entry.is_empty() {
            parents.push(Value::map(entry));
        }
    }
    if let Some(first) = parents.first() {
        ctx.insert("parent", first.clone());
    }
    ctx.insert("parents", Value::list(parents));
    Ok(())
}

/// Kestra's timestamp format: ISO-8601 in UTC with milliseconds.
pub fn iso(date: chrono::DateTime<chrono::Utc>) -> String {
    date.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Labels such as `system.correlationId` become nested maps, so that
/// `labels.system.correlationId` works as in Kestra.
fn nest_dotted(labels: &Map<String, Json>) -> Map<String, Json> {
    let mut out = Map::new();
    for (key, value) in labels {
        insert_path(
            &mut out,
            key.split('.').collect::<Vec<_>>().as_slice(),
            value.clone(),
        );
    }
    out
}

fn insert_path(map: &mut Map<String, Json>, path: &[&str], value: Json) {
    match path {
        [] => {}
        [last] => {
            map.insert((*last).to_owned(), value);
        }
        [first, rest @ ..] => {
            let child = map
                .entry((*first).to_owned())
                .or_insert_with(|| Json::Object(Map::new()));
            if !child.is_object() {
                *child = Json::Object(Map::new());
            }
            if let Json::Object(child) = child {
                insert_path(child, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_labels_nest() {
        let mut labels = Map::new();
        labels.insert("system.correlationId".into(), "abc".into());
        labels.insert("country".into(), "FR".into());
        let nested = nest_dotted(&labels);
        assert_eq!(nested["system"]["correlationId"], "abc");
        assert_eq!(nested["country"], "FR");
    }

    fn render(ctx: &Context, source: &str) -> String {
        saker_expr::Template::compile(source)
            .unwrap()
            .render(ctx, &saker_expr::RenderEnv::default())
            .unwrap()
            .text
    }

    #[test]
    fn trigger_variables_reach_templates() {
        let flow = saker_model::parse_flow(
            "id: f\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
        )
        .unwrap();
        let mut execution = Execution::new("main", "company.team", "f", 1);
        let protector = Protector { sealer: None };
        let masks = ExecutionMasks::default();
        let globals = GlobalVariables::default();

        let ctx = execution_context(&flow, &execution, &globals, &protector, &masks).unwrap();
        assert!(ctx.get("trigger").is_none(), "no trigger, no variable");

        let mut variables = Map::new();
        variables.insert("body".into(), serde_json::json!({"name": "Ada"}));
        variables.insert(
            "headers".into(),
            serde_json::json!({"x-request-id": ["r-1"]}),
        );
        execution.trigger = Some(Box::new(ExecutionTrigger {
            id: "hook".into(),
            type_name: "io.kestra.plugin.core.trigger.Webhook".into(),
            variables,
        }));
        let ctx = execution_context(&flow, &execution, &globals, &protector, &masks).unwrap();
        assert_eq!(
            render(
                &ctx,
                "{{ trigger.id }} {{ trigger.type }} {{ trigger.body.name }} {{ trigger.headers['x-request-id'][0] }}"
            ),
            "hook io.kestra.plugin.core.trigger.Webhook Ada r-1"
        );
    }

    fn render_err(ctx: &Context, source: &str) -> String {
        saker_expr::Template::compile(source)
            .unwrap()
            .render(ctx, &saker_expr::RenderEnv::default())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn an_undeclared_input_is_an_error_and_a_declared_one_not_given_is_null() {
        let protector = Protector { sealer: None };
        let masks = ExecutionMasks::default();
        let globals = GlobalVariables::default();
        let tasks = "tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";

        // No inputs at all: no `inputs` variable, as in Kestra.
        let bare =
            saker_model::parse_flow(&format!("id: f\nnamespace: company.team\n{tasks}")).unwrap();
        let execution = Execution::new("main", "company.team", "f", 1);
        let ctx = execution_context(&bare, &execution, &globals, &protector, &masks).unwrap();
        let e = render_err(&ctx, "{{ inputs.invalid }}");
        assert!(e.contains("inputs"), "{e}");
        assert_eq!(render(&ctx, "{{ inputs.invalid ?? 'none' }}"), "none");

        // Declared inputs: an optional one that was not given is null; another name fails.
        let declared = saker_model::parse_flow(&format!(
            "id: f\nnamespace: company.team\ninputs:\n  - id: given\n    type: STRING\n  \
             - id: optional\n    type: STRING\n    required: false\n{tasks}"
        ))
        .unwrap();
        let mut execution = Execution::new("main", "company.team", "f", 1);
        execution.inputs.insert("given".into(), "yes".into());
        let ctx = execution_context(&declared, &execution, &globals, &protector, &masks).unwrap();
        assert_eq!(
            render(&ctx, "{{ inputs.given }} {{ inputs.optional is null }}"),
            "yes true"
        );
        let e = render_err(&ctx, "{{ inputs.invalid }}");
        assert!(e.contains("'inputs' has no attribute 'invalid'"), "{e}");
    }
}
