//! Kestra's JDBC tasks that Saker runs: `io.kestra.plugin.jdbc.postgresql.{Query, Queries}` and
//! `io.kestra.plugin.jdbc.sqlite.{Query, Queries}`, with the properties of Kestra's
//! plugin-jdbc (`url` in JDBC form, `username`, `password`, `sql`, `parameters`, `fetchType`
//! and the deprecated `fetch`/`fetchOne`/`store` booleans, `fetchSize`, `timeZoneId`).
//! Outputs: `row` (FETCH_ONE), `rows` (FETCH), `uri` (STORE, an Ion file), `size`; a Queries
//! task outputs `outputs`, one such map per statement that returned rows.

use super::{PropSpec, TaskKind, TaskType, prop, required};
use crate::shape::Shape;

/// Kestra's `FetchType`.
pub(super) const FETCH_TYPES: &[&str] = &["FETCH", "FETCH_ONE", "STORE", "NONE"];

/// pgjdbc's `sslmode` values, as Kestra's `SslMode` names them.
const SSL_MODES: &[&str] = &[
    "DISABLE",
    "ALLOW",
    "PREFER",
    "REQUIRE",
    "VERIFY_CA",
    "VERIFY_FULL",
];

/// What every JDBC query task has (Kestra's `AbstractJdbcBaseQuery`).
macro_rules! query_props {
    ($($extra:expr),* $(,)?) => {
        &[
            required("url", Shape::String),
            prop("username", Shape::String),
            prop("password", Shape::String),
            required("sql", Shape::String),
            prop("parameters", Shape::Map),
            prop("fetchType", Shape::OneOf(FETCH_TYPES)),
            prop("fetch", Shape::Bool),
            prop("fetchOne", Shape::Bool),
            prop("store", Shape::Bool),
            prop("fetchSize", Shape::Int),
            prop("timeZoneId", Shape::String),
            $($extra),*
        ]
    };
}

/// PostgreSQL's connection properties (Kestra's `PostgresConnectionInterface`).
macro_rules! postgres_props {
    ($($extra:expr),* $(,)?) => {
        query_props![
            prop("ssl", Shape::Bool),
            prop("sslMode", Shape::OneOf(SSL_MODES)),
            prop("sslRootCert", Shape::String),
            prop("sslCert", Shape::String),
            prop("sslKey", Shape::String),
            prop("sslKeyPassword", Shape::String),
            $($extra),*
        ]
    };
}

const POSTGRES_QUERY_PROPS: &[PropSpec] = postgres_props![];
const POSTGRES_QUERIES_PROPS: &[PropSpec] = postgres_props![prop("transaction", Shape::Bool)];
const SQLITE_QUERY_PROPS: &[PropSpec] = query_props![
    prop("sqliteFile", Shape::String),
    prop("outputDbFile", Shape::Bool),
];
const SQLITE_QUERIES_PROPS: &[PropSpec] = query_props![
    prop("sqliteFile", Shape::String),
    prop("outputDbFile", Shape::Bool),
    prop("transaction", Shape::Bool),
];

pub const JDBC_TASKS: &[TaskType] = &[
    TaskType {
        name: "io.kestra.plugin.jdbc.postgresql.Query",
        aliases: &[],
        kind: TaskKind::PostgresQuery,
        props: POSTGRES_QUERY_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.jdbc.postgresql.Queries",
        aliases: &[],
        kind: TaskKind::PostgresQueries,
        props: POSTGRES_QUERIES_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.jdbc.sqlite.Query",
        aliases: &[],
        kind: TaskKind::SqliteQuery,
        props: SQLITE_QUERY_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.jdbc.sqlite.Queries",
        aliases: &[],
        kind: TaskKind::SqliteQueries,
        props: SQLITE_QUERIES_PROPS,
    },
];
