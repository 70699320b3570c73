//! The two shapes of database thread this crate runs: a writer draining a channel in
//! batches, and a reader woken by notifications.

use std::sync::{Mutex, PoisonError, mpsc};
use std::time::Duration;

use saker_engine::queue::{PopFuture, Queue, QueueClosed};
use saker_store::StoreError;
use saker_store::queue::WakeChannel;

use crate::Db;

/// How long a reader waits for a notification before it looks anyway (a notification lost
/// with a connection is found this late at worst).
pub(crate) const FALLBACK_POLL: Duration = Duration::from_secs(2);

/// How long a thread waits after a database error before it tries again.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// The most items one batch takes.
pub(crate) const BATCH: usize = 256;

/// The sending side of a writer thread, as the engine's [`Queue`]: pushing never waits;
/// the thread hands `write` every batch of items as they come (what is waiting is taken
/// together) and ends when the queue is dropped. Nothing is read back from it: `pop` is
/// `None`. The executor's jobs and controls and a worker's results go out this way.
pub struct Outgoing<T> {
    tx: Mutex<mpsc::Sender<T>>,
}

impl<T: Send + 'static> Outgoing<T> {
    /// Starts the writer thread `name`; `write` retries as it sees fit.
    pub(crate) fn spawn(name: &str, mut write: impl FnMut(Vec<T>) + Send + 'static) -> Self {
        let (tx, rx) = mpsc::channel::<T>();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while batch.len() < BATCH {
                        match rx.try_recv() {
                            Ok(item) => batch.push(item),
                            Err(_) => break,
                        }
                    }
                    write(batch);
                }
            })
            .expect("spawning a database writer thread");
        Self { tx: Mutex::new(tx) }
    }
}

impl<T: Send + 'static> Queue<T> for Outgoing<T> {
    fn push(&self, item: T) -> Result<(), QueueClosed> {
        self.tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(item)
            .map_err(|_| QueueClosed)
    }

    fn pop(&self) -> PopFuture<'_, T> {
        Box::pin(async { None })
    }
}

/// What a reader thread hands over, as the engine's [`Queue`]: `pop` waits for the next
/// item; nothing is pushed into it. The executor's results and a worker's controls come in
/// this way.
pub struct Incoming<T> {
    rx: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<T>>,
}

impl<T> Incoming<T> {
    /// The queue, and the sender its reader thread feeds.
    pub(crate) fn channel() -> (tokio::sync::mpsc::UnboundedSender<T>, Self) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let incoming = Self {
            rx: tokio::sync::Mutex::new(rx),
        };
        (tx, incoming)
    }
}

impl<T: Send + 'static> Queue<T> for Incoming<T> {
    fn push(&self, _item: T) -> Result<(), QueueClosed> {
        Err(QueueClosed)
    }

    fn pop(&self) -> PopFuture<'_, T> {
        Box::pin(async move { self.rx.lock().await.recv().await })
    }
}

/// What one step of a reader did.
pub(crate) enum Step {
    /// It found this many items (a full batch means more may be waiting: no wait).
    Found(usize),
    /// Whoever consumed the items is gone: the thread ends.
    Stop,
}

/// Starts a thread that runs `step` whenever `channel` is notified (and every
/// [`FALLBACK_POLL`] without a notification), and at once again after a full batch. A
/// database error is logged and retried after a pause, with a new listening session.
pub(crate) fn spawn_reader(
    name: &str,
    db: Db,
    channel: WakeChannel,
    mut step: impl FnMut(Db) -> Result<Step, StoreError> + Send + 'static,
) {
    let thread_name = name.to_owned();
    std::thread::Builder::new()
        .name(thread_name.clone())
        .spawn(move || {
            loop {
                // Listening starts before the first look, so nothing notified in between is
                // missed.
                let mut waiter = match db.waiter(channel) {
                    Ok(waiter) => waiter,
                    Err(error) => {
                        tracing::warn!(%error, thread = %thread_name, "cannot listen for notifications; trying again");
                        std::thread::sleep(RETRY_PAUSE);
                        continue;
                    }
                };
                loop {
                    match step(db) {
                        Ok(Step::Stop) => return,
                        Ok(Step::Found(n)) if n >= BATCH => continue,
                        Ok(Step::Found(_)) => {}
                        Err(error) => {
                            tracing::warn!(%error, thread = %thread_name, "database read failed; trying again");
                            std::thread::sleep(RETRY_PAUSE);
                        }
                    }
                    if let Err(error) = waiter.wait(FALLBACK_POLL) {
                        tracing::warn!(%error, thread = %thread_name, "the listening session failed; opening a new one");
                        break;
                    }
                }
            }
        })
        .expect("spawning a database reader thread");
}

/// Runs `call` until it succeeds or `attempts` have failed, pausing between them. Returns
/// the last error.
pub(crate) fn retried<T>(
    what: &str,
    attempts: u32,
    call: impl FnMut() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    retried_while(what, attempts, call, |_| true)
}

/// [`retried`] for any error, trying again only after an error `transient` accepts (the
/// others are returned at once).
pub(crate) fn retried_while<T, E: std::fmt::Display>(
    what: &str,
    attempts: u32,
    mut call: impl FnMut() -> Result<T, E>,
    transient: impl Fn(&E) -> bool,
) -> Result<T, E> {
    let mut pause = RETRY_PAUSE;
    let mut tries = 0;
    loop {
        match call() {
            Ok(value) => return Ok(value),
            Err(error) => {
                tries += 1;
                if tries >= attempts || !transient(&error) {
                    return Err(error);
                }
                tracing::warn!(%error, "{what} failed; trying again");
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
}
