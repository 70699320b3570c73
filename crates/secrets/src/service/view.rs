//! The read-only side of the secret service: metadata, listings (a namespace's own secrets,
//! or what a flow in it sees through inheritance) and version lists. None of it touches a
//! value, so none of it is audited, and isolation does not apply.

use std::collections::BTreeMap;

use super::{SecretService, ServiceError};
use crate::metadata::{SecretMetadata, SecretState, SecretVersion};
use crate::namespace::Namespace;
use crate::store::{Operation, ensure_supported};

/// A secret visible from a namespace (`saker secret list NS --inherited`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibleSecret {
    /// The metadata of the nearest one; its `namespace` says where it is stored (`None` for
    /// backends whose secrets every namespace sees).
    pub metadata: SecretMetadata,
    /// Farther namespaces holding the same key, hidden by this one, nearest first.
    pub shadows: Vec<Namespace>,
}

impl SecretService {
    /// Metadata of `key` in exactly `namespace` (soft-deleted and revoked included).
    pub fn metadata(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Option<SecretMetadata>, ServiceError> {
        Ok(self
            .store
            .metadata(tenant, namespace, key)?
            .map(|metadata| self.present(self.keeps_no_tags(tenant, namespace), metadata)))
    }

    /// `key` along `namespace`'s chain, nearest first: every level that holds it, in any
    /// state. The first one that is not deleted is what a flow in `namespace` resolves.
    pub fn describe(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Vec<SecretMetadata>, ServiceError> {
        let mut levels = Vec::new();
        for level in namespace.chain() {
            if let Some(metadata) = self.metadata(tenant, &level, key)? {
                let everywhere = metadata.namespace.is_none();
                levels.push(metadata);
                if everywhere {
                    break;
                }
            }
        }
        Ok(levels)
    }

    /// Secrets stored in exactly `namespace`, sorted by key, every state included.
    pub fn list(
        &self,
        tenant: &str,
        namespace: &Namespace,
    ) -> Result<Vec<SecretMetadata>, ServiceError> {
        let keeps_no_tags = self.keeps_no_tags(tenant, namespace);
        Ok(self
            .store
            .list(tenant, namespace)?
            .into_iter()
            .map(|metadata| self.present(keeps_no_tags, metadata))
            .collect())
    }

    /// Secrets a flow in `namespace` sees, sorted by key: for each key the nearest level
    /// that is not soft-deleted (a revoked one still hides its parents, as resolution does).
    pub fn list_visible(
        &self,
        tenant: &str,
        namespace: &Namespace,
    ) -> Result<Vec<VisibleSecret>, ServiceError> {
        let mut visible: BTreeMap<String, VisibleSecret> = BTreeMap::new();
        for level in namespace.chain() {
            for metadata in self.list(tenant, &level)? {
                if matches!(metadata.state, SecretState::Deleted { .. }) {
                    continue;
                }
                match visible.get_mut(&metadata.key) {
                    Some(nearer) => {
                        if let Some(stored) = &metadata.namespace
                            && nearer.metadata.namespace.as_ref() != Some(stored)
                        {
                            nearer.shadows.push(stored.clone());
                        }
                    }
                    None => {
                        visible.insert(
                            metadata.key.clone(),
                            VisibleSecret {
                                metadata,
                                shadows: Vec::new(),
                            },
                        );
                    }
                }
            }
        }
        Ok(visible.into_values().collect())
    }

    /// Versions of `key` in exactly `namespace`, newest first.
    pub fn versions(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
    ) -> Result<Vec<SecretVersion>, ServiceError> {
        ensure_supported(self.store.as_ref(), Operation::Versions)?;
        Ok(self.store.versions(tenant, namespace, key)?)
    }

    /// True when the backend serving `namespace` cannot write, so stores no tags of Saker's.
    fn keeps_no_tags(&self, tenant: &str, namespace: &Namespace) -> bool {
        !self
            .store
            .capabilities_at(tenant, namespace)
            .supports(Operation::Put)
    }

    /// Metadata as callers see it: backends that store no tags (`keeps_no_tags`) show the
    /// default ones.
    pub(super) fn present(
        &self,
        keeps_no_tags: bool,
        mut metadata: SecretMetadata,
    ) -> SecretMetadata {
        if keeps_no_tags {
            for (name, value) in &self.default_tags {
                metadata
                    .tags
                    .entry(name.clone())
                    .or_insert_with(|| value.clone());
            }
        }
        metadata
    }
}
