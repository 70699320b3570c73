//! Rewrites a parsed jq program so that what allocates checks the memory budget first (see
//! `meter.rs`): arithmetic becomes calls to the metered natives; array elements, object
//! values and the right side of path updates are measured as they are put in; and the
//! input of `..`, of string interpolation and of natives that walk or print a whole value is
//! measured first. Applied to the user's program and to jaq's and jaq-std's
//! definitions alike.

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Def, Pattern, Term};
use jaq_core::ops::Math;
use jaq_core::path::{Part, Path};

use super::meter::MATH_NAMES;

/// Natives that make a value per byte or character of a string input: their input is
/// measured at a slot per byte.
const MEASURED_WIDE: &[&str] = &["explode", "fromjson", "split_", "split_matches", "matches"];

/// Natives whose work or output grows with the whole of their input.
const MEASURED: &[&str] = &[
    "tojson",
    "escape_html",
    "escape_sh",
    "encode_uri",
    "encode_base64",
    "decode_base64",
    "implode",
    "ascii_downcase",
    "ascii_upcase",
    "reverse",
    "sort",
    "sort_by",
    "group_by",
    "min_by_or_empty",
    "max_by_or_empty",
    "keys_unsorted",
    "key_values",
    "path",
    "path_value",
    "ltrimstr",
    "rtrimstr",
    "trim",
    "ltrim",
    "rtrim",
    "indices",
    "utf8bytelength",
];

fn math_name(op: Math) -> &'static str {
    match op {
        Math::Add => MATH_NAMES[0],
        Math::Sub => MATH_NAMES[1],
        Math::Mul => MATH_NAMES[2],
        Math::Div => MATH_NAMES[3],
        Math::Rem => MATH_NAMES[4],
    }
}

fn call(name: &str) -> Term<&str> {
    Term::Call(name, Vec::new())
}

fn pipe<'s>(l: Term<&'s str>, r: Term<&'s str>) -> Term<&'s str> {
    Term::BinOp(Box::new(l), BinaryOp::Pipe(None), Box::new(r))
}

#[allow(clippy::boxed_local)] // It maps the boxes the parser made.
fn boxed(t: Box<Term<&str>>) -> Box<Term<&str>> {
    Box::new(term(*t))
}

pub(crate) fn def(d: Def<&str>) -> Def<&str> {
    Def {
        name: d.name,
        args: d.args,
        body: term(d.body),
    }
}

pub(crate) fn term(t: Term<&str>) -> Term<&str> {
    match t {
        Term::Id | Term::Num(_) | Term::Var(_) | Term::Break(_) => t,
        Term::Recurse => pipe(call("_saker_measure"), Term::Recurse),
        Term::Str(fmt, parts) => Term::Str(
            fmt,
            parts
                .into_iter()
                .map(|p| match p {
                    StrPart::Term(t) => StrPart::Term(pipe(term(t), call("_saker_measure"))),
                    other => other,
                })
                .collect(),
        ),
        Term::Arr(f) => Term::Arr(f.map(|f| Box::new(pipe(term(*f), call("_saker_item"))))),
        Term::Obj(kvs) => Term::Obj(kvs.into_iter().map(entry).collect()),
        Term::Neg(t) => Term::Neg(boxed(t)),
        Term::BinOp(l, BinaryOp::Math(op), r) => {
            Term::Call(math_name(op), vec![term(*l), term(*r)])
        }
        // `l op= r` is `r as $x | l |= . op $x`.
        Term::BinOp(l, BinaryOp::UpdateMath(op), r) => {
            let var = "$__saker_update";
            let update = Term::Call(math_name(op), vec![Term::Id, Term::Var(var)]);
            let inner = Term::BinOp(boxed(l), BinaryOp::Update, Box::new(update));
            Term::BinOp(
                boxed(r),
                BinaryOp::Pipe(Some(Pattern::Var(var))),
                Box::new(inner),
            )
        }
        // What a path update puts into a value is measured like an array element.
        Term::BinOp(l, op @ (BinaryOp::Update | BinaryOp::Assign | BinaryOp::UpdateAlt), r) => {
            let r = pipe(term(*r), call("_saker_measure"));
            Term::BinOp(boxed(l), op, Box::new(r))
        }
        Term::BinOp(l, op, r) => {
            let op = match op {
                BinaryOp::Pipe(Some(p)) => BinaryOp::Pipe(Some(pattern(p))),
                other => other,
            };
            Term::BinOp(boxed(l), op, boxed(r))
        }
        Term::Label(name, t) => Term::Label(name, boxed(t)),
        Term::Fold(name, xs, p, args) => Term::Fold(
            name,
            boxed(xs),
            pattern(p),
            args.into_iter().map(term).collect(),
        ),
        Term::TryCatch(t, c) => Term::TryCatch(boxed(t), c.map(boxed)),
        Term::IfThenElse(branches, otherwise) => Term::IfThenElse(
            branches
                .into_iter()
                .map(|(c, t)| (term(c), term(t)))
                .collect(),
            otherwise.map(boxed),
        ),
        Term::Def(defs, t) => Term::Def(defs.into_iter().map(def).collect(), boxed(t)),
        Term::Call(name, args) => {
            let c = Term::Call(name, args.into_iter().map(term).collect());
            if MEASURED_WIDE.contains(&name) {
                pipe(call("_saker_measure_wide"), c)
            } else if name.starts_with('@') || MEASURED.contains(&name) {
                pipe(call("_saker_measure"), c)
            } else {
                c
            }
        }
        Term::Path(t, path) => Term::Path(
            boxed(t),
            Path(
                path.0
                    .into_iter()
                    .map(|(part, opt)| {
                        let part = match part {
                            Part::Index(i) => Part::Index(term(i)),
                            Part::Range(a, b) => Part::Range(a.map(term), b.map(term)),
                        };
                        (part, opt)
                    })
                    .collect(),
            ),
        ),
    }
}

/// An object entry, its value measured. `{$x}` is spelled out as `{"x": $x}` so that its
/// value is measured too (`{$x, $y}` with both bound to `.` shares `.`).
type Entry<'s> = (Term<&'s str>, Option<Term<&'s str>>);

fn entry((k, v): Entry<'_>) -> Entry<'_> {
    let measured = |v| Some(pipe(term(v), call("_saker_measure")));
    match (k, v) {
        (Term::Var(name), None) => {
            let key = Term::Str(None, vec![StrPart::Str(name.trim_start_matches('$'))]);
            (key, measured(Term::Var(name)))
        }
        (k, v) => (term(k), v.and_then(measured)),
    }
}

fn pattern(p: Pattern<&str>) -> Pattern<&str> {
    match p {
        Pattern::Var(_) => p,
        Pattern::Arr(ps) => Pattern::Arr(ps.into_iter().map(pattern).collect()),
        Pattern::Obj(kps) => Pattern::Obj(
            kps.into_iter()
                .map(|(k, p)| (term(k), pattern(p)))
                .collect(),
        ),
    }
}
