//! Implicit flows: what a template prints or assigns *because of* a secret, without copying
//! any of it.
//!
//! `{% if secret('X') == 'a' %}a{% endif %}` prints a clean literal, yet whether it prints
//! it tells one bit of the secret; a loop over the characters of a secret comparing each with
//! the alphabet prints the whole secret that way. So the renderer keeps a *program-counter
//! taint*, [`Runtime::pc`]: it turns secret when an `{% if %}` (or `elseif`) condition is
//! tainted, or a `{% for %}` iterates over a tainted list (its length is secret), and while it
//! is secret:
//!
//! - everything the block prints (all branches of the `if`, the loop body and its `else`)
//!   becomes one tainted range, *even when it prints nothing*, so the masked text is the same
//!   whichever way the secret decided;
//! - every `{% set %}` assigns a tainted value, and after an `if` decided on a secret every
//!   variable that any of its branches could have set is tainted (one that no branch set is
//!   bound to a tainted copy of what it named before), since the branch *not* taken is as
//!   telling as the one taken;
//! - an error raised inside the block is reported as [`ErrorKind::SecretDependent`] at the
//!   block's position: which branch ran, which value was missing, is not told. Its existence
//!   still tells one bit per render (a render either fails or not); resource limits
//!   (budgets, cancellation) keep their message, which names no value.
//!
//! An error raised by an operation on a secret value (a filter that cannot read it, a key
//! missing from a secret map) is hidden the same way, at the operation, once it reaches the
//! statement (`??`, `default` and `is defined` may still absorb a missing key first, and then
//! give a tainted result).
//!
//! Expressions follow the same rule (see `eval.rs`): `? :`, `??`, `default`, `and`/`or`
//! whose choice depends on a secret give a tainted result and hide the errors of the part
//! they chose to evaluate.

use crate::ast::Node;
use crate::error::{ErrorKind, EvalResult, Fail};
use crate::eval::{Frame, eval};
use crate::ops::truth;
use crate::render::{Out, Runtime, exec};
use crate::value::Taint;

/// `{% if %}`/`elseif`/`else`: the block is secret-dependent when a condition evaluated to
/// choose the branch was tainted (later conditions are evaluated under that taint too).
pub(crate) fn run_if<'a>(
    branches: &'a [(crate::ast::Expr, Vec<Node>)],
    otherwise: &'a [Node],
    fr: &mut Frame<'a>,
    rt: &mut Runtime<'_>,
    out: &mut Out,
) -> EvalResult<()> {
    let pos = branches.first().map_or(0, |(c, _)| c.start);
    let outer = rt.pc;
    let start = out.text.len();
    let result = (|| {
        let mut chosen = otherwise;
        for (cond, body) in branches {
            let c = eval(cond, fr, rt)?;
            if c.is_tainted() {
                rt.pc = Taint::Secret;
            }
            if truth(&c).unwrap_or(false) {
                chosen = body;
                break;
            }
        }
        exec(chosen, fr, rt, out)
    })();
    let secret_block = rt.pc.is_secret() && !outer.is_secret();
    rt.pc = outer;
    if !secret_block {
        return result;
    }
    let mut names = Vec::new();
    for (_, body) in branches {
        assigned_names(body, &mut names);
    }
    assigned_names(otherwise, &mut names);
    for name in names {
        fr.taint_binding(name);
    }
    close_secret_block(out, start, rt);
    result.map_err(|f| hide(f, pos))
}

/// Runs `body` with the program-counter taint raised when `taint` is secret (and it was
/// not already): the loop over a tainted list.
pub(crate) fn under_pc<T>(
    taint: Taint,
    pos: u32,
    rt: &mut Runtime<'_>,
    out: &mut Out,
    body: impl FnOnce(&mut Runtime<'_>, &mut Out) -> EvalResult<T>,
) -> EvalResult<T> {
    let outer = rt.pc;
    if !taint.is_secret() || outer.is_secret() {
        return body(rt, out);
    }
    let start = out.text.len();
    rt.pc = Taint::Secret;
    let result = body(rt, out);
    rt.pc = outer;
    close_secret_block(out, start, rt);
    result.map_err(|f| hide(f, pos))
}

/// What a secret-dependent block wrote, from `start` on, becomes one tainted range (empty
/// when it wrote nothing), and its text a tainted string for the masker: a loop that spells
/// a secret out letter by letter prints clean letters that together are the secret.
fn close_secret_block(out: &mut Out, start: usize, rt: &mut Runtime<'_>) {
    let mut from = start;
    while let Some(last) = out.ranges.last() {
        if last.end < from {
            break;
        }
        from = from.min(last.start);
        out.ranges.pop();
    }
    out.ranges.push(from..out.text.len());
    if let Some(text) = out.text.get(start..) {
        rt.note(text);
    }
}

/// An error from a secret-dependent part: located at the part itself, and without its
/// message unless it is a resource limit. A missing value stays "missing", so that `??`,
/// `default` and `is defined` still absorb it (with a tainted result); one that reaches the
/// statement is reported as [`ErrorKind::SecretDependent`] by [`settle`].
pub(crate) fn hide(f: Fail, pos: u32) -> Fail {
    let kind = if f.kind.is_resource_limit() {
        f.kind
    } else if f.kind.is_undefined() {
        ErrorKind::UndefinedAttribute(
            "a value that depends on a secret is missing (details hidden)".into(),
        )
    } else {
        ErrorKind::SecretDependent
    };
    Fail::new(pos, kind).caused_by_secret(true)
}

/// At the end of a statement: a failure caused by a secret (an operation on a secret value,
/// a key missing from a secret map) is reported hidden, where it happened.
pub(crate) fn settle(f: Fail) -> Fail {
    if f.secret && !f.kind.is_resource_limit() && f.kind != ErrorKind::SecretDependent {
        Fail::new(f.pos, ErrorKind::SecretDependent).caused_by_secret(true)
    } else {
        f
    }
}

/// `hide` when `secret` is true: for the expression forms that choose what to evaluate.
pub(crate) fn hide_if<T>(secret: bool, pos: u32, r: EvalResult<T>) -> EvalResult<T> {
    if secret {
        r.map_err(|f| hide(f, pos))
    } else {
        r
    }
}

/// Names that `{% set %}` may assign in the scope of `nodes`: through nested `if`s, but not
/// into `for` bodies, which have their own scope.
fn assigned_names<'a>(nodes: &'a [Node], names: &mut Vec<&'a str>) {
    for node in nodes {
        match node {
            Node::Set { name, .. } if !names.contains(&name.as_str()) => names.push(name),
            Node::If {
                branches,
                otherwise,
            } => {
                for (_, body) in branches {
                    assigned_names(body, names);
                }
                assigned_names(otherwise, names);
            }
            _ => {}
        }
    }
}
