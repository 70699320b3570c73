//! Kestra's JDBC tasks: `io.kestra.plugin.jdbc.postgresql.{Query, Queries}` (`jdbc/postgres.rs`,
//! over tokio-postgres) and `io.kestra.plugin.jdbc.sqlite.{Query, Queries}` (`jdbc/sqlite.rs`,
//! over rusqlite on a blocking thread). What they share is here: the query properties
//! (`sql`, `parameters`, `fetchType` and the deprecated booleans, `timeZoneId`), the rows
//! each statement returns gathered as `fetchType` says, and the outputs Kestra gives them:
//! `row` (FETCH_ONE), `rows` (FETCH), `uri` of an Ion file (STORE) and `size`; a Queries task
//! outputs `outputs`, one such map per statement that returned rows.
//!
//! Secrets. A password (or a URL, a user name) from `secret()` is a tainted render: it joins
//! the mask set, is never put in an error (connection errors are the driver's text, which
//! holds no password, and the URL is only shown with its tainted ranges as `****`), and any
//! output equal to it is sealed. The rows a credential unlocks are not derived from it. SQL
//! text or a parameter derived from a secret is data sent to the server, which may answer
//! with it in any form (`upper(:token)`): then every string of the result is treated as
//! derived from it (sealed, masked wherever it appears later) and a stored file is sealed,
//! as the HTTP tasks do with an answer to a request holding a secret.

mod cells_pg;
mod duckdb;
mod duckdb_process;
mod pg_url;
mod postgres;
mod sqlite;
mod statements;
mod store;

use std::borrow::Cow;

use saker_expr::Rendered;
use saker_mask::MASK;
use saker_model::Level;
use serde_json::{Map, Value as Json};

use super::{TaskContext, TaskError};
use crate::files::FileError;
pub(super) use duckdb::DuckDb;
pub(super) use postgres::Postgres;
pub(super) use sqlite::Sqlite;

/// Rows a FETCH may hold in the task's outputs; more should be STOREd in a file.
const MAX_FETCHED_ROWS: usize = 100_000;

/// Kestra's `FetchType`: what happens to the rows a statement returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FetchType {
    /// All rows in the `rows` output.
    Fetch,
    /// The first row in the `row` output.
    FetchOne,
    /// All rows in an Ion file of the internal storage (`uri`).
    Store,
    /// Nothing is kept (Kestra's default).
    None,
}

/// One task run: a single statement (Query) or several (Queries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Query,
    Queries,
}

/// How many statements a Query task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum QueryStatements {
    /// One: more is an error pointing to the Queries task (PostgreSQL, SQLite).
    One,
    /// All of them, the rows of the last one kept, as DuckDB's JDBC driver runs a script.
    All,
}

/// The query properties every JDBC task shares, rendered.
pub(super) struct QuerySpec {
    /// The statements, in order; their named parameters not yet bound.
    pub statements: Vec<String>,
    pub parameters: Map<String, Json>,
    pub fetch: FetchType,
    /// `timeZoneId`, UTC when absent.
    pub zone: chrono_tz::Tz,
    /// The SQL or a parameter came from a secret (see the module comment).
    pub secret_sent: bool,
    /// Queries: run every statement in one transaction (`transaction`, true by default).
    pub transaction: bool,
    pub mode: Mode,
}

impl QuerySpec {
    /// Reads the query properties. Call before the connection properties are rendered: it
    /// tells from the renders so far whether the SQL or its parameters came from a secret.
    pub(super) fn from_task(ctx: &mut TaskContext, mode: Mode) -> Result<Self, TaskError> {
        let sql = ctx
            .render_rendered_string("sql")?
            .ok_or_else(|| property("sql", "is required: the SQL to run"))?;
        Self::from_sql(ctx, mode, &sql, QueryStatements::One)
    }

    /// [`from_task`](Self::from_task) with the `sql` property already rendered (by a task that
    /// renders it with variables of its own).
    pub(super) fn from_sql(
        ctx: &mut TaskContext,
        mode: Mode,
        sql: &Rendered,
        query_runs: QueryStatements,
    ) -> Result<Self, TaskError> {
        let parameters = match ctx.render_output_value("parameters")? {
            None | Some(Json::Null) => Map::new(),
            Some(Json::Object(map)) => map,
            Some(_) => {
                return Err(property(
                    "parameters",
                    "expected a map of parameter name to value (used in the SQL as :name)",
                ));
            }
        };
        let secret_sent = ctx.saw_taint();
        let statements = statements::split(&sql.text);
        if statements.is_empty() {
            return Err(property("sql", "holds no SQL statement"));
        }
        if mode == Mode::Query && query_runs == QueryStatements::One && statements.len() > 1 {
            return Err(property(
                "sql",
                &format!(
                    "holds {} statements, and a Query task runs one: use the Queries task to \
                     run several",
                    statements.len()
                ),
            ));
        }
        let fetch = fetch_type(ctx)?;
        let zone = match ctx.render_string("timeZoneId")? {
            None => chrono_tz::UTC,
            Some(id) => id.trim().parse::<chrono_tz::Tz>().map_err(|_| {
                property(
                    "timeZoneId",
                    &format!(
                        "'{id}' is not a time zone id (write one such as Europe/Paris or UTC)"
                    ),
                )
            })?,
        };
        if let Some(size) = ctx.render_string("fetchSize")? {
            // Rows are streamed from the server as it sends them; the size is only checked.
            size.trim()
                .parse::<i64>()
                .map_err(|_| property("fetchSize", &format!("'{size}' is not a number of rows")))?;
        }
        let transaction = match mode {
            Mode::Query => false,
            Mode::Queries => flag(ctx, "transaction")?.unwrap_or(true),
        };
        log_sql(ctx, sql);
        Ok(Self {
            statements,
            parameters,
            fetch,
            zone,
            secret_sent,
            transaction,
            mode,
        })
    }

    /// True when `name` is one of `parameters`.
    pub(super) fn has_parameter(&self, name: &str) -> bool {
        self.parameters.contains_key(name)
    }
}

/// Logs the SQL at DEBUG, as Kestra does, with what came from a secret shown as `****`.
fn log_sql(ctx: &mut TaskContext, sql: &Rendered) {
    let shown = sql.masked(MASK);
    ctx.log(Level::Debug, &format!("Starting query: {}", shown.trim()));
}

/// `fetchType`, or the deprecated booleans Kestra still reads first: `fetchOne`, then
/// `store`, then `fetch`.
fn fetch_type(ctx: &mut TaskContext) -> Result<FetchType, TaskError> {
    for (name, kind) in [
        ("fetchOne", FetchType::FetchOne),
        ("store", FetchType::Store),
        ("fetch", FetchType::Fetch),
    ] {
        if flag(ctx, name)? == Some(true) {
            return Ok(kind);
        }
    }
    match ctx.render_string("fetchType")? {
        None => Ok(FetchType::None),
        Some(text) => match text.trim().to_ascii_uppercase().as_str() {
            "FETCH" => Ok(FetchType::Fetch),
            "FETCH_ONE" => Ok(FetchType::FetchOne),
            "STORE" => Ok(FetchType::Store),
            "NONE" => Ok(FetchType::None),
            _ => Err(property(
                "fetchType",
                &format!("'{text}' is not one of FETCH, FETCH_ONE, STORE or NONE"),
            )),
        },
    }
}

/// A boolean property; `None` when absent.
pub(super) fn flag(ctx: &mut TaskContext, name: &str) -> Result<Option<bool>, TaskError> {
    match ctx.render_string(name)? {
        None => Ok(None),
        Some(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(property(name, &format!("'{text}' is not true or false"))),
        },
    }
}

/// The rows of one statement, gathered as `fetchType` says.
pub(super) struct Gathered {
    fetch: FetchType,
    rows: Vec<Json>,
    store: Option<store::IonRows>,
    size: u64,
}

impl Gathered {
    /// `max_file_bytes`: the most a STOREd file may hold (the storage's limit).
    pub(super) fn new(fetch: FetchType, max_file_bytes: u64) -> Self {
        Self {
            fetch,
            rows: Vec::new(),
            store: (fetch == FetchType::Store).then(|| store::IonRows::new(max_file_bytes)),
            size: 0,
        }
    }

    /// False once nothing more is kept (after the first row of a FETCH_ONE, or for NONE):
    /// the caller stops reading.
    pub(super) fn wants_more(&self) -> bool {
        match self.fetch {
            FetchType::FetchOne => self.rows.is_empty(),
            FetchType::None => false,
            FetchType::Fetch | FetchType::Store => true,
        }
    }

    /// Keeps one row (column name to value, in the columns' order).
    pub(super) fn push(&mut self, row: Map<String, Json>) -> Result<(), TaskError> {
        self.size += 1;
        match self.fetch {
            FetchType::Store => {
                if let Some(store) = &mut self.store {
                    store.push(Json::Object(row))?;
                }
            }
            FetchType::Fetch if self.rows.len() >= MAX_FETCHED_ROWS => {
                return Err(TaskError::Failed(format!(
                    "the query returned more than {MAX_FETCHED_ROWS} rows, more than a \
                     task's outputs may hold: use 'fetchType: STORE' to write them to a file"
                )));
            }
            FetchType::Fetch | FetchType::FetchOne => self.rows.push(Json::Object(row)),
            FetchType::None => {}
        }
        Ok(())
    }
}

/// The outputs of the statements that returned rows, stored files included: one map per
/// statement (`row`, `rows` or `uri`, and `size`), `None` for a statement whose rows were
/// not kept (NONE) or that returned none (an INSERT).
pub(super) fn outputs(
    ctx: &mut TaskContext,
    spec: &QuerySpec,
    results: Vec<Option<Gathered>>,
) -> Result<Map<String, Json>, TaskError> {
    let mut per_statement = Vec::new();
    let stored = results
        .iter()
        .flatten()
        .filter(|g| g.store.is_some())
        .count();
    for gathered in results.into_iter().flatten() {
        let mut out = Map::new();
        match gathered.fetch {
            FetchType::FetchOne => {
                let row = gathered.rows.into_iter().next().unwrap_or(Json::Null);
                out.insert("row".into(), row);
            }
            FetchType::Fetch => {
                out.insert("rows".into(), Json::Array(gathered.rows));
            }
            FetchType::Store => {
                let Some(store) = gathered.store else {
                    continue;
                };
                let name = if stored > 1 {
                    format!("result-{}.ion", per_statement.len() + 1)
                } else {
                    "result.ion".to_owned()
                };
                let uri = store.put(ctx, &name, spec.secret_sent)?;
                out.insert("uri".into(), Json::String(uri));
            }
            // Kestra's Queries lists an empty map for such a statement; a Query outputs nothing.
            FetchType::None => {
                per_statement.push(Map::new());
                continue;
            }
        }
        out.insert("size".into(), Json::from(gathered.size));
        per_statement.push(out);
    }
    if spec.secret_sent {
        for out in &per_statement {
            taint_strings(ctx, out);
        }
    }
    Ok(match spec.mode {
        Mode::Query => per_statement.into_iter().next().unwrap_or_default(),
        Mode::Queries => {
            let mut outputs = Map::new();
            outputs.insert(
                "outputs".into(),
                Json::Array(per_statement.into_iter().map(Json::Object).collect()),
            );
            outputs
        }
    })
}

/// Marks every string of `map` as derived from a secret (see the module comment).
fn taint_strings(ctx: &mut TaskContext, map: &Map<String, Json>) {
    fn walk(ctx: &mut TaskContext, value: &Json) {
        match value {
            Json::String(s) if !s.is_empty() => ctx.taint_output(s),
            Json::Array(items) => items.iter().for_each(|v| walk(ctx, v)),
            Json::Object(map) => map.values().for_each(|v| walk(ctx, v)),
            _ => {}
        }
    }
    for (key, value) in map {
        // The file's URI names the task run, not data.
        if key != "uri" {
            walk(ctx, value);
        }
    }
}

/// The most a STOREd file may hold: the storage's limit (only read for STORE).
pub(super) fn max_file_bytes(ctx: &TaskContext, spec: &QuerySpec) -> Result<u64, TaskError> {
    if spec.fetch != FetchType::Store {
        return Ok(0);
    }
    Ok(ctx
        .task_files()?
        .files
        .storage()
        .map_err(|err| TaskError::Failed(err.to_string()))?
        .max_file_bytes())
}

/// A URL for a person: what came from a secret is `****`, and so is any password written in
/// it (`password=...`) even when it came from none.
pub(super) fn shown_url(url: &Rendered) -> String {
    let masked = url.masked(MASK);
    match masked.find("password=") {
        None => masked,
        Some(at) => {
            let value = at + "password=".len();
            let end = masked[value..]
                .find('&')
                .map_or(masked.len(), |n| value + n);
            format!("{}{MASK}{}", &masked[..value], &masked[end..])
        }
    }
}

/// Stores `bytes` as file `name` of the task run, sealed when `secret` or when they hold a
/// value of the execution's mask set; its `kestra:///` URI.
pub(super) fn put_task_file(
    ctx: &TaskContext,
    name: &str,
    bytes: &[u8],
    secret: bool,
) -> Result<String, TaskError> {
    let seal = secret || matches!(ctx.mask_set().mask_bytes(bytes), Cow::Owned(_));
    let files = ctx.task_files()?;
    let uri = files
        .task_run_folder()
        .and_then(|folder| folder.join(name).map_err(FileError::from))
        .map_err(|err| TaskError::Failed(err.to_string()))?;
    files
        .put(&uri, bytes, seal)
        .map_err(|err| TaskError::Failed(err.to_string()))?;
    Ok(uri.to_string())
}

pub(super) fn property(name: &str, message: &str) -> TaskError {
    TaskError::Property {
        property: name.to_owned(),
        message: message.to_owned(),
    }
}
