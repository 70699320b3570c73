//! Control messages (cancel these attempts; this execution ended): written by the executor
//! ([`ControlsOut`]), read by every worker ([`ControlsIn`]).

use chrono::Utc;
use saker_engine::wire::{Control, WireMessage};
use saker_store::StoreError;
use saker_store::queue::WakeChannel;

use crate::Db;
use crate::threads::{BATCH, Incoming, Outgoing, Step, retried, spawn_reader};

/// How many times a control is tried before it is given up.
const PUSH_ATTEMPTS: u32 = 16;

/// The executor's side: every control is written for all workers by a thread of its own,
/// those waiting together in one transaction.
pub type ControlsOut = Outgoing<Control>;

impl ControlsOut {
    pub fn new(db: Db) -> Self {
        Outgoing::spawn("saker-controls-out", move |batch: Vec<Control>| {
            let payloads: Vec<String> = batch
                .iter()
                .filter_map(|control| match control.to_wire() {
                    Ok(payload) => Some(payload),
                    Err(error) => {
                        tracing::error!(%error, "a control message could not be written");
                        None
                    }
                })
                .collect();
            let payloads: Vec<&str> = payloads.iter().map(String::as_str).collect();
            // The controls waiting together go in one transaction (an execution's end sends
            // one each, many at a time under load).
            let pushed = retried("sending control messages", PUSH_ATTEMPTS, || {
                db.push_controls(&payloads, Utc::now())
            });
            if let Err(error) = pushed {
                tracing::error!(%error, controls = payloads.len(), "control messages could not be sent to the workers");
            }
            for control in &batch {
                if let Control::Cancel { execution_id, .. } = control
                    && let Err(error) = db.cancel_queued_jobs(execution_id)
                {
                    // The workers still get the cancel: a job claimed later starts cancelled.
                    tracing::warn!(%error, "the queued jobs of a killed execution could not be cancelled");
                }
            }
        })
    }
}

/// The worker's side: every control written since the worker started, in order.
pub type ControlsIn = Incoming<Control>;

impl ControlsIn {
    /// Reads the controls written from now on.
    pub fn new(db: Db) -> Result<Self, StoreError> {
        let mut cursor = db.last_control_seq()?;
        let (tx, incoming) = Incoming::channel();
        spawn_reader("saker-controls-in", db, WakeChannel::Controls, move |db| {
            let rows = db.controls_after(cursor, BATCH as u32)?;
            let found = rows.len();
            for (seq, payload) in rows {
                cursor = seq;
                match Control::from_wire(&payload) {
                    Ok(control) => {
                        if tx.send(control).is_err() {
                            return Ok(Step::Stop);
                        }
                    }
                    Err(error) => tracing::error!(%error, "a control message could not be read"),
                }
            }
            Ok(Step::Found(found))
        });
        Ok(incoming)
    }
}
