//! The flow model: flows parsed and validated from Kestra-style YAML (`flow`), and the
//! executions, task runs and log lines that running them produces (`execution`).
//!
//! This crate knows nothing of storage, HTTP or how tasks run; it only says what a valid flow
//! is and what an execution looks like.
//!
//! Reading a flow: [`parse_flow`] turns YAML text into a [`Flow`] or into every problem found,
//! each a [`Diagnostic`] with line, column and path (`tasks[1].type`). Flows written for Kestra
//! are accepted unchanged; the task and trigger types Saker knows, with their aliases and
//! property schemas, are in [`catalog`]. Task properties are kept as raw JSON: strings in them
//! are templates that the engine renders at run time.
//!
//! Reading several flows from one text (`---` between them): [`split_documents`] gives each
//! document as a slice with its first line, at most [`MAX_DOCUMENTS`] of them, and
//! [`Document::place`] moves a document's diagnostics to the lines of the whole text.
//!
//! Starting an execution: [`coerce_inputs`] turns the values a user gave (CLI strings, API
//! JSON) into the types the flow declares, applying defaults.
//!
//! Modules, one concept each: [`yaml`] (spanned YAML tree, with the limits on nesting, nodes
//! and alias expansion), [`documents`] (multi-document texts), [`duration`] (ISO-8601 and short
//! durations), [`ids`] (naming rules), [`catalog`] and [`shape`] (what task types and
//! properties exist), [`task`], [`retry`], [`schedule`] (the Schedule trigger typed, with its
//! cron dates), [`input`] (inputs and outputs), [`coerce`], [`defaults`] (plugin defaults),
//! [`flow`], [`validate`] (`parse_flow`), [`diagnostic`], [`suggest`] ("did you mean").

pub mod catalog;
mod children;
pub mod coerce;
pub mod condition;
pub mod defaults;
pub mod diagnostic;
pub mod documents;
pub mod duration;
pub mod execution;
pub mod flow;
pub mod ids;
pub mod input;
pub mod listener;
mod read;
pub mod retry;
pub mod schedule;
pub mod shape;
pub mod sla;
pub mod suggest;
pub mod task;
pub mod validate;
pub mod yaml;

pub use catalog::{Catalog, PropSpec, TaskKind, TaskType, TriggerType, task_type, trigger_type};
pub use coerce::{InputError, OutputError, coerce_inputs};
pub use condition::{Condition, ExecutionFacts};
pub use defaults::PluginDefault;
pub use diagnostic::Diagnostic;
pub use documents::{
    Document, DocumentsError, MAX_DOCUMENTS, split_documents, split_documents_with,
};
pub use duration::DurationError;
pub use execution::{
    Branch, DEFAULT_TENANT, Execution, ExecutionTrigger, Level, LogEntry, Resolved, State,
    StateHistory, StateType, SubflowCall, TaskRun, TaskRunAttempt, new_id,
};
pub use flow::{Concurrency, ConcurrencyBehavior, Flow, TriggerDef};
pub use input::{InputDef, InputType, OutputDef};
pub use listener::Listener;
pub use retry::{Retry, RetryBehavior, RetryPolicy};
pub use schedule::Schedule;
pub use shape::Shape;
pub use sla::{Sla, SlaBehavior, SlaKind};
pub use task::TaskDef;
pub use validate::{parse_flow, parse_flow_with};
pub use yaml::{Limits, Node, NodeKind, Pos, YamlError};
