//! Invitations: a code (shown once, stored as a digest) that lets one person create their
//! user in a tenant, until it expires (`security.invitations.expire-after`, P7D by default)
//! or is used.

use chrono::{DateTime, Utc};
use saker_store::InvitationRow;

use crate::error::{AuthError, Result};
use crate::password::Password;
use crate::service::{AuthService, User, validate_username};
use crate::token::{SecretText, digest_matches, id_of, is_expired, mint};

/// The prefix of invitation codes.
pub const INVITATION_PREFIX: &str = "sakinv_";

/// The public id inside an invitation code, if the text has the shape of one.
pub fn invitation_id(code: &str) -> Option<&str> {
    id_of(INVITATION_PREFIX, code)
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
}

impl From<InvitationRow> for Invitation {
    fn from(row: InvitationRow) -> Self {
        Invitation {
            id: row.id,
            tenant: row.tenant,
            email: row.email,
            created_at: row.created_at,
            expires_at: row.expires_at,
            accepted_at: row.accepted_at,
        }
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

    /// Invites `email` to `tenant`. The code is in the returned [`SecretText`] only.
    pub fn invite(&self, tenant: &str, email: &str) -> Result<(Invitation, SecretText)> {
        if !email.contains('@') || email.trim() != email || email.chars().count() > 320 {
            return Err(AuthError::InvalidName {
                kind: "email",
                reason: "it must be an address such as ann@example.com".to_owned(),
            });
        }
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
        };
        self.rows.insert_invitation(&row)?;
        tracing::info!(tenant, invitation = %row.id, email, expires_at = %row.expires_at, "invitation created");
        Ok((row.into(), minted.text))
    }

    /// The invitation `id` of `tenant`; `None` if it does not exist or belongs to another
    /// tenant.
    pub fn get_invitation(&self, tenant: &str, id: &str) -> Result<Option<Invitation>> {
        Ok(self
            .rows
            .get_invitation(id)?
            .filter(|row| row.tenant == tenant)
            .map(Invitation::from))
    }

    pub fn list_invitations(&self, tenant: &str) -> Result<Vec<Invitation>> {
        Ok(self
            .rows
            .list_invitations(tenant)?
            .into_iter()
            .map(Invitation::from)
            .collect())
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

    /// Uses an invitation code of `tenant` to create a user (with the default role, as every
    /// new user), named `username` or, when `None`, the invited email address. A wrong,
    /// unknown or used code, or one of another tenant, is [`AuthError::InvalidCredentials`];
    /// an expired one [`AuthError::Expired`]. The username and password are checked before
    /// the code is spent, so a weak password does not waste the invitation.
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
        let username = username.unwrap_or(&row.email).to_owned();
        let username = username.as_str();
        let now = self.clock.now();
        if row.accepted_at.is_some() {
            return Err(AuthError::InvalidCredentials);
        }
        if is_expired(Some(row.expires_at), now) {
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
        if !self.rows.accept_invitation(&row.id, now)? {
            // Used by someone else in the meantime.
            return Err(AuthError::InvalidCredentials);
        }
        let user = self.create_user(username, Some(password))?;
        tracing::info!(tenant, invitation = %row.id, username, "invitation accepted");
        let mut invitation = Invitation::from(row);
        invitation.accepted_at = Some(now);
        Ok((invitation, user))
    }
}
