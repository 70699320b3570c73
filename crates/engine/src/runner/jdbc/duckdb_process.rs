//! The DuckDB driver process of the jdbc.duckdb tasks: `duckdb_driver.py` (embedded here),
//! written into the task's working directory with a request file (the statements, their
//! parameter values, what to keep of each), and run confined by a Python that has the
//! `duckdb` package. DuckDB binds the values itself. The driver writes each result set as
//! JSON lines to a result file, read back here into the JDBC tasks' [`Gathered`] rows.
//!
//! Which Python: `SAKER_DUCKDB_PYTHON` (a venv's `bin/python`, whose venv the sandbox then
//! sees read-only), else a `python3` of the tool directories (`SAKER_TOOL_DIRS`), else the
//! worker's `python3`. One that cannot import duckdb gives an error saying how to install it.
//!
//! The process may leave anything in the directory: the result file is read only if it is a
//! regular file, never through a link. The request file holds the parameter values (perhaps
//! a secret) and is removed with the driver and the result file when the process ends.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use saker_confine::{Mount, WorkDir};
use serde_json::{Map, Value as Json, json};
use tokio::io::AsyncReadExt as _;
use zeroize::Zeroizing;

use super::statements::bind_named;
use super::{FetchType, Gathered, MAX_FETCHED_ROWS, Mode, QuerySpec};
use crate::runner::process_setup::{self, Extras, Program};
use crate::runner::{TaskContext, TaskError};

/// The driver program.
const DRIVER: &str = include_str!("duckdb_driver.py");

/// The variable naming the Python to run DuckDB with.
pub(super) const PYTHON_VAR: &str = "SAKER_DUCKDB_PYTHON";

/// How to get DuckDB, for the errors saying it is missing.
const INSTALL: &str = "install DuckDB's Python package in a venv (`python3 -m venv /opt/duckdb && \
                       /opt/duckdb/bin/pip install duckdb pytz`) and name its python in \
                       SAKER_DUCKDB_PYTHON (SAKER_DUCKDB_PYTHON=/opt/duckdb/bin/python)";

/// The driver's exit status when `import duckdb` fails.
const NO_DUCKDB: i32 = 3;

/// The most of the driver's stderr kept for an error message.
const MAX_STDERR: usize = 16 * 1024;

/// What the driver is asked to do.
pub(super) struct Request<'a> {
    pub spec: &'a QuerySpec,
    /// The database file, relative to the working directory.
    pub database: &'a str,
    pub config: &'a [(String, String)],
    pub extensions: &'a [String],
}

/// What the driver did.
pub(super) struct DriverRun {
    /// Per statement, its rows as `fetchType` keeps them; `None` for a statement that
    /// changed rows, or whose rows a Query does not keep (all but the last).
    pub results: Vec<Option<Gathered>>,
    /// A line per statement that changed rows.
    pub changes: Vec<String>,
    /// What the driver warned about (an extension that did not load), masked.
    pub warnings: Vec<String>,
}

/// Runs the statements of `request` in `workdir`.
pub(super) async fn run(
    ctx: &mut TaskContext,
    workdir: &WorkDir,
    request: &Request<'_>,
    max_file_bytes: u64,
) -> Result<DriverRun, TaskError> {
    let type_name = ctx.task().type_name.clone();
    let (python, mut extras) = python(&type_name)?;
    let dir = workdir.host_path();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let files = DriverFiles {
        dir: dir.to_path_buf(),
        driver: format!(".saker-duckdb-{id}.py"),
        request: format!(".saker-duckdb-{id}.request.json"),
        result: format!(".saker-duckdb-{id}.result.jsonl"),
    };
    let keeps = keeps(request.spec);
    let body = Zeroizing::new(
        serde_json::to_vec(&request_json(request, &keeps))
            .map_err(|err| TaskError::Failed(format!("writing the DuckDB request: {err}")))?,
    );
    crate::files::write_confined_at(dir, &files.driver, DRIVER.as_bytes(), None)?;
    crate::files::write_confined_at(dir, &files.request, &body, None)?;
    drop(body);
    let visible = workdir.visible_path();
    let args = vec![
        format!("{visible}/{}", files.driver),
        format!("{visible}/{}", files.request),
        format!("{visible}/{}", files.result),
    ];
    extras
        .env
        .push(("PYTHONDONTWRITEBYTECODE".into(), "1".into()));
    extras.env.push(("HOME".into(), visible.to_owned()));
    let env = extras.environment(visible, Vec::new());
    let mut command = ctx
        .sandbox()?
        .command_with_mounts(
            workdir,
            &python.to_string_lossy(),
            &args,
            &env,
            &extras.mounts,
        )
        .map_err(|err| TaskError::Failed(err.to_string()))?;
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .await
        .map_err(|err| TaskError::Failed(err.to_string()))?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let stderr = tokio::spawn(read_tail(stderr));
    let cancel = ctx.cancellation();
    let status = tokio::select! {
        status = child.wait() => status
            .map_err(|err| TaskError::Failed(format!("waiting for DuckDB failed: {err}")))?,
        () = cancel.cancelled() => {
            let _ = child.kill().await;
            return Err(TaskError::Killed("killed while querying DuckDB".into()));
        }
    };
    let stderr = stderr.await.unwrap_or_default();
    let masks = ctx.mask_set();
    let shown_stderr = masks
        .mask(String::from_utf8_lossy(&stderr).trim())
        .into_owned();
    if status.code() == Some(NO_DUCKDB) {
        return Err(TaskError::Failed(format!(
            "{type_name} needs DuckDB, which {} cannot import ({shown_stderr}): {INSTALL}",
            python.display()
        )));
    }
    let result_path = dir.join(&files.result);
    let statement_count = request.spec.statements.len();
    let read =
        tokio::task::spawn_blocking(move || read_results(&result_path, &keeps, max_file_bytes))
            .await
            .map_err(|err| TaskError::Failed(format!("reading DuckDB's results failed: {err}")))?;
    let read = match read {
        Ok(read) => read,
        Err(ReadError::Task(err)) => return Err(err),
        Err(ReadError::Refused { statement, message }) => {
            let which = match statement {
                Some(n) if statement_count > 1 => {
                    format!("statement {} of {statement_count}", n + 1)
                }
                Some(_) => "the query".to_owned(),
                None => "the database".to_owned(),
            };
            return Err(TaskError::Failed(format!(
                "DuckDB refused {which}: {}",
                masks.mask(&message)
            )));
        }
        Err(ReadError::Unreadable(reason)) => {
            let how = match status.code() {
                Some(code) => format!("exit code {code}"),
                None => "a signal".to_owned(),
            };
            return Err(TaskError::Failed(format!(
                "the DuckDB driver ended with {how} ({reason}){}",
                if shown_stderr.is_empty() {
                    String::new()
                } else {
                    format!(": {shown_stderr}")
                }
            )));
        }
    };
    Ok(DriverRun {
        results: read.results,
        changes: read.changes,
        warnings: read
            .warnings
            .iter()
            .map(|w| masks.mask(w).into_owned())
            .collect(),
    })
}

/// The files Saker puts in the working directory for one run, by name.
struct DriverFiles {
    dir: PathBuf,
    driver: String,
    request: String,
    result: String,
}

impl Drop for DriverFiles {
    /// Gone also when the run stops early (killed, an error): the request may hold a secret.
    fn drop(&mut self) {
        for name in [&self.driver, &self.request, &self.result] {
            let _ = std::fs::remove_file(self.dir.join(name));
        }
    }
}

/// The Python to run the driver with, and what the sandbox must see for it.
fn python(type_name: &str) -> Result<(PathBuf, Extras), TaskError> {
    let mut extras = process_setup::tool_dirs();
    if let Some(given) = std::env::var_os(PYTHON_VAR).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(given);
        if !path.is_absolute() || !path.is_file() {
            return Err(TaskError::Failed(format!(
                "{PYTHON_VAR} names '{}', which is not a Python program (give the absolute \
                 path of a venv's bin/python with duckdb installed)",
                path.display()
            )));
        }
        if let Some(venv) = venv_of(&path) {
            extras.mounts.push(Mount::read_only(venv));
        }
        return Ok((path, extras));
    }
    let in_tool_dirs = extras
        .path_after
        .iter()
        .map(|dir| dir.join("python3"))
        .find(|p| p.is_file());
    if let Some(path) = in_tool_dirs {
        return Ok((path, extras));
    }
    let program = Program {
        names: &["python3", "python"],
        install: INSTALL,
    };
    let path = process_setup::find_program(type_name, &program, &extras)?;
    Ok((path, extras))
}

/// The venv a `bin/python` belongs to (the folder holding `pyvenv.cfg`).
fn venv_of(python: &Path) -> Option<PathBuf> {
    let root = python.parent()?.parent()?;
    root.join("pyvenv.cfg")
        .is_file()
        .then(|| root.to_path_buf())
}

/// Per statement, how many rows the driver reads: `-1` all, `0` none (the statement still
/// runs). A Query keeps only its last statement's rows.
fn keeps(spec: &QuerySpec) -> Vec<Option<FetchType>> {
    let last = spec.statements.len().saturating_sub(1);
    (0..spec.statements.len())
        .map(|i| (spec.mode == Mode::Queries || i == last).then_some(spec.fetch))
        .collect()
}

fn row_budget(keep: Option<FetchType>) -> i64 {
    match keep {
        None | Some(FetchType::None) => 0,
        Some(FetchType::FetchOne) => 1,
        // One more than a FETCH may hold, so that Gathered says so.
        Some(FetchType::Fetch) => i64::try_from(MAX_FETCHED_ROWS + 1).unwrap_or(i64::MAX),
        Some(FetchType::Store) => -1,
    }
}

fn request_json(request: &Request<'_>, keeps: &[Option<FetchType>]) -> Json {
    let spec = request.spec;
    let statements: Vec<Json> = spec
        .statements
        .iter()
        .zip(keeps)
        .map(|(statement, keep)| {
            let bound = bind_named(statement, &|name| spec.has_parameter(name), |i| {
                format!("${i}")
            });
            let values: Vec<&Json> = bound
                .names
                .iter()
                .map(|name| spec.parameters.get(name).unwrap_or(&Json::Null))
                .collect();
            json!({"sql": bound.sql, "values": values, "keep": row_budget(*keep)})
        })
        .collect();
    let config: Map<String, Json> = request
        .config
        .iter()
        .map(|(k, v)| (k.clone(), Json::String(v.clone())))
        .collect();
    json!({
        "database": request.database,
        "config": config,
        "timeZone": spec.zone.name(),
        "transaction": spec.mode == Mode::Queries && spec.transaction,
        "extensions": request.extensions,
        "statements": statements,
    })
}

/// Keeps the last [`MAX_STDERR`] bytes of what the driver prints on stderr, reading it all
/// so that the driver never blocks on a full pipe.
async fn read_tail(mut stream: impl tokio::io::AsyncRead + Unpin) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > MAX_STDERR {
            kept.drain(..kept.len() - MAX_STDERR);
        }
    }
    kept
}

/// The result file, read.
struct Read {
    results: Vec<Option<Gathered>>,
    changes: Vec<String>,
    warnings: Vec<String>,
}

enum ReadError {
    /// Keeping the rows failed (too many to FETCH, too large to STORE).
    Task(TaskError),
    /// DuckDB refused a statement (`None`: opening the database).
    Refused {
        statement: Option<usize>,
        message: String,
    },
    /// The file is missing, not a regular file, malformed or unfinished.
    Unreadable(String),
}

/// Reads the driver's result file (see `duckdb_driver.py`).
fn read_results(
    path: &Path,
    keeps: &[Option<FetchType>],
    max_file_bytes: u64,
) -> Result<Read, ReadError> {
    let file = open_regular(path).map_err(|err| ReadError::Unreadable(err.to_string()))?;
    let mut read = Read {
        results: keeps.iter().map(|_| None).collect(),
        changes: Vec::new(),
        warnings: Vec::new(),
    };
    let unreadable = |what: &str| ReadError::Unreadable(format!("its result file {what}"));
    // The statement whose rows are being read, and its columns.
    let mut current: Option<(usize, Vec<String>)> = None;
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|err| unreadable(&format!("cannot be read: {err}")))?;
        let value: Json =
            serde_json::from_str(&line).map_err(|_| unreadable("holds a line that is not JSON"))?;
        let statement = |v: &Json| {
            v.get("statement")
                .and_then(Json::as_u64)
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n < keeps.len())
        };
        match value {
            Json::Array(cells) => {
                let Some((at, columns)) = &current else {
                    return Err(unreadable("holds a row before its columns"));
                };
                if let Some(gathered) = &mut read.results[*at] {
                    let row: Map<String, Json> = columns.iter().cloned().zip(cells).collect();
                    gathered.push(row).map_err(ReadError::Task)?;
                }
            }
            Json::Object(ref map) if map.contains_key("columns") => {
                let at = statement(&value).ok_or_else(|| unreadable("names no statement"))?;
                let columns = map["columns"]
                    .as_array()
                    .map(|c| c.iter().map(|n| n.as_str().unwrap_or("").to_owned()))
                    .ok_or_else(|| unreadable("holds columns that are not a list"))?
                    .collect();
                read.results[at] = keeps[at].map(|fetch| Gathered::new(fetch, max_file_bytes));
                current = Some((at, columns));
            }
            Json::Object(ref map) if map.contains_key("changed") => {
                let at = statement(&value).ok_or_else(|| unreadable("names no statement"))?;
                let count = map["changed"].as_i64().unwrap_or(0);
                read.changes
                    .push(format!("statement {}: {count} row(s) changed", at + 1));
                current = None;
            }
            Json::Object(ref map) if map.contains_key("error") => {
                return Err(ReadError::Refused {
                    statement: statement(&value),
                    message: map["error"].as_str().unwrap_or("").to_owned(),
                });
            }
            Json::Object(ref map) if map.contains_key("warning") => {
                read.warnings
                    .push(map["warning"].as_str().unwrap_or("").to_owned());
            }
            Json::Object(ref map) if map.contains_key("done") => return Ok(read),
            _ => return Err(unreadable("holds a line of no known kind")),
        }
    }
    Err(unreadable("ends before every statement ran"))
}

/// Opens `path` only if it is a regular file, not through a link the process put there.
pub(super) fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::MetadataExt as _;
    let before = std::fs::symlink_metadata(path)?;
    let refused = || std::io::Error::other("is not a regular file");
    if !before.file_type().is_file() {
        return Err(refused());
    }
    let file = std::fs::File::open(path)?;
    let opened = file.metadata()?;
    if (opened.dev(), opened.ino()) != (before.dev(), before.ino()) {
        return Err(refused());
    }
    Ok(file)
}
