//! Kestra's DuckDB tasks, `io.kestra.plugin.jdbc.duckdb.{Query, Queries}`, with the properties
//! of Kestra's plugin-jdbc-duckdb: the JDBC query properties (`sql`, `parameters`,
//! `fetchType` and the deprecated booleans, `fetchSize`, `timeZoneId`), `url` (optional:
//! `jdbc:duckdb:` is a fresh database of the working directory), `inputFiles` written where
//! the SQL reads them (`read_csv_auto('data.csv')`), `outputFiles` (names the SQL writes
//! through `{{ outputFiles.<name> }}`), `databaseUri` (a stored database to open),
//! `outputDbFile` and `communityExtensions`.
//! Outputs: those of the other JDBC tasks (`row`, `rows`, `uri`, `size`; `outputs` for
//! Queries), plus `outputFiles` and `databaseUri`.

use super::jdbc::FETCH_TYPES;
use super::{PropSpec, TaskKind, TaskType, prop, required};
use crate::shape::Shape;

macro_rules! duckdb_props {
    ($($extra:expr),* $(,)?) => {
        &[
            prop("url", Shape::String),
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
            prop("inputFiles", Shape::Any),
            prop("outputFiles", Shape::StringOrList),
            prop("databaseUri", Shape::String),
            prop("outputDbFile", Shape::Bool),
            prop("communityExtensions", Shape::StringOrList),
            $($extra),*
        ]
    };
}

const QUERY_PROPS: &[PropSpec] = duckdb_props![];
const QUERIES_PROPS: &[PropSpec] = duckdb_props![prop("transaction", Shape::Bool)];

pub const DUCKDB_TASKS: &[TaskType] = &[
    TaskType {
        name: "io.kestra.plugin.jdbc.duckdb.Query",
        aliases: &[],
        kind: TaskKind::DuckdbQuery,
        props: QUERY_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.jdbc.duckdb.Queries",
        aliases: &[],
        kind: TaskKind::DuckdbQueries,
        props: QUERIES_PROPS,
    },
];
