//! The `jq` filter, on top of `jaq`.
//!
//! Programs are compiled once and kept in a small process-wide cache, since the same flow
//! renders the same program many times and loading jaq's standard library costs far more
//! than running a typical program.
//!
//! Natives that would reach outside the template are replaced: `env` (the server's
//! environment), `halt` (jaq exits the process on it) and `localtime`/`strflocaltime` (the
//! system time zone database) fail, and `debug`/`stderr` stay silent instead of writing to a
//! logger.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use jaq_core::load::{Arena, File, Loader};
use jaq_core::native::{Fun, run, v};
use jaq_core::{Compiler, Ctx, Error, Vars, data};
use jaq_json::{Num, Val};

use crate::value::{Map, Value};

type D = data::JustLut<Val>;
type Program = jaq_core::Filter<D>;

/// At most this many results per run: `jq('repeat(1)')` must not eat the worker's memory.
const MAX_RESULTS: usize = 10_000;
/// Cached programs; the cache is emptied when it grows past this.
const MAX_CACHED: usize = 256;

/// Why a jq program failed. The texts hold jaq's own words, which may quote the input: the
/// caller shows them only when neither the program nor the input is tainted.
pub(crate) enum JqError {
    Compile(String),
    Run(String),
    TooManyResults,
}

pub(crate) fn run_program(program: &str, input: &Value) -> Result<Vec<Value>, JqError> {
    // jaq is a large third-party interpreter: should it ever panic on some program, the
    // template fails instead of the worker.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_unguarded(program, input)
    }))
    .unwrap_or_else(|_| Err(JqError::Run("the jq interpreter failed".into())))
}

fn run_unguarded(program: &str, input: &Value) -> Result<Vec<Value>, JqError> {
    let filter = compiled(program)?;
    let ctx = Ctx::<D>::new(&filter.lut, Vars::new([]));
    let mut results = Vec::new();
    // Not `jaq_core::unwrap_valr`: on `halt` it calls `std::process::exit`.
    for r in filter.id.run((ctx, to_val(input))) {
        match r {
            Ok(v) => results.push(from_val(&v)),
            Err(exn) => {
                return Err(JqError::Run(match exn.get_err() {
                    Ok(e) => e.to_string(),
                    Err(_) => "the program stopped (halt is not available)".into(),
                }));
            }
        }
        if results.len() > MAX_RESULTS {
            return Err(JqError::TooManyResults);
        }
    }
    Ok(results)
}

fn cache() -> &'static Mutex<HashMap<String, Arc<Program>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Program>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn compiled(program: &str) -> Result<Arc<Program>, JqError> {
    if let Ok(map) = cache().lock()
        && let Some(p) = map.get(program)
    {
        return Ok(p.clone());
    }
    let p = Arc::new(compile(program)?);
    if let Ok(mut map) = cache().lock() {
        if map.len() >= MAX_CACHED {
            map.clear();
        }
        map.insert(program.to_string(), p.clone());
    }
    Ok(p)
}

fn compile(program: &str) -> Result<Program, JqError> {
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader
        .load(
            &arena,
            File {
                code: program,
                path: (),
            },
        )
        .map_err(|errs| JqError::Compile(load_errors(&errs)))?;
    Compiler::default()
        .with_funs(natives())
        .compile(modules)
        .map_err(|errs| {
            let names: Vec<String> = errs
                .iter()
                .flat_map(|(_, undefined)| undefined.iter())
                .map(|(name, _)| (*name).to_string())
                .collect();
            JqError::Compile(format!("undefined in jq program: {}", names.join(", ")))
        })
}

fn load_errors<P>(errs: &[(File<&str, P>, jaq_core::load::Error<&str>)]) -> String {
    use jaq_core::load::Error as L;
    let mut parts = Vec::new();
    for (_, e) in errs {
        match e {
            L::Io(_) => parts.push("modules cannot be loaded".to_string()),
            L::Lex(es) => parts.extend(
                es.iter()
                    .map(|(expect, _)| format!("expected {}", expect.as_str())),
            ),
            L::Parse(es) => parts.extend(
                es.iter()
                    .map(|(expect, _)| format!("expected {}", expect.as_str())),
            ),
        }
    }
    format!("invalid jq program: {}", parts.join("; "))
}

/// jaq's natives, minus those that reach outside the template.
fn natives() -> impl Iterator<Item = Fun<D>> {
    const BLOCKED: [&str; 6] = [
        "env",
        "halt",
        "localtime",
        "strflocaltime",
        "debug_empty",
        "stderr_empty",
    ];
    let stubs: [Fun<D>; 6] = [
        run(("halt", v(1), |_| {
            jaq_core::native::bome(Err(Error::str("halt is not available in Saker templates")))
        })),
        run(("env", v(0), |_| {
            jaq_core::native::bome(Err(Error::str("env is not available in Saker templates")))
        })),
        run(("localtime", v(0), |_| {
            jaq_core::native::bome(Err(Error::str("localtime is not available; use gmtime")))
        })),
        run(("strflocaltime", v(1), |_| {
            jaq_core::native::bome(Err(Error::str(
                "strflocaltime is not available; use strftime",
            )))
        })),
        run(("debug_empty", v(0), |_| Box::new(core::iter::empty()))),
        run(("stderr_empty", v(0), |_| Box::new(core::iter::empty()))),
    ];
    jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs())
        .filter(|(name, _, _)| !BLOCKED.contains(name))
        .chain(stubs)
}

fn to_val(v: &Value) -> Val {
    match v {
        Value::Null(_) => Val::Null,
        Value::Bool(b, _) => Val::from(*b),
        Value::Int(i, _) => Val::Num(Num::from_integral(*i)),
        Value::Float(f, _) => Val::from(*f),
        Value::String(s, _) => Val::from(s.to_string()),
        Value::DateTime(..) => Val::from(crate::print::to_text(v)),
        Value::List(items, _) => items.iter().map(to_val).collect(),
        Value::Map(map, _) => Val::obj(
            map.iter()
                .map(|(k, v)| (Val::from(k.clone()), to_val(v)))
                .collect(),
        ),
    }
}

fn from_val(v: &Val) -> Value {
    match v {
        Val::Null => Value::null(),
        Val::Bool(b) => Value::from(*b),
        Val::Num(n) => from_num(n),
        Val::TStr(b) | Val::BStr(b) => Value::string(String::from_utf8_lossy(b).as_ref()),
        Val::Arr(items) => Value::list(items.iter().map(from_val)),
        Val::Obj(map) => {
            let m: Map = map
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Val::TStr(b) | Val::BStr(b) => String::from_utf8_lossy(b).into_owned(),
                        other => other.to_string(),
                    };
                    (key, from_val(v))
                })
                .collect();
            Value::from(m)
        }
    }
}

fn from_num(n: &Num) -> Value {
    match n {
        Num::Int(i) => Value::from(*i as i64),
        Num::Float(f) => Value::from(*f),
        Num::BigInt(b) => Value::from(b.to_string().parse::<f64>().unwrap_or(f64::NAN)),
        Num::Dec(s) => match s.parse::<i64>() {
            Ok(i) => Value::from(i),
            Err(_) => Value::from(s.parse::<f64>().unwrap_or(f64::NAN)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jq(program: &str, input: serde_json::Value) -> Result<Vec<serde_json::Value>, String> {
        run_program(program, &Value::from_json(&input))
            .map(|vs| vs.iter().map(Value::to_json).collect())
            .map_err(|e| match e {
                JqError::Compile(m) | JqError::Run(m) => m,
                JqError::TooManyResults => "too many".into(),
            })
    }

    #[test]
    fn runs_programs_and_returns_every_result() {
        let input = serde_json::json!({"token": "T", "a": [1, 2], "s": "xyz"});
        assert_eq!(jq(".token", input.clone()), Ok(vec!["T".into()]));
        assert_eq!(jq(".a[]", input.clone()), Ok(vec![1.into(), 2.into()]));
        assert_eq!(
            jq(".a | map(. * 2)", input.clone()),
            Ok(vec![serde_json::json!([2, 4])])
        );
        assert_eq!(jq(".s | test(\"y\")", input.clone()), Ok(vec![true.into()]));
        assert_eq!(
            jq("keys", input),
            Ok(vec![serde_json::json!(["a", "s", "token"])])
        );
    }

    #[test]
    fn reaching_outside_is_refused() {
        assert!(jq("env", serde_json::json!(null)).is_err());
        assert!(jq("$ENV", serde_json::json!(null)).is_err());
        assert!(jq("import \"x\" as x; 1", serde_json::json!(null)).is_err());
        assert_eq!(jq("1 | debug", serde_json::json!(null)), Ok(vec![1.into()]));
        // jaq's own `unwrap_valr` would exit the process here.
        assert!(jq("halt", serde_json::json!(null)).is_err());
        assert!(jq("halt_error", serde_json::json!("x")).is_err());
        assert!(jq("\"x\" | halt_error(1)", serde_json::json!(null)).is_err());
    }

    #[test]
    fn bad_programs_and_runaway_streams_fail() {
        assert!(jq(".[", serde_json::json!(null)).is_err());
        assert!(jq("nosuchfn", serde_json::json!(null)).is_err());
        assert_eq!(
            jq("repeat(1)", serde_json::json!(null)),
            Err("too many".into())
        );
    }
}
