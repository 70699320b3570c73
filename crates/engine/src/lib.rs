//! The engine: the executor (the state machine of each execution), the worker (renders and
//! runs task attempts) and the task runners, wired for one process on a [`saker_store::Store`].
//!
//! Data flow of one execution: [`Engine::create_execution`] coerces and seals the inputs and
//! records a CREATED execution; the executor ([`executor`]) asks [`plan::plan`] what may
//! start now (task runs form a tree under flowable tasks), records each new RUNNING task run
//! and queues a [`queue::WorkerJob`] for it; the worker renders the
//! task's properties (resolving secrets through a [`SecretSource`], adding every secret and
//! derived value to the execution's mask set), runs it, masks every log line (tainted ranges
//! whatever their length, then by value), seals the outputs a tainted render produced, and
//! returns a [`queue::WorkerResult`]; the executor seals what value matching still finds,
//! records the result, moves on, and drops the execution's mask set when it ends. Executor and worker only meet through the job and result queues, so running
//! them in separate processes is a matter of a durable queue.
//!
//! This crate knows nothing of HTTP, of the CLI, or of how secrets are stored.

pub mod cancel;
pub mod command;
pub mod context;
pub mod debug_eval;
mod engine;
pub mod error_logs;
pub mod executor;
pub mod files;
mod flow_trigger;
pub mod http_trigger;
pub mod kv;
pub mod kv_value;
pub mod logs;
pub mod masks;
pub mod metrics;
mod new_execution;
mod one_worker;
pub mod outputs;
pub mod plan;
pub mod queue;
pub mod recovery;
mod restart;
mod resume;
pub mod retry;
pub mod runner;
pub mod scheduler;
pub mod sealing;
pub mod secrets;
mod task_context;
pub mod trigger;
pub mod wire;
pub mod worker;

pub use command::{CommandSink, ExecutorCommand};
pub use engine::{Engine, EngineError, EngineParts, WorkerQueues};
pub use masks::process_masks;
pub use sealing::{KeyringSealer, ValueSealer, display_masked};
pub use secrets::{NoSecrets, ResolvedSecret, SecretRequester, SecretSource};
pub use worker::WorkerService;
