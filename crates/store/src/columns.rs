//! How values become columns, the same on every backend: timestamps as microseconds, the
//! bounds of a namespace's children, a secret's row id, counts as signed integers.

use chrono::{DateTime, Utc};
use saker_model::execution::Level;

use crate::{Result, StoreError};

/// Levels are stored as their rank so that "this level or worse" is a plain comparison.
pub(crate) fn level_rank(level: Level) -> i16 {
    match level {
        Level::Trace => 0,
        Level::Debug => 1,
        Level::Info => 2,
        Level::Warn => 3,
        Level::Error => 4,
    }
}

pub(crate) fn to_micros(date: DateTime<Utc>) -> i64 {
    date.timestamp_micros()
}

/// `None` for a stored integer outside chrono's range, which only a corrupt row can hold.
pub(crate) fn from_micros(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_micros(micros)
}

/// The half-open range of namespaces strictly below `prefix`: those starting with `prefix.`.
/// Comparing against bounds instead of `LIKE 'prefix.%'` needs no escaping of `%` and `_` and
/// uses the index; `/` is the byte right after `.`, and both backends compare these columns
/// bytewise (SQLite always, PostgreSQL through the "C" collation of the key columns).
pub(crate) fn namespace_children(prefix: &str) -> (String, String) {
    (format!("{prefix}."), format!("{prefix}/"))
}

/// The id of a secret's row.
pub(crate) fn secret_id(tenant: &str, namespace: &str, key: &str) -> String {
    format!("{tenant}/{namespace}/{key}")
}

/// A count or number as the databases store it (signed 64 bits).
pub(crate) fn to_i64(value: u64, what: &'static str, id: &str) -> Result<i64> {
    i64::try_from(value).map_err(|_| StoreError::Encode {
        kind: what,
        id: id.to_owned(),
        detail: "the number is too large".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_bounds_select_exactly_the_children() {
        let (lo, hi) = namespace_children("company");
        let inside = |ns: &str| ns >= lo.as_str() && ns < hi.as_str();
        assert!(inside("company.team"));
        assert!(inside("company.team.sub"));
        assert!(
            !inside("company"),
            "the prefix itself is matched separately"
        );
        assert!(!inside("companyx"));
        assert!(!inside("company-x"));
        assert!(!inside("company/x"));
        assert!(!inside("compan"));
        assert!(!inside("d"));
    }

    #[test]
    fn micros_round_trip_and_reject_out_of_range() {
        let now = DateTime::<Utc>::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        assert_eq!(from_micros(to_micros(now)), Some(now));
        assert_eq!(from_micros(i64::MAX), None);
    }

    #[test]
    fn level_ranks_follow_the_level_order() {
        let levels = [
            Level::Trace,
            Level::Debug,
            Level::Info,
            Level::Warn,
            Level::Error,
        ];
        for pair in levels.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(level_rank(pair[0]) < level_rank(pair[1]));
        }
    }
}
