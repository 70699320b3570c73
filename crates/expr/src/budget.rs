//! The step and memory budgets of one render, and the caller's cancellation, shared by the
//! template evaluator and jq.
//!
//! A *step* is one expression or statement evaluated by the template engine, or one term
//! evaluated by jq. The *memory* budget counts the bytes of every string, list and map the
//! render builds, intermediate ones included, over the whole render (jq's values and the
//! allocations of its interpreter too): a cumulative count, an upper bound of what the
//! render holds at any one time, cheap to keep and independent of how values are shared.
//! Values that come from the context are not counted: they exist before the render.
//!
//! Cancellation (an `AtomicBool` set from another thread) and the deadline are checked every
//! [`CHECK_EVERY`] steps, so a render stops within a few microseconds of either.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::context::{Limits, RenderEnv};
use crate::error::ErrorKind;
use crate::value::Value;

/// What a slot of a list or map counts.
const SLOT: u64 = std::mem::size_of::<Value>() as u64;

/// Steps between two looks at the cancellation flag and the clock.
pub(crate) const CHECK_EVERY: u64 = 1024;

pub(crate) struct Budget<'e> {
    steps: u64,
    bytes: u64,
    max_steps: u64,
    max_bytes: u64,
    cancel: Option<&'e AtomicBool>,
    deadline: Option<Instant>,
}

impl<'e> Budget<'e> {
    pub fn new(env: &RenderEnv<'e>) -> Budget<'e> {
        let Limits {
            max_steps,
            max_value_bytes,
            ..
        } = env.limits;
        Budget {
            steps: 0,
            bytes: 0,
            max_steps,
            max_bytes: max_value_bytes,
            cancel: env.cancel,
            deadline: env.deadline,
        }
    }

    /// Counts `n` steps.
    pub fn steps(&mut self, n: u64) -> Result<(), ErrorKind> {
        let before = self.steps;
        self.steps = self.steps.saturating_add(n);
        if self.steps > self.max_steps {
            return Err(ErrorKind::StepBudget(self.max_steps));
        }
        if before / CHECK_EVERY != self.steps / CHECK_EVERY {
            self.interrupted()?;
        }
        Ok(())
    }

    /// Counts `n` bytes of values built.
    pub fn bytes(&mut self, n: u64) -> Result<(), ErrorKind> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > self.max_bytes {
            return Err(ErrorKind::MemoryBudget(self.max_bytes));
        }
        Ok(())
    }

    /// Counts the bytes of a value just built (see [`shallow_size`]).
    pub fn built(&mut self, v: &Value) -> Result<(), ErrorKind> {
        self.bytes(shallow_size(v))
    }

    /// Counts the expanded size of values put into a list or map literal (parts they share
    /// counted each time they appear, as printing writes them): `[x, x]` shares `x`, and
    /// nesting it doubles what printing or jq would expand without doubling memory. Counting
    /// stops as soon as the budget is exceeded.
    pub fn put_into_container<'v>(
        &mut self,
        parts: impl IntoIterator<Item = &'v Value>,
    ) -> Result<(), ErrorKind> {
        const CHUNK: u64 = 4096;
        let mut stack: Vec<&Value> = parts.into_iter().collect();
        let mut pending = 0u64;
        while let Some(v) = stack.pop() {
            pending += match v {
                Value::String(s, _) => s.len() as u64 + 2,
                Value::List(items, _) => {
                    stack.extend(items.iter());
                    items.len() as u64 * SLOT
                }
                Value::Map(map, _) => {
                    let mut keys = 0;
                    for (k, x) in map.iter() {
                        keys += k.len() as u64 + 2 * SLOT;
                        stack.push(x);
                    }
                    keys
                }
                _ => 8,
            };
            if pending >= CHUNK {
                self.bytes(pending)?;
                pending = 0;
            }
        }
        self.bytes(pending)
    }

    /// Steps and bytes left, for jq's own meter.
    pub fn remaining(&self) -> (u64, u64) {
        (
            self.max_steps.saturating_sub(self.steps),
            self.max_bytes.saturating_sub(self.bytes),
        )
    }

    pub fn limits(&self) -> (u64, u64) {
        (self.max_steps, self.max_bytes)
    }

    pub fn cancel_flag(&self) -> Option<&'e AtomicBool> {
        self.cancel
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The caller's cancellation or deadline, if either has come.
    pub fn interrupted(&self) -> Result<(), ErrorKind> {
        interrupted(self.cancel, self.deadline)
    }
}

pub(crate) fn interrupted(
    cancel: Option<&AtomicBool>,
    deadline: Option<Instant>,
) -> Result<(), ErrorKind> {
    if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
        return Err(ErrorKind::Cancelled);
    }
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return Err(ErrorKind::DeadlineExceeded);
    }
    Ok(())
}

/// What building `v` allocated, not counting the parts it shares with other values: a
/// string's bytes, a list's or map's slots (their elements are counted when built).
pub(crate) fn shallow_size(v: &Value) -> u64 {
    match v {
        Value::String(s, _) => s.len() as u64,
        Value::List(items, _) => items.len() as u64 * SLOT,
        Value::Map(map, _) => map.keys().map(|k| k.len() as u64 + 2 * SLOT).sum::<u64>(),
        _ => 0,
    }
}
