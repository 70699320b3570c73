//! How remote (HTTP) backends sit behind the synchronous [`crate::SecretStore`] trait: each
//! backend owns one [`AsyncBridge`], a dedicated OS thread running a current-thread tokio
//! runtime, and its calls are futures handed to that thread and waited for on the caller's
//! thread through a plain `std` channel.
//!
//! Why not an async trait: every caller of the secret service is already on a thread that
//! may block (the engine resolves `secret()` inside a synchronous render through
//! `off_worker`'s `block_in_place`; the API runs each handler on a blocking thread through its
//! `StoreGate`; the CLI is synchronous), and the jdbc backend is blocking by nature. Why not
//! `reqwest::blocking` or `Handle::block_on` on the caller's runtime: the first panics when
//! dropped inside a runtime, the second panics when the caller is itself inside `block_on`
//! (the API's blocking handlers are). One thread per backend, not per call: concurrent calls
//! are tasks on the same runtime, multiplexed over one connection pool.

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;

use tokio::sync::mpsc as async_mpsc;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The bridge thread went away (it only does if its runtime could not start).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the secret backend's I/O thread is not running: {0}")]
pub struct BridgeDown(String);

/// A dedicated I/O thread with its own runtime. Dropping the last handle closes the queue;
/// the thread then finishes what is in flight and exits on its own (never joined, so a drop
/// inside an async context cannot block or panic).
#[derive(Debug, Clone)]
pub struct AsyncBridge {
    jobs: async_mpsc::UnboundedSender<Job>,
}

impl AsyncBridge {
    /// Starts the thread, named `name` (shown by debuggers and `top -H`).
    pub fn start(name: &str) -> Result<Self, BridgeDown> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|err| BridgeDown(format!("cannot start its runtime: {err}")))?;
        let (jobs, mut queue) = async_mpsc::unbounded_channel::<Job>();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    while let Some(job) = queue.recv().await {
                        tokio::spawn(job);
                    }
                });
            })
            .map_err(|err| BridgeDown(format!("cannot start its thread: {err}")))?;
        Ok(Self { jobs })
    }

    /// Runs `future` on the bridge thread and blocks the calling thread until it ends. Callers
    /// must be on a thread allowed to block (see the module comment); timeouts belong to the
    /// future (the HTTP clients set theirs), so this wait always ends.
    pub fn run<T, F>(&self, future: F) -> Result<T, BridgeDown>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let (answer, wait) = mpsc::sync_channel(1);
        let job: Job = Box::pin(async move {
            let _ = answer.send(future.await);
        });
        self.jobs
            .send(job)
            .map_err(|_| BridgeDown("it has stopped".into()))?;
        wait.recv()
            .map_err(|_| BridgeDown("the call was dropped before it answered".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_futures_on_its_own_thread_from_inside_a_runtime() {
        let bridge = AsyncBridge::start("bridge-test").unwrap();
        let caller = std::thread::current().id();
        let other = bridge
            .run(async move { std::thread::current().id() != caller })
            .unwrap();
        assert!(other);
        // A caller inside a runtime's block_on (as the API's blocking handlers are).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let sum = runtime.block_on(async { bridge.run(async { 20 + 22 }).unwrap() });
        assert_eq!(sum, 42);
        // Concurrent callers share the one thread.
        let handles: Vec<_> = (0..8)
            .map(|n| {
                let bridge = bridge.clone();
                std::thread::spawn(move || bridge.run(async move { n * 2 }).unwrap())
            })
            .collect();
        let total: i32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(total, 56);
        drop(runtime);
    }
}
