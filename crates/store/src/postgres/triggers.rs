//! The scheduler's trigger states, as in the SQLite backend: one row per trigger of a flow,
//! replaced in place by every save. `INSERT ... ON CONFLICT DO UPDATE` is atomic under READ
//! COMMITTED, so two processes saving one trigger at once leave one of the two states, never
//! a duplicate-key error.

use postgres::Row;

use super::{Tx, to_micros};
use crate::trigger_state::{COLUMNS, RawTriggerState, TriggerState};
use crate::{Result, StoreError};

fn raw(row: &Row) -> Result<RawTriggerState> {
    Ok(RawTriggerState {
        tenant: row.try_get(0)?,
        namespace: row.try_get(1)?,
        flow_id: row.try_get(2)?,
        trigger_id: row.try_get(3)?,
        next_date: row.try_get(4)?,
        fingerprint: row.try_get(5)?,
        updated_at: row.try_get(6)?,
    })
}

fn decode(row: &Row) -> Result<TriggerState> {
    raw(row)?.into_state()
}

pub(super) fn save(tx: &mut Tx<'_>, state: &TriggerState) -> Result<()> {
    let texts = [
        &state.tenant,
        &state.namespace,
        &state.flow_id,
        &state.trigger_id,
        &state.fingerprint,
    ];
    if texts.iter().any(|text| text.contains('\0')) {
        // PostgreSQL text cannot hold NUL; say so instead of a bare encoding error.
        return Err(StoreError::Encode {
            kind: "trigger state",
            id: state.key(),
            detail: "a field contains a NUL character".to_owned(),
        });
    }
    tx.execute(
        "INSERT INTO trigger_states \
         (tenant, namespace, flow_id, trigger_id, next_date, fingerprint, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (tenant, namespace, flow_id, trigger_id) DO UPDATE SET \
           next_date = excluded.next_date, fingerprint = excluded.fingerprint, \
           updated_at = excluded.updated_at",
        &[
            &state.tenant,
            &state.namespace,
            &state.flow_id,
            &state.trigger_id,
            &to_micros(state.next_date),
            &state.fingerprint,
            &to_micros(state.updated_at),
        ],
    )?;
    Ok(())
}

pub(super) fn get(
    tx: &mut Tx<'_>,
    tenant: &str,
    namespace: &str,
    flow_id: &str,
    trigger_id: &str,
) -> Result<Option<TriggerState>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM trigger_states \
         WHERE tenant = $1 AND namespace = $2 AND flow_id = $3 AND trigger_id = $4"
    );
    tx.query_opt(&sql, &[&tenant, &namespace, &flow_id, &trigger_id])?
        .map(|row| decode(&row))
        .transpose()
}

pub(super) fn list(tx: &mut Tx<'_>, tenant: &str) -> Result<Vec<TriggerState>> {
    // The key columns have the "C" collation: the order is bytewise, as on SQLite.
    let sql = format!(
        "SELECT {COLUMNS} FROM trigger_states WHERE tenant = $1 \
         ORDER BY namespace, flow_id, trigger_id"
    );
    tx.query(&sql, &[&tenant])?.iter().map(decode).collect()
}

pub(super) fn delete(
    tx: &mut Tx<'_>,
    tenant: &str,
    namespace: &str,
    flow_id: &str,
    trigger_id: &str,
) -> Result<bool> {
    let deleted = tx.execute(
        "DELETE FROM trigger_states \
         WHERE tenant = $1 AND namespace = $2 AND flow_id = $3 AND trigger_id = $4",
        &[&tenant, &namespace, &flow_id, &trigger_id],
    )?;
    Ok(deleted > 0)
}

pub(super) fn tenants(tx: &mut Tx<'_>) -> Result<Vec<String>> {
    // `tenant` has the "C" collation: the order is bytewise, as on SQLite.
    let rows = tx.query(
        "SELECT DISTINCT tenant FROM trigger_states ORDER BY tenant",
        &[],
    )?;
    rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
}
