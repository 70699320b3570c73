//! An OAuth2 access token kept until shortly before it expires. The lock is held while a new
//! token is fetched on purpose: concurrent callers wait for the one new token instead of each
//! asking the token endpoint.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

/// A token is renewed this long before its `expires_in` runs out (or at two thirds of a
/// shorter lifetime), so a call never leaves with a token about to lapse.
const MARGIN: Duration = Duration::from_secs(300);

/// A fresh token and how long the issuer said it lasts.
pub(crate) struct Fresh {
    pub token: Zeroizing<String>,
    pub lifetime: Duration,
}

struct Held {
    token: Zeroizing<String>,
    renew_at: Instant,
}

/// The current token of one backend, and how many were fetched.
#[derive(Default)]
pub(crate) struct TokenCache {
    held: Mutex<Option<Held>>,
    fetched: Mutex<u32>,
}

impl TokenCache {
    /// The held token, or a new one from `fetch` when none is held or it is due.
    pub(crate) fn get<E>(
        &self,
        fetch: impl FnOnce() -> Result<Fresh, E>,
    ) -> Result<Zeroizing<String>, E> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(current) = held.as_ref()
            && Instant::now() < current.renew_at
        {
            return Ok(current.token.clone());
        }
        let fresh = fetch()?;
        *self.fetched.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        let early = if fresh.lifetime > MARGIN * 2 {
            fresh.lifetime - MARGIN
        } else {
            fresh.lifetime.mul_f64(2.0 / 3.0)
        };
        *held = Some(Held {
            token: fresh.token.clone(),
            renew_at: Instant::now() + early,
        });
        Ok(fresh.token)
    }

    /// Drops the held token (the service refused it: expired early, or revoked).
    pub(crate) fn forget(&self) {
        *self.held.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// How many tokens were fetched so far.
    pub(crate) fn fetched(&self) -> u32 {
        *self.fetched.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(text: &str, seconds: u64) -> Result<Fresh, String> {
        Ok(Fresh {
            token: Zeroizing::new(text.to_owned()),
            lifetime: Duration::from_secs(seconds),
        })
    }

    #[test]
    fn keeps_a_token_until_it_is_due_and_refetches_after_forget() {
        let cache = TokenCache::default();
        assert_eq!(cache.get(|| fresh("one", 3600)).unwrap().as_str(), "one");
        assert_eq!(cache.get(|| fresh("two", 3600)).unwrap().as_str(), "one");
        cache.forget();
        assert_eq!(
            cache.get(|| fresh("three", 3600)).unwrap().as_str(),
            "three"
        );
        assert_eq!(cache.fetched(), 2);
        // A token that lasts no time at all is due at once.
        cache.forget();
        cache.get(|| fresh("brief", 0)).unwrap();
        assert_eq!(cache.get(|| fresh("next", 0)).unwrap().as_str(), "next");
        let err = TokenCache::default().get(|| Err::<Fresh, _>("refused".to_owned()));
        assert_eq!(err.unwrap_err(), "refused");
    }
}
