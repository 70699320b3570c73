//! What the secret service records in the audit trail: who acted ([`Accessor`]), what they
//! attempted ([`AuditAction`]) and how it ended ([`AuditOutcome`]). The trail itself, its hash
//! chain and its verification live in `saker-store` ([`saker_store::AuditLog`]); this module
//! only decides the words. No type here can hold a secret value.

use std::fmt;

use chrono::{DateTime, Utc};
use saker_store::AuditEvent;

use crate::isolation::Service;

/// What was attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// A value was resolved (`secret('X')`).
    Read,
    /// A new value was written.
    Write,
    /// A random value was generated and written.
    Generate,
    /// Description, tags, expiry or rotation period changed.
    UpdateMetadata,
    /// Soft delete.
    Delete,
    /// Undo of a soft delete.
    Restore,
    /// Every version erased.
    Destroy,
    /// Disabled as compromised.
    Revoke,
    /// An older version made current again.
    Rollback,
    /// Every value re-encrypted under the primary key.
    Rekey,
}

impl AuditAction {
    /// The word stored in the trail.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Read => "read",
            AuditAction::Write => "write",
            AuditAction::Generate => "generate",
            AuditAction::UpdateMetadata => "update-metadata",
            AuditAction::Delete => "delete",
            AuditAction::Restore => "restore",
            AuditAction::Destroy => "destroy",
            AuditAction::Revoke => "revoke",
            AuditAction::Rollback => "rollback",
            AuditAction::Rekey => "rekey",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditOutcome {
    /// Done.
    Success,
    /// Refused by isolation or the namespace rule.
    Denied,
    /// Failed (not found, revoked, expired, backend error...).
    Failed,
}

impl AuditOutcome {
    /// The word stored in the trail.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Denied => "denied",
            AuditOutcome::Failed => "failed",
        }
    }
}

impl fmt::Display for AuditOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is asking: a user (CLI, API) or a task of an execution.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accessor {
    /// A user or token name (`cli:alice`), or `execution` for flows.
    pub actor: String,
    /// The execution, for reads from flows.
    pub execution_id: Option<String>,
    /// The flow id, for reads from flows.
    pub flow_id: Option<String>,
    /// The task run, for reads from tasks.
    pub task_run_id: Option<String>,
}

impl Accessor {
    /// A person or token acting directly.
    pub fn user(name: impl Into<String>) -> Self {
        Self {
            actor: name.into(),
            ..Self::default()
        }
    }

    /// A flow's execution (and task run, when a task asks).
    pub fn execution(
        flow_id: impl Into<String>,
        execution_id: impl Into<String>,
        task_run_id: Option<String>,
    ) -> Self {
        Self {
            actor: "execution".to_owned(),
            execution_id: Some(execution_id.into()),
            flow_id: Some(flow_id.into()),
            task_run_id,
        }
    }
}

/// Builds the event for one attempt.
#[allow(clippy::too_many_arguments)] // one field each; a builder would only rename them
pub(crate) fn event(
    at: DateTime<Utc>,
    tenant: &str,
    namespace: Option<&str>,
    key: Option<&str>,
    action: AuditAction,
    who: &Accessor,
    service: Service,
    outcome: AuditOutcome,
    detail: Option<String>,
) -> AuditEvent {
    AuditEvent {
        timestamp: at,
        tenant: tenant.to_owned(),
        namespace: namespace.map(str::to_owned),
        key: key.map(str::to_owned),
        action: action.as_str().to_owned(),
        actor: who.actor.clone(),
        service: Some(service.as_str().to_owned()),
        execution_id: who.execution_id.clone(),
        flow_id: who.flow_id.clone(),
        task_run_id: who.task_run_id.clone(),
        outcome: outcome.as_str().to_owned(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_who_and_what() {
        let who = Accessor::execution("report", "exec-1", Some("tr-1".into()));
        let at = DateTime::<Utc>::from_timestamp_micros(0).unwrap();
        let e = event(
            at,
            "main",
            Some("company"),
            Some("K"),
            AuditAction::Read,
            &who,
            Service::Worker,
            AuditOutcome::Denied,
            Some("why".into()),
        );
        assert_eq!(e.action, "read");
        assert_eq!(e.outcome, "denied");
        assert_eq!(e.service.as_deref(), Some("WORKER"));
        assert_eq!(e.execution_id.as_deref(), Some("exec-1"));
        assert_eq!(e.flow_id.as_deref(), Some("report"));
        assert_eq!(e.task_run_id.as_deref(), Some("tr-1"));
        assert_eq!(Accessor::user("cli:alice").actor, "cli:alice");
    }
}
