//! The repository of authentication and authorization data: users, roles, bindings, API
//! tokens and invitations, behind the object-safe, synchronous [`AuthRows`] trait.
//!
//! The store knows no cryptography and no rules: password hashes arrive as PHC strings and
//! token and invitation secrets as SHA-256 hex digests, computed by the auth crate; role
//! permissions are an opaque JSON document that crate chooses. No plaintext password or token
//! ever reaches this trait, and no row type here derives a `Debug` that could print a hash.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::Result;

/// One user. Users are global; what they may do per tenant comes from bindings.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: String,
    /// Unique among users.
    pub username: String,
    /// An Argon2id PHC string; `None` for a user who cannot log in with a password (yet).
    pub password_hash: Option<String>,
    pub created_at: DateTime<Utc>,
    pub disabled: bool,
}

impl fmt::Debug for UserRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "[REDACTED]"),
            )
            .field("created_at", &self.created_at)
            .field("disabled", &self.disabled)
            .finish()
    }
}

/// One role of a tenant: a named set of permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRow {
    pub tenant: String,
    /// Unique within the tenant.
    pub name: String,
    pub description: String,
    /// The caller's JSON document of permissions, stored verbatim.
    pub permissions: String,
}

/// A role given to a user on a whole tenant (`namespace: None`) or on a namespace and its
/// children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingRow {
    pub id: String,
    pub tenant: String,
    pub user_id: String,
    /// The name of a role of the same tenant.
    pub role: String,
    pub namespace: Option<String>,
}

/// One API token, without the token itself.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// The public part of the token text, used to find the row.
    pub id: String,
    pub user_id: String,
    pub name: String,
    /// SHA-256 (hex) of the whole token text.
    pub hash: String,
    pub created_at: DateTime<Utc>,
    /// `None` for a token that never expires.
    pub expires_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for TokenRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRow")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("name", &self.name)
            .field("hash", &"[REDACTED]")
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// One invitation to join a tenant.
#[derive(Clone, PartialEq, Eq)]
pub struct InvitationRow {
    /// The public part of the invitation code, used to find the row.
    pub id: String,
    pub tenant: String,
    pub email: String,
    /// SHA-256 (hex) of the whole invitation code.
    pub hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Set once, when the invitation is used.
    pub accepted_at: Option<DateTime<Utc>>,
    /// The bindings its user gets in `tenant` when it is accepted: the caller's JSON
    /// document, stored verbatim (`[]` for none, and for rows older than the column).
    pub bindings: String,
}

impl fmt::Debug for InvitationRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvitationRow")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("email", &self.email)
            .field("hash", &"[REDACTED]")
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("accepted_at", &self.accepted_at)
            .field("bindings", &self.bindings)
            .finish()
    }
}

/// Users, roles, bindings, API tokens and invitations.
///
/// # Contract
///
/// Each method is one transaction. Creating something whose key is taken gives
/// [`crate::StoreError::AlreadyExists`]; a binding or token naming an unknown user gives
/// [`crate::StoreError::NotFound`]. Deleting a user deletes its bindings and tokens; deleting
/// a role deletes its bindings. Listings are sorted by their key. A stored row that cannot be
/// decoded gives [`crate::StoreError::Corrupt`]; no implementation logs row contents.
pub trait AuthRows: Send + Sync {
    fn insert_user(&self, user: &UserRow) -> Result<()>;
    fn get_user(&self, id: &str) -> Result<Option<UserRow>>;
    fn get_user_by_name(&self, username: &str) -> Result<Option<UserRow>>;
    /// Every user, by username.
    fn list_users(&self) -> Result<Vec<UserRow>>;
    /// Replaces the password hash. False if the user does not exist.
    fn set_password_hash(&self, user_id: &str, hash: Option<&str>) -> Result<bool>;
    /// False if the user does not exist.
    fn set_user_disabled(&self, user_id: &str, disabled: bool) -> Result<bool>;
    /// False if the user did not exist.
    fn delete_user(&self, user_id: &str) -> Result<bool>;

    /// Creates or replaces the role (tenant, name).
    fn put_role(&self, role: &RoleRow) -> Result<()>;
    fn get_role(&self, tenant: &str, name: &str) -> Result<Option<RoleRow>>;
    fn list_roles(&self, tenant: &str) -> Result<Vec<RoleRow>>;
    /// False if the role did not exist.
    fn delete_role(&self, tenant: &str, name: &str) -> Result<bool>;

    /// [`crate::StoreError::NotFound`] if the user or the role does not exist.
    fn insert_binding(&self, binding: &BindingRow) -> Result<()>;
    /// Every binding of the user, in every tenant, by id.
    fn bindings_of_user(&self, user_id: &str) -> Result<Vec<BindingRow>>;
    /// Every binding of the tenant, by id.
    fn list_bindings(&self, tenant: &str) -> Result<Vec<BindingRow>>;
    /// False if the binding did not exist.
    fn delete_binding(&self, id: &str) -> Result<bool>;

    fn insert_token(&self, token: &TokenRow) -> Result<()>;
    fn get_token(&self, id: &str) -> Result<Option<TokenRow>>;
    /// Every token of the user, by id.
    fn tokens_of_user(&self, user_id: &str) -> Result<Vec<TokenRow>>;
    /// False if the token did not exist.
    fn delete_token(&self, id: &str) -> Result<bool>;

    fn insert_invitation(&self, invitation: &InvitationRow) -> Result<()>;
    fn get_invitation(&self, id: &str) -> Result<Option<InvitationRow>>;
    /// Every invitation of the tenant, by id.
    fn list_invitations(&self, tenant: &str) -> Result<Vec<InvitationRow>>;
    /// Uses the invitation, once, in one transaction: records it accepted at `at`, inserts
    /// `user` and then `bindings` (which name that user). False, with nothing changed, if
    /// the invitation does not exist or was already accepted; a taken username
    /// ([`crate::StoreError::AlreadyExists`]) or a binding naming an unknown user or role
    /// ([`crate::StoreError::NotFound`]) changes nothing either.
    fn accept_invitation(
        &self,
        id: &str,
        at: DateTime<Utc>,
        user: &UserRow,
        bindings: &[BindingRow],
    ) -> Result<bool>;
    /// False if the invitation did not exist.
    fn delete_invitation(&self, id: &str) -> Result<bool>;
}
