//! Saker's authentication and authorization, and nothing else: who someone is (users with
//! Argon2id passwords under a password policy, API tokens, invitations, login throttling,
//! the configured super-admin and bootstrap administrator) and what they may do (permissions,
//! roles, bindings on tenants and namespaces, [`authorize`] and [`visible_namespaces`]).
//!
//! It must not know HTTP (no routes, headers or status types: [`Decision::http_status`] is
//! only a documented hint for the server) nor the engine, flows or secret backends. It
//! persists through `saker_store::AuthRows` and never hands the store, a log line, an error
//! or a `Debug` output a plaintext password or token: passwords arrive as [`Password`]
//! (zeroized, redacted), new tokens leave once as [`SecretText`] (redacted), and only
//! Argon2id hashes and SHA-256 digests are stored.
//!
//! The API is synchronous (the store blocks and Argon2 is CPU-bound): the server calls it
//! from `spawn_blocking`.

pub mod authz;
pub mod config;
mod directory;
mod error;
mod invitation;
pub mod namespace;
pub mod password;
pub mod permission;
mod random;
mod service;
pub mod throttle;
pub mod token;
mod tokens;

pub use authz::{Decision, Grant, Principal, Subject, Visibility, authorize, visible_namespaces};
pub use config::{
    BootstrapAdmin, DEFAULT_TENANT, DefaultRoleConfig, SecurityConfig, SuperAdminConfig,
    parse_iso_duration,
};
pub use directory::{Binding, validate_namespace};
pub use error::{AuthError, Result};
pub use invitation::{
    INVITATION_PREFIX, Invitation, InvitationBinding, InvitationStatus, MAX_INVITATION_BINDINGS,
    invitation_id,
};
pub use password::{HashCost, Password, PasswordPolicy, hash_password, verify_password};
pub use permission::{ADMIN_ROLE, Action, Permission, Permissions, Role, validate_role_name};
pub use service::{
    AuthService, Bootstrap, ServiceOptions, SystemWallClock, User, WallClock, validate_username,
};
pub use throttle::{Clock, LoginThrottle, SystemClock, ThrottleKey, ThrottlePolicy};
pub use token::{SecretText, TOKEN_PREFIX};
pub use tokens::TokenInfo;
