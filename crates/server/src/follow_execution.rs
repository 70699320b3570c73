//! `GET /api/v1/{tenant}/executions/{executionId}/follow`: an execution as server-sent events,
//! as Kestra's clients follow one. The first event is the execution as it is; another follows
//! each time it changes (state, task runs, outputs), masked as `GET …/executions/{id}`
//! answers it; the stream ends after the event of its final state (`id: end`; the others
//! have `id: progress`, as in Kestra).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use saker_auth::Action;
use saker_store::Store;

use crate::doc::Unauthorized;
use crate::executions_api::{execution_json, find_execution};
use crate::routes::MaybeCaller;
use crate::schema::{ErrorBody, ExecutionView};
use crate::{ApiError, AppState, StoreGate};

/// How often a follower looks for changes.
const POLL: Duration = Duration::from_millis(200);

struct Follow {
    store: Arc<dyn Store>,
    /// The stream outlives the handler: each poll takes its own permit.
    gate: StoreGate,
    execution_id: String,
    /// The JSON last sent, to send only changes.
    last: String,
    done: bool,
}

/// Follows an execution as server-sent events, one per change, until it has ended.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/executions/{id}/follow",
    tag = "Executions",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "Execution id"),
    ),
    responses(
        (status = 200, description = "Server-sent events, each `data` the execution", content_type = "text/event-stream", body = ExecutionView),
        Unauthorized,
        (status = 404, description = "No such execution (or not visible to the caller)", body = ErrorBody),
    )
)]
pub(crate) async fn follow_execution(
    State(state): State<AppState>,
    who: MaybeCaller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    find_execution(&state, &who, &tenant, &id, Action::Read)?;
    let start = Follow {
        store: state.engine.store().clone(),
        gate: state.store_gate.clone(),
        execution_id: id,
        last: String::new(),
        done: false,
    };
    let stream = futures_util::stream::unfold(start, |mut f| async move {
        loop {
            if f.done {
                return None;
            }
            let (store, id) = (f.store.clone(), f.execution_id.clone());
            // A busy database: look again at the next poll.
            let polled = f
                .gate
                .run(move || store.get_execution(&id))
                .await
                .ok()
                .and_then(Result::ok);
            match polled {
                // Deleted while followed: nothing more will come.
                Some(None) => return None,
                Some(Some(execution)) => {
                    let ended = execution.state.current.is_terminated();
                    let json = execution_json(&execution).to_string();
                    if json != f.last || ended {
                        f.done = ended;
                        let event = Event::default()
                            .id(if ended { "end" } else { "progress" })
                            .data(&json);
                        f.last = json;
                        return Some((Ok(event), f));
                    }
                }
                None => {}
            }
            tokio::time::sleep(POLL).await;
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
