//! What a render gets from its caller: the variables, and the environment (secret resolver,
//! whether `secret()` is allowed, the clock, limits).

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use crate::value::Value;

/// Variables by name (`inputs`, `outputs`, `vars`, `flow`, `execution`, `taskrun`, `labels`,
/// `envs`, `trigger`, ...).
#[derive(Clone, Default)]
pub struct Context {
    vars: HashMap<String, Value>,
}

impl Context {
    pub fn new() -> Self {
        Context::default()
    }

    /// Adds or replaces a variable.
    pub fn insert(&mut self, name: impl Into<String>, value: Value) {
        self.vars.insert(name.into(), value);
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.vars.get(name)
    }

    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.vars.remove(name)
    }

    /// Variable names, in no particular order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.keys().map(String::as_str)
    }

    /// Every key of a JSON object becomes a (clean) variable; anything else gives an empty
    /// context.
    pub fn from_json(object: &serde_json::Value) -> Context {
        let mut ctx = Context::new();
        if let serde_json::Value::Object(map) = object {
            for (k, v) in map {
                ctx.insert(k.clone(), Value::from_json(v));
            }
        }
        ctx
    }
}

impl std::fmt::Debug for Context {
    /// Values go through [`Value`]'s redacting `Debug`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.vars.iter()).finish()
    }
}

/// Looks secrets up for `secret()`. Implemented by the secrets service, which applies the
/// flow's namespace, namespace inheritance, isolation rules and auditing.
pub trait SecretResolver: Send + Sync {
    /// `namespace` is the one given as `namespace=` or None (the caller applies its own flow
    /// namespace).
    fn resolve(
        &self,
        key: &str,
        namespace: Option<&str>,
    ) -> Result<Zeroizing<String>, SecretLookupError>;
}

/// A failed secret lookup. The message is the resolver's and must not hold the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretLookupError {
    pub message: String,
}

impl SecretLookupError {
    pub fn new(message: impl Into<String>) -> Self {
        SecretLookupError {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for SecretLookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SecretLookupError {}

/// Bounds on one render, so a template cannot exhaust the worker. Build one with
/// `Limits { field: value, ..Limits::DEFAULT }` (also in a `const`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Size of the rendered text, and of any string built by `render()`.
    pub max_output_bytes: usize,
    /// Loop iterations over the whole render, nested loops included.
    pub max_iterations: u64,
    /// Elements of one range (`1..n`, `range()`).
    pub max_range: usize,
    /// Nested `render()` calls.
    pub max_render_depth: u32,
    /// Evaluation steps over the whole render: one per expression or statement the template
    /// evaluates (a loop iteration included), one per term jq evaluates or value `range` generates.
    /// Default 5,000,000: one to five seconds of work, depending on the steps.
    pub max_steps: u64,
    /// Bytes of strings, lists and maps the render builds, intermediate values included,
    /// counted over the whole render (jq's values and interpreter too; values of the context
    /// are not counted). Default 64 MiB.
    pub max_value_bytes: u64,
}

impl Limits {
    /// The defaults, usable in a `const`.
    pub const DEFAULT: Limits = Limits {
        max_output_bytes: 16 * 1024 * 1024,
        max_iterations: 1_000_000,
        max_range: 100_000,
        max_render_depth: 8,
        max_steps: 5_000_000,
        max_value_bytes: 64 * 1024 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// How to render: where secrets come from and what is allowed.
#[derive(Clone, Copy)]
pub struct RenderEnv<'a> {
    /// Resolves `secret()`; without one, `secret()` fails.
    pub secrets: Option<&'a dyn SecretResolver>,
    /// Reads the KV store for `kv()`; without one, `kv()` fails.
    pub kv: Option<&'a dyn crate::kv::KvResolver>,
    /// False on the debug-expression endpoint: `secret()` fails before any lookup.
    pub allow_secrets: bool,
    /// The clock of `now()`; the system clock when None.
    pub now: Option<DateTime<Utc>>,
    pub limits: Limits,
    /// Set from another thread (the client went away, the server shuts down) to stop the
    /// render: it fails with [`crate::ErrorKind::Cancelled`] within about a thousand steps.
    pub cancel: Option<&'a AtomicBool>,
    /// When reached, the render fails with [`crate::ErrorKind::DeadlineExceeded`]; checked
    /// as often as `cancel`.
    pub deadline: Option<Instant>,
    /// Reads files for `read()` and the other file functions; without one, they fail.
    pub files: Option<&'a dyn crate::files::FileReader>,
    /// Reads the execution's ERROR log lines for `errorLogs()`; without one, it fails.
    pub error_logs: Option<&'a dyn crate::error_logs::ErrorLogReader>,
}

impl Default for RenderEnv<'_> {
    fn default() -> Self {
        RenderEnv {
            secrets: None,
            kv: None,
            allow_secrets: true,
            now: None,
            limits: Limits::default(),
            cancel: None,
            deadline: None,
            files: None,
            error_logs: None,
        }
    }
}

impl std::fmt::Debug for RenderEnv<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderEnv")
            .field("secrets", &self.secrets.map(|_| "<resolver>"))
            .field("kv", &self.kv.map(|_| "<resolver>"))
            .field("allow_secrets", &self.allow_secrets)
            .field("now", &self.now)
            .field("limits", &self.limits)
            .field("cancel", &self.cancel)
            .field("deadline", &self.deadline)
            .field("files", &self.files.map(|_| "<reader>"))
            .field("error_logs", &self.error_logs.map(|_| "<reader>"))
            .finish()
    }
}
