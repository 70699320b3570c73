//! The one boundary between the async server and the synchronous store: no store call runs
//! on a tokio worker thread, and only so many run at once.
//!
//! The store's traits are synchronous (rusqlite; the synchronous `postgres` client), and a
//! call can block for as long as the database makes it wait (a lock held elsewhere, a full
//! connection pool). Rather than wrapping each of the many store, auth and secret calls a
//! handler makes, [`gate`] runs the whole handler of every API request (authentication
//! included) on a blocking thread, under a permit of a semaphore of
//! [`StoreGate::concurrency`] permits: a request that waits longer than [`StoreGate::wait`]
//! for one is answered 503 with `Retry-After` ([`ApiError::busy`]), and the runtime's worker
//! threads stay free for `/health` and for accepting connections. A new route is covered
//! without anyone remembering to. The body is read before a permit is taken, so a slow
//! client holds no permit while it sends. What runs after the handler returned (a response
//! stream: the log follower) takes its own permit per store call ([`StoreGate::run`]). A
//! handler that goes on to wait for something else (`wait=true` waits for an execution to
//! end) gives its permit back first ([`HeldPermit`]); it keeps its blocking thread.
//! `/health` and the OpenAPI document need no store and pass straight through.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::ApiError;

/// Routes that never touch the store.
const UNGATED: &[&str] = &["/health", "/api/v1/openapi.json"];

/// How many requests may work on the store at once, and how long one waits for its turn.
#[derive(Clone)]
pub struct StoreGate {
    permits: Arc<Semaphore>,
    concurrency: usize,
    wait: Duration,
}

impl StoreGate {
    /// At most `concurrency` (at least 1) requests at once; a request that waited `wait` for
    /// its turn is answered 503.
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            wait,
        }
    }

    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    pub fn wait(&self) -> Duration {
        self.wait
    }

    async fn permit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            // Timed out, or the semaphore closed (it never is): either way, not now.
            _ => Err(ApiError::busy()),
        }
    }

    /// Runs `f` (store calls) on a blocking thread under a permit.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = self.permit().await?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .map_err(|_| ApiError::internal("a store call stopped before it answered"))
    }
}

impl Default for StoreGate {
    /// 64 requests at once, 30 s of waiting (HikariCP's connection timeout).
    fn default() -> Self {
        Self::new(64, Duration::from_secs(30))
    }
}

/// The permit of the request being handled, in its extensions: a handler that has done its
/// store work and goes on to wait for something else gives it back, so that other requests
/// are not refused meanwhile.
#[derive(Clone)]
pub(crate) struct HeldPermit(Arc<Mutex<Option<OwnedSemaphorePermit>>>);

impl HeldPermit {
    pub(crate) fn give_back(&self) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
    }
}

/// The middleware: reads the body, waits for a permit, then runs the rest of the request
/// (authentication and the handler) on a blocking thread.
pub(crate) async fn gate(State(gate): State<StoreGate>, request: Request, next: Next) -> Response {
    if UNGATED.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, crate::MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(err) => return unreadable_body(&err).into_response(),
    };
    let mut request = Request::from_parts(parts, Body::from(bytes));
    let permit = match gate.permit().await {
        Ok(permit) => HeldPermit(Arc::new(Mutex::new(Some(permit)))),
        Err(busy) => return busy.into_response(),
    };
    request.extensions_mut().insert(permit.clone());
    let runtime = tokio::runtime::Handle::current();
    let job = tokio::task::spawn_blocking(move || {
        let response = runtime.block_on(next.run(request));
        permit.give_back();
        response
    });
    match job.await {
        Ok(response) => response,
        Err(_) => {
            ApiError::internal("a request's handler stopped before it answered").into_response()
        }
    }
}

/// 413 for a body over the limit, 400 for one that could not be read.
fn unreadable_body(err: &axum::Error) -> ApiError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = source {
        if current.is::<http_body_util::LengthLimitError>() {
            return ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                message: format!(
                    "the request body is too large: request bodies are limited to {} MiB",
                    crate::MAX_BODY_BYTES / (1024 * 1024)
                ),
            };
        }
        source = current.source();
    }
    ApiError::bad_request("the request body could not be read")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_that_waits_past_the_wait_is_busy_and_others_run_after() {
        let gate = StoreGate::new(1, Duration::from_millis(50));
        let (release, held) = std::sync::mpsc::channel::<()>();
        let holder = gate.clone();
        let first = tokio::spawn(async move { holder.run(move || held.recv().is_ok()).await });
        // Until the first call holds the only permit, a second could get it: wait for that.
        while gate.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let refused = gate.run(|| 1).await.unwrap_err();
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        release.send(()).unwrap();
        assert!(first.await.unwrap().unwrap());
        assert_eq!(gate.run(|| 2).await.unwrap(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_permit_given_back_lets_the_next_call_in() {
        let gate = StoreGate::new(1, Duration::from_millis(50));
        let held = HeldPermit(Arc::new(Mutex::new(Some(gate.permit().await.unwrap()))));
        assert!(gate.permit().await.is_err());
        held.give_back();
        assert!(gate.permit().await.is_ok());
    }
}
