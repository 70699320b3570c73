//! Mask sets, and how long they live.
//!
//! * Each running execution has its own set ([`ExecutionMasks`]): every secret resolved in
//!   it, every SECRET input and sealed output opened for it, and every tainted string its
//!   templates produced. Everything a task emits passes through it before it is stored or
//!   shown. It lives as long as the execution runs: the executor removes it from the
//!   [`MaskRegistry`] when the execution ends (success, failure, kill, or an execution
//!   resumed after a restart, which ends through the same executor path), and the values it
//!   held are zeroised when the last task holding it lets go.
//! * The process-wide set ([`process_masks`]) masks Saker's own tracing log. It holds only
//!   raw secret values resolved recently, never derived ones: at most
//!   [`PROCESS_MAX_VALUES`] values, each dropped [`PROCESS_MAX_AGE`] after it was last
//!   resolved, replaced as soon as a secret resolves to a new value, and dropped when it
//!   fails to resolve. The engine is not told when a secret is revoked, so a revoked value
//!   nobody asks for again stays until it ages out or is pushed out by newer ones.
//!
//! An execution's set grows in one place, [`grow`], in place; the process-wide set is a
//! `saker_mask::BoundedMaskSet`, which inserts, evicts and removes in place. Adding or removing a
//! value indexes or wipes only that value's forms, whatever the set's size.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use saker_expr::Rendered;
use saker_mask::{BoundedMaskSet, MaskLimits, MaskSet};
use zeroize::Zeroizing;

/// The most raw secret values the process-wide set keeps.
pub const PROCESS_MAX_VALUES: usize = 1024;
/// How long the process-wide set keeps a value after it was last resolved.
pub const PROCESS_MAX_AGE: Duration = Duration::from_secs(60 * 60);

/// Adds `values` to `set` in place: only their own forms are indexed, nothing already there
/// is rebuilt. The one place a set grows.
fn grow(set: &mut MaskSet, values: &[&str]) {
    for value in values {
        // A value under the mask minimum is not indexed; the warning it returns is for
        // whoever stores the secret, not for every execution that reads it.
        let _ = set.insert(value);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The set that masks Saker's own log (the tracing output).
pub fn process_masks() -> &'static ProcessMasks {
    static PROCESS: OnceLock<ProcessMasks> = OnceLock::new();
    PROCESS.get_or_init(|| ProcessMasks::with_limits(PROCESS_MAX_VALUES, PROCESS_MAX_AGE))
}

/// Raw secret values resolved recently by this process, bounded in number and age. The values
/// live in a [`BoundedMaskSet`] (which keeps the most recently used ones within its count and
/// size, evicting in place); this type adds what only the engine knows: which secret each
/// value is, so a new value replaces the old one, and how long since each was last used.
pub struct ProcessMasks {
    max_age: Duration,
    set: BoundedMaskSet,
    state: Mutex<ProcessState>,
}

#[derive(Default)]
struct ProcessState {
    /// Oldest first by last use.
    entries: Vec<ProcessEntry>,
    /// When the least recently used entry ages out.
    next_expiry: Option<Instant>,
}

struct ProcessEntry {
    /// Which secret this is (tenant, namespace, key); `None` for a value added without one.
    identity: Option<String>,
    value: Zeroizing<String>,
    last_used: Instant,
}

impl ProcessMasks {
    /// A set keeping at most `max_values` values, each for `max_age` after its last use.
    #[doc(hidden)]
    pub fn with_limits(max_values: usize, max_age: Duration) -> Self {
        Self {
            max_age,
            set: BoundedMaskSet::new(MaskLimits {
                max_values: max_values.max(1),
                ..MaskLimits::default()
            }),
            state: Mutex::new(ProcessState::default()),
        }
    }

    /// Drops the values past their age, if any is.
    fn expire(&self) {
        let mut state = lock(&self.state);
        if state.next_expiry.is_some_and(|at| Instant::now() >= at) {
            self.settle(&mut state, Vec::new());
        }
    }

    /// The current set (values past their age are dropped first).
    pub fn snapshot(&self) -> MaskSet {
        self.expire();
        self.set.snapshot()
    }

    /// `text` with every value of the set (and its encodings) masked.
    pub fn mask<'t>(&self, text: &'t str) -> Cow<'t, str> {
        self.expire();
        self.set.mask(text)
    }

    /// Records that secret `identity` (never a value: tenant, namespace, key) resolved to
    /// `value`. A different value than last time replaces the old one, which is dropped.
    pub fn remember(&self, identity: &str, value: &str) {
        if value.is_empty() {
            return;
        }
        let mut state = lock(&self.state);
        let now = Instant::now();
        let mut dropped = Vec::new();
        match state
            .entries
            .iter()
            .position(|e| e.identity.as_deref() == Some(identity))
        {
            Some(i) => {
                let mut entry = state.entries.remove(i);
                if entry.value.as_str() != value {
                    let old = std::mem::replace(&mut entry.value, Zeroizing::new(value.to_owned()));
                    dropped.push(old);
                }
                entry.last_used = now;
                state.entries.push(entry);
            }
            None => {
                // The same value added before without an identity now has one.
                state
                    .entries
                    .retain(|e| e.identity.is_some() || e.value.as_str() != value);
                state.entries.push(ProcessEntry {
                    identity: Some(identity.to_owned()),
                    value: Zeroizing::new(value.to_owned()),
                    last_used: now,
                });
            }
        }
        // Held already: now the most recent. New: indexed, the least recent evicted past the
        // bound.
        let _ = self.set.insert(value);
        self.settle(&mut state, dropped);
    }

    /// Drops the value of secret `identity`: it no longer resolves (deleted, revoked, or
    /// no longer visible from there), so this process has no reason to keep it.
    pub fn forget(&self, identity: &str) {
        let mut state = lock(&self.state);
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut state.entries)
            .into_iter()
            .partition(|e| e.identity.as_deref() == Some(identity));
        state.entries = kept;
        self.settle(&mut state, gone.into_iter().map(|e| e.value).collect());
    }

    /// Adds values that have no secret identity (a webhook key resolved by a trigger).
    pub fn extend<'a>(&self, values: impl IntoIterator<Item = &'a str>) {
        let mut state = lock(&self.state);
        let now = Instant::now();
        for value in values.into_iter().filter(|v| !v.is_empty()) {
            if let Some(i) = state.entries.iter().position(|e| e.value.as_str() == value) {
                let mut entry = state.entries.remove(i);
                entry.last_used = now;
                state.entries.push(entry);
            } else {
                state.entries.push(ProcessEntry {
                    identity: None,
                    value: Zeroizing::new(value.to_owned()),
                    last_used: now,
                });
            }
            let _ = self.set.insert(value);
        }
        self.settle(&mut state, Vec::new());
    }

    /// Drops entries too old, removes from the set the values that left (`dropped`, and those
    /// dropped here) unless another entry still holds them, and forgets the entries whose
    /// value the set evicted to stay within its bound.
    fn settle(&self, state: &mut ProcessState, mut dropped: Vec<Zeroizing<String>>) {
        let now = Instant::now();
        let max_age = self.max_age;
        let (kept, aged): (Vec<_>, Vec<_>) = std::mem::take(&mut state.entries)
            .into_iter()
            .partition(|e| now.saturating_duration_since(e.last_used) < max_age);
        state.entries = kept;
        dropped.extend(aged.into_iter().map(|e| e.value));
        dropped.retain(|v| !state.entries.iter().any(|e| e.value == *v));
        for value in &dropped {
            self.set.remove(value.as_str());
        }
        state
            .entries
            .retain(|e| self.set.contains_value(e.value.as_str()));
        state.next_expiry = state.entries.first().map(|e| e.last_used + max_age);
    }

    /// How many values the set holds (for tests).
    #[doc(hidden)]
    pub fn held_count(&self) -> usize {
        self.expire();
        self.set.len()
    }

    /// Whether the set holds `value` (for tests).
    #[doc(hidden)]
    pub fn holds(&self, value: &str) -> bool {
        self.expire();
        self.set.contains_value(value)
    }
}

impl std::fmt::Debug for ProcessMasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessMasks")
            .field("values", &lock(&self.state).entries.len())
            .finish()
    }
}

/// The text of each tainted range of `rendered`.
pub(crate) fn tainted_pieces(rendered: &Rendered) -> impl Iterator<Item = &str> {
    rendered
        .tainted
        .iter()
        .filter_map(|r| rendered.text.get(r.clone()))
}

/// Where a value of an execution's set came from, named in errors instead of the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaskSource {
    /// `secret('KEY')`.
    Secret(String),
    /// A sealed value opened for the execution: a SECRET input or a sealed output, by path.
    Sealed(String),
}

impl std::fmt::Display for MaskSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaskSource::Secret(key) => write!(f, "secret '{key}'"),
            MaskSource::Sealed(path) => write!(f, "'{path}'"),
        }
    }
}

/// The mask set of one execution; it grows while the execution runs and is dropped, values
/// zeroised, when it ends.
#[derive(Default)]
pub struct ExecutionMasks {
    state: Mutex<ExecutionState>,
}

#[derive(Default)]
struct ExecutionState {
    set: MaskSet,
    /// The secrets and sealed values among the set's values, with where each came from.
    sources: Vec<(MaskSource, Zeroizing<String>)>,
}

impl ExecutionMasks {
    /// Adds values to mask (secret-derived strings); grows the set only for new values.
    pub fn add<'a>(&self, values: impl IntoIterator<Item = &'a str>) {
        let mut state = lock(&self.state);
        let new: Vec<&str> = values
            .into_iter()
            .filter(|v| !v.is_empty() && !state.set.contains_value(v))
            .collect();
        if !new.is_empty() {
            grow(&mut state.set, &new);
        }
    }

    /// Adds what a render says is tainted: every tainted string it produced and the text of
    /// every tainted range (a range joining several pieces is a value no string names), in
    /// one addition.
    pub fn add_rendered(&self, rendered: &Rendered) {
        self.add(
            rendered
                .tainted_strings
                .iter()
                .map(String::as_str)
                .chain(tainted_pieces(rendered)),
        );
    }

    /// Adds a value and remembers where it came from, so that an error can name its
    /// source. Secrets are also remembered process-wide, for Saker's own log.
    pub fn add_source(&self, source: MaskSource, value: &str) {
        if value.is_empty() {
            return;
        }
        self.add([value]);
        let mut state = lock(&self.state);
        if !state
            .sources
            .iter()
            .any(|(s, v)| *s == source && v.as_str() == value)
        {
            state
                .sources
                .push((source, Zeroizing::new(value.to_owned())));
        }
    }

    /// The sources whose value holds `piece` verbatim.
    pub fn sources_containing(&self, piece: &str) -> Vec<MaskSource> {
        let state = lock(&self.state);
        let mut found: Vec<MaskSource> = Vec::new();
        for (source, value) in &state.sources {
            if value.contains(piece) && !found.contains(source) {
                found.push(source.clone());
            }
        }
        found
    }

    /// Every sealed value opened for this execution.
    pub fn sealed_sources(&self) -> Vec<MaskSource> {
        let state = lock(&self.state);
        let mut found: Vec<MaskSource> = Vec::new();
        for (source, _) in &state.sources {
            if matches!(source, MaskSource::Sealed(_)) && !found.contains(source) {
                found.push(source.clone());
            }
        }
        found
    }

    /// `text` with every masked value (and its encodings) replaced by `****`.
    pub fn mask<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match self.snapshot().mask(text) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            Cow::Owned(s) => Cow::Owned(s),
        }
    }

    /// The current set, for a streaming masker.
    pub fn snapshot(&self) -> MaskSet {
        lock(&self.state).set.clone()
    }

    /// How many values the set holds (for tests).
    #[doc(hidden)]
    pub fn held_count(&self) -> usize {
        lock(&self.state).set.len()
    }

    /// Whether the set holds `value` (for tests).
    #[doc(hidden)]
    pub fn holds(&self, value: &str) -> bool {
        lock(&self.state).set.contains_value(value)
    }
}

impl std::fmt::Debug for ExecutionMasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutionMasks")
            .field("values", &self.held_count())
            .finish()
    }
}

/// The mask sets of the executions running in this process, by execution id.
#[derive(Debug, Default)]
pub struct MaskRegistry {
    by_execution: Mutex<HashMap<String, Arc<ExecutionMasks>>>,
}

impl MaskRegistry {
    /// The mask set of an execution, created empty on first use.
    pub fn get(&self, execution_id: &str) -> Arc<ExecutionMasks> {
        lock(&self.by_execution)
            .entry(execution_id.to_owned())
            .or_default()
            .clone()
    }

    /// Forgets an execution's set once it has ended; its values are zeroised when the last
    /// holder (a task still finishing its logs) drops it.
    pub fn remove(&self, execution_id: &str) {
        lock(&self.by_execution).remove(execution_id);
    }

    /// How many executions have a set (for tests).
    #[doc(hidden)]
    pub fn live_count(&self) -> usize {
        lock(&self.by_execution).len()
    }

    /// Whether any execution's set, or the process-wide set, holds `value` (for tests).
    #[doc(hidden)]
    pub fn holds_anywhere(&self, value: &str) -> bool {
        process_masks().holds(value) || lock(&self.by_execution).values().any(|m| m.holds(value))
    }

    /// Whether execution `execution_id` has a set holding `value` (for tests).
    #[doc(hidden)]
    pub fn execution_holds(&self, execution_id: &str, value: &str) -> bool {
        lock(&self.by_execution)
            .get(execution_id)
            .is_some_and(|m| m.holds(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_execution_set_grows_and_names_its_sources() {
        let masks = ExecutionMasks::default();
        masks.add(["derived-value-1"]);
        masks.add_source(MaskSource::Secret("TOKEN".into()), "s3cr3t-value");
        masks.add(["derived-value-1"]);
        assert_eq!(masks.held_count(), 2);
        assert_eq!(masks.mask("x s3cr3t-value y"), "x **** y");
        assert_eq!(
            masks.sources_containing("cr3"),
            vec![MaskSource::Secret("TOKEN".into())]
        );
        assert!(masks.sources_containing("zz").is_empty());
    }

    #[test]
    fn the_process_set_replaces_a_changed_secret_and_is_bounded() {
        let set = ProcessMasks::with_limits(2, PROCESS_MAX_AGE);
        set.remember("main/ns/KEY", "first-value-1");
        set.remember("main/ns/KEY", "second-value-2");
        assert!(!set.holds("first-value-1"), "a rotated value is dropped");
        assert!(set.holds("second-value-2"));
        set.remember("main/ns/OTHER", "other-value-3");
        set.extend(["hook-value-4"]);
        assert_eq!(set.held_count(), 2, "bounded by size, oldest out first");
        assert!(!set.holds("second-value-2"));
        assert!(set.holds("hook-value-4"));
        assert_eq!(set.mask("other-value-3"), "****");
        set.forget("main/ns/OTHER");
        assert!(
            !set.holds("other-value-3"),
            "a secret that no longer resolves is dropped"
        );
    }

    #[test]
    fn a_value_two_secrets_share_stays_while_one_still_holds_it() {
        let set = ProcessMasks::with_limits(10, PROCESS_MAX_AGE);
        set.remember("main/a/KEY", "shared-value-1");
        set.remember("main/b/KEY", "shared-value-1");
        set.remember("main/a/KEY", "rotated-value-2");
        assert!(set.holds("shared-value-1"), "still the value of main/b/KEY");
        set.forget("main/b/KEY");
        assert!(!set.holds("shared-value-1"));
        assert!(set.holds("rotated-value-2"));
    }

    #[test]
    fn the_process_set_forgets_values_past_their_age() {
        let set = ProcessMasks::with_limits(10, Duration::ZERO);
        set.remember("main/ns/KEY", "aged-value-1");
        assert_eq!(set.held_count(), 0);
        assert!(!set.holds("aged-value-1"));
    }
}
