//! File tasks: Kestra's core storage tasks on an execution's files
//! (`io.kestra.plugin.core.storage.{Write, Concat, Split, Delete, Size, Reverse,
//! PurgeCurrentExecutionFiles}`) and the serdes
//! conversions between CSV or JSON and Kestra's Ion files
//! (`io.kestra.plugin.serdes.{csv.CsvToIon, csv.IonToCsv, json.JsonToIon, json.IonToJson}`),
//! with the older names Kestra declares as their aliases.

use super::{PropSpec, TaskKind, TaskType, prop, required};
use crate::shape::Shape;

const WRITE_PROPS: &[PropSpec] = &[
    required("content", Shape::String),
    prop("extension", Shape::String),
];

const CONCAT_PROPS: &[PropSpec] = &[
    // A list of URIs, or a string rendering to a JSON list of them.
    required("files", Shape::Any),
    prop("separator", Shape::String),
    prop("extension", Shape::String),
];

const SPLIT_PROPS: &[PropSpec] = &[
    required("from", Shape::String),
    prop("bytes", Shape::String),
    prop("partitions", Shape::AtLeast(1)),
    prop("rows", Shape::AtLeast(1)),
    prop("separator", Shape::String),
];

const DELETE_PROPS: &[PropSpec] = &[
    required("uri", Shape::String),
    prop("errorOnMissing", Shape::Bool),
];

const SIZE_PROPS: &[PropSpec] = &[required("uri", Shape::String)];

const REVERSE_PROPS: &[PropSpec] = &[
    required("from", Shape::String),
    prop("separator", Shape::String),
    prop("charset", Shape::String),
];

const CSV_TO_ION_PROPS: &[PropSpec] = &[
    required("from", Shape::String),
    prop("header", Shape::Bool),
    prop("fieldSeparator", Shape::String),
    prop("textDelimiter", Shape::String),
    prop("skipEmptyRows", Shape::Bool),
    prop("errorOnDifferentFieldCount", Shape::Bool),
    prop("skipRows", Shape::AtLeast(0)),
    prop("charset", Shape::String),
];

const ION_TO_CSV_PROPS: &[PropSpec] = &[
    required("from", Shape::String),
    prop("header", Shape::Bool),
    prop("fieldSeparator", Shape::String),
    prop("textDelimiter", Shape::String),
    prop("lineDelimiter", Shape::String),
    prop("alwaysDelimitText", Shape::Bool),
    prop("charset", Shape::String),
    // Kestra's AbstractTextWriter: accepted, said not to apply (rows hold no Java dates).
    prop("dateFormat", Shape::String),
    prop("timeFormat", Shape::String),
    prop("dateTimeFormat", Shape::String),
    prop("zonedDateTimeFormat", Shape::String),
    prop("timeZoneId", Shape::String),
];

const JSON_TO_ION_PROPS: &[PropSpec] = &[
    required("from", Shape::String),
    prop("charset", Shape::String),
    prop("newLine", Shape::Bool),
];

const ION_TO_JSON_PROPS: &[PropSpec] = &[
    required("from", Shape::String),
    prop("charset", Shape::String),
    prop("newLine", Shape::Bool),
    prop("timeZoneId", Shape::String),
];

pub const FILE_TASKS: &[TaskType] = &[
    TaskType {
        name: "io.kestra.plugin.core.storage.Write",
        aliases: &[],
        kind: TaskKind::StorageWrite,
        props: WRITE_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.storage.Concat",
        aliases: &["io.kestra.core.tasks.storages.Concat"],
        kind: TaskKind::StorageConcat,
        props: CONCAT_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.storage.Split",
        aliases: &["io.kestra.core.tasks.storages.Split"],
        kind: TaskKind::StorageSplit,
        props: SPLIT_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.storage.Delete",
        aliases: &["io.kestra.core.tasks.storages.Delete"],
        kind: TaskKind::StorageDelete,
        props: DELETE_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.storage.Size",
        aliases: &["io.kestra.core.tasks.storages.Size"],
        kind: TaskKind::StorageSize,
        props: SIZE_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.storage.Reverse",
        aliases: &["io.kestra.core.tasks.storages.Reverse"],
        kind: TaskKind::StorageReverse,
        props: REVERSE_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles",
        aliases: &[
            "io.kestra.core.tasks.storages.PurgeExecution",
            "io.kestra.plugin.core.storage.PurgeExecution",
        ],
        kind: TaskKind::PurgeCurrentExecutionFiles,
        props: &[],
    },
    TaskType {
        name: "io.kestra.plugin.serdes.csv.CsvToIon",
        aliases: &["io.kestra.plugin.serdes.csv.CsvReader"],
        kind: TaskKind::CsvToIon,
        props: CSV_TO_ION_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.serdes.csv.IonToCsv",
        aliases: &["io.kestra.plugin.serdes.csv.CsvWriter"],
        kind: TaskKind::IonToCsv,
        props: ION_TO_CSV_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.serdes.json.JsonToIon",
        aliases: &["io.kestra.plugin.serdes.json.JsonReader"],
        kind: TaskKind::JsonToIon,
        props: JSON_TO_ION_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.serdes.json.IonToJson",
        aliases: &["io.kestra.plugin.serdes.json.JsonWriter"],
        kind: TaskKind::IonToJson,
        props: ION_TO_JSON_PROPS,
    },
];
