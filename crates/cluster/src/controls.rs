//! Control messages (cancel these attempts; this execution ended): written by the executor
//! ([`ControlsOut`]), read by every worker ([`ControlsIn`]).

use std::sync::{Mutex, PoisonError};

use chrono::Utc;
use saker_engine::queue::{PopFuture, Queue, QueueClosed};
use saker_engine::wire::{Control, WireMessage};
use saker_store::StoreError;
use saker_store::queue::WakeChannel;
use tokio::sync::mpsc;

use crate::Db;
use crate::threads::{BATCH, Step, retried, spawn_reader, spawn_writer};

/// How many times a control is tried before it is given up.
const PUSH_ATTEMPTS: u32 = 16;

/// The executor's side: every control is written for all workers by a thread of its own,
/// those waiting together in one transaction.
pub struct ControlsOut {
    tx: Mutex<std::sync::mpsc::Sender<Control>>,
}

impl ControlsOut {
    pub fn new(db: Db) -> Self {
        let tx = spawn_writer("saker-controls-out", move |batch: Vec<Control>| {
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
        });
        Self { tx: Mutex::new(tx) }
    }
}

impl Queue<Control> for ControlsOut {
    fn push(&self, control: Control) -> Result<(), QueueClosed> {
        self.tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(control)
            .map_err(|_| QueueClosed)
    }

    /// The executor reads no controls.
    fn pop(&self) -> PopFuture<'_, Control> {
        Box::pin(async { None })
    }
}

/// The worker's side: every control written since the worker started, in order.
pub struct ControlsIn {
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Control>>,
}

impl ControlsIn {
    /// Reads the controls written from now on.
    pub fn new(db: Db) -> Result<Self, StoreError> {
        let mut cursor = db.last_control_seq()?;
        let (tx, rx) = mpsc::unbounded_channel();
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
        Ok(Self {
            rx: tokio::sync::Mutex::new(rx),
        })
    }
}

impl Queue<Control> for ControlsIn {
    /// A worker writes no controls.
    fn push(&self, _control: Control) -> Result<(), QueueClosed> {
        Err(QueueClosed)
    }

    fn pop(&self) -> PopFuture<'_, Control> {
        Box::pin(async move { self.rx.lock().await.recv().await })
    }
}
