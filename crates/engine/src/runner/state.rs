//! Kestra's deprecated state store, `io.kestra.plugin.core.state.{Get, Set, Delete}`: a JSON
//! map per state `name`, kept for the flow (or, with `namespace: true`, for the flow's whole
//! namespace) and, by default, apart for each `taskrun.value` of a ForEach.
//!
//! Kestra keeps each state as a file of its internal storage; Saker keeps it in the KV store
//! of the flow's namespace (so it is sealed, typed and listed like any value there), under a
//! key that starts with [`KEY_PREFIX`], then the state's name, then a digest of where it
//! belongs (flow, name, `taskrun.value`), so two flows or two values never share one. A
//! state any part of which derived from a secret is stored sealed as a whole, and read back
//! tainted: every string of `data` from a sealed state is sealed in the task's outputs.

use saker_store::KvType;
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

use super::task_file_io::{bool_property, property};
use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};
use crate::kv::KvWrite;
use crate::kv_value::validate_key;

/// The first part of every state's KV key.
pub(crate) const KEY_PREFIX: &str = "kestra-state";

/// io.kestra.plugin.core.state.Get.
pub struct Get;
/// io.kestra.plugin.core.state.Set.
pub struct Set;
/// io.kestra.plugin.core.state.Delete.
pub struct Delete;

impl TaskRunner for Get {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let state = StateKey::of(ctx)?;
            let error_on_missing = bool_property(ctx, "errorOnMissing", false)?;
            let data = match read(ctx, &state)? {
                Some(data) => data,
                None if error_on_missing => return Err(missing(&state)),
                None => Map::new(),
            };
            let mut outputs = Map::new();
            outputs.insert("count".into(), data.len().into());
            outputs.insert("data".into(), Json::Object(data));
            Ok(TaskOutcome::with_outputs(outputs))
        })
    }
}

impl TaskRunner for Set {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let state = StateKey::of(ctx)?;
            let data = match ctx.render_output_value("data")? {
                None | Some(Json::Null) => Map::new(),
                Some(Json::Object(data)) => data,
                Some(_) => return Err(property("data", "expected a map")),
            };
            // Kestra merges the new data into the state (a new key is added, an existing one
            // replaced, maps merged key by key).
            let stored = read_stored(ctx, &state)?;
            let was_sealed = stored.as_ref().is_some_and(|s| s.sealed);
            let mut merged = stored.map(|s| s.data).unwrap_or_default();
            merge(&mut merged, data);
            let value = Json::Object(merged);
            let text = zeroize::Zeroizing::new(value.to_string());
            let tainted =
                was_sealed || ctx.saw_taint() || ctx.mask_set().mask(&text) != text.as_str();
            let namespace = ctx.kv()?.namespace().to_owned();
            ctx.kv()?
                .write(&KvWrite {
                    namespace: &namespace,
                    key: &state.key,
                    kv_type: KvType::Json,
                    value: &value,
                    tainted,
                    overwrite: true,
                    expires_at: None,
                })
                .map_err(TaskError::Failed)?;
            let count = value.as_object().map_or(0, Map::len);
            let mut outputs = Map::new();
            outputs.insert("count".into(), count.into());
            outputs.insert("key".into(), Json::String(state.key));
            Ok(TaskOutcome::with_outputs(outputs))
        })
    }
}

impl TaskRunner for Delete {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let state = StateKey::of(ctx)?;
            let error_on_missing = bool_property(ctx, "errorOnMissing", false)?;
            let namespace = ctx.kv()?.namespace().to_owned();
            let deleted = ctx
                .kv()?
                .delete(&namespace, &state.key)
                .map_err(TaskError::Failed)?;
            if !deleted && error_on_missing {
                return Err(missing(&state));
            }
            let mut outputs = Map::new();
            outputs.insert("deleted".into(), Json::Bool(deleted));
            Ok(TaskOutcome::with_outputs(outputs))
        })
    }
}

/// Where a state is kept: its name (for messages) and its KV key.
struct StateKey {
    name: String,
    key: String,
}

impl StateKey {
    fn of(ctx: &mut TaskContext) -> Result<Self, TaskError> {
        let name = match ctx.render_rendered_string("name")? {
            None => "default".to_owned(),
            Some(rendered) if rendered.is_tainted() => {
                return Err(property(
                    "name",
                    "derived from a secret; a state's name is stored and shown as it is, so \
                     it cannot be one",
                ));
            }
            Some(rendered) => rendered.text,
        };
        let whole_namespace = bool_property(ctx, "namespace", false)?;
        let per_value = bool_property(ctx, "taskrunValue", true)?;
        let flow = if whole_namespace {
            Json::Null
        } else {
            field(ctx, "flow", "id").unwrap_or(Json::Null)
        };
        let value = if per_value {
            match ctx
                .variable("taskrun")
                .and_then(|t| t.as_map()?.get("value"))
            {
                Some(value) if value.is_tainted() => {
                    return Err(property(
                        "taskrunValue",
                        "taskrun.value derives from a secret, and a state kept apart for it \
                         would name it in its key: set taskrunValue: false",
                    ));
                }
                Some(value) => value.to_json(),
                None => Json::Null,
            }
        } else {
            Json::Null
        };
        let place = Json::Array(vec![flow, Json::String(name.clone()), value]);
        let digest = hex::encode(Sha256::digest(place.to_string().as_bytes()));
        let key = format!("{KEY_PREFIX}.{name}.{}", &digest[..32]);
        validate_key(&key).map_err(|_| {
            property(
                "name",
                &format!(
                    "'{name}' cannot name a state: use letters, digits, '.', '_' or '-' (at \
                     most 200 of them)"
                ),
            )
        })?;
        Ok(StateKey { name, key })
    }
}

/// `variable.field` of the task's variables, as JSON.
fn field(ctx: &TaskContext, variable: &str, name: &str) -> Option<Json> {
    Some(ctx.variable(variable)?.as_map()?.get(name)?.to_json())
}

/// A state as the KV store holds it.
struct Stored {
    data: Map<String, Json>,
    /// It was stored sealed: some part of it derived from a secret.
    sealed: bool,
}

/// The stored state; `None` when there is none.
fn read_stored(ctx: &TaskContext, state: &StateKey) -> Result<Option<Stored>, TaskError> {
    let kv = ctx.kv()?;
    let Some(read) = kv
        .read(kv.namespace(), &state.key)
        .map_err(TaskError::Failed)?
    else {
        return Ok(None);
    };
    let value = match read.value {
        // A sealed value is opened as its JSON text.
        Json::String(text) if read.sealed => serde_json::from_str(&text).ok(),
        other => Some(other),
    };
    match value {
        Some(Json::Object(data)) => Ok(Some(Stored {
            data,
            sealed: read.sealed,
        })),
        _ => Err(TaskError::Failed(format!(
            "the state '{}' is not a JSON map in the KV store (key '{}'); delete it and set it \
             again",
            state.name, state.key
        ))),
    }
}

/// The state's map for a task output: a sealed state's strings are tainted, so the worker
/// seals them.
fn read(ctx: &mut TaskContext, state: &StateKey) -> Result<Option<Map<String, Json>>, TaskError> {
    let Some(Stored { data, sealed }) = read_stored(ctx, state)? else {
        return Ok(None);
    };
    if sealed {
        let mut strings = Vec::new();
        collect_strings(&Json::Object(data.clone()), &mut strings);
        for text in strings {
            ctx.taint_output(&text);
        }
    }
    Ok(Some(data))
}

fn collect_strings(value: &Json, out: &mut Vec<String>) {
    match value {
        Json::String(s) => out.push(s.clone()),
        Json::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Json::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// Kestra's `MapUtils.merge`: maps merged key by key, anything else replaced.
fn merge(into: &mut Map<String, Json>, from: Map<String, Json>) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(Json::Object(old)), Json::Object(new)) => merge(old, new),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

fn missing(state: &StateKey) -> TaskError {
    TaskError::Failed(format!(
        "the state '{}' is not in the state store (never set, or deleted)",
        state.name
    ))
}
