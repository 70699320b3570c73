//! jq on a budget. jaq has no fuel of its own; three things bound it:
//!
//! - **Steps.** jaq looks its look-up table up through the context's data every time it
//!   evaluates a term ([`HasLut::lut`]), so the data type here, [`Env`], counts a step
//!   there, and looks at the cancellation flag and the deadline every
//!   [`crate::budget::CHECK_EVERY`] steps. Every loop in jq is a recursion through a
//!   definition (`repeat`, `until`, `def f: f; f`, jaq-std's own), hence through terms; the one
//!   generator implemented natively, `range/3`, is replaced by one that counts a step per
//!   value.
//! - **Memory.** The program is rewritten (see `instrument.rs`) so that arithmetic on
//!   strings, arrays and objects checks the size of its result *before* building it, and
//!   every value put into an array, an object or a path update is measured *expanded* (parts
//!   it shares counted each time), so that no value's expanded size exceeds what was
//!   counted: nesting `[., .]` stops after a few levels instead of doubling to 2^64, and
//!   printing, comparing or describing any value in an error stays within the budget. Values
//!   about to be printed or walked by a native (`tojson`, `"\(.)"`, `@base64`, `sort`, ...)
//!   are measured first, so the natives' work is bounded too (their output may be a small
//!   constant factor larger than what they measured: escapes, `explode`'s numbers).
//! - **Stack.** jq runs on its own thread with a [`STACK_SIZE`] stack (the caller's may be
//!   small, and jaq recurses on it), and a step taken deeper than [`MAX_STACK_DEPTH`] bytes
//!   below where the program started stops it.
//!
//! Stopping unwinds out of jaq with `resume_unwind` (no panic hook, no message): a jq
//! `try`/`catch` cannot catch it, unlike a jq error.

use std::cell::Cell;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use jaq_core::box_iter::box_once;
use jaq_core::data::HasLut;
use jaq_core::native::{Fun, bome, run, v};
use jaq_core::ops::Math;
use jaq_core::{Cv, DataT, Exn, Native, ValXs};
use jaq_json::Val;

use crate::budget::{CHECK_EVERY, interrupted};
use crate::error::ErrorKind;

/// Stack of the thread jq runs on (address space: pages a run does not touch are never
/// committed). Larger stacks cost more to set up on every run: 256 MiB took about 100 µs a
/// call, 32 MiB about 60 µs, against 20 µs for running jq on the caller's thread.
pub(crate) const STACK_SIZE: usize = 32 * 1024 * 1024;
/// How deep jq may recurse into that stack before it is stopped; the rest is for unwinding
/// and for dropping the values it built (their nesting is bounded by the memory budget,
/// since each level is measured expanded: about 3,000 levels at 64 MiB).
pub(crate) const MAX_STACK_DEPTH: usize = 24 * 1024 * 1024;
/// What a slot of an array or object counts.
const SLOT: u64 = std::mem::size_of::<Val>() as u64;

/// jaq's data type for Saker: values are `jaq_json::Val`, the context carries the meter.
pub(crate) struct Metered;

impl DataT for Metered {
    type V<'a> = Val;
    type Data<'a> = Env<'a>;
}

/// What every filter of a run can reach: the compiled program and the meter.
#[derive(Clone)]
pub(crate) struct Env<'a> {
    pub lut: &'a jaq_core::Lut<Metered>,
    pub meter: &'a Meter<'a>,
}

impl<'a> HasLut<'a, Metered> for Env<'a> {
    /// Called by jaq before it evaluates any term: one step.
    fn lut(&self) -> &'a jaq_core::Lut<Metered> {
        self.meter.tick();
        self.lut
    }
}

/// The part of the render's budget given to one jq run.
pub(crate) struct Meter<'a> {
    steps_left: Cell<u64>,
    bytes_left: Cell<u64>,
    steps_used: Cell<u64>,
    bytes_used: Cell<u64>,
    /// The render's limits, for the messages.
    max_steps: u64,
    max_bytes: u64,
    cancel: Option<&'a AtomicBool>,
    deadline: Option<Instant>,
    stack_base: usize,
    stopped: Cell<Option<ErrorKind>>,
}

/// The payload of the unwind that stops a run.
pub(crate) struct Stopped;

impl<'a> Meter<'a> {
    pub fn new(
        (steps_left, bytes_left): (u64, u64),
        (max_steps, max_bytes): (u64, u64),
        cancel: Option<&'a AtomicBool>,
        deadline: Option<Instant>,
    ) -> Meter<'a> {
        Meter {
            steps_left: Cell::new(steps_left),
            bytes_left: Cell::new(bytes_left),
            steps_used: Cell::new(0),
            bytes_used: Cell::new(0),
            max_steps,
            max_bytes,
            cancel,
            deadline,
            stack_base: stack_position(),
            stopped: Cell::new(None),
        }
    }

    /// Steps and bytes this run used.
    pub fn used(&self) -> (u64, u64) {
        (self.steps_used.get(), self.bytes_used.get())
    }

    /// Why the run was stopped, if it was.
    pub fn take_stop(&self) -> Option<ErrorKind> {
        self.stopped.take()
    }

    /// One step: a term evaluated or a value generated.
    pub fn tick(&self) {
        let left = self.steps_left.get();
        if left == 0 {
            self.stop(ErrorKind::StepBudget(self.max_steps));
        }
        self.steps_left.set(left - 1);
        let used = self.steps_used.get() + 1;
        self.steps_used.set(used);
        if used.is_multiple_of(CHECK_EVERY)
            && let Err(kind) = interrupted(self.cancel, self.deadline)
        {
            self.stop(kind);
        }
        if self.stack_base.saturating_sub(stack_position()) > MAX_STACK_DEPTH {
            self.stop(ErrorKind::Limit(format!(
                "jq recursion is too deep (more than {} MiB of stack); recurse less deeply",
                MAX_STACK_DEPTH >> 20
            )));
        }
    }

    /// `n` bytes about to be built.
    pub fn alloc(&self, n: u64) {
        let left = self.bytes_left.get();
        if n > left {
            self.stop(ErrorKind::MemoryBudget(self.max_bytes));
        }
        self.bytes_left.set(left - n);
        self.bytes_used.set(self.bytes_used.get() + n);
    }

    fn stop(&self, kind: ErrorKind) -> ! {
        self.stopped.set(Some(kind));
        std::panic::resume_unwind(Box::new(Stopped))
    }
}

/// The address of a local: how deep the stack is, compared with another call's.
#[inline(never)]
fn stack_position() -> usize {
    let here = 0u8;
    std::hint::black_box(&here) as *const u8 as usize
}

/// The size `v` has once expanded (shared parts counted each time they appear), as its JSON
/// text roughly; counted to the meter, which stops the run past the budget, so that walking
/// a value that shares its parts exponentially stops early.
pub(crate) fn measure(v: &Val, meter: &Meter<'_>) {
    const CHUNK: u64 = 4096;
    let mut pending = 0u64;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        pending += match v {
            Val::TStr(b) | Val::BStr(b) => b.len() as u64 + 2,
            Val::Arr(items) => {
                stack.extend(items.iter());
                items.len() as u64 * SLOT + 2
            }
            Val::Obj(map) => {
                for (k, x) in map.iter() {
                    stack.push(k);
                    stack.push(x);
                }
                map.len() as u64 * 2 * SLOT + 2
            }
            _ => 8,
        };
        if pending >= CHUNK {
            meter.alloc(pending);
            pending = 0;
        }
    }
    meter.alloc(pending);
}

fn number(v: &Val) -> Option<f64> {
    match v {
        Val::Num(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

fn len(v: &Val) -> u64 {
    match v {
        Val::TStr(b) | Val::BStr(b) => b.len() as u64,
        Val::Arr(items) => items.len() as u64 * SLOT,
        Val::Obj(map) => map.len() as u64 * 2 * SLOT,
        _ => 0,
    }
}

/// An upper bound of what `l op r` builds, checked before it is built. Adding arrays or
/// objects measures the right side expanded: `. + .` shares its parts, and its expanded size
/// (what printing it writes) doubles each time.
fn math_size(op: Math, l: &Val, r: &Val, meter: &Meter<'_>) -> u64 {
    match (op, l, r) {
        (Math::Add, Val::Arr(_) | Val::Obj(_), _) => {
            measure(r, meter);
            len(l)
        }
        (Math::Mul, Val::TStr(_) | Val::BStr(_), n)
        | (Math::Mul, n, Val::TStr(_) | Val::BStr(_))
            if number(n).is_some() =>
        {
            let s = if number(l).is_some() { r } else { l };
            let times = number(n).unwrap_or(0.0).max(0.0).min(u64::MAX as f64) as u64;
            len(s).saturating_mul(times)
        }
        // Deep merge of objects: at most both, expanded.
        (Math::Mul, Val::Obj(_), Val::Obj(_)) => {
            measure(l, meter);
            measure(r, meter);
            0
        }
        (Math::Div, Val::TStr(_) | Val::BStr(_), _) => len(l) * (SLOT + 1),
        _ => len(l).saturating_add(len(r)),
    }
}

const MATH: [Math; 5] = [Math::Add, Math::Sub, Math::Mul, Math::Div, Math::Rem];
/// The names the rewritten program calls arithmetic by, in the order of [`MATH`].
pub(crate) const MATH_NAMES: [&str; 5] = [
    "_saker_add",
    "_saker_sub",
    "_saker_mul",
    "_saker_div",
    "_saker_rem",
];

fn math<const OP: usize>(mut cv: Cv<'_, Metered>) -> ValXs<'_, Val> {
    let r = cv.0.pop_var();
    let l = cv.0.pop_var();
    let meter = cv.0.data().meter;
    let op = MATH[OP];
    meter.alloc(math_size(op, &l, &r, meter));
    bome(op.run(l, r))
}

/// jaq's `range/3`, counting a step per value.
fn range(mut cv: Cv<'_, Metered>) -> ValXs<'_, Val> {
    use core::cmp::Ordering::{Equal, Greater, Less};
    let by = cv.0.pop_var();
    let to = cv.0.pop_var();
    let from = cv.0.pop_var();
    let meter = cv.0.data().meter;
    let cmp = by.partial_cmp(&Val::from(0isize)).unwrap_or(Equal);
    let mut next = Ok(from);
    Box::new(core::iter::from_fn(move || {
        meter.tick();
        match next.clone() {
            Ok(x) => {
                let more = match cmp {
                    Greater => x < to,
                    Less => x > to,
                    Equal => x != to,
                };
                more.then(|| {
                    let after = (x + by.clone()).map_err(Exn::from);
                    core::mem::replace(&mut next, after)
                })
            }
            Err(e) => {
                next = Ok(to.clone());
                Some(Err(e))
            }
        }
    }))
}

/// The natives the rewritten program calls, and the metered `range`.
pub(crate) fn natives() -> impl Iterator<Item = Fun<Metered>> {
    let math: [Fun<Metered>; 5] = [
        run((MATH_NAMES[0], v(2), |cv| math::<0>(cv))),
        run((MATH_NAMES[1], v(2), |cv| math::<1>(cv))),
        run((MATH_NAMES[2], v(2), |cv| math::<2>(cv))),
        run((MATH_NAMES[3], v(2), |cv| math::<3>(cv))),
        run((MATH_NAMES[4], v(2), |cv| math::<4>(cv))),
    ];
    let others: [Fun<Metered>; 4] = [
        run(("range", v(3), |cv| range(cv))),
        // An element collected into an array: its slot, and its expanded size, since the
        // same value collected twice is shared (`[., .]`).
        run(("_saker_item", v(0), |cv| {
            let meter = cv.0.data().meter;
            meter.alloc(SLOT);
            measure(&cv.1, meter);
            box_once(Ok(cv.1))
        })),
        run(("_saker_measure_wide", v(0), |cv| {
            let meter = cv.0.data().meter;
            match &cv.1 {
                Val::TStr(b) | Val::BStr(b) => meter.alloc(b.len() as u64 * SLOT),
                other => measure(other, meter),
            }
            box_once(Ok(cv.1))
        })),
        // Transparent to paths and updates, so that `..` and `path(...)` can be measured.
        (
            "_saker_measure",
            v(0),
            Native::<Metered>::new(|cv| {
                measure(&cv.1, cv.0.data().meter);
                box_once(Ok(cv.1))
            })
            .with_paths(|cv| {
                measure(&cv.1.0, cv.0.data().meter);
                box_once(Ok(cv.1))
            })
            .with_update(|cv, f| {
                measure(&cv.1, cv.0.data().meter);
                f(cv.1)
            }),
        ),
    ];
    math.into_iter().chain(others)
}
