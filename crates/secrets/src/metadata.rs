//! What a store knows about a secret besides its value, shaped for the lifecycle of seed 004
//! (creation, storage, access, rotation, revocation, auditing) and issue 4 point 7.
//! Everything here is safe to show in the API and CLI: no type in this module holds a value
//! except [`SecretWrite`], whose value prints as `[REDACTED]`.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::namespace::Namespace;
use crate::value::SecretValue;

/// Where a secret is in its lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum SecretState {
    /// Readable.
    Active,
    /// Disabled because it is (or may be) compromised. Resolution fails with "revoked" and
    /// does not fall back to a parent namespace; putting a new value makes a new, active
    /// version, and revoked versions cannot be rolled back to.
    Revoked {
        /// When it was revoked.
        at: DateTime<Utc>,
        /// Why, as the operator wrote it.
        reason: Option<String>,
    },
    /// Soft-deleted: invisible to resolution (which continues with the parent namespace)
    /// until restored, or destroyed for good.
    Deleted {
        /// When it was deleted.
        at: DateTime<Utc>,
    },
}

/// Metadata of one secret in one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretMetadata {
    /// The key, as the backend spells it.
    pub key: String,
    /// The namespace holding it; `None` for backends whose secrets every namespace sees (the
    /// env backend).
    pub namespace: Option<Namespace>,
    /// Free-text description.
    pub description: Option<String>,
    /// Tags (merged with the backend's configured default tags by the service).
    pub tags: BTreeMap<String, String>,
    /// Current version, starting at 1; backends without history always report 1.
    pub version: u64,
    /// First version written.
    pub created_at: Option<DateTime<Utc>>,
    /// Current version written.
    pub updated_at: Option<DateTime<Utc>>,
    /// Last resolved (recorded by the service; may lag by its batching interval).
    pub last_read_at: Option<DateTime<Utc>>,
    /// After this instant resolution fails with "expired".
    pub expires_at: Option<DateTime<Utc>>,
    /// How often the value should be rotated; drives `saker secret list --due`.
    #[serde(default, with = "crate::duration::option_serde")]
    pub rotation_period: Option<Duration>,
    /// Lifecycle state.
    pub state: SecretState,
}

impl SecretMetadata {
    /// Metadata of an active version-1 secret with nothing else known.
    pub fn new(key: impl Into<String>, namespace: Option<Namespace>) -> Self {
        Self {
            key: key.into(),
            namespace,
            description: None,
            tags: BTreeMap::new(),
            version: 1,
            created_at: None,
            updated_at: None,
            last_read_at: None,
            expires_at: None,
            rotation_period: None,
            state: SecretState::Active,
        }
    }

    /// True once `expires_at` has passed.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// True when the secret is not yet expired but will be within `window` (the service
    /// then warns in the execution log).
    pub fn expires_within(&self, now: DateTime<Utc>, window: Duration) -> bool {
        let Some(at) = self.expires_at else {
            return false;
        };
        let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        at > now
            && now
                .checked_add_signed(window)
                .is_none_or(|limit| at <= limit)
    }

    /// When the value is due for rotation: last update (or creation) plus the rotation
    /// period. `None` without a period or without timestamps.
    pub fn rotation_due_at(&self) -> Option<DateTime<Utc>> {
        let period = chrono::Duration::from_std(self.rotation_period?).ok()?;
        self.updated_at
            .or(self.created_at)?
            .checked_add_signed(period)
    }

    /// True when [`SecretMetadata::rotation_due_at`] has passed.
    pub fn is_rotation_due(&self, now: DateTime<Utc>) -> bool {
        self.rotation_due_at().is_some_and(|due| due <= now)
    }
}

/// One stored version of a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretVersion {
    /// Version number, from 1.
    pub version: u64,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// Who wrote it (user or token name), when known.
    pub created_by: Option<String>,
    /// Its value was destroyed (only the record remains) or it was revoked; either way it
    /// cannot be rolled back to.
    pub available: bool,
}

/// A metadata change; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataUpdate {
    /// New description.
    pub description: Option<Option<String>>,
    /// New tags, replacing the old ones entirely.
    pub tags: Option<BTreeMap<String, String>>,
    /// New expiry.
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// New rotation period.
    pub rotation_period: Option<Option<Duration>>,
}

/// A new value for a secret (a new version), with optional metadata changes.
#[derive(Debug, Clone)]
pub struct SecretWrite {
    /// The value.
    pub value: SecretValue,
    /// Metadata to change along with it.
    pub update: MetadataUpdate,
    /// Check-and-set: `Some(0)` creates only if absent, `Some(n)` writes only if the current
    /// version is `n`, `None` writes unconditionally.
    pub expected_version: Option<u64>,
    /// Who writes it (user or token name), recorded with the version.
    pub created_by: Option<String>,
}

impl SecretWrite {
    /// An unconditional write of `value` leaving metadata as it is.
    pub fn new(value: SecretValue) -> Self {
        Self {
            value,
            update: MetadataUpdate::default(),
            expected_version: None,
            created_by: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn expiry() {
        let mut meta = SecretMetadata::new("K", None);
        let now = at("2026-01-10T00:00:00Z");
        assert!(!meta.is_expired(now));
        assert!(!meta.expires_within(now, Duration::from_secs(86_400)));

        meta.expires_at = Some(at("2026-01-11T00:00:00Z"));
        assert!(!meta.is_expired(now));
        assert!(meta.expires_within(now, Duration::from_secs(86_400)));
        assert!(!meta.expires_within(now, Duration::from_secs(86_399)));
        assert!(meta.is_expired(at("2026-01-11T00:00:00Z")));
        assert!(!meta.expires_within(at("2026-01-12T00:00:00Z"), Duration::from_secs(1)));
        assert!(meta.expires_within(now, Duration::MAX));
    }

    #[test]
    fn rotation_due() {
        let mut meta = SecretMetadata::new("K", None);
        meta.rotation_period = Some(Duration::from_secs(30 * 86_400));
        assert_eq!(meta.rotation_due_at(), None);
        meta.created_at = Some(at("2026-01-01T00:00:00Z"));
        assert_eq!(meta.rotation_due_at(), Some(at("2026-01-31T00:00:00Z")));
        meta.updated_at = Some(at("2026-01-15T00:00:00Z"));
        assert_eq!(meta.rotation_due_at(), Some(at("2026-02-14T00:00:00Z")));
        assert!(!meta.is_rotation_due(at("2026-02-13T23:59:59Z")));
        assert!(meta.is_rotation_due(at("2026-02-14T00:00:00Z")));
    }

    #[test]
    fn serializes_for_the_api_without_values() {
        let mut meta = SecretMetadata::new("API_TOKEN", Some(Namespace::parse("company").unwrap()));
        meta.rotation_period = Some(Duration::from_secs(90 * 86_400));
        meta.state = SecretState::Revoked {
            at: at("2026-01-01T00:00:00Z"),
            reason: Some("leaked in a ticket".into()),
        };
        let json = serde_json::to_value(&meta).unwrap();
        assert_eq!(json["state"]["status"], "revoked");
        assert_eq!(json["rotationPeriod"], "90d");
        assert_eq!(json["namespace"], "company");
        let back: SecretMetadata = serde_json::from_value(json).unwrap();
        assert_eq!(back, meta);
    }

    #[test]
    fn write_debug_is_redacted() {
        let write = SecretWrite::new(SecretValue::new("hunter2"));
        assert!(!format!("{write:?}").contains("hunter2"));
    }
}
