//! The key-value store of flows (Kestra's KV store): one entry per (tenant, namespace, key),
//! behind the object-safe, synchronous [`KvStore`] trait, which every [`Store`](crate::Store)
//! also is, so that the engine reaches it through the store it already holds.
//!
//! A value is stored as JSON text with its Kestra type ([`KvType`]). A value derived from a
//! secret arrives already sealed by the engine (the `{"$sealed": "..."}` document of
//! `saker_model::execution::sealed_value`) with [`KvEntry::sealed`] set: the store never sees
//! its plaintext and only returns what it was given.
//!
//! **Expiry.** An entry whose `expires_at` has passed reads as missing everywhere (get, list,
//! delete, put without overwrite); it is removed by the next read or listing that meets it.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::columns::from_micros;
use crate::{Result, StoreError};

/// Kestra's type of a KV value (`kvType`), stored next to its JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KvType {
    String,
    Number,
    Boolean,
    DateTime,
    Date,
    Duration,
    Json,
}

impl KvType {
    /// Every type, in Kestra's order.
    pub const ALL: [KvType; 7] = [
        KvType::String,
        KvType::Number,
        KvType::Boolean,
        KvType::DateTime,
        KvType::Date,
        KvType::Duration,
        KvType::Json,
    ];

    /// Kestra's name, as stored and shown (`STRING`, `NUMBER`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            KvType::String => "STRING",
            KvType::Number => "NUMBER",
            KvType::Boolean => "BOOLEAN",
            KvType::DateTime => "DATETIME",
            KvType::Date => "DATE",
            KvType::Duration => "DURATION",
            KvType::Json => "JSON",
        }
    }

    /// Reads a name in any case; `None` for anything else.
    pub fn parse(name: &str) -> Option<KvType> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

impl fmt::Display for KvType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the KV store.
///
/// Timestamps are stored with microsecond precision: an entry whose dates have no finer part
/// compares equal after a round trip.
#[derive(Clone, PartialEq, Eq)]
pub struct KvEntry {
    pub tenant: String,
    pub namespace: String,
    pub key: String,
    pub kv_type: KvType,
    /// The value as JSON text; for a sealed entry, the `{"$sealed": "..."}` document.
    pub value: String,
    /// The value was derived from a secret and is stored sealed: it is opened only by the
    /// engine, tainted, and never shown.
    pub sealed: bool,
    pub description: Option<String>,
    /// When the key was first written (kept when an entry is overwritten).
    pub created_at: DateTime<Utc>,
    /// When the value was last written.
    pub updated_at: DateTime<Utc>,
    /// After this instant the entry reads as missing.
    pub expires_at: Option<DateTime<Utc>>,
}

impl KvEntry {
    /// A plain (not sealed) entry written now (to the microsecond, the precision stored),
    /// without description or expiry.
    pub fn new(
        tenant: impl Into<String>,
        namespace: impl Into<String>,
        key: impl Into<String>,
        kv_type: KvType,
        value: impl Into<String>,
    ) -> Self {
        let now = Utc::now();
        let now = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
        Self {
            tenant: tenant.into(),
            namespace: namespace.into(),
            key: key.into(),
            kv_type,
            value: value.into(),
            sealed: false,
            description: None,
            created_at: now,
            updated_at: now,
            expires_at: None,
        }
    }

    /// The entry's id as errors name it: `tenant/namespace/key`.
    pub fn id(&self) -> String {
        entry_id(&self.tenant, &self.namespace, &self.key)
    }

    /// True when the entry has expired at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// Values are shown by length only: even a plain one may be sensitive, and a sealed one's
/// ciphertext is nobody's business in a log.
impl fmt::Debug for KvEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvEntry")
            .field("tenant", &self.tenant)
            .field("namespace", &self.namespace)
            .field("key", &self.key)
            .field("kv_type", &self.kv_type)
            .field("value", &format_args!("<{} bytes>", self.value.len()))
            .field("sealed", &self.sealed)
            .field("description", &self.description)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What [`KvStore::put_kv`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvPut {
    /// No live entry had the key: it was created.
    Created,
    /// A live entry was replaced (its creation date kept).
    Replaced,
    /// A live entry had the key and overwriting was not allowed: nothing changed.
    Kept,
}

/// The key-value store.
///
/// # Contract (every backend must keep it)
///
/// Entries are keyed by (tenant, namespace, key); namespaces are separate (no inheritance
/// here: the caller decides where to look). Each method is one transaction. An entry whose
/// `expires_at` is at or before the current time reads as missing to every method, and the
/// methods that meet one remove it. The store keeps the value text and the `sealed` flag
/// exactly as given. Listing is sorted by key, bytewise. A stored row that cannot be decoded
/// gives [`StoreError::Corrupt`] naming the table and the entry, never its value.
pub trait KvStore: Send + Sync {
    /// Writes `entry`. When a live entry has the key: replaced if `overwrite` (keeping its
    /// `created_at`), else left alone ([`KvPut::Kept`]).
    fn put_kv(&self, entry: &KvEntry, overwrite: bool) -> Result<KvPut>;

    /// The live entry under the key, if any.
    fn get_kv(&self, tenant: &str, namespace: &str, key: &str) -> Result<Option<KvEntry>>;

    /// Deletes the entry; false when there was no live one.
    fn delete_kv(&self, tenant: &str, namespace: &str, key: &str) -> Result<bool>;

    /// The live entries of one namespace whose key starts with `prefix` (all when `None`),
    /// sorted by key.
    fn list_kv(&self, tenant: &str, namespace: &str, prefix: Option<&str>) -> Result<Vec<KvEntry>>;
}

pub(crate) fn entry_id(tenant: &str, namespace: &str, key: &str) -> String {
    format!("{tenant}/{namespace}/{key}")
}

/// The table both backends keep entries in.
pub(crate) const TABLE: &str = "kv_entries";

/// The columns of a row, in the order the backends select them.
pub(crate) const COLUMNS: &str = "tenant, namespace, key, kv_type, value, sealed, description, \
                                  created_at, updated_at, expires_at";

/// How a put treats what is stored under its key, the same on every backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PutAction {
    /// Nothing live under the key: insert (replacing an expired row).
    Insert,
    /// Replace the live row's value, keeping its creation date.
    Update,
    /// Leave the live row alone.
    Keep,
}

/// What to do with a put, given the expiry of the row stored under the key (`None`: no row;
/// `Some(None)`: a row that never expires) at `now` (microseconds).
pub(crate) fn put_action(stored: Option<Option<i64>>, now: i64, overwrite: bool) -> PutAction {
    match stored {
        Some(expires_at) if expires_at.is_none_or(|at| at > now) => {
            if overwrite {
                PutAction::Update
            } else {
                PutAction::Keep
            }
        }
        _ => PutAction::Insert,
    }
}

impl PutAction {
    pub(crate) fn outcome(self) -> KvPut {
        match self {
            PutAction::Insert => KvPut::Created,
            PutAction::Update => KvPut::Replaced,
            PutAction::Keep => KvPut::Kept,
        }
    }
}

/// The entry `read` found, unless it expired: then `remove_expired` takes it away and the
/// answer is `None`. How every backend's get treats expiry.
pub(crate) fn live_entry(
    read: impl FnOnce() -> Result<Option<KvEntry>>,
    remove_expired: impl FnOnce() -> Result<()>,
) -> Result<Option<KvEntry>> {
    match read()? {
        Some(entry) if entry.is_expired(Utc::now()) => {
            remove_expired()?;
            Ok(None)
        }
        other => Ok(other),
    }
}

/// The live entries of a namespace listing whose key starts with `prefix`; when an expired
/// one was met, `remove_expired` takes them away. How every backend's listing treats expiry.
pub(crate) fn live_entries(
    entries: Vec<KvEntry>,
    prefix: Option<&str>,
    remove_expired: impl FnOnce() -> Result<()>,
) -> Result<Vec<KvEntry>> {
    let now = Utc::now();
    let mut expired = false;
    let live = entries
        .into_iter()
        .filter(|e| {
            let gone = e.is_expired(now);
            expired |= gone;
            !gone && prefix.is_none_or(|p| e.key.starts_with(p))
        })
        .collect();
    if expired {
        remove_expired()?;
    }
    Ok(live)
}

/// The upsert both backends run for [`PutAction::Insert`] and [`PutAction::Update`], with
/// their bind marker before each number (`?` or `$`): parameter 11 is true for an update,
/// which keeps the stored creation date.
pub(crate) fn upsert_sql(marker: char) -> String {
    let m = |n: u8| format!("{marker}{n}");
    format!(
        "INSERT INTO kv_entries ({COLUMNS}) \
         VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}) \
         ON CONFLICT (tenant, namespace, key) DO UPDATE SET \
           kv_type = excluded.kv_type, value = excluded.value, sealed = excluded.sealed, \
           description = excluded.description, updated_at = excluded.updated_at, \
           expires_at = excluded.expires_at, \
           created_at = CASE WHEN {} THEN kv_entries.created_at ELSE excluded.created_at END",
        m(1),
        m(2),
        m(3),
        m(4),
        m(5),
        m(6),
        m(7),
        m(8),
        m(9),
        m(10),
        m(11)
    )
}

/// A row as stored, before its type and timestamps are checked.
pub(crate) struct RawKvEntry {
    pub(crate) tenant: String,
    pub(crate) namespace: String,
    pub(crate) key: String,
    pub(crate) kv_type: String,
    pub(crate) value: String,
    pub(crate) sealed: bool,
    pub(crate) description: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) expires_at: Option<i64>,
}

impl RawKvEntry {
    /// The entry, or [`StoreError::Corrupt`] naming the row (never its value).
    pub(crate) fn into_entry(self) -> Result<KvEntry> {
        let corrupt = |detail: String| StoreError::Corrupt {
            table: TABLE,
            id: entry_id(&self.tenant, &self.namespace, &self.key),
            detail,
        };
        let kv_type = KvType::parse(&self.kv_type)
            .ok_or_else(|| corrupt("kv_type is not a known type".to_owned()))?;
        let date = |micros: i64, column: &str| {
            from_micros(micros).ok_or_else(|| corrupt(format!("{column} is out of range")))
        };
        let created_at = date(self.created_at, "created_at")?;
        let updated_at = date(self.updated_at, "updated_at")?;
        let expires_at = self
            .expires_at
            .map(|micros| date(micros, "expires_at"))
            .transpose()?;
        Ok(KvEntry {
            tenant: self.tenant,
            namespace: self.namespace,
            key: self.key,
            kv_type,
            value: self.value,
            sealed: self.sealed,
            description: self.description,
            created_at,
            updated_at,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawKvEntry {
        RawKvEntry {
            tenant: "main".into(),
            namespace: "company.team".into(),
            key: "k".into(),
            kv_type: "NUMBER".into(),
            value: "42".into(),
            sealed: false,
            description: None,
            created_at: 1_764_000_000_000_000,
            updated_at: 1_764_000_000_000_001,
            expires_at: None,
        }
    }

    #[test]
    fn types_read_in_any_case_and_print_as_kestra_names() {
        for t in KvType::ALL {
            assert_eq!(KvType::parse(t.as_str()), Some(t));
            assert_eq!(KvType::parse(&t.as_str().to_lowercase()), Some(t));
        }
        assert_eq!(KvType::parse("TEXT"), None);
    }

    #[test]
    fn a_row_with_an_unknown_type_or_date_is_corrupt_and_names_the_key_only() {
        let mut bad_type = raw();
        bad_type.kv_type = "TEXT".into();
        let mut bad_date = raw();
        bad_date.expires_at = Some(i64::MAX);
        for row in [bad_type, bad_date] {
            let err = row.into_entry().unwrap_err();
            assert!(
                matches!(&err, StoreError::Corrupt { table: "kv_entries", id, .. }
                    if id == "main/company.team/k"),
                "{err}"
            );
            assert!(!err.to_string().contains("42"), "{err}");
        }
        assert_eq!(raw().into_entry().unwrap().kv_type, KvType::Number);
    }

    #[test]
    fn debug_shows_no_value() {
        let entry = raw().into_entry().unwrap();
        let shown = format!("{entry:?}");
        assert!(
            shown.contains("<2 bytes>") && !shown.contains("\"42\""),
            "{shown}"
        );
    }
}
