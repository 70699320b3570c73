//! How the async S3 client sits behind the synchronous [`crate::Storage`] trait: the storage
//! owns one I/O thread running a current-thread tokio runtime; each call is a future handed
//! to that thread, and the caller's thread waits for its answer on a plain `std` channel.
//!
//! Why not `Handle::block_on` on the caller's runtime: storage calls come from blocking
//! threads (`saker_storage::blocking`, the engine's `off_worker`, the API's store gate), some
//! of them inside a `block_on` already, where a second one panics. Why one thread per
//! storage and not per call: concurrent calls are tasks on the same runtime, sharing one
//! connection pool. The same design as the secret backends' `AsyncBridge`.

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;

use tokio::sync::mpsc as async_mpsc;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The I/O thread of one storage. Dropping the last handle closes its queue; the thread
/// then finishes what is in flight and exits on its own (never joined, so a drop inside an
/// async context cannot block).
#[derive(Debug, Clone)]
pub(crate) struct IoThread {
    jobs: async_mpsc::UnboundedSender<Job>,
}

impl IoThread {
    /// Starts the thread, named `name` (shown by debuggers and `top -H`).
    pub(crate) fn start(name: &str) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (jobs, mut queue) = async_mpsc::unbounded_channel::<Job>();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    while let Some(job) = queue.recv().await {
                        tokio::spawn(job);
                    }
                });
            })?;
        Ok(Self { jobs })
    }

    /// Runs `future` on the I/O thread and blocks the calling thread until it ends; `None`
    /// when the thread has stopped. The client's timeouts bound the future, so this wait
    /// always ends.
    pub(crate) fn run<T, F>(&self, future: F) -> Option<T>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let (answer, wait) = mpsc::sync_channel(1);
        let job: Job = Box::pin(async move {
            let _ = answer.send(future.await);
        });
        self.jobs.send(job).ok()?;
        wait.recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_futures_on_its_own_thread_even_from_inside_a_runtime() {
        let io = IoThread::start("storage-io-test").unwrap();
        let caller = std::thread::current().id();
        assert_eq!(
            io.run(async move { std::thread::current().id() != caller }),
            Some(true)
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let sum = runtime.block_on(async { io.run(async { 20 + 22 }) });
        assert_eq!(sum, Some(42));
        let handles: Vec<_> = (0..8)
            .map(|n| {
                let io = io.clone();
                std::thread::spawn(move || io.run(async move { n * 2 }).unwrap())
            })
            .collect();
        let total: i32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(total, 56);
    }
}
