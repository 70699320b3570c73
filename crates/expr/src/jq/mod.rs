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
//!
//! Every run is bounded by the render's step and memory budgets, its cancellation and
//! deadline, and a recursion depth: see `meter.rs` and `instrument.rs`.

mod instrument;
mod meter;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use jaq_core::load::parse::Def;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::native::{Fun, run, v};
use jaq_core::{Compiler, Ctx, Error, Vars};
use jaq_json::{Num, Val};

use crate::budget::Budget;
use crate::error::ErrorKind;
use crate::value::{Map, Value};
use meter::{Env, Meter, Metered, STACK_SIZE, Stopped};

type D = Metered;
type Program = jaq_core::Filter<D>;

/// At most this many results per run: `jq('repeat(1)')` must not eat the worker's memory.
const MAX_RESULTS: usize = 10_000;
/// Cached programs; the cache is emptied when it grows past this.
const MAX_CACHED: usize = 256;
/// Results nested deeper than this are refused: converting and dropping them recurses.
const MAX_RESULT_DEPTH: usize = 512;

/// Why a jq program failed. The texts hold jaq's own words, which may quote the input: the
/// caller shows them only when neither the program nor the input is tainted.
pub(crate) enum JqError {
    Compile(String),
    Run(String),
    TooManyResults,
    /// A budget ran out, or the caller cancelled: the render's own error.
    Budget(ErrorKind),
}

/// Runs `program` on `input` within what is left of `budget` (see `meter.rs`), on a thread
/// of its own with a large stack.
pub(crate) fn run_program(
    program: &str,
    input: &Value,
    budget: &mut Budget<'_>,
) -> Result<Vec<Value>, JqError> {
    let filter = compiled(program)?;
    let (left, limits) = (budget.remaining(), budget.limits());
    let (cancel, deadline) = (budget.cancel_flag(), budget.deadline());
    let (result, (steps, bytes)) = std::thread::scope(|scope| {
        let run = || {
            let meter = Meter::new(left, limits, cancel, deadline);
            let result = run_guarded(&filter, input, &meter);
            (result, meter.used())
        };
        let spawned = std::thread::Builder::new()
            .name("saker-jq".into())
            .stack_size(STACK_SIZE)
            .spawn_scoped(scope, run);
        match spawned {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                (
                    Err(JqError::Run("the jq interpreter failed".into())),
                    (0, 0),
                )
            }),
            Err(_) => (
                Err(JqError::Run("cannot start the jq interpreter".into())),
                (0, 0),
            ),
        }
    });
    budget.steps(steps).map_err(JqError::Budget)?;
    budget.bytes(bytes).map_err(JqError::Budget)?;
    result
}

fn run_guarded(filter: &Program, input: &Value, meter: &Meter<'_>) -> Result<Vec<Value>, JqError> {
    // jaq is a large third-party interpreter: should it ever panic on some program, the
    // template fails instead of the worker. The meter stops a run by unwinding too.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_unguarded(filter, input, meter)
    }))
    .unwrap_or_else(|payload| {
        Err(match meter.take_stop() {
            Some(kind) if payload.is::<Stopped>() => JqError::Budget(kind),
            _ => JqError::Run("the jq interpreter failed".into()),
        })
    })
}

fn run_unguarded(
    filter: &Program,
    input: &Value,
    meter: &Meter<'_>,
) -> Result<Vec<Value>, JqError> {
    let input = to_val(input);
    meter::measure(&input, meter);
    let env = Env {
        lut: &filter.lut,
        meter,
    };
    let ctx = Ctx::<D>::new(env, Vars::new([]));
    let mut results = Vec::new();
    // Not `jaq_core::unwrap_valr`: on `halt` it calls `std::process::exit`.
    for r in filter.id.run((ctx, input)) {
        match r {
            Ok(v) => results.push(from_val(&v, meter, 0)?),
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
    let std_defs = || {
        jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs())
    };
    // Loaded as written first, for jaq's own messages about it.
    let arena = Arena::default();
    Loader::new(std_defs())
        .load(
            &arena,
            File {
                code: program,
                path: (),
            },
        )
        .map_err(|errs| JqError::Compile(load_errors(&errs)))?;
    // Then instrumented (see `instrument.rs`), as the last definition of the prelude, so
    // that the standard definitions it calls are instrumented too.
    let main = jaq_core::load::parse(program, |p| p.term())
        .ok_or_else(|| JqError::Compile("invalid jq program".into()))?;
    let main = Def {
        name: "_saker_main",
        args: Vec::new(),
        body: instrument::term(main),
    };
    let mut defs: Vec<Def<&str>> = std_defs().map(instrument::def).collect();
    defs.push(main);
    let arena = Arena::default();
    let modules = Loader::new(defs)
        .load(
            &arena,
            File {
                code: "_saker_main",
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
        .filter(|(name, args, _)| {
            // `range/3` is replaced by a metered one.
            let replaced = *name == "range" && args.len() == 3;
            !(BLOCKED.contains(name) || replaced)
        })
        .chain(stubs)
        .chain(meter::natives())
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

/// Converts a result, counting what it builds; refuses results nested too deeply.
fn from_val(v: &Val, meter: &Meter<'_>, depth: usize) -> Result<Value, JqError> {
    if depth > MAX_RESULT_DEPTH {
        return Err(JqError::Run(format!(
            "a result is nested more than {MAX_RESULT_DEPTH} levels deep"
        )));
    }
    let value = match v {
        Val::Null => Value::null(),
        Val::Bool(b) => Value::from(*b),
        Val::Num(n) => from_num(n),
        Val::TStr(b) | Val::BStr(b) => Value::string(String::from_utf8_lossy(b).as_ref()),
        Val::Arr(items) => Value::list(
            items
                .iter()
                .map(|x| from_val(x, meter, depth + 1))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Val::Obj(map) => {
            let m = map
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Val::TStr(b) | Val::BStr(b) => String::from_utf8_lossy(b).into_owned(),
                        other => other.to_string(),
                    };
                    Ok((key, from_val(v, meter, depth + 1)?))
                })
                .collect::<Result<Map, JqError>>()?;
            Value::from(m)
        }
    };
    meter.alloc(crate::budget::shallow_size(&value));
    Ok(value)
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
        let env = crate::RenderEnv::default();
        let mut budget = Budget::new(&env);
        run_program(program, &Value::from_json(&input), &mut budget)
            .map(|vs| vs.iter().map(Value::to_json).collect())
            .map_err(|e| match e {
                JqError::Compile(m) | JqError::Run(m) => m,
                JqError::TooManyResults => "too many".into(),
                JqError::Budget(kind) => kind.to_string(),
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
            jq("keys", input.clone()),
            Ok(vec![serde_json::json!(["a", "s", "token"])])
        );
        // What the metering rewrites still means what it meant.
        assert_eq!(
            jq(". as $v | {$v} | .v.token", input.clone()),
            Ok(vec!["T".into()])
        );
        assert_eq!(
            jq(".s | explode | implode", input.clone()),
            Ok(vec!["xyz".into()])
        );
        assert_eq!(
            jq("\"[1,2]\" | fromjson | . + . | add", input.clone()),
            Ok(vec![6.into()])
        );
        assert_eq!(
            jq(".a += [3] | .a | length", input.clone()),
            Ok(vec![3.into()])
        );
        assert_eq!(jq("[paths] | length", input.clone()), Ok(vec![5.into()]));
        assert_eq!(
            jq(
                "walk(if type == \"number\" then . * 10 else . end) | .a",
                input
            ),
            Ok(vec![serde_json::json!([10, 20])])
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

    fn stopped_by(program: &str, env: &crate::RenderEnv<'_>) -> ErrorKind {
        let mut budget = Budget::new(env);
        match run_program(program, &Value::null(), &mut budget) {
            Err(JqError::Budget(kind)) => kind,
            Err(JqError::Run(m) | JqError::Compile(m)) => panic!("{program}: failed with {m}"),
            Err(JqError::TooManyResults) => panic!("{program}: too many results"),
            Ok(_) => panic!("{program}: finished"),
        }
    }

    #[test]
    fn runaway_programs_stop_within_the_budget() {
        let env = crate::RenderEnv {
            limits: crate::Limits {
                max_steps: 300_000,
                max_value_bytes: 4 << 20,
                ..crate::Limits::DEFAULT
            },
            ..Default::default()
        };
        for program in [
            "def f: f; f",
            "until(false; .)",
            "[repeat(.)]",
            "[range(1e9)]",
            "last(range(1e18))",
            "\"a\" * 1e9",
            "[limit(1e9; repeat(\"x\"))] | add",
            "reduce range(40) as $i (\"ab\"; . + .)",
            "reduce range(40) as $i (\"ab\"; . += .)",
            "reduce range(40) as $i ([1]; . + .)",
            "reduce range(64) as $i (1; [., .]) | tojson",
            "reduce range(64) as $i (1; [., .]) | [..] | length",
            "reduce range(64) as $i (1; [., .]) | \"\\(.)\"",
            "reduce range(64) as $i ({}; {a: ., b: .}) * {}",
            "reduce range(64) as $i ({}; {a: ., b: .}) | tojson",
            "reduce range(64) as $i (1; . as $x | {} | .a = $x | .b = $x) | tojson",
            "reduce range(64) as $i ([1]; . + .) | tojson",
            "reduce range(64) as $i (1; [., .]) | try error(.) catch length",
            "reduce range(64) as $i (1; [., .]) | .a?",
            "reduce range(64) as $i (1; . as $x | . as $y | {$x, $y}) | tojson",
            "[range(1e6)] | tojson | fromjson | length",
            "try (def f: f; f) catch 1",
            "[range(1e9)] | length",
        ] {
            let kind = stopped_by(program, &env);
            assert!(
                matches!(kind, ErrorKind::StepBudget(_) | ErrorKind::MemoryBudget(_)),
                "{program}: {kind}"
            );
        }
    }

    #[test]
    fn deep_recursion_is_stopped_before_the_stack_overflows() {
        let env = crate::RenderEnv {
            limits: crate::Limits {
                max_steps: u64::MAX,
                max_value_bytes: u64::MAX,
                ..crate::Limits::DEFAULT
            },
            ..Default::default()
        };
        for program in ["def f: 1 + f; f", "def f: [f]; f"] {
            let kind = stopped_by(program, &env);
            assert!(matches!(kind, ErrorKind::Limit(_)), "{program}: {kind}");
        }
    }

    #[test]
    fn cancellation_and_deadline_stop_a_run() {
        let flag = std::sync::atomic::AtomicBool::new(true);
        let cancelled = crate::RenderEnv {
            cancel: Some(&flag),
            ..Default::default()
        };
        assert_eq!(stopped_by("def f: f; f", &cancelled), ErrorKind::Cancelled);
        let late = crate::RenderEnv {
            deadline: Some(std::time::Instant::now()),
            ..Default::default()
        };
        assert_eq!(stopped_by("repeat(1)", &late), ErrorKind::DeadlineExceeded);
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
