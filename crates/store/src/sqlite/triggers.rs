//! The scheduler's trigger states: one row per trigger of a flow, replaced in place by every
//! save (the columns are the state's fields; timestamps in microseconds).

use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::to_micros;
use crate::Result;
use crate::trigger_state::{COLUMNS, RawTriggerState, TriggerState};

fn raw(row: &Row<'_>) -> rusqlite::Result<RawTriggerState> {
    Ok(RawTriggerState {
        tenant: row.get(0)?,
        namespace: row.get(1)?,
        flow_id: row.get(2)?,
        trigger_id: row.get(3)?,
        next_date: row.get(4)?,
        fingerprint: row.get(5)?,
        updated_at: row.get(6)?,
    })
}

pub(super) fn save(tx: &Transaction<'_>, state: &TriggerState) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO trigger_states \
         (tenant, namespace, flow_id, trigger_id, next_date, fingerprint, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (tenant, namespace, flow_id, trigger_id) DO UPDATE SET \
           next_date = excluded.next_date, fingerprint = excluded.fingerprint, \
           updated_at = excluded.updated_at",
    )?
    .execute(params![
        state.tenant,
        state.namespace,
        state.flow_id,
        state.trigger_id,
        to_micros(state.next_date),
        state.fingerprint,
        to_micros(state.updated_at),
    ])?;
    Ok(())
}

pub(super) fn get(
    tx: &Transaction<'_>,
    tenant: &str,
    namespace: &str,
    flow_id: &str,
    trigger_id: &str,
) -> Result<Option<TriggerState>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM trigger_states \
         WHERE tenant = ?1 AND namespace = ?2 AND flow_id = ?3 AND trigger_id = ?4"
    );
    tx.prepare_cached(&sql)?
        .query_row(params![tenant, namespace, flow_id, trigger_id], raw)
        .optional()?
        .map(RawTriggerState::into_state)
        .transpose()
}

pub(super) fn list(tx: &Transaction<'_>, tenant: &str) -> Result<Vec<TriggerState>> {
    // SQLite compares TEXT bytewise (BINARY collation), the order the contract asks for.
    let sql = format!(
        "SELECT {COLUMNS} FROM trigger_states WHERE tenant = ?1 \
         ORDER BY namespace, flow_id, trigger_id"
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    let rows = stmt.query_map([tenant], raw)?;
    let mut states = Vec::new();
    for row in rows {
        states.push(row?.into_state()?);
    }
    Ok(states)
}

pub(super) fn delete(
    tx: &Transaction<'_>,
    tenant: &str,
    namespace: &str,
    flow_id: &str,
    trigger_id: &str,
) -> Result<bool> {
    let deleted = tx
        .prepare_cached(
            "DELETE FROM trigger_states \
             WHERE tenant = ?1 AND namespace = ?2 AND flow_id = ?3 AND trigger_id = ?4",
        )?
        .execute(params![tenant, namespace, flow_id, trigger_id])?;
    Ok(deleted > 0)
}

pub(super) fn tenants(tx: &Transaction<'_>) -> Result<Vec<String>> {
    let mut stmt =
        tx.prepare_cached("SELECT DISTINCT tenant FROM trigger_states ORDER BY tenant")?;
    let tenants = stmt
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(tenants)
}
