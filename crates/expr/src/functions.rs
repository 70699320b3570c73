//! Functions: `secret()`, `now()`, `fromJson()`/`json()`, `range()`, `render()`, `max()`,
//! `min()`, the file functions (`files.rs`), `kv()` (`kv.rs`), `errorLogs()` (`error_logs.rs`),
//! and the Kestra functions that need engine services Saker does not offer here.

use chrono::Utc;

use crate::context::Context;
use crate::datetime::{Zone, format};
use crate::error::{ErrorKind, shown};
use crate::files::FileFunc;
use crate::filters::article;
use crate::ops::{compare, range};
use crate::render::{Runtime, render_function};
use crate::value::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Secret,
    Now,
    FromJson,
    Range,
    Render,
    RenderOnce,
    Max,
    Min,
    /// `read`, `fileExists`, `fileSize`, `isFileEmpty`: through [`crate::RenderEnv::files`].
    File(FileFunc),
    /// `kv()`: the KV store, through the caller's resolver (`kv.rs`).
    Kv,
    /// `errorLogs()`: the execution's ERROR lines, through the caller's reader
    /// (`error_logs.rs`).
    ErrorLogs,
    /// A Kestra function that needs storage, KV store, HTTP or the execution graph.
    NotYet(&'static str),
}

pub(crate) struct FuncSpec {
    pub name: &'static str,
    pub func: Func,
    pub params: &'static [&'static str],
    pub required: usize,
    /// Extra positional arguments are accepted (`max(1, 2, 3)`).
    pub variadic: bool,
}

const fn f(
    name: &'static str,
    func: Func,
    params: &'static [&'static str],
    required: usize,
) -> FuncSpec {
    FuncSpec {
        name,
        func,
        params,
        required,
        variadic: false,
    }
}

const fn later(name: &'static str) -> FuncSpec {
    FuncSpec {
        name,
        func: Func::NotYet(name),
        params: &[],
        required: 0,
        variadic: true,
    }
}

pub(crate) static FUNCTIONS: &[FuncSpec] = &[
    f("secret", Func::Secret, &["key", "namespace", "subkey"], 1),
    f("now", Func::Now, &["format", "timeZone", "locale"], 0),
    f("fromJson", Func::FromJson, &["json"], 1),
    f("json", Func::FromJson, &["json"], 1),
    f("jsonDecode", Func::FromJson, &["json"], 1),
    f("range", Func::Range, &["start", "end", "step"], 2),
    f("render", Func::Render, &["template", "recursive"], 1),
    f("renderOnce", Func::RenderOnce, &["template"], 1),
    FuncSpec {
        name: "max",
        func: Func::Max,
        params: &[],
        required: 1,
        variadic: true,
    },
    FuncSpec {
        name: "min",
        func: Func::Min,
        params: &[],
        required: 1,
        variadic: true,
    },
    f("kv", Func::Kv, &["key", "namespace", "errorOnMissing"], 1),
    f(
        "read",
        Func::File(FileFunc::Read),
        &["path", "namespace"],
        1,
    ),
    later("fileURI"),
    f(
        "fileExists",
        Func::File(FileFunc::Exists),
        &["path", "namespace"],
        1,
    ),
    f(
        "fileSize",
        Func::File(FileFunc::Size),
        &["path", "namespace"],
        1,
    ),
    f(
        "isFileEmpty",
        Func::File(FileFunc::IsEmpty),
        &["path", "namespace"],
        1,
    ),
    later("encrypt"),
    later("decrypt"),
    later("http"),
    f("errorLogs", Func::ErrorLogs, &[], 0),
    later("currentEachOutput"),
    later("tasksWithState"),
    later("fetchContext"),
    later("yaml"),
    later("fromIon"),
    later("uuid"),
    later("id"),
    later("ksuid"),
    later("nanoId"),
    later("randomInt"),
    later("randomPort"),
    later("printContext"),
];

pub(crate) fn lookup(name: &str) -> Option<&'static FuncSpec> {
    FUNCTIONS.iter().find(|s| s.name == name)
}

fn name_of(func: Func) -> &'static str {
    FUNCTIONS
        .iter()
        .find(|s| s.func == func)
        .map_or("?", |s| s.name)
}

fn arg(args: &[Value], i: usize) -> Option<&Value> {
    args.get(i).filter(|v| !v.is_null())
}

fn str_arg<'v>(
    func: Func,
    args: &'v [Value],
    i: usize,
    param: &str,
) -> Result<Option<&'v str>, ErrorKind> {
    match arg(args, i) {
        None => Ok(None),
        Some(Value::String(s, _)) => Ok(Some(s)),
        Some(other) => Err(ErrorKind::Argument(format!(
            "function '{}': argument '{param}' must be a string, got {}",
            name_of(func),
            article(other.type_name())
        ))),
    }
}

/// Calls a function. `args` holds one value per parameter (null when not given), `rest` the
/// extra positional arguments of variadic functions.
pub(crate) fn call(
    func: Func,
    args: &[Value],
    rest: &[Value],
    ctx: &Context,
    rt: &mut Runtime<'_>,
) -> Result<Value, ErrorKind> {
    match func {
        Func::Secret => secret(args, rt),
        Func::Now => {
            let zone = match str_arg(func, args, 1, "timeZone")? {
                Some(z) => {
                    Zone::parse(z).map_err(|m| ErrorKind::Date(format!("function 'now': {m}")))?
                }
                None => Zone::utc(),
            };
            let fmt = str_arg(func, args, 0, "format")?.unwrap_or("iso");
            let now = rt.now().fixed_offset();
            format(&zone.convert(&now), fmt, &zone)
                .map(Value::string)
                .map_err(|m| ErrorKind::Date(format!("function 'now': {m}")))
        }
        Func::FromJson => match arg(args, 0) {
            None => Ok(Value::null()),
            Some(Value::String(s, t)) => crate::filters::parse_json(s).map_err(|m| {
                let detail = if t.is_secret() {
                    String::new()
                } else {
                    format!(" ({m})")
                };
                ErrorKind::Json(format!(
                    "function '{}': the argument is not valid JSON{detail}",
                    name_of(func)
                ))
            }),
            Some(other) => Err(ErrorKind::Argument(format!(
                "function '{}' expects a string, got {}",
                name_of(func),
                article(other.type_name())
            ))),
        },
        Func::Range => {
            let step = match arg(args, 2) {
                None => 1,
                Some(Value::Int(s, _)) => *s,
                Some(other) => {
                    return Err(ErrorKind::Argument(format!(
                        "function 'range': argument 'step' must be an integer, got {}",
                        article(other.type_name())
                    )));
                }
            };
            let start = args.first().cloned().unwrap_or_default();
            let end = args.get(1).cloned().unwrap_or_default();
            range(&start, &end, step, rt.env.limits.max_range)
        }
        Func::Render | Func::RenderOnce => {
            let recursive = match (func, arg(args, 1)) {
                (Func::RenderOnce, _) | (_, Some(Value::Bool(false, _))) => false,
                (_, None | Some(Value::Bool(true, _))) => true,
                (_, Some(other)) => {
                    return Err(ErrorKind::Argument(format!(
                        "function 'render': argument 'recursive' must be a boolean, got {}",
                        article(other.type_name())
                    )));
                }
            };
            match args.first() {
                Some(Value::String(..)) => render_function(&args[0], recursive, ctx, rt),
                // Non-strings have nothing to render.
                Some(other) => Ok(other.clone()),
                None => Ok(Value::null()),
            }
        }
        Func::Max | Func::Min => extremum(func, args.iter().chain(rest)),
        Func::File(file) => {
            let value = crate::files::call(file, args, rt.env.files)?;
            rt.budget.built(&value)?;
            if let Value::String(text, t) = &value
                && t.is_secret()
            {
                rt.note_secret(text);
            }
            Ok(value)
        }
        Func::Kv => crate::kv::kv(args, rt),
        Func::ErrorLogs => crate::error_logs::error_logs(rt),
        Func::NotYet(name) => Err(ErrorKind::NotYetAvailable(name.to_string())),
    }
}

fn extremum<'v>(func: Func, values: impl Iterator<Item = &'v Value>) -> Result<Value, ErrorKind> {
    let mut best: Option<&Value> = None;
    for v in values.filter(|v| !v.is_null()) {
        best = Some(match best {
            None => v,
            Some(b) => {
                let ord = compare(v, b).ok_or_else(|| {
                    ErrorKind::Type(format!(
                        "function '{}' cannot compare {} with {}",
                        name_of(func),
                        article(v.type_name()),
                        article(b.type_name())
                    ))
                })?;
                let better = if func == Func::Max {
                    ord.is_gt()
                } else {
                    ord.is_lt()
                };
                if better { v } else { b }
            }
        });
    }
    Ok(best.cloned().unwrap_or_default())
}

/// `secret(key, namespace=..., subkey=...)`.
fn secret(args: &[Value], rt: &mut Runtime<'_>) -> Result<Value, ErrorKind> {
    if !rt.env.allow_secrets {
        return Err(ErrorKind::SecretsForbidden);
    }
    let key_value = arg(args, 0).cloned().unwrap_or_default();
    let key = str_arg(Func::Secret, args, 0, "key")?
        .ok_or_else(|| ErrorKind::Argument("function 'secret' expects an argument 'key'".into()))?;
    // A key computed from a secret must not be echoed in messages.
    let key_shown = if key_value.is_tainted() {
        shown(&key_value)
    } else {
        key.to_string()
    };
    let namespace = str_arg(Func::Secret, args, 1, "namespace")?;
    let subkey = str_arg(Func::Secret, args, 2, "subkey")?.filter(|s| !s.is_empty());
    let Some(resolver) = rt.env.secrets else {
        return Err(ErrorKind::Secret {
            key: key_shown,
            message: "no secret backend is configured".into(),
        });
    };
    let value = resolver
        .resolve(key, namespace)
        .map_err(|e| ErrorKind::Secret {
            key: key_shown.clone(),
            // The resolver may quote the key, which here is itself secret.
            message: if key_value.is_tainted() {
                "lookup failed".into()
            } else {
                e.message
            },
        })?;
    rt.note_secret(&value);
    let Some(subkey) = subkey else {
        return Ok(Value::secret(value.as_str()));
    };
    let doc: serde_json::Value = serde_json::from_str(&value).map_err(|_| ErrorKind::Secret {
        key: key_shown.clone(),
        message: "cannot read a sub-key: the secret is not valid JSON".into(),
    })?;
    let part = doc.get(subkey).ok_or_else(|| ErrorKind::Secret {
        key: key_shown.clone(),
        message: if arg(args, 2).is_some_and(Value::is_tainted) {
            "cannot find the sub-key".into()
        } else {
            format!("cannot find sub-key '{subkey}'")
        },
    })?;
    // Jackson's `asText()` for values, JSON text for objects and arrays.
    let text = match part {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    rt.note_secret(&text);
    Ok(Value::secret(text))
}

/// The system clock, unless the environment fixes one.
pub(crate) fn system_now() -> chrono::DateTime<Utc> {
    Utc::now()
}
