//! When a failed attempt is tried again: Kestra's `constant`, `exponential` and `random`
//! retry policies, bounded by `maxAttempt` (attempts in all, the first included) and
//! `maxDuration` (measured from the first attempt's start).

use std::time::Duration;

use rand::Rng;

/// How the delay before the next attempt grows.
#[derive(Debug, Clone, PartialEq)]
pub enum Backoff {
    Constant {
        interval: Duration,
    },
    Exponential {
        interval: Duration,
        max_interval: Option<Duration>,
        factor: f64,
    },
    Random {
        min_interval: Duration,
        max_interval: Duration,
    },
}

/// A task's retry policy.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub backoff: Backoff,
    pub max_attempts: Option<u32>,
    pub max_duration: Option<Duration>,
    /// End WARNING instead of SUCCESS when a retry was needed.
    pub warning_on_retry: bool,
}

impl RetryPolicy {
    /// The policy of a flow's or task's `retry`, or `None` when it re-runs something other
    /// than the failed task (`CREATE_NEW_EXECUTION`, not yet available).
    pub fn from_model(retry: &saker_model::Retry) -> Option<Self> {
        use saker_model::RetryPolicy as Model;
        let backoff = match &retry.policy {
            Model::Constant { interval } => Backoff::Constant {
                interval: *interval,
            },
            Model::Exponential {
                interval,
                max_interval,
                delay_factor,
            } => Backoff::Exponential {
                interval: *interval,
                max_interval: Some(*max_interval),
                factor: delay_factor.unwrap_or(2.0),
            },
            Model::Random {
                min_interval,
                max_interval,
            } => Backoff::Random {
                min_interval: *min_interval,
                max_interval: *max_interval,
            },
        };
        Some(Self {
            backoff,
            max_attempts: retry.max_attempt,
            max_duration: retry.max_duration,
            warning_on_retry: retry.warning_on_retry,
        })
    }

    /// The delay before attempt `finished + 1`, or `None` when no attempt is left.
    /// `finished` counts the attempts made so far; `elapsed` is the time since the first
    /// attempt started.
    pub fn next_delay(&self, finished: u32, elapsed: Duration) -> Option<Duration> {
        if self.max_attempts.is_some_and(|max| finished >= max) {
            return None;
        }
        if self.max_attempts.is_none() && self.max_duration.is_none() {
            // Kestra refuses a policy without either bound; never retry forever.
            return None;
        }
        let delay = match &self.backoff {
            Backoff::Constant { interval } => *interval,
            Backoff::Exponential {
                interval,
                max_interval,
                factor,
            } => {
                let exp = finished.saturating_sub(1).min(60) as i32;
                let grown = interval.as_secs_f64() * factor.powi(exp);
                let capped = max_interval.map_or(grown, |m| grown.min(m.as_secs_f64()));
                Duration::from_secs_f64(capped.clamp(0.0, 86_400.0 * 365.0))
            }
            Backoff::Random {
                min_interval,
                max_interval,
            } => {
                let (lo, hi) = if min_interval <= max_interval {
                    (*min_interval, *max_interval)
                } else {
                    (*max_interval, *min_interval)
                };
                if lo == hi {
                    lo
                } else {
                    rand::rng().random_range(lo..=hi)
                }
            }
        };
        if self.max_duration.is_some_and(|max| elapsed + delay > max) {
            return None;
        }
        Some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn constant(ms: u64) -> Backoff {
        Backoff::Constant {
            interval: Duration::from_millis(ms),
        }
    }

    #[test]
    fn max_attempts_counts_the_first_attempt() {
        let p = RetryPolicy {
            backoff: constant(100),
            max_attempts: Some(3),
            max_duration: None,
            warning_on_retry: false,
        };
        assert_eq!(
            p.next_delay(1, Duration::ZERO),
            Some(Duration::from_millis(100))
        );
        assert_eq!(
            p.next_delay(2, Duration::ZERO),
            Some(Duration::from_millis(100))
        );
        assert_eq!(p.next_delay(3, Duration::ZERO), None);
    }

    #[test]
    fn max_duration_bounds_the_retries() {
        let p = RetryPolicy {
            backoff: constant(2000),
            max_attempts: None,
            max_duration: Some(Duration::from_secs(6)),
            warning_on_retry: false,
        };
        assert!(p.next_delay(1, Duration::from_secs(2)).is_some());
        assert!(p.next_delay(3, Duration::from_secs(4)).is_some());
        assert_eq!(p.next_delay(4, Duration::from_millis(4500)), None);
    }

    #[test]
    fn exponential_grows_and_caps() {
        let p = RetryPolicy {
            backoff: Backoff::Exponential {
                interval: Duration::from_millis(250),
                max_interval: Some(Duration::from_secs(1)),
                factor: 2.0,
            },
            max_attempts: Some(10),
            max_duration: None,
            warning_on_retry: false,
        };
        let d: Vec<_> = (1..5)
            .map(|n| p.next_delay(n, Duration::ZERO).unwrap())
            .collect();
        assert_eq!(
            d,
            [250, 500, 1000, 1000].map(Duration::from_millis).to_vec()
        );
    }

    #[test]
    fn random_stays_in_bounds() {
        let p = RetryPolicy {
            backoff: Backoff::Random {
                min_interval: Duration::from_millis(200),
                max_interval: Duration::from_millis(500),
            },
            max_attempts: Some(100),
            max_duration: None,
            warning_on_retry: false,
        };
        for n in 1..50 {
            let d = p.next_delay(n, Duration::ZERO).unwrap();
            assert!(d >= Duration::from_millis(200) && d <= Duration::from_millis(500));
        }
    }

    #[test]
    fn unbounded_policy_never_retries() {
        let p = RetryPolicy {
            backoff: constant(10),
            max_attempts: None,
            max_duration: None,
            warning_on_retry: false,
        };
        assert_eq!(p.next_delay(1, Duration::ZERO), None);
    }
}
