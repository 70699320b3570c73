//! The append-only audit trail and its tamper evidence, behind the object-safe, synchronous
//! [`AuditLog`] trait.
//!
//! Every event carries `prev_hash`, the hash of the event before it (a fixed genesis value for
//! the first), and `hash` = SHA-256 over a canonical encoding of its own fields and
//! `prev_hash` ([`chain_hash`]). A separate head record holds the last event's sequence number
//! and hash. [`verify_audit`] walks the chain in `seq` order and names the first event that
//! was edited, deleted, reordered or inserted by hand.
//!
//! What this proves: that the rows were not changed behind the back of the code that appends
//! them. Someone who can write to the database and recompute SHA-256 over a whole rewritten
//! tail (head included) is not detected; copying the head hash elsewhere from time to time
//! (`saker audit verify` prints it) anchors the trail against that too. No key is involved, so
//! the store still knows no cryptography that protects values.
//!
//! An event never holds a secret value: callers put names, ids, outcomes and error messages
//! (which by the secrets crate's rules never contain values) in it.

use std::fmt;
use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::Result;

/// `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain label hashed in front of every event, with the encoding's version.
const HASH_LABEL: &[u8] = b"saker-audit-event/v1";

/// An event to append. Times are kept to the microsecond (the stored precision).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub timestamp: DateTime<Utc>,
    pub tenant: String,
    pub namespace: Option<String>,
    pub key: Option<String>,
    /// What was attempted: `read`, `write`, `delete`, `rekey`...
    pub action: String,
    /// Who: a user, a token, `cli:alice`, `execution`...
    pub actor: String,
    /// The Saker service that acted (`WORKER`...).
    pub service: Option<String>,
    pub execution_id: Option<String>,
    pub flow_id: Option<String>,
    pub task_run_id: Option<String>,
    /// `success`, `denied` or `failed`.
    pub outcome: String,
    /// Why it was denied or failed, a version number, a reason. Never a value.
    pub detail: Option<String>,
}

impl AuditEvent {
    /// The event as it will be stored: its timestamp cut to whole microseconds.
    pub fn normalized(&self) -> Self {
        let mut event = self.clone();
        let micros = event.timestamp.timestamp_micros();
        if let Some(at) = DateTime::<Utc>::from_timestamp_micros(micros) {
            event.timestamp = at;
        }
        event
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Position in the trail, from 1, strictly increasing in append order.
    pub seq: i64,
    pub event: AuditEvent,
    pub prev_hash: String,
    pub hash: String,
}

/// The head record: the last appended event, kept apart from the events so that deleting
/// the newest events is noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
}

/// Which events [`AuditLog::list_audit`] returns, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub tenant: Option<String>,
    /// This namespace and those below it (`company` matches `company.team`, not `companyx`).
    pub namespace: Option<String>,
    pub key: Option<String>,
    /// Exact actor.
    pub actor: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// At or before.
    pub until: Option<DateTime<Utc>>,
    /// Only events with a greater `seq` (paging).
    pub after_seq: Option<i64>,
    /// At most this many.
    pub limit: Option<u32>,
}

/// One step of [`AuditLog::walk_audit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditStep {
    /// Always first: the head record, `None` if there is none.
    Head(Option<AuditHead>),
    /// The next event in `seq` order (boxed: events are large, the other steps small).
    Event(Box<AuditRecord>),
    /// A row whose columns do not decode (a text where a time belongs...).
    Unreadable { seq: i64, detail: String },
}

/// The audit trail.
///
/// # Contract (every backend must keep it)
///
/// **Append.** [`AuditLog::append_audit`] is one transaction that reads the head, assigns the
/// next `seq`, computes [`chain_hash`] over the normalized event and the head's hash (the
/// genesis hash if there is no head), inserts the event and moves the head. Appends are
/// serialised, so the chain never forks, whatever the number of writers.
///
/// **Walk.** [`AuditLog::walk_audit`] gives the head and then every row in `seq` order from
/// one consistent snapshot, until the visitor breaks.
///
/// **Never** updates or deletes an event, and never logs one.
pub trait AuditLog: Send + Sync {
    /// Appends an event and returns it as stored.
    fn append_audit(&self, event: &AuditEvent) -> Result<AuditRecord>;

    /// Events matching the filter, oldest first.
    fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>>;

    /// Walks the whole trail (see the contract).
    fn walk_audit(
        &self,
        visit: &mut (dyn FnMut(AuditStep) -> ControlFlow<()> + Send),
    ) -> Result<()>;

    /// The `seq` of an event whose stored hash is `hash`, if any (the lowest if several).
    fn find_audit_hash(&self, hash: &str) -> Result<Option<i64>>;
}

/// The hash of an event: SHA-256 over a label, then `prev_hash` and every field of the
/// normalized event in a fixed order, each written as a presence byte and, when present, a
/// u64 big-endian length and the UTF-8 bytes. Lower-case hex. `seq` is not hashed: order is
/// what `prev_hash` links, so a moved row breaks the links around it instead.
pub fn chain_hash(prev_hash: &str, event: &AuditEvent) -> String {
    let event = event.normalized();
    let mut hasher = Sha256::new();
    hasher.update(HASH_LABEL);
    let micros = event.timestamp.timestamp_micros().to_string();
    let fields: [Option<&str>; 13] = [
        Some(prev_hash),
        Some(&micros),
        Some(&event.tenant),
        event.namespace.as_deref(),
        event.key.as_deref(),
        Some(&event.action),
        Some(&event.actor),
        event.service.as_deref(),
        event.execution_id.as_deref(),
        event.flow_id.as_deref(),
        event.task_run_id.as_deref(),
        Some(&event.outcome),
        event.detail.as_deref(),
    ];
    for field in fields {
        match field {
            None => hasher.update([0u8]),
            Some(text) => {
                hasher.update([1u8]);
                hasher.update((text.len() as u64).to_be_bytes());
                hasher.update(text.as_bytes());
            }
        }
    }
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// How the chain is broken, at [`ChainBreak::seq`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakKind {
    /// The event's fields (or its hashes) were changed: its hash does not match them.
    Edited,
    /// The row cannot even be read.
    Unreadable(String),
    /// The event that should come here was deleted: the next surviving event links to a hash
    /// no event has. `next` is the `seq` of that surviving event.
    Deleted { next: i64 },
    /// The event is out of order: it links to the event now at `follows`.
    Reordered { follows: i64 },
    /// The head says the trail ends at `head_seq`, but the trail ends before it: the newest
    /// events were deleted.
    TailDeleted { head_seq: i64 },
    /// The event is beyond the head, or the last event does not match the head: written by
    /// hand.
    NotAppended,
    /// The trail has events but no head record.
    HeadMissing,
}

/// The first problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The event that was edited, deleted, moved or inserted (for a deletion, the first
    /// missing `seq` when the numbering shows a gap, else the event after the deletion).
    pub seq: i64,
    pub kind: BreakKind,
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seq = self.seq;
        match &self.kind {
            BreakKind::Edited => write!(
                f,
                "event {seq} was edited: its hash does not match its contents"
            ),
            BreakKind::Unreadable(detail) => {
                write!(f, "event {seq} was edited and cannot be read: {detail}")
            }
            BreakKind::Deleted { next } => write!(
                f,
                "event {seq} was deleted: event {next} links to an event that no longer exists"
            ),
            BreakKind::Reordered { follows } => write!(
                f,
                "event {seq} was reordered: it was appended after event {follows}"
            ),
            BreakKind::TailDeleted { head_seq } => write!(
                f,
                "event {seq} was deleted: the trail ends before it, but its head says it ends at \
                 event {head_seq}"
            ),
            BreakKind::NotAppended => write!(
                f,
                "event {seq} was inserted or rewritten by hand: it does not match the trail's head"
            ),
            BreakKind::HeadMissing => write!(
                f,
                "the trail's head record is missing (deleted by hand); the last event is {seq}"
            ),
        }
    }
}

/// What [`verify_audit`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    /// Events checked before the first problem (all of them if there is none).
    pub verified: u64,
    /// The head record as read.
    pub head: Option<AuditHead>,
    /// The first problem, if any.
    pub problem: Option<ChainBreak>,
}

impl AuditReport {
    /// True when the whole trail checks out.
    pub fn is_intact(&self) -> bool {
        self.problem.is_none()
    }
}

/// Walks the whole trail and reports the first event that was edited, deleted, reordered or
/// inserted by hand (see the module documentation for what this does and does not prove).
pub fn verify_audit(log: &dyn AuditLog) -> Result<AuditReport> {
    struct Walk {
        head: Option<AuditHead>,
        expected_prev: String,
        last_seq: Option<i64>,
        verified: u64,
        problem: Option<ChainBreak>,
        /// An event whose `prev_hash` links to nothing before it: classified after the walk.
        broken_link: Option<(i64, String)>,
    }
    let mut walk = Walk {
        head: None,
        expected_prev: GENESIS_HASH.to_owned(),
        last_seq: None,
        verified: 0,
        problem: None,
        broken_link: None,
    };
    log.walk_audit(&mut |step| {
        let record = match step {
            AuditStep::Head(head) => {
                walk.head = head;
                return ControlFlow::Continue(());
            }
            AuditStep::Unreadable { seq, detail } => {
                walk.problem = Some(ChainBreak {
                    seq,
                    kind: BreakKind::Unreadable(detail),
                });
                return ControlFlow::Break(());
            }
            AuditStep::Event(record) => *record,
        };
        if chain_hash(&record.prev_hash, &record.event) != record.hash {
            walk.problem = Some(ChainBreak {
                seq: record.seq,
                kind: BreakKind::Edited,
            });
            return ControlFlow::Break(());
        }
        if record.prev_hash != walk.expected_prev {
            walk.broken_link = Some((record.seq, record.prev_hash));
            return ControlFlow::Break(());
        }
        if walk.head.as_ref().is_some_and(|head| record.seq > head.seq) {
            walk.problem = Some(ChainBreak {
                seq: record.seq,
                kind: BreakKind::NotAppended,
            });
            return ControlFlow::Break(());
        }
        walk.expected_prev = record.hash;
        walk.last_seq = Some(record.seq);
        walk.verified += 1;
        ControlFlow::Continue(())
    })?;

    if let Some((seq, prev_hash)) = walk.broken_link {
        let linked = log.find_audit_hash(&prev_hash)?.filter(|&at| at != seq);
        walk.problem = Some(match linked {
            Some(follows) => ChainBreak {
                seq,
                kind: BreakKind::Reordered { follows },
            },
            None => {
                let first_missing = walk.last_seq.map_or(1, |last| last + 1);
                ChainBreak {
                    seq: if first_missing < seq {
                        first_missing
                    } else {
                        seq
                    },
                    kind: BreakKind::Deleted { next: seq },
                }
            }
        });
    }
    if walk.problem.is_none() {
        walk.problem = match (&walk.head, walk.last_seq) {
            (None, None) => None,
            (None, Some(last)) => Some(ChainBreak {
                seq: last,
                kind: BreakKind::HeadMissing,
            }),
            (Some(head), last) if last.is_none_or(|last| last < head.seq) => Some(ChainBreak {
                seq: last.map_or(1, |last| last + 1),
                kind: BreakKind::TailDeleted { head_seq: head.seq },
            }),
            (Some(head), Some(last)) if head.seq != last || head.hash != walk.expected_prev => {
                Some(ChainBreak {
                    seq: last,
                    kind: BreakKind::NotAppended,
                })
            }
            _ => None,
        };
    }
    Ok(AuditReport {
        verified: walk.verified,
        head: walk.head,
        problem: walk.problem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(actor: &str) -> AuditEvent {
        AuditEvent {
            timestamp: DateTime::<Utc>::from_timestamp_micros(1_764_000_000_000_000).unwrap(),
            tenant: "main".into(),
            namespace: Some("company".into()),
            key: Some("API_TOKEN".into()),
            action: "read".into(),
            actor: actor.into(),
            service: Some("WORKER".into()),
            execution_id: None,
            flow_id: None,
            task_run_id: None,
            outcome: "success".into(),
            detail: None,
        }
    }

    #[test]
    fn hash_depends_on_every_field_and_on_presence() {
        let base = event("alice");
        let h = chain_hash(GENESIS_HASH, &base);
        assert_eq!(h.len(), 64);
        assert_eq!(h, chain_hash(GENESIS_HASH, &base.clone()));
        assert_ne!(h, chain_hash(&"1".repeat(64), &base));
        let mut other = base.clone();
        other.actor = "bob".into();
        assert_ne!(h, chain_hash(GENESIS_HASH, &other));
        // None and Some("") differ.
        let mut empty = base.clone();
        empty.detail = Some(String::new());
        assert_ne!(h, chain_hash(GENESIS_HASH, &empty));
        // Moving text between adjacent fields changes the hash.
        let mut a = base.clone();
        a.flow_id = Some("ab".into());
        a.task_run_id = Some("c".into());
        let mut b = base.clone();
        b.flow_id = Some("a".into());
        b.task_run_id = Some("bc".into());
        assert_ne!(chain_hash(GENESIS_HASH, &a), chain_hash(GENESIS_HASH, &b));
    }

    #[test]
    fn sub_microsecond_precision_does_not_change_the_hash() {
        let base = event("alice");
        let mut finer = base.clone();
        finer.timestamp += chrono::Duration::nanoseconds(999);
        assert_eq!(
            chain_hash(GENESIS_HASH, &base),
            chain_hash(GENESIS_HASH, &finer)
        );
        assert_eq!(finer.normalized(), base);
    }

    #[test]
    fn break_messages_name_the_event() {
        let cases = [
            (BreakKind::Edited, "event 4 was edited"),
            (BreakKind::Deleted { next: 5 }, "event 4 was deleted"),
            (BreakKind::Reordered { follows: 5 }, "event 4 was reordered"),
            (
                BreakKind::TailDeleted { head_seq: 9 },
                "event 4 was deleted",
            ),
            (BreakKind::NotAppended, "event 4 was inserted"),
        ];
        for (kind, text) in cases {
            let message = ChainBreak { seq: 4, kind }.to_string();
            assert!(message.starts_with(text), "{message}");
        }
    }
}
