//! Throttling of failed logins, per (username, client address) and per client address: after
//! `max_failures` failures within `window`, the key is locked for `lockout`, doubling with
//! every further lock up to `max_lockout`. A success clears the (username, address) record
//! (not the address's: one good account must not unlock an address that is guessing others).
//!
//! There is deliberately no key for a username alone: wrong passwords sent from one address
//! must not lock the account's owner out from the addresses that did not fail (anyone could
//! otherwise lock the administrator out everywhere). Guessing one account from many
//! addresses is slowed by each address's lock and by the cost of Argon2id. API tokens are not
//! throttled here: they are 256-bit random values, checked by digest.
//!
//! In memory and per process, on purpose: it slows online guessing; it is not a ledger.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Where the throttle reads the time; injectable for tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

/// The monotonic system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// Past this many tracked keys, stale ones are dropped before a new failure is recorded.
const MAX_RECORDS: usize = 10_000;

/// The throttle's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    pub max_failures: u32,
    pub window: Duration,
    pub lockout: Duration,
    pub max_lockout: Duration,
}

impl Default for ThrottlePolicy {
    /// 5 failures within 15 minutes lock for 1 minute, then 2, 4, ... up to 1 hour.
    fn default() -> Self {
        ThrottlePolicy {
            max_failures: 5,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(60),
            max_lockout: Duration::from_secs(60 * 60),
        }
    }
}

/// What is being throttled.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// One username (compared without regard to ASCII case, as usernames are) from one
    /// client address.
    UserAt { user: String, address: String },
    /// Every attempt from one client address.
    Address(String),
}

impl ThrottleKey {
    /// The key of `user` logging in from `address`.
    pub fn user_at(user: &str, address: &str) -> Self {
        ThrottleKey::UserAt {
            user: user.to_ascii_lowercase(),
            address: address.to_owned(),
        }
    }
}

#[derive(Debug, Default)]
struct Record {
    /// Failures since `window_start`.
    failures: u32,
    window_start: Option<Instant>,
    locked_until: Option<Instant>,
    /// How many locks so far (for the back-off).
    locks: u32,
}

/// The failed-login throttle. Cheap to share (`Arc` inside the mutex).
pub struct LoginThrottle {
    policy: ThrottlePolicy,
    clock: Arc<dyn Clock>,
    records: Mutex<HashMap<ThrottleKey, Record>>,
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl LoginThrottle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self::with_clock(policy, Arc::new(SystemClock))
    }

    pub fn with_clock(policy: ThrottlePolicy, clock: Arc<dyn Clock>) -> Self {
        LoginThrottle {
            policy,
            clock,
            records: Mutex::new(HashMap::new()),
        }
    }

    fn records(&self) -> std::sync::MutexGuard<'_, HashMap<ThrottleKey, Record>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `Some(remaining)` while any of `keys` is locked: refuse the attempt without checking
    /// the password (so a locked account cannot be probed).
    pub fn check(&self, keys: &[ThrottleKey]) -> Option<Duration> {
        let now = self.clock.now();
        let records = self.records();
        keys.iter()
            .filter_map(|key| records.get(key)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
    }

    /// Records a failed attempt against every key.
    pub fn record_failure(&self, keys: &[ThrottleKey]) {
        let now = self.clock.now();
        let policy = self.policy;
        let mut records = self.records();
        if records.len() >= MAX_RECORDS {
            // Forget keys that are neither locked nor inside a window, so that a spray of
            // usernames cannot grow the map without bound.
            records.retain(|_, r| {
                r.locked_until.is_some_and(|until| until > now)
                    || r.window_start
                        .is_some_and(|start| now.duration_since(start) < policy.window)
            });
        }
        for key in keys {
            let record = records.entry(key.clone()).or_default();
            let window_open = record
                .window_start
                .is_some_and(|start| now.duration_since(start) < policy.window);
            if !window_open {
                record.window_start = Some(now);
                record.failures = 0;
            }
            record.failures += 1;
            if record.failures >= policy.max_failures {
                let factor = 2u32.saturating_pow(record.locks.min(31));
                let lock = policy
                    .lockout
                    .saturating_mul(factor)
                    .min(policy.max_lockout);
                record.locked_until = Some(now + lock);
                record.locks = record.locks.saturating_add(1);
                record.failures = 0;
                record.window_start = None;
            }
        }
    }

    /// Records a successful login: the (user, address) record is cleared.
    pub fn record_success(&self, user: &ThrottleKey) {
        self.records().remove(user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FakeClock(Mutex<Instant>);

    impl FakeClock {
        fn advance(&self, by: Duration) {
            *self.0.lock().unwrap() += by;
        }
    }

    impl Clock for FakeClock {
        fn now(&self) -> Instant {
            *self.0.lock().unwrap()
        }
    }

    fn setup() -> (Arc<FakeClock>, LoginThrottle) {
        let clock = Arc::new(FakeClock(Mutex::new(Instant::now())));
        let policy = ThrottlePolicy {
            max_failures: 3,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(10),
            max_lockout: Duration::from_secs(25),
        };
        (clock.clone(), LoginThrottle::with_clock(policy, clock))
    }

    fn user(name: &str) -> ThrottleKey {
        ThrottleKey::user_at(name, "10.0.0.9")
    }

    #[test]
    fn locks_after_n_failures_within_the_window() {
        let (clock, t) = setup();
        let keys = [user("ann")];
        t.record_failure(&keys);
        t.record_failure(&keys);
        assert_eq!(t.check(&keys), None);
        t.record_failure(&keys);
        assert_eq!(t.check(&keys), Some(Duration::from_secs(10)));
        clock.advance(Duration::from_secs(4));
        assert_eq!(t.check(&keys), Some(Duration::from_secs(6)));
        clock.advance(Duration::from_secs(6));
        assert_eq!(t.check(&keys), None, "the lock ends");
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let (clock, t) = setup();
        let keys = [user("ann")];
        t.record_failure(&keys);
        t.record_failure(&keys);
        clock.advance(Duration::from_secs(61));
        t.record_failure(&keys);
        assert_eq!(t.check(&keys), None);
    }

    #[test]
    fn lockout_backs_off_up_to_the_maximum() {
        let (clock, t) = setup();
        let keys = [user("ann")];
        let mut locks = Vec::new();
        for _ in 0..3 {
            for _ in 0..3 {
                t.record_failure(&keys);
            }
            let lock = t.check(&keys).unwrap();
            locks.push(lock);
            clock.advance(lock);
        }
        assert_eq!(
            locks,
            [10, 20, 25].map(Duration::from_secs).to_vec(),
            "doubling, capped"
        );
    }

    #[test]
    fn success_clears_the_user_but_not_the_address() {
        let (_clock, t) = setup();
        let addr = ThrottleKey::Address("10.0.0.1".into());
        for name in ["a", "b", "c"] {
            t.record_failure(&[user(name), addr.clone()]);
        }
        assert!(
            t.check(&[user("d"), addr.clone()]).is_some(),
            "address locked"
        );
        assert_eq!(
            t.check(&[user("a")]),
            None,
            "one failure does not lock a user"
        );
        t.record_success(&user("d"));
        assert!(t.check(&[addr]).is_some());
        t.record_failure(&[user("a")]);
        t.record_success(&user("a"));
        t.record_failure(&[user("a")]);
        t.record_failure(&[user("a")]);
        assert_eq!(t.check(&[user("a")]), None, "success reset the count");
    }

    #[test]
    fn stale_records_are_forgotten_but_locks_are_kept() {
        let (clock, t) = setup();
        for _ in 0..3 {
            t.record_failure(&[user("locked")]);
        }
        for n in 0..MAX_RECORDS {
            t.record_failure(&[user(&format!("spray{n}"))]);
        }
        clock.advance(Duration::from_secs(5));
        t.record_failure(&[user("last")]);
        assert_eq!(
            t.records().len(),
            MAX_RECORDS + 2,
            "all still inside the window"
        );
        clock.advance(Duration::from_secs(61));
        t.record_failure(&[user("later")]);
        assert!(t.records().len() <= 2, "stale records dropped");
        assert_eq!(t.check(&[user("locked")]), None, "its lock ended too");
    }

    #[test]
    fn a_user_is_locked_only_from_the_address_that_failed() {
        let (_clock, t) = setup();
        let from = |address: &str| {
            [
                ThrottleKey::user_at("Admin", address),
                ThrottleKey::Address(address.to_owned()),
            ]
        };
        for _ in 0..3 {
            t.record_failure(&from("203.0.113.7"));
        }
        assert!(t.check(&from("203.0.113.7")).is_some());
        assert_eq!(
            t.check(&from("10.0.0.1")),
            None,
            "other addresses still log in"
        );
        assert_eq!(
            ThrottleKey::user_at("ADMIN", "a"),
            ThrottleKey::user_at("admin", "a"),
            "usernames compare without regard to case"
        );
    }

    #[test]
    fn keys_are_independent() {
        let (_clock, t) = setup();
        for _ in 0..3 {
            t.record_failure(&[user("ann")]);
        }
        assert!(t.check(&[user("ann")]).is_some());
        assert_eq!(t.check(&[user("bob")]), None);
    }
}
