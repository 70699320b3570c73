//! `kv(key, namespace=, errorOnMissing=)`: Kestra's read of the KV store. The store belongs to
//! the caller, reached through a [`KvResolver`]; a value that was derived from a secret comes
//! back tainted, so everything computed from it is masked like the secret itself.

use crate::error::{ErrorKind, shown};
use crate::filters::article;
use crate::render::Runtime;
use crate::value::Value;

/// Reads the KV store for `kv()`. Implemented by the engine over its store, for one task run.
pub trait KvResolver: Send + Sync {
    /// The namespace `kv()` reads when the template names none: the flow's.
    fn default_namespace(&self) -> &str;

    /// The value under `key` in `namespace`, `None` when there is none (or it expired). A
    /// value derived from a secret must come back tainted (see [`Value::tainted`]). The error
    /// message is shown to users: it must name what failed, never hold a value.
    fn get(&self, namespace: &str, key: &str) -> Result<Option<Value>, KvLookupError>;
}

/// A failed KV read (the store could not answer, a sealed value could not be opened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvLookupError {
    pub message: String,
}

impl KvLookupError {
    pub fn new(message: impl Into<String>) -> Self {
        KvLookupError {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for KvLookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for KvLookupError {}

/// `kv(key, namespace=..., errorOnMissing=...)`; `args` holds one value per parameter.
pub(crate) fn kv(args: &[Value], rt: &mut Runtime<'_>) -> Result<Value, ErrorKind> {
    let text = |i: usize, param: &str| -> Result<Option<&str>, ErrorKind> {
        match args.get(i) {
            None | Some(Value::Null(_)) => Ok(None),
            Some(Value::String(s, _)) => Ok(Some(s)),
            Some(other) => Err(ErrorKind::Argument(format!(
                "function 'kv': argument '{param}' must be a string, got {}",
                article(other.type_name())
            ))),
        }
    };
    let key = text(0, "key")?
        .ok_or_else(|| ErrorKind::Argument("function 'kv' expects an argument 'key'".into()))?;
    // A key or namespace computed from a secret must not be echoed in messages.
    let key_shown = args.first().map(shown).unwrap_or_default();
    let error_on_missing = match args.get(2) {
        None | Some(Value::Null(_)) => true,
        Some(Value::Bool(b, _)) => *b,
        Some(other) => {
            return Err(ErrorKind::Argument(format!(
                "function 'kv': argument 'errorOnMissing' must be a boolean, got {}",
                article(other.type_name())
            )));
        }
    };
    let Some(resolver) = rt.env.kv else {
        return Err(ErrorKind::Argument(format!(
            "function 'kv' cannot read key {key_shown}: no KV store is available here"
        )));
    };
    let (namespace, namespace_shown) = match text(1, "namespace")? {
        Some(ns) => (ns, shown(&args[1])),
        None => {
            let ns = resolver.default_namespace();
            (ns, format!("'{ns}'"))
        }
    };
    let value = resolver.get(namespace, key).map_err(|e| {
        ErrorKind::Argument(format!(
            "function 'kv' cannot read key {key_shown} in namespace {namespace_shown}: {}",
            e.message
        ))
    })?;
    match value {
        Some(value) => {
            note_secret_strings(&value, rt);
            Ok(value)
        }
        None if error_on_missing => Err(ErrorKind::UndefinedAttribute(format!(
            "the KV store has no key {key_shown} in namespace {namespace_shown} (it was never \
             set, was deleted or expired); set it with a kv.Set task or `saker kv set`, or \
             pass errorOnMissing=false to get null"
        ))),
        None => Ok(Value::null()),
    }
}

/// A value that came from a secret is recorded like `secret()`'s, whatever its length.
fn note_secret_strings(value: &Value, rt: &mut Runtime<'_>) {
    match value {
        Value::String(s, t) if t.is_secret() => rt.note_secret(s),
        Value::List(items, _) => items.iter().for_each(|v| note_secret_strings(v, rt)),
        Value::Map(map, _) => map.values().for_each(|v| note_secret_strings(v, rt)),
        _ => {}
    }
}
