//! WAL checkpoints, kept off the commit path.
//!
//! A checkpoint copies committed pages from the WAL back into the database file and fsyncs
//! both. Left to SQLite's auto-checkpoint, it runs inside whichever commit crosses the
//! threshold, and its fsyncs then cost more than all the commits in between together
//! (measured here: ~85 µs per small commit amortised, against ~27 µs without). So:
//!
//! - a background thread runs a PASSIVE checkpoint every [`Policy::interval`] on a connection
//!   of its own: it never blocks writers, and it does nearly all the copying and syncing;
//! - but SQLite only rewinds the WAL (instead of growing it) once everything in it has been
//!   copied, which a steady stream of commits can keep a concurrent checkpoint from ever
//!   reaching. So when a commit leaves [`Policy::catch_up_pages`] or more in the WAL, the WAL
//!   hook checkpoints right there, on the writer's thread and under its lock, where no other
//!   in-process commit can interfere: that pass completes (it copies only what the background
//!   thread has not), and the next commit rewinds the WAL. This is the only checkpoint work a
//!   commit ever does, once per `catch_up_pages` of WAL at most.

use std::os::raw::c_int;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;

#[derive(Debug, Clone, Copy)]
pub(super) struct Policy {
    /// How often the background thread checkpoints.
    pub(super) interval: Duration,
    /// WAL size in pages past which the committing writer finishes a checkpoint itself.
    pub(super) catch_up_pages: c_int,
}

impl Policy {
    /// 16 MiB of WAL at the default page size: the background thread normally keeps the WAL
    /// far below this, so commits almost never pay; and the WAL file stays modest.
    pub(super) const DEFAULT: Policy = Policy {
        interval: Duration::from_millis(250),
        catch_up_pages: 4096,
    };
}

/// The running checkpoint thread; dropping this stops and joins it.
pub(super) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Takes over checkpointing from `writer` and starts the background thread on `conn`,
    /// another connection to the same database.
    pub(super) fn start(
        conn: Connection,
        writer: &Mutex<Connection>,
        policy: Policy,
    ) -> Result<Self, crate::error::BoxError> {
        {
            let mut writer = writer.lock().unwrap_or_else(PoisonError::into_inner);
            // Installing a WAL hook replaces SQLite's auto-checkpoint (itself a WAL hook);
            // the pragma says so explicitly.
            writer.pragma_update(None, "wal_autocheckpoint", 0)?;
            writer.wal_hook(Some(move |wal: &mut Wal, pages: c_int| {
                if pages >= policy.catch_up_pages
                    && let Err(err) = wal.checkpoint_v2(CheckpointMode::PASSIVE)
                {
                    // Not an error of the commit, which has happened: the next one retries. It
                    // fails routinely while the background checkpoint runs, so it is not a
                    // warning (it would be one per commit under load).
                    tracing::debug!(error = %err, "WAL catch-up checkpoint failed; will retry");
                }
                Ok(())
            }))?;
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("saker-store-checkpoint".into())
            .spawn(move || {
                // Until a stop message or the sender is dropped.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(policy.interval) {
                    if let Err(err) =
                        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %err, "WAL checkpoint failed; will retry");
                    }
                }
            })?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the store's checkpoint thread panicked");
        }
    }
}
