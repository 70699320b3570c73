//! `parse_flow`: YAML text to a [`Flow`], or every problem found in one pass.
//!
//! The YAML is read into a spanned tree first (a syntax error stops there: nothing after it can
//! be trusted); then every part of the flow is read and checked, and each problem becomes a
//! [`Diagnostic`] with the line and column of the key or value at fault. A flow is returned
//! only when there is no diagnostic at all.

use std::collections::HashMap;

use indexmap::IndexMap;

use crate::catalog::{Catalog, missing_type_reason};
use crate::defaults::Defaults;
use crate::diagnostic::{Diagnostic, Diags, join};
use crate::flow::{Flow, parse_concurrency, parse_labels, parse_triggers};
use crate::ids;
use crate::input::{parse_inputs, parse_outputs};
use crate::listener::parse_listeners;
use crate::read;
use crate::retry::parse_retry;
use crate::sla::parse_slas;
use crate::suggest::did_you_mean;
use crate::task::parse_tasks;
use crate::yaml::{self, Node, Pos};

/// Flow-level properties Kestra accepts. Those without a typed field in [`Flow`] are kept in
/// `extras`: `workerSelector`, `checks`, `extend` (blueprint metadata, accepted with a
/// warning), and the fields Kestra's API adds when it returns a flow (`tenantId`, `deleted`,
/// `updated`).
const FLOW_KEYS: &[&str] = &[
    "id",
    "namespace",
    "revision",
    "description",
    "labels",
    "inputs",
    "variables",
    "tasks",
    "errors",
    "finally",
    "afterExecution",
    "outputs",
    "triggers",
    "pluginDefaults",
    "taskDefaults",
    "retry",
    "disabled",
    "concurrency",
    "sla",
    "listeners",
    "workerSelector",
    "checks",
    "extend",
    "tenantId",
    "deleted",
    "updated",
];

/// State shared by the parts of one validation pass.
pub(crate) struct Ctx<'c> {
    pub(crate) catalog: &'c Catalog,
    pub(crate) diags: Diags,
    pub(crate) defaults: Defaults,
    /// Task and trigger ids seen so far, with where.
    ids: HashMap<String, Pos>,
    /// Unknown types, by what they were given for and name: each is reported once per flow,
    /// at its first use, with the lines of its other uses added when the pass ends.
    unknown_types: IndexMap<(TypeOf, String), UnknownType>,
}

/// What an unknown type was given for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TypeOf {
    Task,
    Trigger,
}

impl TypeOf {
    fn noun(self) -> &'static str {
        match self {
            Self::Task => "task",
            Self::Trigger => "trigger",
        }
    }
}

/// An unknown type's one finding and the lines of its uses after the first.
struct UnknownType {
    finding: usize,
    more_lines: Vec<usize>,
}

impl Ctx<'_> {
    /// Records a task or trigger id, reporting it if an earlier one had the same id.
    /// `what` is "task" or "trigger".
    pub(crate) fn claim_id(&mut self, what: &str, id: &str, pos: Pos, path: &str) {
        match self.ids.get(id) {
            Some(first) => {
                let message = format!(
                    "duplicate {what} id '{id}' (already used at line {})",
                    first.line
                );
                self.diags.error(pos, path, message);
            }
            None => {
                self.ids.insert(id.to_owned(), pos);
            }
        }
    }
}

impl Ctx<'_> {
    /// Reports the unknown type `name` of a task or trigger, once per flow: a flow
    /// with twenty tasks of a plugin Saker lacks has one thing to fix, not twenty. The type's
    /// other uses are named by line in the same finding.
    pub(crate) fn unknown_type(&mut self, what: TypeOf, name: &str, pos: Pos, path: &str) {
        let key = (what, name.to_owned());
        if let Some(seen) = self.unknown_types.get_mut(&key) {
            seen.more_lines.push(pos.line);
            self.diags.fold();
            return;
        }
        let message = unknown_type_message(self.catalog, what, name);
        let finding = self.diags.error_indexed(pos, path, message);
        let seen = UnknownType {
            finding,
            more_lines: Vec::new(),
        };
        self.unknown_types.insert(key, seen);
    }

    /// Adds to each unknown type's finding the lines of its other uses.
    fn finish_unknown_types(&mut self) {
        // Enough lines to find the uses; a flow using one plugin everywhere gets a count.
        const SHOWN: usize = 10;
        for seen in self.unknown_types.values() {
            let lines: Vec<String> = seen
                .more_lines
                .iter()
                .take(SHOWN)
                .map(usize::to_string)
                .collect();
            let rest = match seen.more_lines.len().saturating_sub(SHOWN) {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            let more = match lines.as_slice() {
                [] => continue,
                [one] => format!(" (also used at line {one})"),
                many => format!(" (also used at lines {}{rest})", many.join(", ")),
            };
            self.diags.append(seen.finding, &more);
        }
    }
}

/// The one-line finding for an unknown type: why it is missing when its name tells (a plugin
/// Saker lacks, a core type not here yet, a test class), else the close names when there are
/// some, else where to find the types Saker has.
fn unknown_type_message(catalog: &Catalog, of: TypeOf, name: &str) -> String {
    let close = match of {
        TypeOf::Task => catalog.suggest_task(name),
        TypeOf::Trigger => catalog.suggest_trigger(name),
    };
    let what = of.noun();
    if let Some(reason) = missing_type_reason(name, &close, catalog) {
        return format!("unknown {what} type '{name}': {reason}");
    }
    if close.is_empty() {
        format!(
            "unknown {what} type '{name}': Saker has no type of this name (`saker plugins list` \
             lists the types it has)"
        )
    } else {
        format!("unknown {what} type '{name}'{}", did_you_mean(&close))
    }
}

/// Parses and validates a flow written in Kestra's YAML syntax against the built-in catalog.
pub fn parse_flow(source: &str) -> Result<Flow, Vec<Diagnostic>> {
    parse_flow_with(source, Catalog::builtin())
}

/// Parses and validates a flow against the task and trigger types of `catalog`.
pub fn parse_flow_with(source: &str, catalog: &Catalog) -> Result<Flow, Vec<Diagnostic>> {
    let (root, duplicates) = yaml::parse_lenient(source).map_err(|e| vec![Diagnostic::from(e)])?;
    let mut ctx = Ctx {
        catalog,
        diags: Diags::default(),
        defaults: Defaults::default(),
        ids: HashMap::new(),
        unknown_types: IndexMap::new(),
    };
    for dup in duplicates {
        ctx.diags.error(dup.pos(), "", dup.message());
    }
    let flow = read_flow(&mut ctx, &root, source);
    ctx.finish_unknown_types();
    ctx.defaults.report_left_out(&mut ctx.diags);
    match flow {
        Some(flow) if ctx.diags.is_empty() => Ok(flow),
        _ => {
            if ctx.diags.is_empty() {
                // Refusing a flow without saying why would leave the user with nothing to fix.
                let message = "the flow could not be read (internal error; please report it)";
                ctx.diags.error(root.pos, "", message);
            }
            Err(ctx.diags.into_sorted())
        }
    }
}

fn read_flow(ctx: &mut Ctx<'_>, root: &Node, source: &str) -> Option<Flow> {
    if root.is_null() {
        ctx.diags.error(
            root.pos,
            "",
            "the flow is empty: it needs at least 'id', 'namespace' and 'tasks'",
        );
        return None;
    }
    let Some(entries) = root.as_map() else {
        let got = root.describe();
        ctx.diags.error(
            root.pos,
            "",
            format!("a flow must be a map with 'id', 'namespace' and 'tasks', got {got}"),
        );
        return None;
    };
    read::check_keys(&mut ctx.diags, entries, FLOW_KEYS, "", "the flow");

    let id = required_name(ctx, root, "id", ids::check_flow_id, "flow id");
    let namespace = required_name(ctx, root, "namespace", ids::check_namespace, "namespace");
    let d = &mut ctx.diags;
    let get = |key: &str| root.get(key).filter(|n| !n.is_null());
    let revision = get("revision").map(|n| read::integer(d, n, "revision", 1));
    let description = get("description").map(|n| read::string(d, n, "description"));
    let disabled = get("disabled").map(|n| read::boolean(d, n, "disabled"));
    let labels = get("labels")
        .map(|n| parse_labels(d, n, "labels"))
        .unwrap_or_default();
    let variables = match get("variables") {
        Some(n) => read::map(d, n, "variables").map(|entries| {
            entries
                .iter()
                .map(|e| (e.key.clone(), e.value.to_json()))
                .collect::<IndexMap<_, _>>()
        }),
        None => Some(IndexMap::new()),
    };
    let inputs = get("inputs")
        .map(|n| parse_inputs(d, n, "inputs"))
        .unwrap_or_default();
    let outputs = get("outputs")
        .map(|n| parse_outputs(d, n, "outputs"))
        .unwrap_or_default();
    let retry = get("retry").map(|n| parse_retry(d, n, "retry"));
    let concurrency = get("concurrency").map(|n| parse_concurrency(d, n, "concurrency"));
    let sla = get("sla")
        .map(|n| parse_slas(d, n, "sla"))
        .unwrap_or_default();
    if let Some(entry) = root.entry("extend") {
        d.warn(
            entry.key_pos,
            "extend",
            "'extend' (blueprint metadata) is accepted and ignored: Saker keeps it with the \
             flow but nothing reads it",
        );
    }

    for key in ["pluginDefaults", "taskDefaults"] {
        if let Some(n) = get(key) {
            ctx.defaults.read(&mut ctx.diags, n, key);
        }
    }
    let tasks = match get("tasks") {
        Some(n) => {
            if n.as_seq().is_some_and(<[Node]>::is_empty) {
                ctx.diags
                    .error(n.pos, "tasks", "'tasks' must hold at least one task");
            }
            parse_tasks(ctx, n, "tasks")
        }
        None => {
            if !read::misspelt(root, "tasks", FLOW_KEYS) {
                ctx.diags.error(
                    root.pos,
                    "tasks",
                    "the flow is missing required property 'tasks'",
                );
            }
            Vec::new()
        }
    };
    let mut task_list = |key: &str| {
        get(key)
            .map(|n| parse_tasks(ctx, n, key))
            .unwrap_or_default()
    };
    let errors = task_list("errors");
    let finally = task_list("finally");
    let after_execution = task_list("afterExecution");
    let listeners = get("listeners")
        .map(|n| parse_listeners(ctx, n, "listeners"))
        .unwrap_or_default();
    let triggers = get("triggers")
        .map(|n| parse_triggers(ctx, n, "triggers"))
        .unwrap_or_default();

    let extras = [
        "workerSelector",
        "extend",
        "checks",
        "tenantId",
        "deleted",
        "updated",
    ]
    .iter()
    .filter_map(|k| get(k).map(|n| ((*k).to_owned(), n.to_json())))
    .collect();
    Some(Flow {
        id: id?,
        namespace: namespace?,
        revision: present(revision)?,
        description: present(description)?,
        labels,
        inputs,
        variables: variables?,
        tasks,
        errors,
        finally,
        after_execution,
        outputs,
        triggers,
        plugin_defaults: ctx.defaults.list(),
        retry: present(retry)?,
        disabled: present(disabled)?.unwrap_or(false),
        concurrency: present(concurrency)?,
        sla,
        listeners,
        extras,
        warnings: ctx.diags.take_warnings(),
        source: source.to_owned(),
    })
}

/// Reads the flow `id` or `namespace` and checks it with `rule`.
fn required_name(
    ctx: &mut Ctx<'_>,
    root: &Node,
    key: &str,
    rule: impl Fn(&str) -> Result<(), String>,
    what: &str,
) -> Option<String> {
    let Some(n) = root.get(key).filter(|n| !n.is_null()) else {
        if !read::misspelt(root, key, FLOW_KEYS) {
            ctx.diags.error(
                root.pos,
                key,
                format!("the flow is missing required property '{key}'"),
            );
        }
        return None;
    };
    let value = read::string(&mut ctx.diags, n, key)?;
    if let Err(why) = rule(&value) {
        ctx.diags.error(
            n.pos,
            &join("", key),
            format!("invalid {what} '{value}': {why}"),
        );
        return None;
    }
    Some(value)
}

/// For an optional property read as `Option<Option<T>>` (absent / invalid / valid): `None`
/// when it was invalid, so that the flow is not built.
fn present<T>(read: Option<Option<T>>) -> Option<Option<T>> {
    match read {
        None => Some(None),
        Some(None) => None,
        Some(Some(value)) => Some(Some(value)),
    }
}
