//! Saker's template engine: renders Kestra (Pebble) expressions such as
//! `{{ secret('API_TOKEN') | jq('.token') | first }}` and tracks, through every filter,
//! operator and function, which parts of the result derive from a secret, so that the caller
//! can mask them.
//!
//! The crate does no I/O: variables come in a [`Context`], secrets through a
//! [`SecretResolver`] supplied by the caller. A [`Template`] is compiled once and rendered
//! many times; a [`Rendered`] carries the text, the byte ranges of it that are tainted, and the
//! distinct tainted strings produced on the way.
//!
//! **Taint through control flow.** What is printed or assigned *because of* a secret is
//! tainted too: everything an `{% if %}`/`elseif`/`else` prints once a condition it evaluated
//! was tainted, and everything a `{% for %}` over a tainted list prints (body, `loop.*`,
//! `else`), becomes one tainted range even when empty; `{% set %}` there assigns tainted
//! values, and after such an `if` every variable a branch could have set is tainted. `? :`,
//! `??`, `default`, `and`/`or` choosing on a secret, comparisons, tests, `contains`/`in`,
//! methods, filters and functions with any tainted argument, `sort`/`distinct`/`flatten` of
//! lists holding a secret: all tainted. An error caused by a secret value, or raised where a
//! secret chose what ran, reports only [`ErrorKind::SecretDependent`] at the operation or the
//! choice (that a render failed still tells one bit). See `flow.rs`.
//!
//! **Budgets.** A render (jq included) stops with [`ErrorKind::StepBudget`] past
//! [`Limits::max_steps`] evaluation steps (default 5,000,000), with
//! [`ErrorKind::MemoryBudget`] past [`Limits::max_value_bytes`] bytes of values built
//! (default 64 MiB, intermediate values included), and with [`ErrorKind::Cancelled`] or
//! [`ErrorKind::DeadlineExceeded`] when [`RenderEnv::cancel`] is set or
//! [`RenderEnv::deadline`] passes. jq runs on a thread of its own, metered per term, with
//! its recursion depth bounded. See `budget.rs` and `jq/meter.rs`.
//!
//! ```
//! use saker_expr::{Context, RenderEnv, Template, Value};
//!
//! let mut ctx = Context::new();
//! ctx.insert("inputs", Value::map([("day", Value::from("monday"))]));
//! ctx.insert("token", Value::secret("s3cr3t"));
//! let t = Template::compile("{{ inputs.day | upper }}: {{ token | upper }}").unwrap();
//! let r = t.render(&ctx, &RenderEnv::default()).unwrap();
//! assert_eq!(r.text, "MONDAY: S3CR3T");
//! assert_eq!(r.masked("****"), "MONDAY: ****");
//! assert_eq!(r.tainted_strings, vec!["s3cr3t".to_string(), "S3CR3T".to_string()]);
//! ```

mod ast;
mod budget;
mod context;
mod datetime;
mod error;
mod error_logs;
mod eval;
mod files;
mod filters;
mod flow;
mod functions;
mod jq;
mod kv;
mod lexer;
mod methods;
mod ops;
mod parser;
mod predicates;
mod print;
mod render;
mod template;
mod value;

pub use context::{Context, Limits, RenderEnv, SecretLookupError, SecretResolver};
pub use error::{ErrorKind, ExprError};
pub use error_logs::{ErrorLogLine, ErrorLogLookupError, ErrorLogReader};
pub use files::{FileLookupError, FileReader, FileSize, FileText};
pub use kv::{KvLookupError, KvResolver};
pub use render::Rendered;
pub use template::Template;
pub use value::{Map, Taint, Value};

/// Compiles and renders in one go, for templates rendered once.
pub fn render(source: &str, ctx: &Context, env: &RenderEnv<'_>) -> Result<Rendered, ExprError> {
    Template::compile(source)?.render(ctx, env)
}

/// Names of the filters, functions and tests the engine knows, for documentation and editor
/// completion. Functions listed here may still fail with "not yet available".
pub fn known_names() -> (Vec<&'static str>, Vec<&'static str>, Vec<&'static str>) {
    (
        filters::FILTERS.iter().map(|s| s.name).collect(),
        functions::FUNCTIONS.iter().map(|s| s.name).collect(),
        predicates::TESTS.iter().map(|(n, _)| *n).collect(),
    )
}
