//! `io.kestra.plugin.jdbc.sqlite.Query` and `Queries` over rusqlite, on a blocking thread.
//!
//! The database is a file of the task's working directory (`url: jdbc:sqlite:my.db`; the
//! directory a `WorkingDirectory` shares, so its tasks see one database), or a memory one
//! (`jdbc:sqlite::memory:`). `sqliteFile`, a file of the internal storage (`kestra://...`),
//! is copied there first under the URL's name, as Kestra does; `outputDbFile: true` stores the
//! database after the statements ran and outputs its `databaseUri`. A path outside the
//! working directory is refused: a task may only read what Saker handed it.
//!
//! Values are returned as SQLite stores them: integers and reals as numbers, text as text,
//! blobs as base64 (Jackson's form of bytes); dates kept as text stay the text written.
//! A database from a sealed file, or holding a value of the execution's mask set, is
//! stored sealed, and the rows read from a sealed one are treated as derived from a secret.

use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rusqlite::types::{Value as SqlValue, ValueRef};
use saker_model::Level;
use serde_json::{Map, Value as Json};

use super::statements::bind_named;
use super::{
    FetchType, Gathered, Mode, QuerySpec, flag, max_file_bytes, outputs, property, put_task_file,
};
use crate::runner::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

/// The Query (one statement) or Queries runner.
pub struct Sqlite(pub Mode);

impl TaskRunner for Sqlite {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let mut spec = QuerySpec::from_task(ctx, self.0)?;
            let url = ctx
                .render_rendered_string("url")?
                .ok_or_else(|| property("url", "is required: jdbc:sqlite:<file name>"))?;
            if url.is_tainted() {
                return Err(property(
                    "url",
                    "is derived from a secret; it names a file of the working directory, \
                     which is shown as it is",
                ));
            }
            let database = database(&url.text)?;
            let output_db = flag(ctx, "outputDbFile")?.unwrap_or(false);
            let sqlite_file = ctx.render_string("sqliteFile")?;
            let max_file_bytes = max_file_bytes(ctx, &spec)?;
            let work_dir = ctx
                .sandbox()?
                .work_dir()
                .map_err(|err| TaskError::Failed(err.to_string()))?;
            let path = match &database {
                Database::Memory => None,
                Database::File(name) => Some(work_dir.host_path().join(name)),
            };
            if let Some(source) = sqlite_file {
                let Some(path) = &path else {
                    return Err(property(
                        "sqliteFile",
                        "needs a file database: give the url a file name (jdbc:sqlite:my.db)",
                    ));
                };
                let files = ctx.task_files()?;
                let uri = files
                    .resolve(source.trim(), None)
                    .map_err(|err| property("sqliteFile", &err.to_string()))?;
                let opened = files
                    .open(&uri)
                    .map_err(|err| property("sqliteFile", &err.to_string()))?;
                spec.secret_sent |= opened.sealed;
                write_file(path, &opened.bytes)?;
            }
            let cancel = ctx.cancellation();
            let (interrupt_tx, interrupt_rx) = tokio::sync::oneshot::channel();
            let job = {
                let path = path.clone();
                let statements = spec.statements.clone();
                let parameters = spec.parameters.clone();
                let fetch = spec.fetch;
                let transaction = spec.mode == Mode::Queries && spec.transaction;
                tokio::task::spawn_blocking(move || {
                    run_blocking(
                        path.as_deref(),
                        &statements,
                        &parameters,
                        fetch,
                        transaction,
                        max_file_bytes,
                        interrupt_tx,
                    )
                })
            };
            let mut job = std::pin::pin!(job);
            let done = tokio::select! {
                done = &mut job => done,
                () = cancel.cancelled() => {
                    if let Ok(handle) = interrupt_rx.await {
                        handle.interrupt();
                    }
                    let _ = job.await;
                    return Err(TaskError::Killed("killed while querying SQLite".into()));
                }
            };
            let (results, changes) =
                done.map_err(|err| TaskError::Failed(format!("the SQLite thread failed: {err}")))??;
            for change in changes {
                ctx.log(Level::Debug, &change);
            }
            let mut outputs = outputs(ctx, &spec, results)?;
            if output_db {
                let Some(path) = &path else {
                    return Err(property(
                        "outputDbFile",
                        "needs a file database: give the url a file name (jdbc:sqlite:my.db)",
                    ));
                };
                let uri = store_database(ctx, path, spec.secret_sent).await?;
                outputs.insert("databaseUri".into(), Json::String(uri));
            }
            drop(work_dir);
            Ok(TaskOutcome::with_outputs(outputs))
        })
    }
}

/// Where the database is.
enum Database {
    Memory,
    /// A path relative to the working directory.
    File(PathBuf),
}

/// `jdbc:sqlite:<path>`: a relative path inside the working directory, or `:memory:` (also
/// an empty path).
fn database(url: &str) -> Result<Database, TaskError> {
    let url = url.trim();
    let rest = url
        .get(..12)
        .filter(|head| head.eq_ignore_ascii_case("jdbc:sqlite:"))
        .map(|_| &url[12..])
        .ok_or_else(|| {
            property(
                "url",
                "must start with 'jdbc:sqlite:' (such as jdbc:sqlite:my.db)",
            )
        })?;
    let rest = rest.split_once('?').map_or(rest, |(path, _)| path);
    if rest.is_empty() || rest == ":memory:" {
        return Ok(Database::Memory);
    }
    let path = Path::new(rest);
    let inside = path
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !inside {
        return Err(property(
            "url",
            &format!(
                "names '{rest}', which is not a file of the task's working directory: write \
                 a relative path without '..' (jdbc:sqlite:my.db), and hand an existing \
                 database over with 'sqliteFile'"
            ),
        ));
    }
    Ok(Database::File(path.to_path_buf()))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), TaskError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|err| TaskError::Failed(format!("creating the database's folder: {err}")))?;
    }
    std::fs::write(path, bytes)
        .map_err(|err| TaskError::Failed(format!("writing the sqliteFile database: {err}")))
}

/// Stores the database file in the task run's folder; its URI.
async fn store_database(ctx: &TaskContext, path: &Path, secret: bool) -> Result<String, TaskError> {
    let read_path = path.to_path_buf();
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(read_path))
        .await
        .map_err(|err| TaskError::Failed(format!("reading the database failed: {err}")))?
        .map_err(|err| TaskError::Failed(format!("reading the database: {err}")))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("database.db");
    put_task_file(ctx, name, &bytes, secret)
}

type Ran = (Vec<Option<Gathered>>, Vec<String>);

/// Runs the statements on this (blocking) thread: the rows of each, and a line per statement
/// that changed rows.
fn run_blocking(
    path: Option<&Path>,
    statements: &[String],
    parameters: &Map<String, Json>,
    fetch: FetchType,
    transaction: bool,
    max_file_bytes: u64,
    interrupt: tokio::sync::oneshot::Sender<rusqlite::InterruptHandle>,
) -> Result<Ran, TaskError> {
    let failed = |doing: &str, err: rusqlite::Error| TaskError::Failed(format!("{doing}: {err}"));
    let connection = match path {
        None => rusqlite::Connection::open_in_memory(),
        Some(path) => rusqlite::Connection::open(path),
    }
    .map_err(|e| failed("opening the SQLite database", e))?;
    let _ = interrupt.send(connection.get_interrupt_handle());
    if transaction {
        connection
            .execute_batch("BEGIN")
            .map_err(|e| failed("starting the transaction", e))?;
    }
    let mut results = Vec::with_capacity(statements.len());
    let mut changes = Vec::new();
    for (n, statement) in statements.iter().enumerate() {
        let which = if statements.len() > 1 {
            format!("statement {} of {}", n + 1, statements.len())
        } else {
            "the query".to_owned()
        };
        let bound = bind_named(statement, &|name| parameters.contains_key(name), |i| {
            format!("?{i}")
        });
        let mut prepared = connection
            .prepare(&bound.sql)
            .map_err(|e| failed(&format!("preparing {which}"), e))?;
        let values: Vec<SqlValue> = bound
            .names
            .iter()
            .map(|name| sql_value(parameters.get(name).unwrap_or(&Json::Null)))
            .collect();
        let params = rusqlite::params_from_iter(values.iter());
        if prepared.column_count() == 0 {
            let changed = prepared
                .execute(params)
                .map_err(|e| failed(&format!("running {which}"), e))?;
            changes.push(format!("{which}: {changed} row(s) changed"));
            results.push(None);
            continue;
        }
        let names: Vec<String> = prepared.column_names().map(str::to_owned).collect();
        let mut rows = prepared
            .query(params)
            .map_err(|e| failed(&format!("running {which}"), e))?;
        let mut gathered = Gathered::new(fetch, max_file_bytes);
        if fetch == FetchType::None {
            // SQLite runs a statement as its rows are read: an INSERT ... RETURNING whose
            // rows are not kept must still be stepped to make its change.
            while rows
                .next()
                .map_err(|e| failed(&format!("running {which}"), e))?
                .is_some()
            {}
        }
        while gathered.wants_more() {
            let Some(row) = rows
                .next()
                .map_err(|e| failed(&format!("reading {which}"), e))?
            else {
                break;
            };
            let mut out = Map::new();
            for (i, name) in names.iter().enumerate() {
                let value = row
                    .get_ref(i)
                    .map_err(|e| failed(&format!("reading {which}"), e))?;
                out.insert(name.clone(), cell(value));
            }
            gathered.push(out)?;
        }
        results.push(Some(gathered));
    }
    if transaction {
        connection
            .execute_batch("COMMIT")
            .map_err(|e| failed("committing the transaction", e))?;
    }
    Ok((results, changes))
}

/// A parameter as SQLite stores it: booleans as 0/1, lists and maps as JSON text.
fn sql_value(value: &Json) -> SqlValue {
    match value {
        Json::Null => SqlValue::Null,
        Json::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Json::Number(n) => match n.as_i64() {
            Some(i) => SqlValue::Integer(i),
            None => SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => SqlValue::Text(s.clone()),
        other => SqlValue::Text(other.to_string()),
    }
}

fn cell(value: ValueRef<'_>) -> Json {
    match value {
        ValueRef::Null => Json::Null,
        ValueRef::Integer(i) => Json::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f)
            .map_or_else(|| Json::String(f.to_string()), Json::Number),
        ValueRef::Text(text) => Json::String(String::from_utf8_lossy(text).into_owned()),
        ValueRef::Blob(bytes) => Json::String(STANDARD.encode(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_stay_in_the_working_directory() {
        assert!(matches!(
            database("jdbc:sqlite::memory:"),
            Ok(Database::Memory)
        ));
        assert!(
            matches!(database("jdbc:sqlite:data/my.db"), Ok(Database::File(p)) if p == Path::new("data/my.db"))
        );
        for refused in [
            "jdbc:sqlite:/etc/passwd",
            "jdbc:sqlite:../x.db",
            "sqlite:x.db",
        ] {
            assert!(database(refused).is_err(), "{refused}");
        }
    }
}
