//! API tokens on [`AuthService`]: created (shown once), listed, revoked, verified.

use chrono::{DateTime, Utc};
use saker_store::{StoreError, TokenRow};

use crate::authz::Subject;
use crate::error::{AuthError, Result};
use crate::service::{AuthService, not_found};
use crate::token::{SecretText, TOKEN_PREFIX, digest_matches, id_of, is_expired, mint};

/// An API token without its secret: what listings show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<TokenRow> for TokenInfo {
    fn from(row: TokenRow) -> Self {
        TokenInfo {
            id: row.id,
            user_id: row.user_id,
            name: row.name,
            created_at: row.created_at,
            expires_at: row.expires_at,
        }
    }
}

impl AuthService {
    /// Creates an API token for the user. The token text is in the returned [`SecretText`]
    /// and nowhere else: only its SHA-256 digest is stored.
    pub fn create_token(
        &self,
        user_id: &str,
        name: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<(TokenInfo, SecretText)> {
        if name.trim().is_empty() || name.chars().count() > 256 {
            return Err(AuthError::InvalidName {
                kind: "token name",
                reason: "it must be 1 to 256 characters".to_owned(),
            });
        }
        let now = self.clock.now();
        if is_expired(expires_at, now) {
            return Err(AuthError::Expired { kind: "token" });
        }
        let minted = mint(TOKEN_PREFIX)?;
        let row = TokenRow {
            id: minted.id,
            user_id: user_id.to_owned(),
            name: name.to_owned(),
            hash: minted.digest,
            created_at: now,
            expires_at,
        };
        self.rows.insert_token(&row).map_err(|e| match e {
            StoreError::NotFound { .. } => not_found("user", user_id),
            other => other.into(),
        })?;
        tracing::info!(user_id, token_id = %row.id, name, "API token created");
        Ok((row.into(), minted.text))
    }

    pub fn list_tokens(&self, user_id: &str) -> Result<Vec<TokenInfo>> {
        Ok(self
            .rows
            .tokens_of_user(user_id)?
            .into_iter()
            .map(TokenInfo::from)
            .collect())
    }

    /// Revokes (deletes) a token. False if it did not exist.
    pub fn revoke_token(&self, token_id: &str) -> Result<bool> {
        let deleted = self.rows.delete_token(token_id)?;
        if deleted {
            tracing::info!(token_id, "API token revoked");
        }
        Ok(deleted)
    }

    /// Revokes the token `token_id` of `user_id`. False if the user has no such token (a
    /// token of someone else is not touched).
    pub fn revoke_user_token(&self, user_id: &str, token_id: &str) -> Result<bool> {
        match self.rows.get_token(token_id)? {
            Some(row) if row.user_id == user_id => self.revoke_token(token_id),
            _ => Ok(false),
        }
    }

    /// Checks a bearer token: right shape, known id, matching digest (compared in constant
    /// time), not expired, owner enabled. Every failure but expiry is
    /// [`AuthError::InvalidCredentials`]; none of them prints the token.
    pub fn authenticate_token(&self, text: &str) -> Result<Subject> {
        let Some(id) = id_of(TOKEN_PREFIX, text) else {
            tracing::warn!("bearer token refused: malformed");
            return Err(AuthError::InvalidCredentials);
        };
        let Some(row) = self.rows.get_token(id)? else {
            tracing::warn!(token_id = id, "bearer token refused: unknown");
            return Err(AuthError::InvalidCredentials);
        };
        if !digest_matches(text, &row.hash) {
            tracing::warn!(token_id = id, "bearer token refused: wrong secret");
            return Err(AuthError::InvalidCredentials);
        }
        if is_expired(row.expires_at, self.clock.now()) {
            tracing::warn!(token_id = id, "bearer token refused: expired");
            return Err(AuthError::Expired { kind: "token" });
        }
        self.subject(&row.user_id)
    }
}
