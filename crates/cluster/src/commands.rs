//! Requests for the executor from the processes that have none (webserver, scheduler):
//! written by [`CommandsOut`], taken and applied by [`run_command_pump`].

use std::sync::Arc;

use chrono::Utc;
use saker_engine::{CommandSink, Engine, EngineError, ExecutorCommand};
use saker_store::commands::NewCommand;
use saker_store::queue::WakeChannel;
use tokio::runtime::{Handle, RuntimeFlavor};

use crate::Db;
use crate::threads::{BATCH, Step, retried, retried_while, spawn_reader};

/// Writes each request as a row of the executor's command queue (and notifies it), in the
/// caller's thread: the caller waits for the row to be committed, so a request the API
/// answered has been handed over.
pub struct CommandsOut {
    db: Db,
}

impl CommandsOut {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

/// How many times a request is written before its caller gets the error (about twelve
/// seconds of pauses between them).
const SEND_ATTEMPTS: u32 = 6;

impl CommandSink for CommandsOut {
    /// Tried again while the database fails, for a dozen seconds (a restart of PostgreSQL
    /// is waited out): an execution the webserver or scheduler has just stored would
    /// otherwise stay CREATED with nobody asked to start it.
    fn send(&self, command: &ExecutorCommand) -> Result<(), String> {
        let payload = command.to_json();
        let push = || {
            retried("handing a request to the executor", SEND_ATTEMPTS, || {
                self.db.push_command(
                    &NewCommand {
                        kind: command.kind(),
                        execution_id: command.execution_id(),
                        payload: &payload,
                    },
                    Utc::now(),
                )
            })
        };
        // The pauses between tries must not hold a worker thread of the caller's runtime.
        let pushed = match Handle::try_current().map(|handle| handle.runtime_flavor()) {
            Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(push),
            _ => push(),
        };
        pushed.map(|_| ()).map_err(|e| e.to_string())
    }
}

/// Reads the executor's commands as they are written and hands each to `engine`'s executor,
/// on a thread of its own; a batch is deleted only once the executor has recorded what it
/// asked. A command read by an executor that dies before that is read again by the next
/// one: applying a command twice changes nothing (a second start, kill, resume or retry of
/// the same thing is ignored by the executor).
pub fn run_command_pump(db: Db, engine: Arc<Engine>) {
    spawn_reader("saker-commands-in", db, WakeChannel::Commands, move |db| {
        let commands = db.peek_commands(BATCH as u32)?;
        let found = commands.len();
        let mut handled = Vec::with_capacity(found);
        for row in commands {
            handled.push(row.seq);
            let command = match ExecutorCommand::from_row(
                &row.kind,
                &row.execution_id,
                &row.payload,
            ) {
                Ok(command) => command,
                Err(error) => {
                    tracing::error!(%error, seq = row.seq, "an executor command could not be read; it is dropped");
                    continue;
                }
            };
            if let Err(error) = apply(&engine, command) {
                if matches!(error, saker_engine::EngineError::Stopped) {
                    return Ok(Step::Stop);
                }
                tracing::error!(%error, execution = %row.execution_id, "an executor command failed");
            }
        }
        if handled.is_empty() {
            return Ok(Step::Found(0));
        }
        if !engine.wait_recorded() {
            return Ok(Step::Stop);
        }
        db.delete_commands(&handled)?;
        Ok(Step::Found(found))
    });
}

/// How many times a command that failed on the database is applied (about five minutes,
/// the same patience as the executor's other writes).
const APPLY_ATTEMPTS: u32 = 64;

/// Applies `command`, again after a pause while the database fails (it is restarting, the
/// connection was cut): the command was deleted as it was taken, so giving up on it at the
/// first error would lose it (a start asked then would leave its execution CREATED until
/// the next executor's recovery). Only a store error is tried again; applying does nothing
/// before the store answers, so a failed try left nothing half done.
fn apply(engine: &Engine, command: ExecutorCommand) -> Result<(), EngineError> {
    retried_while(
        "applying an executor command",
        APPLY_ATTEMPTS,
        || engine.apply_command(command.clone()),
        |error| matches!(error, EngineError::Store(_)),
    )
}
