//! The variables a task's templates see, built the way Kestra builds them: `flow`,
//! `execution`, `task`, `taskrun`, `inputs`, `outputs`, `vars`, `labels`, `envs`, `globals`,
//! and `trigger` when a trigger started the execution.

use saker_expr::{Context, Value};
use saker_model::{Execution, ExecutionTrigger, Flow, StateType, TaskDef, TaskRun};
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

    let inputs = Json::Object(execution.inputs.clone());
    ctx.insert(
        "inputs",
        protector.open_tree(&execution.id, "inputs", &inputs, masks)?,
    );
    ctx.insert(
        "vars",
        Value::from_json(&Json::Object(flow.variables_json())),
    );
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

    let mut outputs = Map::new();
    for run in &execution.task_run_list {
        if matches!(run.state.current, StateType::Success | StateType::Warning)
            && !run.outputs.is_empty()
        {
            outputs.insert(run.task_id.clone(), Json::Object(run.outputs.clone()));
        }
    }
    let outputs = Json::Object(outputs);
    ctx.insert(
        "outputs",
        protector.open_tree(&execution.id, "outputs", &outputs, masks)?,
    );
    Ok(ctx)
}

/// `trigger`: what the trigger gave the flow (a webhook's `body`, `headers`, `parameters`),
/// with the trigger's `id` and `type`.
fn trigger_variables(trigger: &ExecutionTrigger) -> Json {
    let mut vars = trigger.variables.clone();
    vars.insert("id".into(), trigger.id.clone().into());
    vars.insert("type".into(), trigger.type_name.clone().into());
    Json::Object(vars)
}

/// Adds `task` and `taskrun` to an execution's context.
pub fn add_task(ctx: &mut Context, task: &TaskDef, task_run: &TaskRun, attempt: u32) {
    let mut task_vars = Map::new();
    task_vars.insert("id".into(), task.id.clone().into());
    task_vars.insert("type".into(), task.type_name.clone().into());
    ctx.insert("task", Value::from_json(&Json::Object(task_vars)));

    let mut run_vars = Map::new();
    run_vars.insert("id".into(), task_run.id.clone().into());
    if let Some(start) = task_run.state.start_date() {
        run_vars.insert("startDate".into(), iso(start).into());
    }
    // As in Kestra, the attempts made before this one: 0 on a first attempt.
    run_vars.insert("attemptsCount".into(), attempt.saturating_sub(1).into());
    ctx.insert("taskrun", Value::from_json(&Json::Object(run_vars)));
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
}
