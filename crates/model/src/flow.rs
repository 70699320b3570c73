//! The typed flow and its flow-level parts (labels, triggers, concurrency).
//! [`crate::parse_flow`] builds it from YAML.

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

use crate::condition::{
    Condition, ConditionScope, Preconditions, STATE_NAMES, TERMINATED_STATES, parse_conditions,
    parse_preconditions,
};
use crate::defaults::PluginDefault;
use crate::diagnostic::Diagnostic;
use crate::diagnostic::{Diags, index, join};
use crate::input::{InputDef, OutputDef};
use crate::listener::Listener;
use crate::read;
use crate::retry::Retry;
use crate::sla::Sla;
use crate::task::TaskDef;
use crate::validate::{Ctx, TypeOf};
use crate::yaml::{Node, NodeKind, Pos};

/// A validated flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Flow {
    pub id: String,
    pub namespace: String,
    /// The revision written in the file, if any; the store assigns the real one.
    pub revision: Option<u32>,
    pub description: Option<String>,
    /// Labels in source order; Kestra's list form (`- key: k, value: v`) is normalised.
    pub labels: IndexMap<String, String>,
    pub inputs: Vec<InputDef>,
    /// Flow variables; strings are expressions rendered at run time.
    pub variables: IndexMap<String, Value>,
    pub tasks: Vec<TaskDef>,
    /// Run when a task fails.
    pub errors: Vec<TaskDef>,
    /// Run at the end whatever the outcome.
    #[serde(rename = "finally")]
    pub finally: Vec<TaskDef>,
    /// Run after the execution has reached its final state (Kestra 0.21+).
    pub after_execution: Vec<TaskDef>,
    pub outputs: Vec<OutputDef>,
    pub triggers: Vec<TriggerDef>,
    /// `pluginDefaults` then `taskDefaults`; already merged into the tasks above.
    pub plugin_defaults: Vec<PluginDefault>,
    pub retry: Option<Retry>,
    pub disabled: bool,
    pub concurrency: Option<Concurrency>,
    /// Service level agreements.
    pub sla: Vec<Sla>,
    /// Run after the execution ended, when their conditions hold (Kestra's deprecated form
    /// of `afterExecution`).
    pub listeners: Vec<Listener>,
    /// Other flow-level properties Kestra accepts that Saker keeps as written
    /// (`workerSelector`, `checks`, `extend`, `tenantId`, ...).
    pub extras: IndexMap<String, Value>,
    /// What validation accepted with a warning (`extend`, ...), in file order; the CLI and the
    /// API show them with the flow.
    pub warnings: Vec<Diagnostic>,
    /// The YAML text the flow was parsed from.
    pub source: String,
}

impl Flow {
    /// Every task of the flow (tasks, errors, finally, afterExecution, listeners' tasks and
    /// their children).
    pub fn all_tasks(&self) -> Vec<&TaskDef> {
        self.tasks
            .iter()
            .chain(&self.errors)
            .chain(&self.finally)
            .chain(&self.after_execution)
            .chain(self.listeners.iter().flat_map(|l| &l.tasks))
            .flat_map(TaskDef::walk)
            .collect()
    }

    /// The task with this id, wherever it is in the flow.
    pub fn find_task(&self, id: &str) -> Option<&TaskDef> {
        self.all_tasks().into_iter().find(|t| t.id == id)
    }

    /// The variables as a JSON object, for the template context (`vars`).
    pub fn variables_json(&self) -> serde_json::Map<String, Value> {
        self.variables
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The input declared with this id.
    pub fn input(&self, id: &str) -> Option<&InputDef> {
        self.inputs.iter().find(|i| i.id == id)
    }
}

/// A trigger, kept for the scheduler to run later.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerDef {
    pub id: String,
    /// Canonical type name.
    pub type_name: String,
    pub disabled: bool,
    /// Every other property, as written (after plugin defaults); `conditions` and
    /// `preconditions` are also here raw.
    pub properties: IndexMap<String, Value>,
    /// `conditions` (and a Schedule's deprecated `scheduleConditions`), typed. A Schedule
    /// trigger takes only calendar conditions and expressions.
    pub conditions: Vec<Condition>,
    /// A Flow trigger's `preconditions`, typed.
    pub preconditions: Option<Preconditions>,
    pub pos: Pos,
}

impl TriggerDef {
    /// The canonical name of the Flow trigger.
    pub const FLOW_TYPE: &'static str = "io.kestra.plugin.core.trigger.Flow";

    /// The execution states a Flow trigger reacts to: its `states`, or Kestra's default (the
    /// terminated states).
    pub fn flow_states(&self) -> Vec<String> {
        match self.properties.get("states").and_then(Value::as_array) {
            Some(states) => states
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_ascii_uppercase)
                .collect(),
            None => TERMINATED_STATES.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// What happens to an execution over the concurrency limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum ConcurrencyBehavior {
    #[default]
    Queue,
    Cancel,
    Fail,
}

/// At most `limit` running executions of the flow at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Concurrency {
    pub limit: u32,
    pub behavior: ConcurrencyBehavior,
}

/// Reads `labels`: a map of strings, or a list of `{key, value}` (Kestra accepts both).
/// Scalar values are taken as text (`true` is the label "true").
pub(crate) fn parse_labels(d: &mut Diags, node: &Node, path: &str) -> IndexMap<String, String> {
    let mut out = IndexMap::new();
    let mut add = |d: &mut Diags, key: &str, key_pos: Pos, value: &Node, value_path: &str| {
        if out.contains_key(key) {
            d.error(key_pos, value_path, format!("duplicate label '{key}'"));
            return;
        }
        if let Some(text) = read::string(d, value, value_path) {
            out.insert(key.to_owned(), text);
        }
    };
    match &node.kind {
        NodeKind::Map(entries) => {
            for e in entries {
                add(d, &e.key, e.key_pos, &e.value, &join(path, &e.key));
            }
        }
        NodeKind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let item_path = index(path, i);
                let Some(entries) = read::map(d, item, &item_path) else {
                    continue;
                };
                read::check_keys(d, entries, &["key", "value"], &item_path, "a label");
                match (item.get("key").filter(|n| !n.is_null()), item.get("value")) {
                    (Some(k), Some(v)) => {
                        if let Some(key) = read::string(d, k, &join(&item_path, "key")) {
                            add(d, &key, k.pos, v, &join(&item_path, "value"));
                        }
                    }
                    _ => d.error(
                        item.pos,
                        &item_path,
                        "a label in list form needs 'key' and 'value'",
                    ),
                }
            }
        }
        NodeKind::Scalar(_) => d.error(
            node.pos,
            path,
            format!(
                "'labels' must be a map or a list of key/value pairs, got {}",
                node.describe()
            ),
        ),
    }
    out
}

/// Properties every trigger has (Kestra's `AbstractTrigger`).
const COMMON_TRIGGER_KEYS: &[&str] = &["id", "type", "disabled"];

/// Reads `triggers`. Ids join the flow-wide id check (Kestra forbids a trigger and a task
/// sharing an id).
pub(crate) fn parse_triggers(ctx: &mut Ctx<'_>, node: &Node, path: &str) -> Vec<TriggerDef> {
    let Some(items) = read::seq(&mut ctx.diags, node, path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = index(path, i);
        if read::map(&mut ctx.diags, item, &item_path).is_none() {
            continue;
        }
        let id = trigger_id(ctx, item, &item_path);
        let type_path = join(&item_path, "type");
        let trigger_type = match item.get("type").filter(|n| !n.is_null()) {
            None => {
                ctx.diags.error(
                    item.pos,
                    &type_path,
                    format!("the trigger at {item_path} is missing required property 'type'"),
                );
                None
            }
            Some(n) => read::string(&mut ctx.diags, n, &type_path).and_then(|name| {
                let found = ctx.catalog.trigger(&name);
                if found.is_none() {
                    ctx.unknown_type(TypeOf::Trigger, &name, n.pos, &type_path);
                }
                found
            }),
        };
        let (Some(id), Some(t)) = (id, trigger_type) else {
            continue;
        };
        let merged = ctx.defaults.apply(t.name, t.aliases, item);
        let mut ok = true;
        for key in t.required {
            if merged.get(key).is_none_or(Node::is_null) {
                ctx.diags.error(
                    item.pos,
                    &join(&item_path, key),
                    format!(
                        "trigger '{id}' ({}) is missing required property '{key}'",
                        t.name
                    ),
                );
                ok = false;
            }
        }
        if t.name == crate::schedule::Schedule::TYPE {
            ok &= crate::schedule::check(&mut ctx.diags, &id, &merged, &item_path);
        }
        let (conditions, preconditions) =
            read_trigger_conditions(ctx, t.name, &merged, &item_path, &mut ok);
        let disabled = match merged.get("disabled").filter(|n| !n.is_null()) {
            Some(n) => read::boolean(&mut ctx.diags, n, &join(&item_path, "disabled")),
            None => Some(false),
        };
        let properties = merged
            .as_map()
            .unwrap_or_default()
            .iter()
            .filter(|e| !COMMON_TRIGGER_KEYS.contains(&e.key.as_str()))
            .map(|e| (e.key.clone(), e.value.to_json()))
            .collect();
        if let (true, Some(disabled)) = (ok, disabled) {
            out.push(TriggerDef {
                id,
                type_name: t.name.to_owned(),
                disabled,
                properties,
                conditions,
                preconditions,
                pos: item.pos,
            });
        }
    }
    out
}

/// Properties of Kestra's Flow trigger (its own and `AbstractTrigger`'s).
const FLOW_TRIGGER_KEYS: &[&str] = &[
    "id",
    "type",
    "description",
    "disabled",
    "conditions",
    "workerGroup",
    "logLevel",
    "labels",
    "stopAfter",
    "logToFile",
    "failOnTriggerError",
    "inputs",
    "states",
    "preconditions",
];

/// Reads a trigger's conditions, and a Flow trigger's own properties: `preconditions`,
/// `states` (Kestra's state names) and `inputs`. Sets `ok` false on any mistake.
fn read_trigger_conditions(
    ctx: &mut Ctx<'_>,
    type_name: &str,
    node: &Node,
    path: &str,
    ok: &mut bool,
) -> (Vec<Condition>, Option<Preconditions>) {
    let before = ctx.diags.len();
    let d = &mut ctx.diags;
    let scope = if type_name == crate::schedule::Schedule::TYPE {
        ConditionScope::Schedule
    } else {
        ConditionScope::Any
    };
    let mut conditions = Vec::new();
    for key in ["conditions", "scheduleConditions"] {
        if let Some(n) = node.get(key).filter(|n| !n.is_null()) {
            conditions.extend(parse_conditions(d, n, &join(path, key), scope));
        }
    }
    let mut preconditions = None;
    if type_name == TriggerDef::FLOW_TYPE {
        if let Some(n) = node.get("preconditions").filter(|n| !n.is_null()) {
            preconditions = parse_preconditions(d, n, &join(path, "preconditions"));
        }
        // Checks the keys too: a misspelt `conditons` would otherwise fire on every execution.
        let owner = format!("the Flow trigger at {path}");
        let mut f = read::Fields::new(d, node, path, owner, FLOW_TRIGGER_KEYS);
        f.names("states", STATE_NAMES);
        if let Some(n) = f.get("inputs") {
            f.ok &= read::map(f.d, n, &join(path, "inputs")).is_some();
        }
    }
    *ok &= ctx.diags.len() == before;
    (conditions, preconditions)
}

fn trigger_id(ctx: &mut Ctx<'_>, item: &Node, item_path: &str) -> Option<String> {
    let id_path = join(item_path, "id");
    let Some(n) = item.get("id").filter(|n| !n.is_null()) else {
        ctx.diags.error(
            item.pos,
            &id_path,
            format!("the trigger at {item_path} is missing required property 'id'"),
        );
        return None;
    };
    let id = read::string(&mut ctx.diags, n, &id_path)?;
    if let Err(why) = crate::ids::check_task_id(&id) {
        ctx.diags
            .error(n.pos, &id_path, format!("invalid trigger id '{id}': {why}"));
        return None;
    }
    ctx.claim_id("trigger", &id, n.pos, &id_path);
    Some(id)
}

/// Reads `concurrency` (`limit`, or Kestra's older `maximum`, and `behavior`).
pub(crate) fn parse_concurrency(d: &mut Diags, node: &Node, path: &str) -> Option<Concurrency> {
    let entries = read::map(d, node, path)?;
    read::check_keys(
        d,
        entries,
        &["limit", "maximum", "behavior"],
        path,
        "concurrency",
    );
    let limit = match ["limit", "maximum"]
        .iter()
        .find_map(|k| node.get(k).map(|n| (*k, n)))
    {
        Some((key, n)) => read::integer(d, n, &join(path, key), 1),
        None => {
            d.error(
                node.pos,
                &join(path, "limit"),
                "'concurrency' needs 'limit'",
            );
            None
        }
    };
    let behavior = match node.get("behavior").filter(|n| !n.is_null()) {
        None => Some(ConcurrencyBehavior::default()),
        Some(n) => read::string(d, n, &join(path, "behavior")).and_then(|text| {
            match text.to_ascii_uppercase().as_str() {
                "QUEUE" => Some(ConcurrencyBehavior::Queue),
                "CANCEL" => Some(ConcurrencyBehavior::Cancel),
                "FAIL" => Some(ConcurrencyBehavior::Fail),
                _ => {
                    d.error(
                        n.pos,
                        &join(path, "behavior"),
                        format!(
                            "unknown concurrency behavior '{text}' (expected QUEUE, CANCEL or FAIL)"
                        ),
                    );
                    None
                }
            }
        }),
    };
    Some(Concurrency {
        limit: limit?,
        behavior: behavior?,
    })
}
