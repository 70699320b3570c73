//! [`AuthService`]: users, passwords, login and bootstrap over an [`AuthRows`] store.
//! Roles, bindings and subjects are in `directory`, tokens in `tokens`, invitations in
//! `invitation`.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use saker_store::{AuthRows, StoreError, UserRow};
use subtle::ConstantTimeEq;

use crate::authz::Subject;
use crate::config::{BootstrapAdmin, DEFAULT_TENANT, SecurityConfig};
use crate::error::{AuthError, Result};
use crate::password::{HashCost, Password, burn_verify, hash_password, verify_password};
use crate::permission::Role;
use crate::random;
use crate::throttle::{LoginThrottle, ThrottleKey, ThrottlePolicy};
use crate::token::digest;

/// Where the service reads the date (token and invitation expiry); injectable for tests.
pub trait WallClock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemWallClock;

impl WallClock for SystemWallClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// How an [`AuthService`] is built, beyond the configuration.
pub struct ServiceOptions {
    pub hash_cost: HashCost,
    pub throttle: LoginThrottle,
    pub clock: Arc<dyn WallClock>,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            hash_cost: HashCost::default(),
            throttle: LoginThrottle::new(ThrottlePolicy::default()),
            clock: Arc::new(SystemWallClock),
        }
    }
}

/// A user as the rest of Saker sees it: no hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub created_at: DateTime<Utc>,
    pub disabled: bool,
    /// False for a user without a password (who can only use API tokens).
    pub has_password: bool,
}

impl From<&UserRow> for User {
    fn from(row: &UserRow) -> Self {
        User {
            id: row.id.clone(),
            username: row.username.clone(),
            created_at: row.created_at,
            disabled: row.disabled,
            has_password: row.password_hash.is_some(),
        }
    }
}

/// What [`AuthService::bootstrap`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// The administrator was created and made admin of the default tenant.
    Created(User),
    /// A user with that name exists already; nothing was changed (its password included).
    Existing(User),
}

/// Authentication and the user directory. Synchronous: call it from a blocking context.
pub struct AuthService {
    pub(crate) rows: Arc<dyn AuthRows>,
    pub(crate) config: SecurityConfig,
    pub(crate) cost: HashCost,
    throttle: LoginThrottle,
    pub(crate) clock: Arc<dyn WallClock>,
    /// A hash no password matches, verified for unknown users (same cost as a real login).
    dummy_hash: String,
}

impl fmt::Debug for AuthService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthService").finish_non_exhaustive()
    }
}

/// Checks a username: non-empty, at most 256 characters, no `:` (HTTP Basic splits on it),
/// no whitespace at the ends, no control characters.
pub fn validate_username(username: &str) -> Result<()> {
    let reason = if username.is_empty() {
        "it is empty"
    } else if username.chars().count() > 256 {
        "it is longer than 256 characters"
    } else if username.contains(':') {
        "it contains ':'"
    } else if username.trim() != username {
        "it starts or ends with whitespace"
    } else if username.chars().any(char::is_control) {
        "it contains control characters"
    } else {
        return Ok(());
    };
    Err(AuthError::InvalidName {
        kind: "username",
        reason: reason.to_owned(),
    })
}

impl AuthService {
    /// Builds the service and stores the configured default role in its tenant. The
    /// super-admin's configured password must satisfy the password policy too.
    pub fn new(
        rows: Arc<dyn AuthRows>,
        config: SecurityConfig,
        options: ServiceOptions,
    ) -> Result<Self> {
        if let Some(admin) = &config.super_admin {
            config
                .password_policy
                .check(&admin.password)
                .map_err(|_| AuthError::Config {
                    key: "security.super-admin.password".to_owned(),
                    fix: "does not satisfy the password policy (at least 12 characters, or \
                          security.basic-auth.password-regexp when set); set a stronger password"
                        .to_owned(),
                })?;
        }
        let mut dummy = random::hex(32)?;
        let dummy_hash = hash_password(&Password::new(dummy.clone()), options.hash_cost)?;
        zeroize::Zeroize::zeroize(&mut dummy);
        let service = AuthService {
            rows,
            config,
            cost: options.hash_cost,
            throttle: options.throttle,
            clock: options.clock,
            dummy_hash,
        };
        if let Some(default) = &service.config.default_role {
            let tenant = default.tenant.as_deref().unwrap_or(DEFAULT_TENANT);
            service.put_role(tenant, &default.role)?;
        }
        Ok(service)
    }

    pub fn config(&self) -> &SecurityConfig {
        &self.config
    }

    /// Creates `server.basic-auth`'s administrator at first start: a user bound to the admin
    /// role on the default tenant. An existing user of that name is left alone.
    pub fn bootstrap(&self, admin: &BootstrapAdmin) -> Result<Bootstrap> {
        if let Some(existing) = self.rows.get_user_by_name(&admin.username)? {
            return Ok(Bootstrap::Existing(User::from(&existing)));
        }
        let user = self.create_user(&admin.username, Some(&admin.password))?;
        self.put_role(DEFAULT_TENANT, &Role::admin())?;
        self.bind(DEFAULT_TENANT, &user.id, Role::admin().name(), None)?;
        tracing::info!(username = %user.username, "bootstrapped the administrator");
        Ok(Bootstrap::Created(user))
    }

    /// Creates a user (with a password checked against the policy, or none) and binds the
    /// configured default role to it.
    pub fn create_user(&self, username: &str, password: Option<&Password>) -> Result<User> {
        let row = self.new_user_row(username, password)?;
        self.rows.insert_user(&row).map_err(|e| match e {
            StoreError::AlreadyExists { .. } => AuthError::AlreadyExists {
                kind: "user",
                id: username.to_owned(),
            },
            other => other.into(),
        })?;
        tracing::info!(
            username = %row.username,
            user_id = %row.id,
            with_password = row.password_hash.is_some(),
            "user created"
        );
        if let Some(default) = &self.config.default_role {
            let tenant = default.tenant.as_deref().unwrap_or(DEFAULT_TENANT);
            self.bind(tenant, &row.id, default.role.name(), None)?;
        }
        Ok(User::from(&row))
    }

    /// The row of a new user, not stored yet: the username checked (and not the
    /// super-admin's), the password checked against the policy and hashed.
    pub(crate) fn new_user_row(
        &self,
        username: &str,
        password: Option<&Password>,
    ) -> Result<UserRow> {
        validate_username(username)?;
        if self
            .config
            .super_admin
            .as_ref()
            .is_some_and(|s| s.username.eq_ignore_ascii_case(username))
        {
            return Err(AuthError::AlreadyExists {
                kind: "user",
                id: username.to_owned(),
            });
        }
        let password_hash = match password {
            Some(p) => {
                self.config.password_policy.check(p)?;
                Some(hash_password(p, self.cost)?)
            }
            None => None,
        };
        Ok(UserRow {
            id: random::id()?,
            username: username.to_owned(),
            password_hash,
            created_at: self.clock.now(),
            disabled: false,
        })
    }

    pub fn get_user(&self, user_id: &str) -> Result<Option<User>> {
        Ok(self.rows.get_user(user_id)?.as_ref().map(User::from))
    }

    pub fn find_user(&self, username: &str) -> Result<Option<User>> {
        Ok(self
            .rows
            .get_user_by_name(username)?
            .as_ref()
            .map(User::from))
    }

    pub fn list_users(&self) -> Result<Vec<User>> {
        Ok(self.rows.list_users()?.iter().map(User::from).collect())
    }

    /// Sets a new password, checked against the policy.
    pub fn set_password(&self, user_id: &str, password: &Password) -> Result<()> {
        self.config.password_policy.check(password)?;
        let hash = hash_password(password, self.cost)?;
        if !self.rows.set_password_hash(user_id, Some(&hash))? {
            return Err(not_found("user", user_id));
        }
        tracing::info!(user_id, "password changed");
        Ok(())
    }

    pub fn set_disabled(&self, user_id: &str, disabled: bool) -> Result<()> {
        if !self.rows.set_user_disabled(user_id, disabled)? {
            return Err(not_found("user", user_id));
        }
        tracing::info!(
            user_id,
            disabled,
            "user {}",
            if disabled { "disabled" } else { "enabled" }
        );
        Ok(())
    }

    /// Deletes the user with its bindings and tokens. False if it did not exist.
    pub fn delete_user(&self, user_id: &str) -> Result<bool> {
        let deleted = self.rows.delete_user(user_id)?;
        if deleted {
            tracing::info!(user_id, "user deleted with its bindings and tokens");
        }
        Ok(deleted)
    }

    /// Checks a username and password (HTTP Basic). `address` is the client's, for
    /// throttling per (username, address) and per address (see `throttle`: never per
    /// username alone). Every failure is one [`AuthError::InvalidCredentials`] (or
    /// [`AuthError::Throttled`] while locked) and is logged without the password.
    pub fn authenticate_basic(
        &self,
        username: &str,
        password: &Password,
        address: Option<&str>,
    ) -> Result<Subject> {
        // Without an address (an in-process caller) the pair key still counts the failures.
        let mut keys = vec![ThrottleKey::user_at(username, address.unwrap_or("-"))];
        if let Some(address) = address {
            keys.push(ThrottleKey::Address(address.to_owned()));
        }
        if let Some(wait) = self.throttle.check(&keys) {
            tracing::warn!(address, "login refused: throttled");
            return Err(AuthError::Throttled {
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        match self.check_password(username, password)? {
            Some(subject) => {
                self.throttle.record_success(&keys[0]);
                Ok(subject)
            }
            None => {
                self.throttle.record_failure(&keys);
                // The username is logged only when it is a real account: a mistyped password
                // in the username field must not end up in the log.
                let known = self.rows.get_user_by_name(username)?.is_some()
                    || self.is_super_admin_name(username);
                if known {
                    tracing::warn!(username, address, "failed login");
                } else {
                    tracing::warn!(address, "failed login for an unknown username");
                }
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    fn is_super_admin_name(&self, username: &str) -> bool {
        self.config
            .super_admin
            .as_ref()
            .is_some_and(|s| s.username.eq_ignore_ascii_case(username))
    }

    /// `Some(subject)` if the password is right for an enabled user.
    fn check_password(&self, username: &str, password: &Password) -> Result<Option<Subject>> {
        if let Some(admin) = &self.config.super_admin
            && admin.username.eq_ignore_ascii_case(username)
        {
            // Compare digests in constant time (the configured password is plaintext).
            let given = digest(password.expose());
            let expected = digest(admin.password.expose());
            let ok: bool = given.as_bytes().ct_eq(expected.as_bytes()).into();
            return Ok(ok.then(|| self.super_admin_subject()));
        }
        let Some(row) = self.rows.get_user_by_name(username)? else {
            burn_verify(password, &self.dummy_hash);
            return Ok(None);
        };
        let Some(hash) = &row.password_hash else {
            burn_verify(password, &self.dummy_hash);
            return Ok(None);
        };
        if !verify_password(password, hash)? || row.disabled {
            return Ok(None);
        }
        Ok(Some(self.subject(&row.id)?))
    }
}

pub(crate) fn not_found(kind: &'static str, id: &str) -> AuthError {
    AuthError::NotFound {
        kind,
        id: id.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        validate_username("admin@kestra.io").unwrap();
        for bad in ["", "a:b", " a", "a\n", &"x".repeat(257)] {
            assert!(validate_username(bad).is_err(), "{bad:?}");
        }
    }
}
