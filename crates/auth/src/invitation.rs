//! Invitations: a code (shown once, stored as a digest) that lets one person create their
//! user in a tenant, until it expires (`security.invitations.expire-after`, P7D by default)
//! or is used. An invitation may carry bindings (roles of its tenant, tenant-wide or on a
//! namespace) that its user gets on acceptance, with the default role as every new user.
//! Accepting creates the user, spends the code and binds the roles in one store transaction:
//! a failure leaves no user and an unspent code.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use saker_store::{BindingRow, InvitationRow, StoreError};
use serde::{Deserialize, Serialize};

use crate::config::DEFAULT_TENANT;
use crate::directory::validate_namespace;
use crate::error::{AuthError, Result};
use crate::password::Password;
use crate::permission::{ADMIN_ROLE, Role};
use crate::random;
use crate::service::{AuthService, User, validate_username};
use crate::token::{SecretText, digest_matches, id_of, is_expired, mint};

/// How many bindings one invitation may carry.
pub const MAX_INVITATION_BINDINGS: usize = 100;

/// The prefix of invitation codes.
pub const INVITATION_PREFIX: &str = "sakinv_";

/// The public id inside an invitation code, if the text has the shape of one.
pub fn invitation_id(code: &str) -> Option<&str> {
    id_of(INVITATION_PREFIX, code)
}

/// A role an invitation gives its user in the invitation's tenant: on the whole tenant
/// (`namespace: None`) or on a namespace and its children. Stored as this JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationBinding {
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl InvitationBinding {
    pub fn new(role: impl Into<String>, namespace: Option<&str>) -> Self {
        InvitationBinding {
            role: role.into(),
            namespace: namespace.map(str::to_owned),
        }
    }

    /// `ROLE` or `ROLE on NAMESPACE`, for messages.
    fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} on {ns}", self.role),
            None => format!("{} on the tenant", self.role),
        }
    }
}

/// An invitation without its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: String,
    pub tenant: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    /// What its user gets in `tenant` on acceptance, besides the default role.
    pub bindings: Vec<InvitationBinding>,
}

impl TryFrom<InvitationRow> for Invitation {
    type Error = AuthError;

    /// A row whose bindings do not decode is [`StoreError::Corrupt`], naming the row.
    fn try_from(row: InvitationRow) -> Result<Self> {
        let bindings: Vec<InvitationBinding> =
            serde_json::from_str(&row.bindings).map_err(|_| StoreError::Corrupt {
                table: "invitations",
                id: row.id.clone(),
                detail: "bindings are not a JSON list of {role, namespace}".to_owned(),
            })?;
        Ok(Invitation {
            id: row.id,
            tenant: row.tenant,
            email: row.email,
            created_at: row.created_at,
            expires_at: row.expires_at,
            accepted_at: row.accepted_at,
            bindings,
        })
    }
}

/// Where an invitation stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationStatus {
    /// Can still be accepted.
    Pending,
    /// Used: its user exists.
    Accepted,
    /// Not used before `expires_at`.
    Expired,
}

impl InvitationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "PENDING",
            InvitationStatus::Accepted => "ACCEPTED",
            InvitationStatus::Expired => "EXPIRED",
        }
    }
}

impl Invitation {
    /// Its status at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> InvitationStatus {
        if self.accepted_at.is_some() {
            InvitationStatus::Accepted
        } else if is_expired(Some(self.expires_at), now) {
            InvitationStatus::Expired
        } else {
            InvitationStatus::Pending
        }
    }
}

impl AuthService {
    /// The status of an invitation now (by the service's clock).
    pub fn invitation_status(&self, invitation: &Invitation) -> InvitationStatus {
        invitation.status(self.clock.now())
    }

    /// Invites `email` to `tenant`, to be given `bindings` there on acceptance. Each role
    /// must exist in the tenant ([`AuthError::NotFound`]; the built-in `admin` always does)
    /// and each namespace be valid; at most [`MAX_INVITATION_BINDINGS`], none twice
    /// ([`AuthError::InvalidName`]). Whether the caller may hand out these roles is the
    /// caller's check (BINDING CREATE on the tenant). The code is in the returned
    /// [`SecretText`] only.
    pub fn invite(
        &self,
        tenant: &str,
        email: &str,
        bindings: &[InvitationBinding],
    ) -> Result<(Invitation, SecretText)> {
        if !email.contains('@') || email.trim() != email || email.chars().count() > 320 {
            return Err(AuthError::InvalidName {
                kind: "email",
                reason: "it must be an address such as ann@example.com".to_owned(),
            });
        }
        self.check_invitation_bindings(tenant, bindings)?;
        let encoded = serde_json::to_string(bindings).map_err(|_| AuthError::InvalidName {
            kind: "bindings",
            reason: "they cannot be encoded".to_owned(),
        })?;
        let minted = mint(INVITATION_PREFIX)?;
        let now = self.clock.now();
        let row = InvitationRow {
            id: minted.id,
            tenant: tenant.to_owned(),
            email: email.to_owned(),
            hash: minted.digest,
            created_at: now,
            expires_at: now + self.config.invitation_expiry,
            accepted_at: None,
            bindings: encoded,
        };
        self.rows.insert_invitation(&row)?;
        tracing::info!(
            tenant,
            invitation = %row.id,
            email,
            expires_at = %row.expires_at,
            bindings = bindings.len(),
            "invitation created"
        );
        Ok((Invitation::try_from(row)?, minted.text))
    }

    fn check_invitation_bindings(
        &self,
        tenant: &str,
        bindings: &[InvitationBinding],
    ) -> Result<()> {
        if bindings.len() > MAX_INVITATION_BINDINGS {
            return Err(AuthError::InvalidName {
                kind: "bindings",
                reason: format!(
                    "an invitation carries at most {MAX_INVITATION_BINDINGS}, not {}",
                    bindings.len()
                ),
            });
        }
        let mut seen = BTreeSet::new();
        for binding in bindings {
            if let Some(ns) = &binding.namespace {
                validate_namespace(ns)?;
            }
            if !seen.insert((&binding.role, &binding.namespace)) {
                return Err(AuthError::InvalidName {
                    kind: "bindings",
                    reason: format!("role {} is listed twice", binding.describe()),
                });
            }
            if binding.role != ADMIN_ROLE && self.rows.get_role(tenant, &binding.role)?.is_none() {
                return Err(AuthError::NotFound {
                    kind: "role",
                    id: format!("{} (in tenant {tenant})", binding.role),
                });
            }
        }
        Ok(())
    }

    /// The invitation `id` of `tenant`; `None` if it does not exist or belongs to another
    /// tenant.
    pub fn get_invitation(&self, tenant: &str, id: &str) -> Result<Option<Invitation>> {
        self.rows
            .get_invitation(id)?
            .filter(|row| row.tenant == tenant)
            .map(Invitation::try_from)
            .transpose()
    }

    pub fn list_invitations(&self, tenant: &str) -> Result<Vec<Invitation>> {
        self.rows
            .list_invitations(tenant)?
            .into_iter()
            .map(Invitation::try_from)
            .collect()
    }

    /// Withdraws the invitation `id` of `tenant`. False if it does not exist there.
    pub fn delete_invitation(&self, tenant: &str, id: &str) -> Result<bool> {
        if self.get_invitation(tenant, id)?.is_none() {
            return Ok(false);
        }
        let deleted = self.rows.delete_invitation(id)?;
        if deleted {
            tracing::info!(tenant, invitation = id, "invitation deleted");
        }
        Ok(deleted)
    }

    /// Uses an invitation code of `tenant` to create a user named `username` or, when
    /// `None`, the invited email address, with the default role (as every new user) and the
    /// invitation's bindings. A wrong, unknown or used code, or one of another tenant, is
    /// [`AuthError::InvalidCredentials`]; an expired one [`AuthError::Expired`]. The
    /// username and password are checked before the code is spent, so a weak password does
    /// not waste the invitation. A role the invitation gives that its tenant no longer has
    /// is [`AuthError::Conflict`]. The code is spent, the user created and the roles bound in
    /// one store transaction: on any error there is no new user and the code still works.
    pub fn accept_invitation(
        &self,
        tenant: &str,
        code: &str,
        username: Option<&str>,
        password: &Password,
    ) -> Result<(Invitation, User)> {
        let row = id_of(INVITATION_PREFIX, code)
            .map(|id| self.rows.get_invitation(id))
            .transpose()?
            .flatten()
            .filter(|row| row.tenant == tenant && digest_matches(code, &row.hash))
            .ok_or(AuthError::InvalidCredentials)?;
        let mut invitation = Invitation::try_from(row)?;
        let username = username.unwrap_or(&invitation.email).to_owned();
        let username = username.as_str();
        let now = self.clock.now();
        if invitation.accepted_at.is_some() {
            return Err(AuthError::InvalidCredentials);
        }
        if is_expired(Some(invitation.expires_at), now) {
            return Err(AuthError::Expired { kind: "invitation" });
        }
        validate_username(username)?;
        self.config.password_policy.check(password)?;
        if self.rows.get_user_by_name(username)?.is_some() {
            return Err(AuthError::AlreadyExists {
                kind: "user",
                id: username.to_owned(),
            });
        }
        let user = self.new_user_row(username, Some(password))?;
        let bindings = self.acceptance_bindings(&invitation, &user.id)?;
        let vanished = || AuthError::Conflict {
            reason: format!(
                "a role this invitation gives no longer exists in tenant {tenant}; ask for a new \
                 invitation"
            ),
        };
        let accepted = self
            .rows
            .accept_invitation(&invitation.id, now, &user, &bindings)
            .map_err(|e| match e {
                StoreError::AlreadyExists { .. } => AuthError::AlreadyExists {
                    kind: "user",
                    id: username.to_owned(),
                },
                StoreError::NotFound { .. } => vanished(),
                other => other.into(),
            })?;
        if !accepted {
            // Used by someone else in the meantime.
            return Err(AuthError::InvalidCredentials);
        }
        tracing::info!(username, user_id = %user.id, with_password = true, "user created");
        for b in &bindings {
            tracing::info!(
                tenant = %b.tenant,
                binding = %b.id,
                user_id = %b.user_id,
                role = %b.role,
                namespace = b.namespace.as_deref(),
                "role bound"
            );
        }
        tracing::info!(tenant, invitation = %invitation.id, username, "invitation accepted");
        invitation.accepted_at = Some(now);
        Ok((invitation, User::from(&user)))
    }

    /// The bindings a user accepting `invitation` gets: the default role, then the
    /// invitation's (one that repeats the default role is given once). The built-in admin
    /// role and the configured default role are (re)created in their tenants when missing;
    /// another role the tenant no longer has is [`AuthError::Conflict`].
    fn acceptance_bindings(
        &self,
        invitation: &Invitation,
        user_id: &str,
    ) -> Result<Vec<BindingRow>> {
        let mut wanted: Vec<(String, String, Option<String>)> = Vec::new();
        if let Some(default) = &self.config.default_role {
            let tenant = default.tenant.as_deref().unwrap_or(DEFAULT_TENANT);
            if self.rows.get_role(tenant, default.role.name())?.is_none() {
                self.put_role(tenant, &default.role)?;
            }
            wanted.push((tenant.to_owned(), default.role.name().to_owned(), None));
        }
        for b in &invitation.bindings {
            let key = (
                invitation.tenant.clone(),
                b.role.clone(),
                b.namespace.clone(),
            );
            if wanted.contains(&key) {
                continue;
            }
            if self.rows.get_role(&invitation.tenant, &b.role)?.is_none() {
                if b.role != ADMIN_ROLE {
                    return Err(AuthError::Conflict {
                        reason: format!(
                            "this invitation gives role {}, which tenant {} no longer has; ask \
                             for a new invitation",
                            b.role, invitation.tenant
                        ),
                    });
                }
                self.put_role(&invitation.tenant, &Role::admin())?;
            }
            wanted.push(key);
        }
        wanted
            .into_iter()
            .map(|(tenant, role, namespace)| {
                Ok(BindingRow {
                    id: random::id()?,
                    tenant,
                    user_id: user_id.to_owned(),
                    role,
                    namespace,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn row(bindings: &str) -> InvitationRow {
        let at = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        InvitationRow {
            id: "0123456789abcdef".to_owned(),
            tenant: "main".to_owned(),
            email: "ann@example.com".to_owned(),
            hash: "ab".repeat(32),
            created_at: at,
            expires_at: at,
            accepted_at: None,
            bindings: bindings.to_owned(),
        }
    }

    #[test]
    fn bindings_are_stored_as_a_json_list_without_null_namespaces() {
        let bindings = [
            InvitationBinding::new("viewer", None),
            InvitationBinding::new("dev", Some("company.team")),
        ];
        let text = serde_json::to_string(&bindings).unwrap();
        assert_eq!(
            text,
            r#"[{"role":"viewer"},{"role":"dev","namespace":"company.team"}]"#
        );
        let back = Invitation::try_from(row(&text)).unwrap();
        assert_eq!(back.bindings, bindings);
        // Rows made before the column existed hold the default.
        assert!(Invitation::try_from(row("[]")).unwrap().bindings.is_empty());
    }

    #[test]
    fn bindings_that_do_not_decode_name_the_row() {
        for bad in ["", "{}", r#"[{"namespace":"a"}]"#, r#"[{"role":3}]"#] {
            let err = Invitation::try_from(row(bad)).unwrap_err();
            assert!(
                matches!(
                    &err,
                    AuthError::Store(StoreError::Corrupt { table: "invitations", id, .. })
                        if id == "0123456789abcdef"
                ),
                "{bad:?}: {err}"
            );
        }
    }
}
