//! The crate's errors. Messages name users, roles, keys and rules, never a password, a token,
//! a hash or a configured value.

use saker_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A password does not satisfy `security.basic-auth.password-regexp`.
    #[error("the password does not satisfy the password policy: {rule}")]
    WeakPassword { rule: String },

    /// Wrong username, wrong password, unknown or malformed token: deliberately one error, so
    /// that a caller cannot tell which part was wrong.
    #[error("invalid credentials")]
    InvalidCredentials,

    /// The API token or the invitation has expired.
    #[error("the {kind} has expired")]
    Expired { kind: &'static str },

    /// Too many failed logins: try again after the lock ends.
    #[error("too many failed logins; retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },

    /// The user is disabled.
    #[error("user {username} is disabled")]
    Disabled { username: String },

    /// A role definition is invalid (e.g. AUDITLOG with an action other than READ).
    #[error("invalid role {role}: {reason}")]
    InvalidRole { role: String, reason: String },

    /// Something to act on does not exist.
    #[error("{kind} {id} does not exist")]
    NotFound { kind: &'static str, id: String },

    /// Something to create already exists.
    #[error("{kind} {id} already exists{}", if *.kind == "user" { " (usernames are compared without regard to case)" } else { "" })]
    AlreadyExists { kind: &'static str, id: String },

    /// The request conflicts with the current state or with configuration (a role that is
    /// still bound, the configured default role, the built-in admin role, deleting oneself).
    /// The reason says what to do instead.
    #[error("{reason}")]
    Conflict { reason: String },

    /// A name (username, namespace, token name...) is malformed.
    #[error("invalid {kind}: {reason}")]
    InvalidName { kind: &'static str, reason: String },

    /// `security.*` or `server.basic-auth.*` is invalid. Names the key and how to fix it.
    #[error("invalid configuration at {key}: {fix}")]
    Config { key: String, fix: String },

    /// Hashing failed (not a wrong password: a broken hash or parameters).
    #[error("password hashing failed: {0}")]
    Hash(String),

    /// The operating system's random generator failed.
    #[error("the random generator failed")]
    Random,

    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T, E = AuthError> = std::result::Result<T, E>;
