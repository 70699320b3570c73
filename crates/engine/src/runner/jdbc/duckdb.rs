//! `io.kestra.plugin.jdbc.duckdb.Query` and `Queries`: DuckDB run through its Python package
//! (a Rust binding would compile DuckDB's C++ into Saker), by a small driver program run
//! confined in the task's working directory (`duckdb_process.rs`). What the tasks share with
//! the other JDBC tasks (statements, `:name` parameters, `fetchType`, outputs, STORE as Ion,
//! the taint rules) is `super`'s.
//!
//! The database is a file of the working directory: `url: jdbc:duckdb:` (Kestra's default)
//! is a fresh one, `jdbc:duckdb:shop.duckdb` a named one (shared by the tasks of a
//! `WorkingDirectory`), and `databaseUri` a stored database copied there first. A path
//! outside the working directory, and MotherDuck (`md:`), are refused. `inputFiles` are
//! written into the directory, so that the SQL reads them by name
//! (`read_csv_auto('data.csv')`), as in Kestra; `{{ outputFiles.<name> }}` in the SQL is the
//! path of a file the SQL writes (`COPY ... TO`), stored afterwards as the `outputFiles`
//! output, and `{{ workingDir }}` and `{{ dbFilePath }}` are the directory and the database
//! as the process sees them. `outputDbFile: true` stores the database (`databaseUri`).
//!
//! Kestra's DuckDB Query runs every statement of its `sql` (DuckDB's JDBC driver runs a
//! script) and keeps the rows of the last one; Queries keeps each statement's.
//!
//! Secrets: the SQL and the parameters go to a process, so they are rendered as a process's
//! input (a piece of a secret too short to be masked is refused) and, when they came from a
//! secret, every string of the result is tainted and every stored file (rows, outputFiles,
//! the database) sealed. DuckDB's errors are masked before they are shown.

use std::path::{Component, Path};

use saker_expr::Rendered;
use saker_model::Level;
use serde_json::{Map, Value as Json};

use super::duckdb_process::{self, DriverRun, Request};
use super::{
    Mode, QuerySpec, QueryStatements, flag, max_file_bytes, outputs, property, put_task_file,
};
use crate::files::{relative_path, stage_input_files};
use crate::runner::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

/// The Query (rows of the last statement) or Queries runner.
pub struct DuckDb(pub Mode);

impl TaskRunner for DuckDb {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(run(ctx, self.0))
    }
}

/// Kestra's default URL: a fresh database.
const DEFAULT_URL: &str = "jdbc:duckdb:";

async fn run(ctx: &mut TaskContext, mode: Mode) -> Result<TaskOutcome, TaskError> {
    // Dropped last: the directory outlives the process and the files read from it.
    let workdir = ctx
        .sandbox()?
        .work_dir()
        .map_err(|err| TaskError::Failed(err.to_string()))?;
    let dir = workdir.host_path().to_path_buf();
    let visible = workdir.visible_path().to_owned();
    let url = ctx.render_rendered_string("url")?;
    if url.as_ref().is_some_and(Rendered::is_tainted) {
        return Err(property(
            "url",
            "is derived from a secret; it names a file of the working directory, which is \
             shown as it is (MotherDuck tokens are not supported)",
        ));
    }
    let url = url.map_or_else(|| DEFAULT_URL.to_owned(), |u| u.text);
    let mut target = database(&url, &visible)?;
    let database_uri = ctx.render_string("databaseUri")?;
    if database_uri.is_some() {
        target.file = fresh_database_name();
    }
    let output_names = output_file_names(ctx)?;
    let source = match ctx.property("sql") {
        Some(Json::String(text)) => text.clone(),
        None | Some(Json::Null) => return Err(property("sql", "is required: the SQL to run")),
        Some(_) => return Err(property("sql", "expected a string: the SQL to run")),
    };
    let source = with_kestra_variables(&source, &visible, &target.file, &output_names);
    let sql = ctx.render_file_for_process("sql", &source)?;
    let mut spec = QuerySpec::from_sql(ctx, mode, &sql, QueryStatements::All)?;
    for unused in ["username", "password"] {
        if ctx.property(unused).is_some() {
            ctx.log(
                Level::Warn,
                &format!("'{unused}' is not used: a DuckDB database file has no users"),
            );
        }
    }
    if let Some(source) = database_uri {
        let files = ctx.task_files()?;
        let uri = files
            .resolve(source.trim(), None)
            .map_err(|err| property("databaseUri", &err.to_string()))?;
        let opened = files
            .open(&uri)
            .map_err(|err| property("databaseUri", &err.to_string()))?;
        spec.secret_sent |= opened.sealed;
        crate::files::write_confined_at(&dir, &target.file, &opened.bytes, None)?;
    }
    if let Some(value) = ctx.property("inputFiles").cloned() {
        stage_input_files(ctx, &dir, &value)?;
    }
    // A sealed input file or a secret in the SQL went to DuckDB: what it writes is sealed.
    spec.secret_sent |= ctx.handed_taint_to_process();
    let extensions = extension_names(ctx)?;
    let output_db = flag(ctx, "outputDbFile")?.unwrap_or(false);
    let max_file_bytes = max_file_bytes(ctx, &spec)?;
    let request = Request {
        spec: &spec,
        database: &target.file,
        config: &target.config,
        extensions: &extensions,
    };
    let DriverRun {
        results,
        changes,
        warnings,
    } = duckdb_process::run(ctx, &workdir, &request, max_file_bytes).await?;
    for change in changes {
        ctx.log(Level::Debug, &change);
    }
    for warning in warnings {
        ctx.log(Level::Warn, &warning);
    }
    let mut outputs = outputs(ctx, &spec, results)?;
    let mut stored = Map::new();
    for name in &output_names {
        let uri = store_file(ctx, &dir, name, spec.secret_sent).map_err(|err| {
            property(
                "outputFiles",
                &format!(
                    "'{name}' {err}: the SQL writes it through '{{{{ outputFiles.{name} }}}}' \
                     (COPY ... TO '{{{{ outputFiles.{name} }}}}')"
                ),
            )
        })?;
        stored.insert(name.clone(), Json::String(uri));
    }
    outputs.insert("outputFiles".into(), Json::Object(stored));
    if output_db {
        let uri = store_file(ctx, &dir, &target.file, spec.secret_sent).map_err(|err| {
            TaskError::Failed(format!("storing the database '{}': {err}", target.file))
        })?;
        outputs.insert("databaseUri".into(), Json::String(uri));
    }
    drop(workdir);
    Ok(TaskOutcome::with_outputs(outputs))
}

/// Stores the file `relative` of the working directory (read through no link) in the task
/// run's folder under its name, sealed when `secret` or when it holds a value of the mask
/// set; its URI.
fn store_file(
    ctx: &TaskContext,
    dir: &Path,
    relative: &str,
    secret: bool,
) -> Result<String, StoreError> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    duckdb_process::open_regular(&dir.join(relative))
        .and_then(|mut file| file.read_to_end(&mut bytes))
        .map_err(|err| StoreError::Unreadable(err.to_string()))?;
    let name = Path::new(relative)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(relative);
    put_task_file(ctx, name, &bytes, secret).map_err(StoreError::Task)
}

/// Why a file of the working directory could not be stored.
enum StoreError {
    /// Missing, not a regular file, or unreadable.
    Unreadable(String),
    Task(TaskError),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreadable(reason) => write!(f, "was not written or cannot be read ({reason})"),
            Self::Task(err) => write!(f, "cannot be stored ({err})"),
        }
    }
}

/// The database the statements run on.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    /// Its file, relative to the working directory.
    file: String,
    /// DuckDB settings given in the URL (`?memory_limit=1GB&threads=2`).
    config: Vec<(String, String)>,
}

/// A new database file name, as Kestra's default URL makes a temporary file.
fn fresh_database_name() -> String {
    format!("duckdb-{}.db", uuid::Uuid::new_v4().simple())
}

/// `jdbc:duckdb:[path][?setting=value&...]`: no path is a fresh database; a path is a file of
/// the working directory, relative or under `visible` (the directory as the process sees it).
fn database(url: &str, visible: &str) -> Result<Target, TaskError> {
    let url = url.trim();
    let rest = url
        .get(..DEFAULT_URL.len())
        .filter(|head| head.eq_ignore_ascii_case(DEFAULT_URL))
        .map(|_| &url[DEFAULT_URL.len()..])
        .ok_or_else(|| {
            property(
                "url",
                "must start with 'jdbc:duckdb:' (jdbc:duckdb: for a fresh database, \
                 jdbc:duckdb:my.duckdb for a file of the working directory)",
            )
        })?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let config = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key.to_owned(), value.to_owned())
        })
        .collect();
    if path.starts_with("md:") || path.starts_with("motherduck:") {
        return Err(property(
            "url",
            "names a MotherDuck database, which Saker does not run: Saker's DuckDB tasks \
             query a database file of the task's working directory",
        ));
    }
    let file = match path {
        "" | ":memory:" => fresh_database_name(),
        _ => {
            let relative = path
                .strip_prefix(visible)
                .and_then(|p| p.strip_prefix('/'))
                .unwrap_or(path);
            let inside = Path::new(relative)
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
            if !inside || relative.is_empty() {
                return Err(property(
                    "url",
                    &format!(
                        "names '{path}', which is not a file of the task's working directory: \
                         write a relative path without '..' (jdbc:duckdb:my.duckdb), and hand \
                         an existing database over with 'databaseUri'"
                    ),
                ));
            }
            relative.to_owned()
        }
    };
    Ok(Target { file, config })
}

/// `outputFiles`: names of files the SQL writes, each a path in the working directory.
fn output_file_names(ctx: &mut TaskContext) -> Result<Vec<String>, TaskError> {
    ctx.render_string_or_list("outputFiles")?
        .into_iter()
        .map(|name| relative_path("outputFiles", name.trim()))
        .collect()
}

/// `communityExtensions`: names DuckDB installs and loads (best effort, as Kestra does).
fn extension_names(ctx: &mut TaskContext) -> Result<Vec<String>, TaskError> {
    let names = ctx.render_string_or_list("communityExtensions")?;
    for name in &names {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(property(
                "communityExtensions",
                &format!("'{name}' is not an extension name (letters, digits and '_')"),
            ));
        }
    }
    Ok(names)
}

/// The SQL with Kestra's DuckDB variables written in: `{{ workingDir }}`, `{{ dbFilePath }}`
/// and `{{ outputFiles.<name> }}`, paths as the process sees them. They are Saker's own
/// paths, put in before the rest of the template is rendered.
fn with_kestra_variables(
    source: &str,
    visible: &str,
    database: &str,
    outputs: &[String],
) -> String {
    static REFERENCE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let reference = REFERENCE.get_or_init(|| {
        regex::Regex::new(r"\{\{\s*(workingDir|dbFilePath|outputFiles\.([A-Za-z0-9_.-]+))\s*\}\}")
            .expect("valid")
    });
    reference
        .replace_all(source, |caps: &regex::Captures<'_>| match &caps[1] {
            "workingDir" => visible.to_owned(),
            "dbFilePath" => format!("{visible}/{database}"),
            _ if outputs.iter().any(|n| n == &caps[2]) => format!("{visible}/{}", &caps[2]),
            // Not one of outputFiles: left for the renderer, which says it is undefined.
            _ => caps[0].to_owned(),
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_stay_in_the_working_directory() {
        let fresh = database("jdbc:duckdb:", "/work").unwrap();
        assert!(fresh.file.starts_with("duckdb-") && fresh.file.ends_with(".db"));
        assert_eq!(
            database("jdbc:duckdb:data/shop.duckdb?threads=2", "/work").unwrap(),
            Target {
                file: "data/shop.duckdb".into(),
                config: vec![("threads".into(), "2".into())],
            }
        );
        assert_eq!(
            database("jdbc:duckdb:/work/shop.duckdb", "/work")
                .unwrap()
                .file,
            "shop.duckdb"
        );
        for refused in [
            "jdbc:duckdb:/etc/passwd",
            "jdbc:duckdb:../x.db",
            "jdbc:duckdb:md:my_db",
            "duckdb:x.db",
        ] {
            assert!(database(refused, "/work").is_err(), "{refused}");
        }
    }

    #[test]
    fn kestra_variables_become_paths_the_process_sees() {
        let sql = "COPY t TO '{{ outputFiles.out }}'; SELECT '{{workingDir}}', \
                   '{{ dbFilePath }}', '{{ outputFiles.other }}', '{{ inputs.x }}'";
        assert_eq!(
            with_kestra_variables(sql, "/work", "a.db", &["out".into()]),
            "COPY t TO '/work/out'; SELECT '/work', '/work/a.db', \
             '{{ outputFiles.other }}', '{{ inputs.x }}'"
        );
    }
}
