//! Values that must not be stored in plaintext: SECRET inputs, SECRET outputs and any output
//! derived from a secret. They are *sealed* (encrypted, bound to their execution and their
//! place in it) before the executor records them, and opened — tainted, and added to the
//! mask set — only when a worker builds the variables of a task that uses them. Which task
//! outputs are sealed is decided from the renders that made them ([`OutputTaint`]).

use std::sync::Arc;

use saker_expr::Value;
use saker_model::execution::{SEALED_KEY, as_sealed, sealed_value};
use serde_json::{Map, Value as Json};
use zeroize::Zeroizing;

use crate::masks::{ExecutionMasks, MaskSource};

/// Encrypts and decrypts execution values; implemented over the configured
/// `encryption.secret-key` by whoever builds the engine.
pub trait ValueSealer: Send + Sync {
    /// The sealed form (text) of `plaintext` at `path` (such as `inputs.password` or
    /// `outputs.task.value`) in execution `execution_id`.
    fn seal(&self, execution_id: &str, path: &str, plaintext: &str) -> Result<String, String>;
    /// Opens what [`seal`](Self::seal) produced for the same execution and path.
    fn open(
        &self,
        execution_id: &str,
        path: &str,
        sealed: &str,
    ) -> Result<Zeroizing<String>, String>;
}

/// A [`ValueSealer`] over a keyring (`encryption.secret-key`): AES-256-GCM, with associated
/// data binding each value to its execution and its path, so a sealed value copied elsewhere
/// does not open.
pub struct KeyringSealer {
    keyring: saker_crypto::Keyring,
}

impl KeyringSealer {
    pub fn new(keyring: saker_crypto::Keyring) -> Self {
        Self { keyring }
    }

    fn aad(execution_id: &str, path: &str) -> saker_crypto::Aad {
        saker_crypto::Aad::new("execution-value")
            .field("execution", execution_id)
            .field("path", path)
    }
}

impl ValueSealer for KeyringSealer {
    fn seal(&self, execution_id: &str, path: &str, plaintext: &str) -> Result<String, String> {
        Ok(self
            .keyring
            .seal_to_string(plaintext.as_bytes(), &Self::aad(execution_id, path)))
    }

    fn open(
        &self,
        execution_id: &str,
        path: &str,
        sealed: &str,
    ) -> Result<Zeroizing<String>, String> {
        let bytes = self
            .keyring
            .open_str(sealed, &Self::aad(execution_id, path))
            .map_err(|e| e.to_string())?;
        String::from_utf8(bytes.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| "the decrypted value is not UTF-8".to_owned())
    }
}

/// What a value becomes when it must be protected but no key is configured.
pub const MASKED: &str = "****";

/// What a task's renders say about its outputs. The rule, decided from the render and not
/// from whether a mask set would change a value:
///
/// * a task that handed tainted text to a process (env, commands, scripts) has every string
///   of its outputs sealed: the process could have put any part of it anywhere;
/// * otherwise an output string is sealed when it is the text of a tainted render (a
///   `Return`'s `format`, a leaf of `OutputValues`), or holds one at least as long as the
///   mask minimum;
/// * then, as a second net, any string the execution's mask set would change is sealed.
#[derive(Default)]
pub struct OutputTaint {
    /// The full text of every render that held tainted bytes.
    pub texts: Vec<Zeroizing<String>>,
    /// Tainted text was handed to a process.
    pub handed_to_process: bool,
}

impl OutputTaint {
    fn covers(&self, s: &str) -> bool {
        self.handed_to_process
            || self.texts.iter().any(|t| {
                t.as_str() == s
                    || (t.chars().nth(saker_mask::DEFAULT_MIN_LEN - 1).is_some()
                        && s.contains(t.as_str()))
            })
    }
}

/// Seals or masks what must not be stored in plaintext.
#[derive(Clone)]
pub struct Protector {
    pub sealer: Option<Arc<dyn ValueSealer>>,
}

impl Protector {
    /// Seals every string leaf of `value` that the execution's mask set would change (a
    /// secret, a derived value or an encoding of one). Without a sealer such leaves are
    /// replaced by `****`: the value is lost rather than leaked.
    pub fn protect_tree(
        &self,
        execution_id: &str,
        path: &str,
        value: Json,
        masks: &ExecutionMasks,
    ) -> Json {
        match value {
            Json::String(s) => {
                if masks.mask(&s) == s.as_str() {
                    Json::String(s)
                } else {
                    self.seal_string(execution_id, path, &s)
                }
            }
            Json::Array(items) => Json::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| {
                        self.protect_tree(execution_id, &format!("{path}[{i}]"), v, masks)
                    })
                    .collect(),
            ),
            Json::Object(map) if map.len() == 1 && map.contains_key(SEALED_KEY) => {
                Json::Object(map)
            }
            Json::Object(map) => Json::Object(
                map.into_iter()
                    .map(|(k, v)| {
                        let child = format!("{path}.{k}");
                        (k, self.protect_tree(execution_id, &child, v, masks))
                    })
                    .collect(),
            ),
            other => other,
        }
    }

    /// The outputs of task `task_id` as they may leave the worker: every string leaf that
    /// [`OutputTaint`] says is tainted sealed, then the rest through
    /// [`protect_tree`](Self::protect_tree).
    pub fn protect_task_outputs(
        &self,
        execution_id: &str,
        task_id: &str,
        outputs: Map<String, Json>,
        taint: &OutputTaint,
        masks: &ExecutionMasks,
    ) -> Map<String, Json> {
        outputs
            .into_iter()
            .map(|(k, v)| {
                let path = format!("outputs.{task_id}.{k}");
                let v = self.seal_tainted(execution_id, &path, v, taint);
                (k, self.protect_tree(execution_id, &path, v, masks))
            })
            .collect()
    }

    fn seal_tainted(
        &self,
        execution_id: &str,
        path: &str,
        value: Json,
        taint: &OutputTaint,
    ) -> Json {
        match value {
            Json::String(s) if taint.covers(&s) => self.seal_string(execution_id, path, &s),
            Json::Array(items) => Json::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| {
                        self.seal_tainted(execution_id, &format!("{path}[{i}]"), v, taint)
                    })
                    .collect(),
            ),
            Json::Object(map) if !(map.len() == 1 && map.contains_key(SEALED_KEY)) => Json::Object(
                map.into_iter()
                    .map(|(k, v)| {
                        let child = format!("{path}.{k}");
                        (k, self.seal_tainted(execution_id, &child, v, taint))
                    })
                    .collect(),
            ),
            other => other,
        }
    }

    /// Seals one string whatever it holds (SECRET inputs and outputs).
    pub fn seal_string(&self, execution_id: &str, path: &str, plaintext: &str) -> Json {
        match &self.sealer {
            Some(sealer) => match sealer.seal(execution_id, path, plaintext) {
                Ok(sealed) => sealed_value(sealed),
                Err(e) => {
                    tracing::error!(path, error = %e, "could not seal a value; storing it masked");
                    Json::String(MASKED.into())
                }
            },
            None => Json::String(MASKED.into()),
        }
    }

    /// Converts stored JSON to a template value, opening sealed leaves as tainted strings
    /// and adding them to the mask set.
    pub fn open_tree(
        &self,
        execution_id: &str,
        path: &str,
        value: &Json,
        masks: &ExecutionMasks,
    ) -> Result<Value, String> {
        if let Some(sealed) = as_sealed(value) {
            let sealer = self.sealer.as_ref().ok_or_else(|| {
                format!("'{path}' is encrypted but no encryption.secret-key is configured")
            })?;
            let plain = sealer
                .open(execution_id, path, sealed)
                .map_err(|e| format!("'{path}' cannot be decrypted: {e}"))?;
            masks.add_source(MaskSource::Sealed(path.to_owned()), &plain);
            return Ok(Value::from(plain.as_str()).tainted());
        }
        match value {
            Json::Array(items) if items.iter().any(contains_sealed) => {
                let opened = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.open_tree(execution_id, &format!("{path}[{i}]"), v, masks))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Value::list(opened))
            }
            Json::Object(map) if map.values().any(contains_sealed) => {
                let mut opened = Vec::with_capacity(map.len());
                for (k, v) in map {
                    opened.push((
                        k.clone(),
                        self.open_tree(execution_id, &format!("{path}.{k}"), v, masks)?,
                    ));
                }
                Ok(Value::map(opened))
            }
            other => Ok(Value::from_json(other)),
        }
    }
}

impl Protector {
    /// Moves a stored tree from one place to another: every sealed leaf is opened where it
    /// was sealed (`from` execution and path) and sealed again for its new place (`to`), so
    /// that it stays sealed and opens there. Used for what a child execution hands its
    /// parent, and a parent its child. A leaf that cannot be opened becomes `****`.
    pub fn reseal(&self, from: (&str, &str), to: (&str, &str), value: &Json) -> Json {
        let (from_execution, from_path) = from;
        let (to_execution, to_path) = to;
        if let Some(sealed) = as_sealed(value) {
            let opened = self
                .sealer
                .as_ref()
                .ok_or_else(|| "no encryption.secret-key is configured".to_owned())
                .and_then(|s| s.open(from_execution, from_path, sealed));
            return match opened {
                Ok(plain) => self.seal_string(to_execution, to_path, &plain),
                Err(e) => {
                    tracing::error!(path = from_path, error = %e, "cannot open a sealed value to hand it on; it is masked");
                    Json::String(MASKED.into())
                }
            };
        }
        match value {
            Json::Array(items) if items.iter().any(contains_sealed) => Json::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        self.reseal(
                            (from_execution, &format!("{from_path}[{i}]")),
                            (to_execution, &format!("{to_path}[{i}]")),
                            v,
                        )
                    })
                    .collect(),
            ),
            Json::Object(map) if map.values().any(contains_sealed) => Json::Object(
                map.iter()
                    .map(|(k, v)| {
                        let moved = self.reseal(
                            (from_execution, &format!("{from_path}.{k}")),
                            (to_execution, &format!("{to_path}.{k}")),
                            v,
                        );
                        (k.clone(), moved)
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

impl Protector {
    /// The tree with every sealed leaf opened to its plaintext string, for a value that is
    /// sealed again before it is stored (a subflow's input, coerced for the child first).
    pub fn open_plain(&self, execution_id: &str, path: &str, value: &Json) -> Result<Json, String> {
        if let Some(sealed) = as_sealed(value) {
            let sealer = self.sealer.as_ref().ok_or_else(|| {
                format!("'{path}' is encrypted but no encryption.secret-key is configured")
            })?;
            let plain = sealer
                .open(execution_id, path, sealed)
                .map_err(|e| format!("'{path}' cannot be decrypted: {e}"))?;
            return Ok(Json::String(plain.to_string()));
        }
        Ok(match value {
            Json::Array(items) if items.iter().any(contains_sealed) => Json::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.open_plain(execution_id, &format!("{path}[{i}]"), v))
                    .collect::<Result<_, _>>()?,
            ),
            Json::Object(map) if map.values().any(contains_sealed) => {
                let mut out = Map::new();
                for (k, v) in map {
                    out.insert(
                        k.clone(),
                        self.open_plain(execution_id, &format!("{path}.{k}"), v)?,
                    );
                }
                Json::Object(out)
            }
            other => other.clone(),
        })
    }
}

/// True when `value` is or holds a sealed value.
pub(crate) fn contains_sealed(value: &Json) -> bool {
    as_sealed(value).is_some()
        || match value {
            Json::Array(items) => items.iter().any(contains_sealed),
            Json::Object(map) => map.values().any(contains_sealed),
            _ => false,
        }
}

/// Replaces every sealed leaf by `****`, for display.
pub fn display_masked(value: &Json) -> Json {
    if as_sealed(value).is_some() {
        return Json::String(MASKED.into());
    }
    match value {
        Json::Array(items) => Json::Array(items.iter().map(display_masked).collect()),
        Json::Object(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), display_masked(v)))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}
