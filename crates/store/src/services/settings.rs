//! The settings of liveness and restarts, under Kestra's names (seed 001): read from a
//! lookup of dotted keys (the configuration file, `SAKER_*` overrides), checked, with
//! Kestra's defaults for JDBC deployments. Every error names the key(s) to fix.

use std::time::Duration;

use saker_model::duration;

pub const KEY_ENABLED: &str = "server.liveness.enabled";
pub const KEY_INTERVAL: &str = "server.liveness.interval";
pub const KEY_TIMEOUT: &str = "server.liveness.timeout";
pub const KEY_INITIAL_DELAY: &str = "server.liveness.initial-delay";
pub const KEY_HEARTBEAT_INTERVAL: &str = "server.liveness.heartbeat-interval";
pub const KEY_RESTART_STRATEGY: &str = "server.worker-task-restart-strategy";
pub const KEY_GRACE_PERIOD: &str = "server.termination-grace-period";
pub const KEY_PURGE_RETENTION: &str = "server.service.purge.retention";
/// Kestra's older worker heartbeat: its period, the fallback of `heartbeat-interval`.
pub const KEY_OLD_FREQUENCY: &str = "heartbeat.frequency";
/// Kestra's older worker heartbeat: missed beats before a worker is dead; with
/// `heartbeat.frequency`, the fallback of `server.liveness.timeout`.
pub const KEY_OLD_MISSED: &str = "heartbeat.heartbeat-missed";

/// Every key [`LivenessSettings::from_lookup`] reads.
pub const KEYS: [&str; 10] = [
    KEY_ENABLED,
    KEY_INTERVAL,
    KEY_TIMEOUT,
    KEY_INITIAL_DELAY,
    KEY_HEARTBEAT_INTERVAL,
    KEY_RESTART_STRATEGY,
    KEY_GRACE_PERIOD,
    KEY_PURGE_RETENTION,
    KEY_OLD_FREQUENCY,
    KEY_OLD_MISSED,
];

/// What happens to the jobs a worker held when it dies or is stopped by force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RestartStrategy {
    /// Never run them again: they are abandoned and their task runs fail.
    Never,
    /// Hand them to another worker as soon as the holder is found dead.
    Immediately,
    /// Hand them to another worker once `server.termination-grace-period` has passed since
    /// the holder's last heartbeat (it may still be finishing them).
    AfterTerminationGracePeriod,
}

impl RestartStrategy {
    pub const ALL: [RestartStrategy; 3] = [
        RestartStrategy::Never,
        RestartStrategy::Immediately,
        RestartStrategy::AfterTerminationGracePeriod,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RestartStrategy::Never => "NEVER",
            RestartStrategy::Immediately => "IMMEDIATELY",
            RestartStrategy::AfterTerminationGracePeriod => "AFTER_TERMINATION_GRACE_PERIOD",
        }
    }
}

/// The validated settings. [`Default`] is Kestra's for JDBC deployments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LivenessSettings {
    /// Whether the coordinator judges instances at all (`server.liveness.enabled`).
    pub enabled: bool,
    /// How often the coordinator runs (`server.liveness.interval`, 5s).
    pub interval: Duration,
    /// Silence after which an instance is DISCONNECTED (`server.liveness.timeout`, 45s).
    pub timeout: Duration,
    /// How long after it started an instance is not judged (`initial-delay`, 45s).
    pub initial_delay: Duration,
    /// How often an instance heartbeats (`server.liveness.heartbeat-interval`, 3s).
    pub heartbeat_interval: Duration,
    /// `server.worker-task-restart-strategy` (AFTER_TERMINATION_GRACE_PERIOD, Kestra's).
    pub restart_strategy: RestartStrategy,
    /// `server.termination-grace-period` (5m).
    pub termination_grace_period: Duration,
    /// `server.service.purge.retention` (7d): how long rows of gone instances are kept.
    pub purge_retention: Duration,
}

impl Default for LivenessSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(45),
            initial_delay: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(3),
            restart_strategy: RestartStrategy::AfterTerminationGracePeriod,
            termination_grace_period: Duration::from_secs(5 * 60),
            purge_retention: Duration::from_secs(7 * 24 * 60 * 60),
        }
    }
}

/// A setting that cannot be used. The messages name the keys and what is expected, never
/// anything else of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid configuration: {key} must be a duration like 5s, 45s, 5m or 7d ({reason})")]
    Duration { key: &'static str, reason: String },
    #[error("invalid configuration: {key} must be longer than zero")]
    Zero { key: &'static str },
    #[error("invalid configuration: {key} must be a whole number of at least 1")]
    Count { key: &'static str },
    #[error("invalid configuration: {key} must be true or false")]
    Bool { key: &'static str },
    #[error(
        "invalid configuration: {key} must be one of NEVER, IMMEDIATELY, \
         AFTER_TERMINATION_GRACE_PERIOD"
    )]
    Strategy { key: &'static str },
    #[error(
        "invalid configuration: {heartbeat} ({heartbeat_value:?}) must be shorter than \
         {timeout} ({timeout_value:?}), or every instance would be declared gone between \
         two heartbeats"
    )]
    HeartbeatNotBelowTimeout {
        heartbeat: &'static str,
        heartbeat_value: Duration,
        timeout: &'static str,
        timeout_value: Duration,
    },
}

impl LivenessSettings {
    /// Reads every key through `lookup` (the text of a key, `None` when unset), falling back
    /// to the defaults, and checks the whole.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let defaults = Self::default();
        let duration_at = |key: &'static str, default: Duration| match lookup(key) {
            None => Ok(default),
            Some(text) => {
                let value = duration::parse(&text).map_err(|err| SettingsError::Duration {
                    key,
                    reason: err.to_string(),
                })?;
                if value.is_zero() {
                    return Err(SettingsError::Zero { key });
                }
                Ok(value)
            }
        };
        let enabled = match lookup(KEY_ENABLED).map(|t| t.trim().to_ascii_lowercase()) {
            None => defaults.enabled,
            Some(t) if t == "true" => true,
            Some(t) if t == "false" => false,
            Some(_) => return Err(SettingsError::Bool { key: KEY_ENABLED }),
        };
        let restart_strategy = match lookup(KEY_RESTART_STRATEGY) {
            None => defaults.restart_strategy,
            Some(text) => RestartStrategy::ALL
                .into_iter()
                .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
                .ok_or(SettingsError::Strategy {
                    key: KEY_RESTART_STRATEGY,
                })?,
        };
        // Kestra's older `heartbeat.*` keys, read and checked, count only where the
        // `server.liveness.*` key they stand for is not set.
        let old_frequency = match lookup(KEY_OLD_FREQUENCY) {
            None => None,
            Some(_) => Some(duration_at(KEY_OLD_FREQUENCY, Duration::ZERO)?),
        };
        let old_missed = match lookup(KEY_OLD_MISSED) {
            None => None,
            Some(text) => Some(text.trim().parse::<u32>().ok().filter(|n| *n >= 1).ok_or(
                SettingsError::Count {
                    key: KEY_OLD_MISSED,
                },
            )?),
        };
        let heartbeat_default = old_frequency.unwrap_or(defaults.heartbeat_interval);
        let timeout_default = match old_frequency {
            Some(frequency) => frequency.saturating_mul(old_missed.unwrap_or(3)),
            None => defaults.timeout,
        };
        let settings = Self {
            enabled,
            interval: duration_at(KEY_INTERVAL, defaults.interval)?,
            timeout: duration_at(KEY_TIMEOUT, timeout_default)?,
            initial_delay: duration_at(KEY_INITIAL_DELAY, defaults.initial_delay)?,
            heartbeat_interval: duration_at(KEY_HEARTBEAT_INTERVAL, heartbeat_default)?,
            restart_strategy,
            termination_grace_period: duration_at(
                KEY_GRACE_PERIOD,
                defaults.termination_grace_period,
            )?,
            purge_retention: duration_at(KEY_PURGE_RETENTION, defaults.purge_retention)?,
        };
        settings.validate()?;
        Ok(settings)
    }

    /// The checks that involve several keys.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.heartbeat_interval >= self.timeout {
            return Err(SettingsError::HeartbeatNotBelowTimeout {
                heartbeat: KEY_HEARTBEAT_INTERVAL,
                heartbeat_value: self.heartbeat_interval,
                timeout: KEY_TIMEOUT,
                timeout_value: self.timeout,
            });
        }
        Ok(())
    }

    /// How long a claimed job stays its holder's without a renewal: the liveness timeout, so
    /// that a lease outlives every heartbeat a living holder sends.
    pub fn job_lease(&self) -> Duration {
        self.timeout
    }
}
