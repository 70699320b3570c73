//! Tasks: the properties every task has, typed, and the task-specific ones checked against
//! the catalog and kept raw for the engine to render.

use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

use crate::catalog::{COMMON_TASK_PROPS, TaskKind, TaskType};
use crate::children::{Children, check_children_of_unknown};
use crate::diagnostic::{Diags, index, join};
use crate::execution::Level;
use crate::ids;
use crate::input::InputDef;
use crate::read;
use crate::retry::{Retry, parse_retry};
use crate::shape::{Shape, is_template};
use crate::suggest;
use crate::validate::{Ctx, TypeOf};
use crate::yaml::{Node, Pos};

/// One task of a flow, after plugin defaults were merged in.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDef {
    pub id: String,
    /// The canonical type name, whatever alias the flow used.
    pub type_name: String,
    pub kind: TaskKind,
    pub description: Option<String>,
    pub disabled: bool,
    /// An expression; the task is skipped when it renders to false.
    pub run_if: Option<String>,
    pub retry: Option<Retry>,
    pub allow_failure: bool,
    pub allow_warning: bool,
    /// Lines below this level are dropped.
    pub log_level: Option<Level>,
    pub log_to_file: bool,
    /// Kill the task after this long.
    pub timeout: Option<Duration>,
    /// A `timeout` written as an expression (Kestra's `Property<Duration>`): render it, then
    /// parse it with [`crate::duration::parse`]. Set only when `timeout` is not.
    pub timeout_expression: Option<String>,
    pub worker_group: Option<Value>,
    /// Other common properties Kestra accepts and Saker keeps without using yet
    /// (`version`, `pluginDefaultsRef`, `taskCache`, `assets`).
    pub extras: IndexMap<String, Value>,
    /// The type's own properties, strings unrendered.
    pub properties: IndexMap<String, Value>,
    /// Child task lists of a flowable task, by property name (`tasks`, `then`, `else`,
    /// `defaults`, `errors`, `finally`; Pause's single `onPause` as a list of one). A Dag's
    /// children are unwrapped from their `{task, dependsOn}` entries into `tasks`.
    pub subtasks: IndexMap<String, Vec<TaskDef>>,
    /// Switch's `cases`: case value as written (as text) -> the tasks to run for it.
    pub cases: IndexMap<String, Vec<TaskDef>>,
    /// For a child of a Dag: the ids of the sibling tasks that must end before it starts
    /// (checked: each names a task of the same Dag, and they form no cycle).
    pub depends_on: Vec<String>,
    /// Pause's `onResume`: the inputs a resume may give, declared and checked like the
    /// flow's `inputs`.
    pub on_resume: Vec<InputDef>,
    /// Where the task starts in the flow source.
    pub pos: Pos,
}

impl TaskDef {
    /// The worker group the task asks for (`workerGroup.key`), `None` for the default one.
    pub fn worker_group_key(&self) -> Option<&str> {
        self.worker_group
            .as_ref()
            .and_then(|group| group.get("key"))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|key| !key.is_empty())
    }

    /// A property as a string, if it is one.
    pub fn str_prop(&self, name: &str) -> Option<&str> {
        self.properties.get(name).and_then(Value::as_str)
    }

    /// This task and every task nested in it (child lists, then Switch cases), depth first.
    pub fn walk(&self) -> Vec<&TaskDef> {
        let mut out = vec![self];
        for children in self.subtasks.values().chain(self.cases.values()) {
            for child in children {
                out.extend(child.walk());
            }
        }
        out
    }
}

/// Parses a list of tasks at `path` (`tasks`, `errors`, `finally`, or a flowable's child list).
pub(crate) fn parse_tasks(ctx: &mut Ctx<'_>, node: &Node, path: &str) -> Vec<TaskDef> {
    let Some(items) = read::seq(&mut ctx.diags, node, path) else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| parse_task(ctx, item, &index(path, i)))
        .collect()
}

/// Reads one task; `None` only after reporting why.
pub(crate) fn parse_task(ctx: &mut Ctx<'_>, node: &Node, path: &str) -> Option<TaskDef> {
    let before = ctx.diags.len();
    let task = read_task(ctx, node, path);
    if task.is_none() && ctx.diags.len() == before {
        // A task must never vanish from a flow that validates: if a reader refused it without
        // saying why, say so rather than run the flow without it.
        ctx.diags.error(
            node.pos,
            path,
            "this task could not be read (internal error; please report it)",
        );
    }
    task
}

fn read_task(ctx: &mut Ctx<'_>, node: &Node, path: &str) -> Option<TaskDef> {
    if node.as_map().is_none() {
        ctx.diags.error(
            node.pos,
            path,
            format!(
                "a task must be a map with at least 'id' and 'type', got {}",
                node.describe()
            ),
        );
        return None;
    }
    // The names this task may use, from its type as written (reported below if unknown), so
    // that a misspelt key is reported once, as an unknown property with "did you mean".
    let catalog = ctx.catalog;
    let written_name = node.get("type").and_then(Node::as_text);
    let written_type = written_name.and_then(|name| catalog.task(name));
    let known: Vec<&str> = COMMON_TASK_PROPS
        .iter()
        .copied()
        .chain(
            written_type
                .iter()
                .flat_map(|t| t.props.iter().map(|p| p.name)),
        )
        .collect();

    let id = task_id(ctx, node, path, &known);
    let label = match &id {
        Some(id) => format!("task '{id}'"),
        None => format!("the task at {path}"),
    };
    let task_type = resolve_type(ctx, node, path, &label, &known);
    let merged;
    let node = match task_type {
        Some(t) => {
            merged = ctx.defaults.apply_task(t, node);
            &merged
        }
        None => node,
    };
    let owner = match task_type {
        Some(t) => format!("{label} ({})", t.name),
        None => label,
    };

    let mut core = Core::default();
    let mut properties = IndexMap::new();
    let mut children = Children::default();
    let mut ok = id.is_some() && task_type.is_some();
    for entry in node.as_map().unwrap_or_default() {
        let key = entry.key.as_str();
        let value = &entry.value;
        let from_default = ctx.defaults.is_default(entry.key_pos);
        let prop_path = if from_default {
            join("pluginDefaults", key)
        } else {
            join(path, key)
        };
        if COMMON_TASK_PROPS.contains(&key) {
            ok &= core.read(ctx, key, value, &prop_path);
            continue;
        }
        // A value that came from a plugin default is reported against the default, once,
        // rather than against every task it was merged into.
        let owner = match task_type {
            Some(t) if from_default => format!("the plugin default for {}", t.name),
            _ => owner.clone(),
        };
        let spec = task_type.and_then(|t| t.prop(key));
        let Some(spec) = spec else {
            // A task of an unknown type gets no property error: its properties are the
            // unknown type's own (a plugin's `session` is no misspelt `version`), and the
            // type is what to fix. Without any `type`, a misspelt common property (`tpye`)
            // is what to fix.
            let misspelt_common = node.get("type").is_none()
                && !suggest::closest(key, COMMON_TASK_PROPS.iter().copied()).is_empty();
            if task_type.is_some() || misspelt_common {
                read::unknown_key(&mut ctx.diags, entry, known.iter().copied(), path, &owner);
            }
            ok = false;
            continue;
        };
        if value.is_null() {
            continue;
        }
        if spec.shape.holds_children() {
            ok &= children.read(ctx, spec, value, &prop_path);
            continue;
        }
        match spec.shape.convert(value) {
            Ok(v) => {
                properties.insert(key.to_owned(), v);
            }
            Err(message) => {
                ctx.diags.error(
                    value.pos,
                    &prop_path,
                    format!("property '{key}' of {owner}: {message}"),
                );
                ok = false;
            }
        }
    }
    if let Some(t) = task_type {
        for spec in t.props.iter().filter(|p| p.required) {
            let present = properties.contains_key(spec.name) || children.has(spec.name);
            if !present && node.get(spec.name).is_none_or(Node::is_null) {
                if !read::misspelt(node, spec.name, &known) {
                    ctx.diags.error(
                        node.pos,
                        &join(path, spec.name),
                        format!("{owner} is missing required property '{}'", spec.name),
                    );
                }
                ok = false;
            }
        }
    }
    if task_type.is_none() {
        check_children_of_unknown(ctx, node, path);
    }
    let (Some(id), Some(t), true) = (id, task_type, ok) else {
        return None;
    };
    Some(TaskDef {
        id,
        type_name: t.name.to_owned(),
        kind: t.kind,
        description: core.description,
        disabled: core.disabled,
        run_if: core.run_if,
        retry: core.retry,
        allow_failure: core.allow_failure,
        allow_warning: core.allow_warning,
        log_level: core.log_level,
        log_to_file: core.log_to_file,
        timeout: core.timeout,
        timeout_expression: core.timeout_expression,
        worker_group: core.worker_group,
        extras: core.extras,
        properties,
        subtasks: children.subtasks,
        cases: children.cases,
        depends_on: Vec::new(),
        on_resume: children.on_resume,
        pos: node.pos,
    })
}

/// Reads and checks the id, and records it for the flow-wide duplicate check.
fn task_id(ctx: &mut Ctx<'_>, node: &Node, path: &str, known: &[&str]) -> Option<String> {
    let id_path = join(path, "id");
    let Some(id_node) = node.get("id").filter(|n| !n.is_null()) else {
        if !read::misspelt(node, "id", known) {
            ctx.diags.error(
                node.pos,
                &id_path,
                format!("the task at {path} is missing required property 'id'"),
            );
        }
        return None;
    };
    let id = read::string(&mut ctx.diags, id_node, &id_path)?;
    if let Err(why) = ids::check_task_id(&id) {
        ctx.diags.error(
            id_node.pos,
            &id_path,
            format!("invalid task id '{id}': {why}"),
        );
        return None;
    }
    ctx.claim_id("task", &id, id_node.pos, &id_path);
    Some(id)
}

/// The catalog entry for the task's `type`, reporting a missing or unknown one.
fn resolve_type<'c>(
    ctx: &mut Ctx<'c>,
    node: &Node,
    path: &str,
    label: &str,
    known: &[&str],
) -> Option<&'c TaskType> {
    let type_path = join(path, "type");
    let Some(type_node) = node.get("type").filter(|n| !n.is_null()) else {
        if !read::misspelt(node, "type", known) {
            ctx.diags.error(
                node.pos,
                &type_path,
                format!("{label} is missing required property 'type'"),
            );
        }
        return None;
    };
    let name = read::string(&mut ctx.diags, type_node, &type_path)?;
    let found = ctx.catalog.task(&name);
    if found.is_none() {
        ctx.unknown_type(TypeOf::Task, &name, type_node.pos, &type_path);
    }
    found
}

/// The common properties of a task, read one by one.
#[derive(Default)]
struct Core {
    description: Option<String>,
    disabled: bool,
    run_if: Option<String>,
    retry: Option<Retry>,
    allow_failure: bool,
    allow_warning: bool,
    log_level: Option<Level>,
    log_to_file: bool,
    timeout: Option<Duration>,
    timeout_expression: Option<String>,
    worker_group: Option<Value>,
    extras: IndexMap<String, Value>,
}

impl Core {
    /// Reads one common property; false if it is invalid.
    fn read(&mut self, ctx: &mut Ctx<'_>, key: &str, value: &Node, path: &str) -> bool {
        if value.is_null() {
            return true;
        }
        let d = &mut ctx.diags;
        match key {
            // Checked by `task_id` and `resolve_type`.
            "id" | "type" => true,
            "description" => set(&mut self.description, read::string(d, value, path)),
            "runIf" => set(&mut self.run_if, read::string(d, value, path)),
            "disabled" => flag(&mut self.disabled, read::boolean(d, value, path)),
            "allowFailure" => flag(&mut self.allow_failure, read::boolean(d, value, path)),
            "allowWarning" => flag(&mut self.allow_warning, read::boolean(d, value, path)),
            "logToFile" => flag(&mut self.log_to_file, read::boolean(d, value, path)),
            "retry" => set(&mut self.retry, parse_retry(d, value, path)),
            "logLevel" => {
                let level = read::string(d, value, path).and_then(|text| {
                    let level = Level::parse(&text);
                    if level.is_none() {
                        d.error(
                            value.pos,
                            path,
                            format!("'{path}': invalid log level '{text}' (expected TRACE, DEBUG, INFO, WARN or ERROR)"),
                        );
                    }
                    level
                });
                set(&mut self.log_level, level)
            }
            "timeout" => match value.as_str() {
                Some(t) if is_template(t) => {
                    self.timeout_expression = Some(t.to_owned());
                    true
                }
                _ => match Shape::Duration.convert(value).and_then(|v| {
                    let iso = v.as_str().unwrap_or_default();
                    crate::duration::parse_iso8601(iso).map_err(|e| e.to_string())
                }) {
                    Ok(timeout) => {
                        self.timeout = Some(timeout);
                        true
                    }
                    Err(message) => {
                        d.error(value.pos, path, format!("'{path}': {message}"));
                        false
                    }
                },
            },
            "workerGroup" => set(&mut self.worker_group, worker_group(d, value, path)),
            "version" | "pluginDefaultsRef" => {
                let text = read::string(d, value, path);
                let ok = text.is_some();
                if let Some(text) = text {
                    self.extras.insert(key.to_owned(), Value::String(text));
                }
                ok
            }
            _ => {
                self.extras.insert(key.to_owned(), value.to_json());
                true
            }
        }
    }
}

/// `workerGroup: {key, fallback}`: `key` names the workers that run the task (`saker server
/// worker --worker-group KEY`); `fallback` says what happens while none is alive. Only WAIT
/// (Kestra's default: the task waits for such a worker) is available.
fn worker_group(d: &mut Diags, value: &Node, path: &str) -> Option<Value> {
    let entries = read::map(d, value, path)?;
    if !read::check_keys(d, entries, &["key", "fallback"], path, "workerGroup") {
        return None;
    }
    let mut ok = true;
    match entries.iter().find(|e| e.key == "key") {
        None => {
            d.error(
                value.pos,
                path,
                format!("'{path}' is missing required property 'key' (the worker group's name)"),
            );
            ok = false;
        }
        Some(entry) => {
            let key_path = format!("{path}.key");
            match read::string(d, &entry.value, &key_path) {
                Some(key) if key.trim().is_empty() => {
                    d.error(
                        entry.value.pos,
                        &key_path,
                        format!("'{key_path}' must name a worker group, got an empty string"),
                    );
                    ok = false;
                }
                Some(_) => {}
                None => ok = false,
            }
        }
    }
    if let Some(entry) = entries.iter().find(|e| e.key == "fallback") {
        let fallback_path = format!("{path}.fallback");
        match read::string(d, &entry.value, &fallback_path) {
            Some(f) if f.eq_ignore_ascii_case("WAIT") => {}
            Some(f) if f.eq_ignore_ascii_case("FAIL") || f.eq_ignore_ascii_case("CANCEL") => {
                d.error(
                    entry.value.pos,
                    &fallback_path,
                    format!(
                        "'{fallback_path}': {} is not available in Saker: a task whose worker \
                         group has no worker alive waits for one (WAIT, the default); remove \
                         'fallback' or set it to WAIT",
                        f.to_ascii_uppercase()
                    ),
                );
                ok = false;
            }
            Some(f) => {
                d.error(
                    entry.value.pos,
                    &fallback_path,
                    format!("'{fallback_path}': invalid value '{f}' (expected WAIT)"),
                );
                ok = false;
            }
            None => ok = false,
        }
    }
    ok.then(|| value.to_json())
}

fn set<T>(slot: &mut Option<T>, value: Option<T>) -> bool {
    let ok = value.is_some();
    *slot = value;
    ok
}

fn flag(slot: &mut bool, value: Option<bool>) -> bool {
    match value {
        Some(v) => {
            *slot = v;
            true
        }
        None => false,
    }
}
