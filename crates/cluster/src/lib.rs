//! Distributed mode: the engine's executor and workers in separate processes, meeting only
//! through PostgreSQL. This crate puts the engine's queues (`saker_engine::queue::Queue`)
//! and its command port (`saker_engine::CommandSink`) over the store's durable tables
//! (`saker_store::PgStore`: worker jobs and results, worker controls, executor commands),
//! and gives the executor's recovery what it needs to take over from another executor
//! without running anything twice.
//!
//! | Side | Sends | Reads |
//! |---|---|---|
//! | executor | jobs ([`jobs::JobsOut`]), controls ([`controls::ControlsOut`]) | results ([`results::ResultsIn`]), commands ([`commands::run_command_pump`]) |
//! | worker | results ([`results::ResultsOut`]) | jobs ([`jobs::JobsIn`]), controls ([`controls::ControlsIn`]) |
//! | webserver, scheduler | commands ([`commands::CommandsOut`]) | — |
//!
//! Every database call runs on a thread of its own, never on a tokio worker thread: writers
//! drain a channel in batches (one transaction per batch), readers wait on `LISTEN/NOTIFY`
//! with a fallback poll of a few seconds, never a tight loop.
//!
//! Each service process measures itself ([`metrics::ServiceMetrics`]: queue depth, claim
//! latency, heartbeats) for its `/metrics` endpoint.

pub mod commands;
pub mod controls;
pub mod jobs;
pub mod metrics;
pub mod recovery;
pub mod results;
mod threads;
mod worker_groups;

use saker_store::PgStore;

/// The store of a service process. It lives as long as the process: the threads of this
/// crate hold it until the end.
pub type Db = &'static PgStore;

/// Keeps `store` for the rest of the process.
pub fn keep(store: PgStore) -> Db {
    Box::leak(Box::new(store))
}

/// Keeps a store shared with others (the engine's) for the rest of the process.
pub fn keep_shared(store: std::sync::Arc<PgStore>) -> Db {
    let kept: &'static std::sync::Arc<PgStore> = Box::leak(Box::new(store));
    kept
}
