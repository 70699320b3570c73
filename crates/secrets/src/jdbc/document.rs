//! The `metadata` JSON document the jdbc store keeps with each secret row (description,
//! tags, expiry, rotation period, and when and why it was deleted or revoked), and its
//! conversion to [`SecretMetadata`]. Holds no value.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use saker_store::{SecretRow, SecretRowState};
use serde::{Deserialize, Serialize};

use super::backend;
use crate::metadata::{MetadataUpdate, SecretMetadata, SecretState};
use crate::namespace::Namespace;
use crate::store::StoreError;

/// The `metadata` document stored with each secret row.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MetaDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) description: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) expires_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        with = "crate::duration::option_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub(super) rotation_period: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) deleted_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) revoked_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) revoke_reason: Option<String>,
}

impl MetaDoc {
    pub(super) fn apply(&mut self, update: &MetadataUpdate) {
        if let Some(description) = &update.description {
            self.description = description.clone();
        }
        if let Some(tags) = &update.tags {
            self.tags = tags.clone();
        }
        if let Some(expires_at) = update.expires_at {
            self.expires_at = expires_at;
        }
        if let Some(rotation_period) = update.rotation_period {
            self.rotation_period = rotation_period;
        }
    }

    pub(super) fn state(&self) -> SecretRowState {
        if self.deleted_at.is_some() {
            SecretRowState::Deleted
        } else if self.revoked_at.is_some() {
            SecretRowState::Revoked
        } else {
            SecretRowState::Active
        }
    }
}

pub(super) fn doc(row: &SecretRow, namespace: &Namespace) -> Result<MetaDoc, StoreError> {
    serde_json::from_str(&row.metadata).map_err(|err| {
        backend(format!(
            "secret '{}' in {namespace} has unreadable metadata ({} at column {})",
            row.key,
            match err.classify() {
                serde_json::error::Category::Data => "a field of the wrong shape",
                _ => "invalid JSON",
            },
            err.column()
        ))
    })
}

pub(super) fn encode(doc: &MetaDoc) -> Result<String, StoreError> {
    serde_json::to_string(doc).map_err(|_| backend("cannot encode secret metadata".into()))
}

pub(super) fn metadata_of(
    row: &SecretRow,
    namespace: &Namespace,
) -> Result<SecretMetadata, StoreError> {
    let doc = doc(row, namespace)?;
    let state = match (row.state, doc.deleted_at, doc.revoked_at) {
        (SecretRowState::Deleted, Some(at), _) => SecretState::Deleted { at },
        (SecretRowState::Revoked, _, Some(at)) => SecretState::Revoked {
            at,
            reason: doc.revoke_reason.clone(),
        },
        (SecretRowState::Active, _, _) => SecretState::Active,
        // A state column without the instant in the document: keep the state, use the
        // last update as the instant.
        (SecretRowState::Deleted, None, _) => SecretState::Deleted { at: row.updated_at },
        (SecretRowState::Revoked, _, None) => SecretState::Revoked {
            at: row.updated_at,
            reason: doc.revoke_reason.clone(),
        },
    };
    Ok(SecretMetadata {
        key: row.key.clone(),
        namespace: Some(namespace.clone()),
        description: doc.description,
        tags: doc.tags,
        version: row.current_version,
        created_at: Some(row.created_at),
        updated_at: Some(row.updated_at),
        last_read_at: row.last_read_at,
        expires_at: doc.expires_at,
        rotation_period: doc.rotation_period,
        state,
    })
}
