//! `io.kestra.plugin.jdbc.postgresql.Query` and `Queries` over tokio-postgres: one connection
//! per task run (its `connectTimeout` bounding the connection and the login), each statement
//! prepared so the server infers the types of its parameters, which are then sent as text
//! (as pgjdbc does with `stringtype=unspecified`), and its rows streamed.
//!
//! The task's `timeout` is also the session's `statement_timeout`: at the timeout the worker
//! drops the runner, which closes the connection, but PostgreSQL would go on running the
//! query until it next writes to the client. A killed task cancels its running query on the
//! server (a cancel request) before it ends. Without TLS (not offered yet: `sslMode`
//! REQUIRE, VERIFY_CA, VERIFY_FULL and the certificate properties are refused saying so),
//! pgjdbc's default PREFER and ALLOW connect in plain text.
//! A Queries task runs its statements in one transaction unless `transaction: false`: a
//! failed statement rolls the others back (the connection is closed without COMMIT).

use std::pin::pin;

use bytes::BytesMut;
use futures_util::StreamExt;
use saker_expr::Rendered;
use saker_model::Level;
use serde_json::{Map, Value as Json};
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, NoTls, Row, Statement};

use super::statements::bind_named;
use super::{
    Gathered, Mode, QuerySpec, cells_pg, flag, max_file_bytes, outputs, pg_url, property, shown_url,
};
use crate::runner::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

/// The Query (one statement) or Queries runner.
pub struct Postgres(pub Mode);

impl TaskRunner for Postgres {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let spec = QuerySpec::from_task(ctx, self.0)?;
            let target = Target::from_task(ctx)?;
            let max_file_bytes = max_file_bytes(ctx, &spec)?;
            let cancel = ctx.cancellation();
            let client = tokio::select! {
                client = target.connect() => client?,
                () = cancel.cancelled() => {
                    return Err(TaskError::Killed(format!(
                        "killed while connecting to {}", target.shown
                    )));
                }
            };
            if let Some(timeout) = ctx.task().timeout {
                let millis = timeout.as_millis().max(1);
                client
                    .batch_execute(&format!("SET statement_timeout = {millis}"))
                    .await
                    .map_err(|e| target.failed("setting the statement timeout", &e))?;
            }
            let run = run_statements(ctx, &client, &spec, &target, max_file_bytes);
            let results = tokio::select! {
                results = run => results?,
                () = cancel.cancelled() => {
                    // The server would go on running the query for nobody.
                    let _ = client.cancel_token().cancel_query(NoTls).await;
                    return Err(TaskError::Killed(format!(
                        "killed while querying {}", target.shown
                    )));
                }
            };
            let outputs = outputs(ctx, &spec, results)?;
            Ok(TaskOutcome::with_outputs(outputs))
        })
    }
}

/// Where to connect, as the properties say.
struct Target {
    url: pg_url::PgUrl,
    /// The URL for a person (secret ranges and any password as `****`).
    shown: String,
}

impl Target {
    fn from_task(ctx: &mut TaskContext) -> Result<Self, TaskError> {
        let url: Rendered = ctx
            .render_rendered_string("url")?
            .ok_or_else(|| property("url", "is required: jdbc:postgresql://host:port/database"))?;
        let mut parsed = pg_url::parse(&url.text).map_err(|m| property("url", &m))?;
        if let Some(user) = ctx.render_string("username")? {
            parsed.config.user(&user);
        }
        if let Some(password) = ctx.render_string("password")? {
            parsed
                .config
                .password(zeroize::Zeroizing::new(password).as_bytes());
        }
        if parsed.config.get_user().is_none() {
            return Err(property(
                "username",
                "is required: the PostgreSQL user to connect as (or ?user= in the url)",
            ));
        }
        let ssl_mode = match ctx.render_string("sslMode")? {
            Some(mode) => Some(mode.trim().to_ascii_lowercase().replace('_', "-")),
            None if flag(ctx, "ssl")? == Some(true) => Some("require".to_owned()),
            None => parsed.ssl_mode.clone(),
        };
        for name in ["sslRootCert", "sslCert", "sslKey", "sslKeyPassword"] {
            if ctx.property(name).is_some() {
                return Err(tls_unavailable(name));
            }
        }
        match ssl_mode.as_deref() {
            // pgjdbc's default is prefer: TLS when the server offers it. Without a TLS
            // client, prefer and allow are a plain connection.
            None | Some("disable" | "allow" | "prefer") => {
                parsed
                    .config
                    .ssl_mode(tokio_postgres::config::SslMode::Disable);
            }
            Some("require" | "verify-ca" | "verify-full") => {
                return Err(tls_unavailable("sslMode"));
            }
            Some(other) => {
                return Err(property(
                    "sslMode",
                    &format!(
                        "'{other}' is not one of DISABLE, ALLOW, PREFER, REQUIRE, VERIFY_CA, \
                         VERIFY_FULL"
                    ),
                ));
            }
        }
        Ok(Self {
            shown: shown_url(&url),
            url: parsed,
        })
    }

    /// Connects; the connection's I/O runs on a task of its own until the client drops.
    async fn connect(&self) -> Result<Client, TaskError> {
        let limit = self.url.connect_timeout;
        let connected = tokio::time::timeout(limit, self.url.config.connect(NoTls))
            .await
            .map_err(|_| {
                TaskError::Failed(format!(
                    "cannot connect to PostgreSQL at {}: no answer within {} s (raise \
                     connectTimeout in the url if the server is slow)",
                    self.shown,
                    limit.as_secs()
                ))
            })?;
        let (client, connection) = connected.map_err(|e| {
            // pg_hba.conf's `hostnossl ... reject`, or no `host` line for a plain connection.
            let tls_only = e.as_db_error().is_some_and(|db| {
                db.code() == &tokio_postgres::error::SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                    && db.message().ends_with("no encryption")
            });
            let hint = if tls_only {
                " (the server accepts only TLS connections, which the jdbc.postgresql tasks of \
                 Saker do not offer yet)"
            } else {
                ""
            };
            TaskError::Failed(format!(
                "cannot connect to PostgreSQL at {}: {}{hint}",
                self.shown,
                describe(&e)
            ))
        })?;
        tokio::spawn(async move {
            // Errors of the connection reach the client's calls, which report them.
            let _ = connection.await;
        });
        Ok(client)
    }

    fn failed(&self, doing: &str, err: &tokio_postgres::Error) -> TaskError {
        TaskError::Failed(format!("{doing} on {}: {}", self.shown, describe(err)))
    }
}

fn tls_unavailable(name: &str) -> TaskError {
    property(
        name,
        "asks for TLS, which the jdbc.postgresql tasks of Saker do not offer yet: connect \
         without it (sslMode: DISABLE, or PREFER) over a trusted network or a tunnel",
    )
}

/// Runs every statement; the rows of each as `spec.fetch` says (`None` when it returned no
/// rows).
async fn run_statements(
    ctx: &mut TaskContext,
    client: &Client,
    spec: &QuerySpec,
    target: &Target,
    max_file_bytes: u64,
) -> Result<Vec<Option<Gathered>>, TaskError> {
    let transaction = spec.mode == Mode::Queries && spec.transaction;
    if transaction {
        client
            .batch_execute("BEGIN")
            .await
            .map_err(|e| target.failed("starting the transaction", &e))?;
    }
    let mut results = Vec::with_capacity(spec.statements.len());
    for (n, statement) in spec.statements.iter().enumerate() {
        let which = if spec.statements.len() > 1 {
            format!("statement {} of {}", n + 1, spec.statements.len())
        } else {
            "the query".to_owned()
        };
        let bound = bind_named(statement, &|name| spec.has_parameter(name), |i| {
            format!("${i}")
        });
        let prepared = prepare(client, spec, &bound.names, &bound.sql)
            .await
            .map_err(|e| target.failed(&format!("preparing {which}"), &e))?;
        let params = parameters(spec, &bound.names, &prepared)?;
        if prepared.columns().is_empty() {
            let changed = client
                .execute_raw(&prepared, params.iter())
                .await
                .map_err(|e| target.failed(&format!("running {which}"), &e))?;
            ctx.log(Level::Debug, &format!("{which}: {changed} row(s) changed"));
            results.push(None);
            continue;
        }
        let rows = client
            .query_raw(&prepared, params.iter())
            .await
            .map_err(|e| target.failed(&format!("running {which}"), &e))?;
        let mut rows = pin!(rows);
        let mut gathered = Gathered::new(spec.fetch, max_file_bytes);
        while gathered.wants_more() {
            match rows.next().await {
                None => break,
                Some(row) => {
                    let row = row.map_err(|e| target.failed(&format!("reading {which}"), &e))?;
                    gathered.push(row_json(&row, &prepared, spec.zone)?)?;
                }
            }
        }
        results.push(Some(gathered));
    }
    if transaction {
        client
            .batch_execute("COMMIT")
            .await
            .map_err(|e| target.failed("committing the transaction", &e))?;
    }
    Ok(results)
}

/// Prepares `sql`, the server inferring the type of each parameter from where it is used.
/// Where it cannot (`SELECT :x`, `:x IS NULL`), the types are taken from the values instead,
/// as pgjdbc types what it sends: text, bigint, double precision, boolean, jsonb.
async fn prepare(
    client: &Client,
    spec: &QuerySpec,
    names: &[String],
    sql: &str,
) -> Result<Statement, tokio_postgres::Error> {
    match client.prepare(sql).await {
        Err(err)
            if err.code() == Some(&tokio_postgres::error::SqlState::INDETERMINATE_DATATYPE) =>
        {
            let types: Vec<Type> = names
                .iter()
                .map(|name| match spec.parameters.get(name) {
                    Some(Json::Bool(_)) => Type::BOOL,
                    Some(Json::Number(n)) if n.is_i64() || n.is_u64() => Type::INT8,
                    Some(Json::Number(_)) => Type::FLOAT8,
                    Some(Json::Array(_) | Json::Object(_)) => Type::JSONB,
                    Some(Json::String(_) | Json::Null) | None => Type::TEXT,
                })
                .collect();
            client.prepare_typed(sql, &types).await
        }
        other => other,
    }
}

/// The values of the numbered parameters (`$1`, `$2`, ...), in order, as text for the types
/// the server inferred.
fn parameters(
    spec: &QuerySpec,
    names: &[String],
    prepared: &Statement,
) -> Result<Vec<TextParam>, TaskError> {
    names
        .iter()
        .zip(prepared.params())
        .map(|(name, ty)| {
            let value = spec.parameters.get(name).unwrap_or(&Json::Null);
            Ok(TextParam(param_text(value, ty)))
        })
        .collect()
}

/// A parameter's text as PostgreSQL reads it for type `ty`: NULL for null, a list as an
/// array literal for an array type (JSON text otherwise, for json/jsonb), a map as JSON.
fn param_text(value: &Json, ty: &Type) -> Option<String> {
    match value {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        Json::Array(items) if matches!(ty.kind(), Kind::Array(_)) => Some(array_literal(items)),
        other => Some(other.to_string()),
    }
}

/// `{"a","b",NULL,{"c"}}`: every element quoted, so that commas and braces in text are
/// kept.
fn array_literal(items: &[Json]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|item| match item {
            Json::Null => "NULL".to_owned(),
            Json::Array(inner) => array_literal(inner),
            Json::String(s) => quote_element(s),
            other => quote_element(&other.to_string()),
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

fn quote_element(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// One row: column name to value, in the columns' order.
fn row_json(
    row: &Row,
    prepared: &Statement,
    zone: chrono_tz::Tz,
) -> Result<Map<String, Json>, TaskError> {
    let mut out = Map::new();
    for (i, column) in prepared.columns().iter().enumerate() {
        let raw: Option<Raw> = row.try_get(i).map_err(|e| {
            TaskError::Failed(format!("column '{}': {}", column.name(), describe(&e)))
        })?;
        let value = match raw {
            None => Json::Null,
            Some(Raw(bytes)) => cells_pg::cell(column.type_(), bytes, zone)
                .map_err(|why| TaskError::Failed(format!("column '{}': {why}", column.name())))?,
        };
        out.insert(column.name().to_owned(), value);
    }
    Ok(out)
}

/// A value as the server sent it, whatever its type, for `cells_pg` to decode.
struct Raw<'a>(&'a [u8]);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(
        _ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw))
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

/// A parameter sent as text, for the server to read as the type it inferred.
struct TextParam(Option<String>);

/// Never the value: tokio-postgres logs the parameters of a statement with their Debug.
impl std::fmt::Debug for TextParam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<parameter>")
    }
}

impl ToSql for TextParam {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.0 {
            None => Ok(IsNull::Yes),
            Some(text) => {
                out.extend_from_slice(text.as_bytes());
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> tokio_postgres::types::Format {
        tokio_postgres::types::Format::Text
    }

    to_sql_checked!();
}

/// A driver error as a person reads it: the server's message with its code, detail and hint,
/// or the client's error and its causes.
fn describe(err: &tokio_postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        let mut text = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
        if let Some(detail) = db.detail() {
            text.push_str(&format!(" ({detail})"));
        }
        if let Some(hint) = db.hint() {
            text.push_str(&format!("; hint: {hint}"));
        }
        return text;
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_sent_as_postgresql_reads_them() {
        let text_array = Type::TEXT_ARRAY;
        assert_eq!(param_text(&Json::Null, &Type::INT4), None);
        assert_eq!(
            param_text(&serde_json::json!(42), &Type::INT4).as_deref(),
            Some("42")
        );
        assert_eq!(
            param_text(&serde_json::json!(["a,b", "c\"d", null, 3]), &text_array).as_deref(),
            Some(r#"{"a,b","c\"d",NULL,"3"}"#)
        );
        assert_eq!(
            param_text(&serde_json::json!({"k": [1]}), &Type::JSONB).as_deref(),
            Some(r#"{"k":[1]}"#)
        );
        assert_eq!(
            format!("{:?}", TextParam(Some("hunter2".into()))),
            "<parameter>"
        );
    }
}
