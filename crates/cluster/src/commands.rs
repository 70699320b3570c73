//! Requests for the executor from the processes that have none (webserver, scheduler):
//! written by [`CommandsOut`], taken and applied by [`run_command_pump`].

use std::sync::Arc;

use chrono::Utc;
use saker_engine::{CommandSink, Engine, ExecutorCommand};
use saker_store::commands::NewCommand;
use saker_store::queue::WakeChannel;

use crate::Db;
use crate::threads::{BATCH, Step, spawn_reader};

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

impl CommandSink for CommandsOut {
    fn send(&self, command: &ExecutorCommand) -> Result<(), String> {
        let payload = command.to_json();
        self.db
            .push_command(
                &NewCommand {
                    kind: command.kind(),
                    execution_id: command.execution_id(),
                    payload: &payload,
                },
                Utc::now(),
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Takes the executor's commands as they are written and hands each to `engine`'s
/// executor, on a thread of its own. A command is deleted as it is taken: one lost with a
/// dying executor is covered by the next one's recovery (a CREATED execution is started, a
/// KILLING one killed), except a kill asked in that instant, which is asked again.
pub fn run_command_pump(db: Db, engine: Arc<Engine>) {
    spawn_reader("saker-commands-in", db, WakeChannel::Commands, move |db| {
        let commands = db.take_commands(BATCH as u32)?;
        let found = commands.len();
        for row in commands {
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
            if let Err(error) = engine.apply_command(command) {
                if matches!(error, saker_engine::EngineError::Stopped) {
                    return Ok(Step::Stop);
                }
                tracing::error!(%error, execution = %row.execution_id, "an executor command failed");
            }
        }
        Ok(Step::Found(found))
    });
}
