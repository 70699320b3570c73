//! `GET /api/v1/{tenant}/logs/{executionId}/follow`: an execution's log lines as
//! server-sent events (`event: log`, JSON data), from the first one, until the execution has
//! ended and every line was sent. Lines come from the store (already masked), so a follower
//! that connects late misses nothing.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use saker_auth::Action;
use saker_store::{LogQuery, Store, StoredLog};

use crate::doc::Unauthorized;
use crate::executions_api::find_execution;
use crate::routes::MaybeCaller;
use crate::schema::{ErrorBody, LogView};
use crate::{ApiError, AppState, StoreGate};

/// How often a follower looks for new lines.
const POLL: Duration = Duration::from_millis(200);

struct Follow {
    store: Arc<dyn Store>,
    /// The stream outlives the handler: each poll takes its own permit.
    gate: StoreGate,
    execution_id: String,
    cursor: Option<i64>,
    pending: VecDeque<Event>,
    done: bool,
}

/// Follows an execution's log lines as server-sent events (`event: log`, one JSON log line
/// each, `id` a cursor) until the execution has ended and every line was sent.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/logs/{executionId}/follow",
    tag = "Logs",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("executionId" = String, Path, description = "Execution id"),
    ),
    responses(
        (status = 200, description = "Server-sent events, each `data` a log line", content_type = "text/event-stream", body = LogView),
        Unauthorized,
        (status = 404, description = "No such execution (or not visible to the caller)", body = ErrorBody),
    )
)]
pub(crate) async fn follow_logs(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    find_execution(&state, &who, &tenant, &id, Action::Read)?;
    let start = Follow {
        store: state.engine.store().clone(),
        gate: state.store_gate.clone(),
        execution_id: id,
        cursor: None,
        pending: VecDeque::new(),
        done: false,
    };
    let stream = futures_util::stream::unfold(start, |mut f| async move {
        loop {
            if let Some(event) = f.pending.pop_front() {
                return Some((Ok(event), f));
            }
            if f.done {
                return None;
            }
            let (store, id, cursor) = (f.store.clone(), f.execution_id.clone(), f.cursor);
            let polled = f.gate.run(move || poll(store.as_ref(), &id, cursor)).await;
            // A busy database: look again at the next poll.
            let (ended, logs) = polled.unwrap_or((false, Vec::new()));
            for log in logs {
                f.cursor = Some(log.seq);
                let event = Event::default()
                    .event("log")
                    .id(log.seq.to_string())
                    .json_data(&log.entry)
                    .unwrap_or_else(|_| Event::default().event("log"));
                f.pending.push_back(event);
            }
            if f.pending.is_empty() {
                if ended {
                    f.done = true;
                } else {
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Whether the execution has ended, and its lines after `cursor`.
fn poll(store: &dyn Store, execution_id: &str, cursor: Option<i64>) -> (bool, Vec<StoredLog>) {
    // The state first: the executor writes an execution's last lines in the same
    // transaction as its final state, so lines read after it include them all.
    let ended = match store.get_execution(execution_id) {
        Ok(e) => e.is_none_or(|e| e.state.current.is_terminated()),
        Err(_) => true,
    };
    let mut query = LogQuery::new(execution_id);
    query.after_seq = cursor;
    (ended, store.list_logs(&query).unwrap_or_default())
}
