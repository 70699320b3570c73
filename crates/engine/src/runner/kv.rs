//! Kestra's KV tasks: `io.kestra.plugin.core.kv.Set`, `Get`, `Delete` and `GetKeys`, over the
//! task run's [`TaskKv`](crate::kv::TaskKv) (the engine's store, the execution's tenant, the
//! flow's namespace unless `namespace` names another).
//!
//! A kv.Set whose value came from a tainted render (derived from a secret) stores it sealed;
//! a kv.Get of a sealed value hands it on tainted, so its output is sealed in turn. Keys and
//! namespaces are stored and shown as they are, so one derived from a secret is refused.

use std::sync::Arc;

use saker_model::Level;
use saker_store::{KvPut, KvType};
use serde_json::{Map, Value as Json};

use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};
use crate::kv::KvWrite;
use crate::kv_value::{expiry, typed_value, validate_key, validate_namespace};

pub(crate) const SET: &str = "io.kestra.plugin.core.kv.Set";
pub(crate) const GET: &str = "io.kestra.plugin.core.kv.Get";
pub(crate) const DELETE: &str = "io.kestra.plugin.core.kv.Delete";
pub(crate) const GET_KEYS: &str = "io.kestra.plugin.core.kv.GetKeys";

/// The four runners, by canonical type name.
pub(crate) fn runners() -> [(&'static str, Arc<dyn TaskRunner>); 4] {
    [
        (SET, Arc::new(Set)),
        (GET, Arc::new(Get)),
        (DELETE, Arc::new(Delete)),
        (GET_KEYS, Arc::new(GetKeys)),
    ]
}

pub struct Set;
pub struct Get;
pub struct Delete;
pub struct GetKeys;

impl TaskRunner for Set {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let (key, namespace) = target(ctx)?;
            let overwrite = flag(ctx, "overwrite", true)?;
            let kv_type = match ctx.render_string("kvType")? {
                None => None,
                Some(name) => Some(KvType::parse(&name).ok_or_else(|| TaskError::Property {
                    property: "kvType".into(),
                    message: format!(
                        "unknown type '{name}': use STRING, NUMBER, BOOLEAN, DATETIME, DATE, \
                         DURATION or JSON"
                    ),
                })?),
            };
            let expires_at = match ctx.render_string("ttl")? {
                None => None,
                Some(ttl) => Some(expiry(&ttl, chrono::Utc::now()).map_err(|message| {
                    TaskError::Property {
                        property: "ttl".into(),
                        message,
                    }
                })?),
            };
            let value = ctx
                .render_output_value("value")?
                .ok_or_else(|| TaskError::Property {
                    property: "value".into(),
                    message: "required: the value to store".into(),
                })?;
            // Any render of this task that came from a secret (the value, or a condition that
            // chose whether it runs) seals the value; so does a value the execution's mask set
            // would change (the second net, as for outputs).
            let text = zeroize::Zeroizing::new(value.to_string());
            let tainted = ctx.saw_taint() || ctx.mask_set().mask(&text) != text.as_str();
            let (kv_type, value) =
                typed_value(value, kv_type).map_err(|message| TaskError::Property {
                    property: "value".into(),
                    message,
                })?;
            let put = ctx
                .kv()?
                .write(&KvWrite {
                    namespace: &namespace,
                    key: &key,
                    kv_type,
                    value: &value,
                    tainted,
                    overwrite,
                    expires_at,
                })
                .map_err(TaskError::Failed)?;
            match put {
                KvPut::Kept => Err(TaskError::Failed(format!(
                    "KV key '{key}' already exists in namespace '{namespace}' and overwrite is \
                     false: delete it first, or set overwrite: true"
                ))),
                KvPut::Created | KvPut::Replaced => {
                    let sealed = if tainted { " (sealed)" } else { "" };
                    ctx.log(
                        Level::Debug,
                        &format!("set KV key '{key}' in namespace '{namespace}'{sealed}"),
                    );
                    Ok(TaskOutcome::default())
                }
            }
        })
    }
}

impl TaskRunner for Get {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let (key, namespace) = target(ctx)?;
            let error_on_missing = flag(ctx, "errorOnMissing", false)?;
            let read = ctx
                .kv()?
                .read(&namespace, &key)
                .map_err(TaskError::Failed)?;
            let value = match read {
                None if error_on_missing => return Err(missing(&key, &namespace)),
                None => Json::Null,
                Some(read) if read.sealed => {
                    // A sealed value leaves as text, tainted, so the worker seals the output.
                    let text = match read.value {
                        Json::String(s) => s,
                        other => other.to_string(),
                    };
                    ctx.taint_output(&text);
                    Json::String(text)
                }
                Some(read) => read.value,
            };
            Ok(TaskOutcome::with_outputs(one("value", value)))
        })
    }
}

impl TaskRunner for Delete {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let (key, namespace) = target(ctx)?;
            let error_on_missing = flag(ctx, "errorOnMissing", false)?;
            let deleted = ctx
                .kv()?
                .delete(&namespace, &key)
                .map_err(TaskError::Failed)?;
            if !deleted && error_on_missing {
                return Err(missing(&key, &namespace));
            }
            Ok(TaskOutcome::with_outputs(one(
                "deleted",
                Json::Bool(deleted),
            )))
        })
    }
}

impl TaskRunner for GetKeys {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let prefix = untainted(ctx, "prefix")?;
            let namespace = namespace(ctx)?;
            let keys = ctx
                .kv()?
                .keys(&namespace, prefix.as_deref())
                .map_err(TaskError::Failed)?;
            let keys = keys.into_iter().map(Json::String).collect();
            Ok(TaskOutcome::with_outputs(one("keys", Json::Array(keys))))
        })
    }
}

fn missing(key: &str, namespace: &str) -> TaskError {
    TaskError::Failed(format!(
        "the KV store has no key '{key}' in namespace '{namespace}' (never set, deleted or \
         expired)"
    ))
}

fn one(name: &str, value: Json) -> Map<String, Json> {
    let mut outputs = Map::new();
    outputs.insert(name.to_owned(), value);
    outputs
}

/// A string property that is stored or shown as it is, so it may not derive from a secret.
fn untainted(ctx: &mut TaskContext, property: &str) -> Result<Option<String>, TaskError> {
    match ctx.render_rendered_string(property)? {
        Some(rendered) if rendered.is_tainted() => Err(TaskError::Property {
            property: property.to_owned(),
            message: "derived from a secret; it is stored and shown as it is, so it cannot be \
                      one"
            .into(),
        }),
        other => Ok(other.map(|r| r.text)),
    }
}

fn key(ctx: &mut TaskContext) -> Result<String, TaskError> {
    let key = untainted(ctx, "key")?.ok_or_else(|| TaskError::Property {
        property: "key".into(),
        message: "required: the KV key".into(),
    })?;
    validate_key(&key).map_err(|message| TaskError::Property {
        property: "key".into(),
        message,
    })?;
    Ok(key)
}

/// `key` and `namespace` (the flow's when absent).
fn target(ctx: &mut TaskContext) -> Result<(String, String), TaskError> {
    Ok((key(ctx)?, namespace(ctx)?))
}

/// `namespace`, or the flow's.
fn namespace(ctx: &mut TaskContext) -> Result<String, TaskError> {
    let Some(namespace) = untainted(ctx, "namespace")? else {
        return Ok(ctx.kv()?.namespace().to_owned());
    };
    validate_namespace(&namespace).map_err(|message| TaskError::Property {
        property: "namespace".into(),
        message,
    })?;
    Ok(namespace)
}

fn flag(ctx: &mut TaskContext, property: &str, default: bool) -> Result<bool, TaskError> {
    match ctx.render_string(property)? {
        None => Ok(default),
        Some(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(TaskError::Property {
                property: property.to_owned(),
                message: format!("'{text}' is not a boolean: use true or false"),
            }),
        },
    }
}
