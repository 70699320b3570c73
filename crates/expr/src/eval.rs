//! Expression evaluation, with taint propagation.
//!
//! Values are borrowed from the context or the template where possible (`Cow`), so printing
//! `{{ inputs.day }}` copies nothing until the text is written. Every computed value is
//! tainted when what it was computed from is; the rule per construct is stated where the
//! construct is evaluated.

use std::borrow::Cow::{self, Borrowed, Owned};
use std::sync::Arc;

use crate::ast::{BinOp, Expr, ExprKind, UnOp};
use crate::context::Context;
use crate::error::{ErrorKind, EvalResult, Fail, shown, suggest};
use crate::filters::{self, Filter};
use crate::flow::hide_if;
use crate::functions;
use crate::methods;
use crate::ops::{self, truth};
use crate::predicates::{self, TestKind};
use crate::print::to_text;
use crate::render::Runtime;
use crate::value::{Map, NULL, Taint, Value};

/// The variables visible to one template: the caller's context and the template's own
/// (`{% set %}`, loop variables), innermost last.
pub(crate) struct Frame<'a> {
    pub src: &'a str,
    pub ctx: &'a Context,
    pub locals: Vec<(&'a str, Value)>,
    /// Start of the innermost scope in `locals` (a `{% for %}` body opens one).
    pub scope: usize,
}

impl<'a> Frame<'a> {
    pub fn new(src: &'a str, ctx: &'a Context) -> Frame<'a> {
        Frame {
            src,
            ctx,
            locals: Vec::new(),
            scope: 0,
        }
    }

    fn lookup(&self, name: &str) -> Option<&Value> {
        self.locals
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .or_else(|| self.ctx.get(name))
    }

    /// `{% set %}`: replaces a binding of the innermost scope, or adds one.
    pub fn set(&mut self, name: &'a str, value: Value) {
        let scope = self.scope;
        match self.locals[scope..].iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.locals.push((name, value)),
        }
    }

    /// After an `if` decided on a secret: `name`, which a branch could have set, is tainted
    /// in the innermost scope (bound there to a tainted copy of what it named before, null
    /// when nothing, if no branch set it this time).
    pub fn taint_binding(&mut self, name: &'a str) {
        let scope = self.scope;
        if let Some(slot) = self.locals[scope..].iter_mut().find(|(n, _)| *n == name) {
            slot.1 = std::mem::take(&mut slot.1).tainted();
            return;
        }
        let before = self.lookup(name).cloned().unwrap_or_default();
        self.locals.push((name, before.tainted()));
    }

    /// The template text of an expression, for messages (template text is never secret:
    /// a template built from a secret has its messages hidden by `render()`).
    fn text_of(&self, e: &Expr) -> String {
        let s = self
            .src
            .get(e.start as usize..e.end as usize)
            .unwrap_or("")
            .trim();
        if s.chars().count() > 60 {
            format!("{}…", s.chars().take(60).collect::<String>())
        } else {
            s.to_string()
        }
    }
}

fn fail(e: &Expr, kind: ErrorKind) -> Fail {
    Fail::new(e.pos, kind)
}

/// A failure of an operation on operands that may be secret: when they are, the failure (its
/// message, its very existence) depends on a secret, and the statement reports it hidden.
fn fail_on(e: &Expr, kind: ErrorKind, secret: bool) -> Fail {
    Fail::new(e.pos, kind).caused_by_secret(secret)
}

/// The value with `taint` added (deeply), borrowing when nothing changes.
fn tainting(v: Cow<'_, Value>, taint: Taint) -> Cow<'_, Value> {
    if taint.is_secret() && !v.taint().is_secret() {
        Owned(v.into_owned().tainted())
    } else {
        v
    }
}

/// Evaluates `e`: one step of the budget, and the bytes of the value it builds.
pub(crate) fn eval<'s>(
    e: &'s Expr,
    fr: &'s Frame<'s>,
    rt: &mut Runtime<'_>,
) -> EvalResult<Cow<'s, Value>> {
    rt.budget.steps(1).map_err(|k| fail(e, k))?;
    let v = eval_expr(e, fr, rt)?;
    if let Owned(built) = &v {
        rt.budget.built(built).map_err(|k| fail(e, k))?;
    }
    Ok(v)
}

fn eval_expr<'s>(
    e: &'s Expr,
    fr: &'s Frame<'s>,
    rt: &mut Runtime<'_>,
) -> EvalResult<Cow<'s, Value>> {
    match &e.kind {
        ExprKind::Lit(v) => Ok(Borrowed(v)),
        ExprKind::Var(name) => fr.lookup(name).map(Borrowed).ok_or_else(|| {
            let names = fr.locals.iter().map(|(n, _)| *n).chain(fr.ctx.names());
            fail(
                e,
                ErrorKind::UndefinedVariable {
                    name: name.clone(),
                    suggestion: suggest(name, names),
                },
            )
        }),
        // An element read from a container carries the container's taint.
        // A missing member of a secret container, or at a secret key, is missing because of
        // a secret.
        ExprKind::Attr(obj, name) => {
            let o = eval(obj, fr, rt)?;
            let secret = o.taint().is_secret();
            member(o, Key::Name(name), Taint::Clean)
                .map_err(|m| miss(m, obj, e, fr).caused_by_secret(secret))
        }
        ExprKind::Index(obj, index) => {
            let o = eval(obj, fr, rt)?;
            let i = eval(index, fr, rt)?;
            let t = Taint::of(i.is_tainted());
            let secret = (o.taint() | t).is_secret();
            member(o, Key::Value(&i), t).map_err(|m| miss(m, obj, e, fr).caused_by_secret(secret))
        }
        ExprKind::Method(obj, name, args) => {
            let o = eval(obj, fr, rt)?;
            let argv = args
                .iter()
                .map(|a| eval(a, fr, rt).map(Cow::into_owned))
                .collect::<EvalResult<Vec<Value>>>()?;
            let t = o.is_tainted() || argv.iter().any(Value::is_tainted);
            let r = methods::call(&o, name, &argv).map_err(|k| fail_on(e, k, t))?;
            Ok(Owned(rt.noted(r.with_taint(Taint::of(t)))))
        }
        // A literal list or map is clean itself; its elements keep their own taint.
        ExprKind::List(items) => {
            let items = items
                .iter()
                .map(|a| eval(a, fr, rt).map(Cow::into_owned))
                .collect::<EvalResult<Vec<Value>>>()?;
            rt.budget
                .put_into_container(&items)
                .map_err(|k| fail(e, k))?;
            Ok(Owned(Value::List(Arc::new(items), Taint::Clean)))
        }
        ExprKind::Map(entries) => {
            let mut map = Map::with_capacity(entries.len());
            let mut t = Taint::Clean;
            for (k, v) in entries {
                let key = eval(k, fr, rt)?;
                // A key computed from a secret makes the map's keys secret.
                t = t | Taint::of(key.is_tainted());
                let value = eval(v, fr, rt)?.into_owned();
                map.insert(to_text(&key), value);
            }
            rt.budget
                .put_into_container(map.values())
                .map_err(|k| fail(e, k))?;
            Ok(Owned(Value::Map(Arc::new(map), Taint::Clean).with_taint(t)))
        }
        ExprKind::Interp(parts) => {
            let mut s = String::new();
            let mut t = false;
            for p in parts {
                let v = eval(p, fr, rt)?;
                t |= v.is_tainted();
                if !v.is_null() {
                    s.push_str(&to_text(&v));
                }
            }
            Ok(Owned(rt.noted(Value::String(s.into(), Taint::of(t)))))
        }
        ExprKind::Unary(op, operand) => {
            let v = eval(operand, fr, rt)?;
            let t = Taint::of(v.is_tainted());
            let r = match op {
                UnOp::Not => match truth(&v) {
                    Some(b) => Value::from(!b),
                    None => {
                        let k = ErrorKind::Type("'not' cannot be applied to null".into());
                        return Err(fail_on(e, k, t.is_secret()));
                    }
                },
                UnOp::Neg | UnOp::Plus => {
                    ops::negate(&v, *op == UnOp::Neg).map_err(|k| fail_on(e, k, t.is_secret()))?
                }
            };
            Ok(Owned(rt.noted(r.with_taint(t))))
        }
        ExprKind::Binary(op, left, right) => binary(e, *op, left, right, fr, rt),
        // The result is the chosen branch, tainted when the choice was made on a secret (and
        // then the chosen branch's errors are hidden: they would tell which one ran).
        ExprKind::Ternary(cond, then, otherwise) => {
            let c = eval(cond, fr, rt)?;
            let t = Taint::of(c.is_tainted());
            let branch = if truth(&c).unwrap_or(false) {
                then
            } else {
                otherwise
            };
            let v = hide_if(t.is_secret(), e.pos, eval(branch, fr, rt))?;
            Ok(tainting(v, t))
        }
        // The fallback is chosen because the left side is null or missing: when that is
        // secret, so is the result.
        ExprKind::Coalesce {
            left,
            right,
            undefined_only,
        } => {
            let t = match eval(left, fr, rt) {
                Ok(v) if v.is_null() && !undefined_only => v.taint(),
                Ok(v) => return Ok(v),
                Err(f) if f.kind.is_undefined() => Taint::of(f.secret),
                Err(f) => return Err(f),
            };
            let v = hide_if(t.is_secret(), e.pos, eval(right, fr, rt))?;
            Ok(tainting(v, t))
        }
        ExprKind::Filter {
            input,
            filter,
            name,
            args,
        } => eval_filter(e, input, (*filter, name), args, fr, rt),
        // A function result is tainted when an argument is; `secret()` returns a secret.
        ExprKind::Call { func, args, rest } => {
            if let functions::Func::NotYet(name) = func {
                return Err(fail(e, ErrorKind::NotYetAvailable(name.to_string())));
            }
            let argv = eval_args(args, fr, rt)?;
            let restv = rest
                .iter()
                .map(|a| eval(a, fr, rt).map(Cow::into_owned))
                .collect::<EvalResult<Vec<Value>>>()?;
            let t = argv.iter().chain(&restv).any(Value::is_tainted);
            let r =
                functions::call(*func, &argv, &restv, fr.ctx, rt).map_err(|k| fail_on(e, k, t))?;
            Ok(Owned(rt.noted(r.with_taint(Taint::of(t)))))
        }
        // A test reads the value itself, not what a container holds: its own taint.
        ExprKind::Test {
            input,
            test,
            negated,
        } => {
            let v = match eval(input, fr, rt) {
                Err(f) if *test == TestKind::Defined && f.kind.is_undefined() => undefined_null(&f),
                other => other?,
            };
            let b =
                predicates::apply(*test, &v).map_err(|k| fail_on(e, k, v.taint().is_secret()))?;
            Ok(Owned(Value::Bool(b != *negated, v.taint())))
        }
    }
}

/// What an absorbed "undefined" becomes: null, tainted when it was missing because of a
/// secret.
fn undefined_null<'s>(f: &Fail) -> Cow<'s, Value> {
    if f.secret {
        Owned(Value::Null(Taint::Secret))
    } else {
        Borrowed(&NULL)
    }
}

/// Evaluates arguments into their parameter slots (null where not given). Tainted string
/// arguments are recorded: they are "passed to a filter or function".
fn eval_args(
    args: &[Option<Expr>],
    fr: &Frame<'_>,
    rt: &mut Runtime<'_>,
) -> EvalResult<Vec<Value>> {
    args.iter()
        .map(|a| match a {
            Some(a) => eval(a, fr, rt).map(|v| rt.noted(v.into_owned())),
            None => Ok(Value::null()),
        })
        .collect()
}

fn eval_filter<'s>(
    e: &'s Expr,
    input: &'s Expr,
    (filter, name): (Filter, &'static str),
    args: &'s [Option<Expr>],
    fr: &'s Frame<'s>,
    rt: &mut Runtime<'_>,
) -> EvalResult<Cow<'s, Value>> {
    let inp = match eval(input, fr, rt) {
        // `default` absorbs an undefined input, as in Pebble.
        Err(f) if filter == Filter::Default && f.kind.is_undefined() => undefined_null(&f),
        other => other?,
    };
    // A value that needs no default is returned as is, without evaluating the default (so a
    // `default(secret('X'))` fallback costs no secret lookup when unused).
    if filter == Filter::Default && !inp.is_empty() {
        return Ok(inp);
    }
    if let Value::String(s, t) = &*inp
        && t.is_secret()
    {
        rt.note(s);
    }
    // `default`'s fallback is evaluated because a secret input is empty: its errors would
    // tell.
    let chosen_on_secret = filter == Filter::Default && inp.taint().is_secret();
    let argv = hide_if(chosen_on_secret, e.pos, eval_args(args, fr, rt))?;
    let args_tainted = argv.iter().any(Value::is_tainted);
    let r = filters::apply(filter, name, &inp, &argv, &mut rt.budget)
        .map_err(|k| fail_on(e, k, args_tainted || inp.is_tainted()))?;
    let t = if filter.moves_arguments() {
        false
    } else if filter.is_structural() {
        // Sorting or deduplicating places clean elements according to secret ones.
        args_tainted || (filter.compares_elements() && inp.is_tainted())
    } else {
        args_tainted || inp.is_tainted()
    };
    Ok(Owned(rt.noted(r.with_taint(Taint::of(t)))))
}

/// Operators: the result is tainted when an operand is.
fn binary<'s>(
    e: &'s Expr,
    op: BinOp,
    left: &'s Expr,
    right: &'s Expr,
    fr: &'s Frame<'s>,
    rt: &mut Runtime<'_>,
) -> EvalResult<Cow<'s, Value>> {
    let l = eval(left, fr, rt)?;
    if matches!(op, BinOp::And | BinOp::Or) {
        let null_error = |secret: bool| {
            let k = ErrorKind::Type(format!("null value used with '{}'", op.symbol()));
            fail_on(e, k, secret)
        };
        let lt = l.is_tainted();
        let lb = truth(&l).ok_or_else(|| null_error(lt))?;
        if (op == BinOp::And) != lb {
            return Ok(Owned(Value::Bool(lb, Taint::of(lt))));
        }
        // The right side runs because of the (maybe secret) left one.
        let r = hide_if(lt, e.pos, eval(right, fr, rt))?;
        let rb = truth(&r).ok_or_else(|| null_error(lt || r.is_tainted()))?;
        return Ok(Owned(Value::Bool(rb, Taint::of(lt || r.is_tainted()))));
    }
    let r = eval(right, fr, rt)?;
    let t = Taint::of(l.is_tainted() || r.is_tainted());
    let v = if op == BinOp::Range {
        ops::range(&l, &r, 1, rt.env.limits.max_range)
    } else {
        ops::binary(op, &l, &r)
    }
    .map_err(|k| fail_on(e, k, t.is_secret()))?;
    Ok(Owned(rt.noted(v.with_taint(t))))
}

/// How a member is named: `.name` or `[value]`.
enum Key<'k> {
    Name(&'k str),
    Value(&'k Value),
}

enum Miss {
    NoKey,
    OutOfRange(usize),
    OfNull,
    NotContainer(&'static str),
}

fn find<'v>(container: &'v Value, key: &Key<'_>) -> Result<&'v Value, Miss> {
    match container {
        Value::Map(map, _) => {
            let found = match key {
                Key::Name(n) => map.get(*n),
                Key::Value(Value::String(s, _)) => map.get(s.as_ref()),
                Key::Value(other) => map.get(to_text(other).as_str()),
            };
            match found {
                Some(v) => Ok(v),
                // Pebble's MapResolver: a missing key of an empty map is null.
                None if map.is_empty() => Ok(&NULL),
                None => Err(Miss::NoKey),
            }
        }
        Value::List(items, _) => {
            let index = match key {
                Key::Name(n) => n.parse::<i64>().ok(),
                Key::Value(Value::Int(i, _)) => Some(*i),
                Key::Value(Value::Float(f, _)) if f.fract() == 0.0 => Some(*f as i64),
                Key::Value(Value::String(s, _)) => s.parse::<i64>().ok(),
                Key::Value(_) => None,
            };
            let Some(i) = index else {
                return Err(Miss::NoKey);
            };
            usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i))
                .ok_or(Miss::OutOfRange(items.len()))
        }
        Value::Null(_) => Err(Miss::OfNull),
        other => Err(Miss::NotContainer(other.type_name())),
    }
}

fn member<'s>(o: Cow<'s, Value>, key: Key<'_>, extra: Taint) -> Result<Cow<'s, Value>, Miss> {
    match o {
        Borrowed(v) => {
            let child = find(v, &key)?;
            Ok(tainting(Borrowed(child), v.taint() | extra))
        }
        Owned(v) => {
            let child = find(&v, &key)?.clone();
            Ok(Owned(child.with_taint(v.taint() | extra)))
        }
    }
}

/// A missing member: "undefined", the kind `??` and `default` absorb.
fn miss(m: Miss, obj: &Expr, e: &Expr, fr: &Frame<'_>) -> Fail {
    let key = match &e.kind {
        ExprKind::Attr(_, name) => format!("'{name}'"),
        ExprKind::Index(_, index) => match &index.kind {
            ExprKind::Lit(v) => shown(v),
            _ => format!("[{}]", fr.text_of(index)),
        },
        _ => String::new(),
    };
    let of = fr.text_of(obj);
    let msg = match m {
        Miss::NoKey => format!("'{of}' has no attribute {key}"),
        Miss::OutOfRange(len) => format!("index {key} is out of range for '{of}' (length {len})"),
        Miss::OfNull => format!("cannot read attribute {key} of '{of}', which is null"),
        Miss::NotContainer(t) => format!(
            "cannot read attribute {key} of '{of}', which is {}",
            filters::article(t)
        ),
    };
    fail(e, ErrorKind::UndefinedAttribute(msg))
}
