//! Default tags (`secret.<type>.tags`) on every write, and who wrote it.

use std::collections::BTreeMap;

use super::SecretService;
use crate::audit::Accessor;
use crate::metadata::SecretWrite;
use crate::namespace::Namespace;

impl SecretService {
    pub(super) fn merged_tags(&self, tags: BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut merged = self.default_tags.clone();
        merged.extend(tags);
        merged
    }

    /// Default tags and the writer's name.
    pub(super) fn prepare_write(
        &self,
        tenant: &str,
        namespace: &Namespace,
        key: &str,
        write: &mut SecretWrite,
        who: &Accessor,
    ) {
        if write.created_by.is_none() && !who.actor.is_empty() {
            write.created_by = Some(who.actor.clone());
        }
        if let Some(tags) = write.update.tags.take() {
            write.update.tags = Some(self.merged_tags(tags));
        } else if !self.default_tags.is_empty() {
            // Every write carries the default tags: a new secret gets them, an older one
            // (from before they were configured) gains those it lacks, keeping its own.
            match self.store.metadata(tenant, namespace, key) {
                Ok(None) => write.update.tags = Some(self.default_tags.clone()),
                Ok(Some(old))
                    if self
                        .default_tags
                        .keys()
                        .any(|name| !old.tags.contains_key(name)) =>
                {
                    write.update.tags = Some(self.merged_tags(old.tags));
                }
                _ => {}
            }
        }
    }
}
