//! Why a trigger is not a usable Schedule: one variant per mistake, each message naming the
//! property at fault and what to write instead.

use crate::duration::DurationError;

use super::Schedule;

/// Why a trigger is not a usable Schedule. Each message names the property at fault and what
/// to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("trigger type '{0}' is not a Schedule ({ty})", ty = Schedule::TYPE)]
    NotASchedule(String),
    #[error("'cron' is missing: a Schedule needs a cron expression such as \"0 9 * * *\"")]
    MissingCron,
    #[error("'{property}' must be {expected}, got {got}")]
    WrongType {
        property: &'static str,
        expected: &'static str,
        got: String,
    },
    #[error("'cron': '{cron}' is not a valid cron expression: {why}; see https://crontab.guru")]
    InvalidCron { cron: String, why: String },
    #[error(
        "'cron': '{cron}' has 6 fields, but without 'withSeconds: true' a cron has 5 \
         (minute hour day-of-month month day-of-week); set 'withSeconds: true' to read the \
         first field as seconds, or remove it"
    )]
    SecondsWithoutWithSeconds { cron: String },
    #[error(
        "'cron': '{cron}' never matches any date (such as February 30th); \
         check the day-of-month and month fields"
    )]
    NeverMatches { cron: String },
    #[error(
        "'timezone': unknown time zone '{name}' (use an IANA time zone id such as \
         Europe/Paris or Etc/UTC){hint}"
    )]
    UnknownTimezone { name: String, hint: String },
    #[error("'recoverMissedSchedules': unknown value '{0}' (expected ALL, LAST or NONE)")]
    RecoverMissed(String),
    #[error("'lateMaximumDelay': {0}")]
    LateMaximumDelay(DurationError),
}

impl ScheduleError {
    /// The property at fault, if one is.
    pub fn property(&self) -> Option<&'static str> {
        match self {
            Self::NotASchedule(_) => None,
            Self::MissingCron
            | Self::InvalidCron { .. }
            | Self::SecondsWithoutWithSeconds { .. }
            | Self::NeverMatches { .. } => Some("cron"),
            Self::WrongType { property, .. } => Some(property),
            Self::UnknownTimezone { .. } => Some("timezone"),
            Self::RecoverMissed(_) => Some("recoverMissedSchedules"),
            Self::LateMaximumDelay(_) => Some("lateMaximumDelay"),
        }
    }
}
