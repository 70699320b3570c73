//! Trigger state: what a cron scheduler must remember across restarts about each trigger of
//! each flow (when it is next due, and which definition that date was computed from), and
//! the decoding of its rows that both backends share.
//!
//! A state is written with [`Write::SaveTriggerState`](crate::Write::SaveTriggerState), in
//! the same batch as the execution the trigger starts, so that an execution and the trigger's
//! advance are committed together or not at all.

use chrono::{DateTime, Utc};

use crate::columns::from_micros;
use crate::{Result, StoreError};

/// The scheduler's memory of one trigger of one flow: when it is next due. Keyed by
/// (tenant, namespace, flow_id, trigger_id).
///
/// Timestamps are stored with microsecond precision: a state whose dates have no finer part
/// compares equal after a round trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerState {
    pub tenant: String,
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    /// The next date the trigger is due.
    pub next_date: DateTime<Utc>,
    /// Opaque text identifying the definition `next_date` was computed from (the scheduler
    /// resets the state when it changes).
    pub fingerprint: String,
    /// When this state was written (set by the caller).
    pub updated_at: DateTime<Utc>,
}

impl TriggerState {
    /// The key as errors name it: `tenant/namespace/flow_id/trigger_id`.
    pub(crate) fn key(&self) -> String {
        key(
            &self.tenant,
            &self.namespace,
            &self.flow_id,
            &self.trigger_id,
        )
    }
}

fn key(tenant: &str, namespace: &str, flow_id: &str, trigger_id: &str) -> String {
    format!("{tenant}/{namespace}/{flow_id}/{trigger_id}")
}

/// The table both backends keep trigger states in.
pub(crate) const TABLE: &str = "trigger_states";

/// The columns of a row, in the order the backends select them.
pub(crate) const COLUMNS: &str =
    "tenant, namespace, flow_id, trigger_id, next_date, fingerprint, updated_at";

/// A row as stored, before its timestamps are checked.
pub(crate) struct RawTriggerState {
    pub(crate) tenant: String,
    pub(crate) namespace: String,
    pub(crate) flow_id: String,
    pub(crate) trigger_id: String,
    pub(crate) next_date: i64,
    pub(crate) fingerprint: String,
    pub(crate) updated_at: i64,
}

impl RawTriggerState {
    /// The state, or [`StoreError::Corrupt`] naming the row (never its contents) when a
    /// timestamp is out of range.
    pub(crate) fn into_state(self) -> Result<TriggerState> {
        let corrupt = |column: &str| StoreError::Corrupt {
            table: TABLE,
            id: key(
                &self.tenant,
                &self.namespace,
                &self.flow_id,
                &self.trigger_id,
            ),
            detail: format!("{column} is out of range"),
        };
        let Some(next_date) = from_micros(self.next_date) else {
            return Err(corrupt("next_date"));
        };
        let Some(updated_at) = from_micros(self.updated_at) else {
            return Err(corrupt("updated_at"));
        };
        Ok(TriggerState {
            tenant: self.tenant,
            namespace: self.namespace,
            flow_id: self.flow_id,
            trigger_id: self.trigger_id,
            next_date,
            fingerprint: self.fingerprint,
            updated_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(next_date: i64, updated_at: i64) -> RawTriggerState {
        RawTriggerState {
            tenant: "main".into(),
            namespace: "company.team".into(),
            flow_id: "nightly".into(),
            trigger_id: "schedule".into(),
            next_date,
            fingerprint: "secret-looking fingerprint".into(),
            updated_at,
        }
    }

    #[test]
    fn a_row_decodes_to_its_state() {
        let micros = 1_764_000_000_123_456;
        let state = raw(micros, micros + 1).into_state().unwrap();
        assert_eq!(state.next_date.timestamp_micros(), micros);
        assert_eq!(state.updated_at.timestamp_micros(), micros + 1);
        assert_eq!(state.key(), "main/company.team/nightly/schedule");
    }

    #[test]
    fn an_out_of_range_date_is_corrupt_and_names_the_key_only() {
        for (row, column) in [
            (raw(i64::MAX, 0), "next_date"),
            (raw(0, i64::MIN), "updated_at"),
        ] {
            let err = row.into_state().unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(&err, StoreError::Corrupt { table: "trigger_states", id, .. }
                    if id == "main/company.team/nightly/schedule"),
                "{text}"
            );
            assert!(text.contains(column), "{text}");
            assert!(!text.contains("fingerprint"), "{text}");
        }
    }
}
