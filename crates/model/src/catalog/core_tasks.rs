//! Kestra's other core tasks: subflows (`Subflow`, `ForEachItem`), the KV store
//! (`io.kestra.plugin.core.kv.*`), execution updates (`Labels`, `Assert`, `Exit`), log
//! fetching, `Echo` and the deprecated `LocalFiles`.
//!
//! Names, aliases and properties follow Kestra's classes; legacy names are the `aliases` each
//! class declares. The KV tasks have short names with their package (`kv.Set`), since a bare
//! `Set` would also name Kestra's state tasks.

use super::{PropSpec, TaskKind, TaskType, prop, required};
use crate::shape::Shape;

/// What a subflow call says, shared by Subflow and ForEachItem (Kestra's
/// `ChildFlowInterface` and its options).
const SUBFLOW_PROPS: &[PropSpec] = &[
    required("namespace", Shape::String),
    required("flowId", Shape::String),
    prop("revision", Shape::AtLeast(1)),
    prop("inputs", Shape::Map),
    prop("labels", Shape::Labels),
    prop("wait", Shape::Bool),
    prop("transmitFailed", Shape::Bool),
    prop("inheritLabels", Shape::Bool),
    prop("scheduleDate", Shape::String),
    // Deprecated since Kestra 0.15 (the child flow declares its outputs); still accepted.
    prop("outputs", Shape::Map),
];

/// ForEachItem's `batch`: how the `items` file is split, by rows (1 by default), bytes
/// (`10MB`) or a number of partitions.
const BATCH_PROPS: &[PropSpec] = &[
    prop("rows", Shape::AtLeast(1)),
    prop("bytes", Shape::String),
    prop("partitions", Shape::AtLeast(1)),
    prop("separator", Shape::String),
];

const FOR_EACH_ITEM_PROPS: &[PropSpec] = &[
    required("items", Shape::String),
    prop("batch", Shape::Struct(BATCH_PROPS)),
    required("namespace", Shape::String),
    required("flowId", Shape::String),
    prop("revision", Shape::AtLeast(1)),
    prop("inputs", Shape::Map),
    prop("labels", Shape::Labels),
    prop("wait", Shape::Bool),
    prop("transmitFailed", Shape::Bool),
    prop("inheritLabels", Shape::Bool),
    prop("scheduleDate", Shape::String),
    prop("errors", Shape::Tasks),
    prop("finally", Shape::Tasks),
];

/// The types a KV value may be stored as (Kestra's `KVType`).
pub(crate) const KV_TYPES: &[&str] = &[
    "STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON",
];

const KV_SET_PROPS: &[PropSpec] = &[
    required("key", Shape::String),
    // Any value: a map or list is stored as JSON.
    required("value", Shape::Any),
    // `{{ flow.namespace }}` when absent.
    prop("namespace", Shape::String),
    prop("overwrite", Shape::Bool),
    prop("ttl", Shape::Duration),
    prop("kvType", Shape::OneOf(KV_TYPES)),
];

const KV_GET_PROPS: &[PropSpec] = &[
    required("key", Shape::String),
    prop("namespace", Shape::String),
    prop("errorOnMissing", Shape::Bool),
];

const KV_GET_KEYS_PROPS: &[PropSpec] = &[
    prop("prefix", Shape::String),
    prop("namespace", Shape::String),
];

const LABELS_PROPS: &[PropSpec] = &[required("labels", Shape::Labels)];

const ASSERT_PROPS: &[PropSpec] = &[
    required("conditions", Shape::StringList),
    prop("errorMessage", Shape::String),
];

/// Kestra's Resume: which paused execution (this one unless `executionId`), and the
/// `onResume` inputs it gets.
const RESUME_PROPS: &[PropSpec] = &[
    prop("namespace", Shape::String),
    prop("flowId", Shape::String),
    prop("executionId", Shape::String),
    prop("inputs", Shape::Map),
];

const EXIT_PROPS: &[PropSpec] = &[prop(
    "state",
    Shape::OneOf(&[
        "SUCCESS",
        "WARNING",
        "KILLED",
        "FAILED",
        "CANCELED",
        "CANCELLED",
    ]),
)];

/// log.Fetch: the log lines of an execution (this one when `executionId` is absent).
const FETCH_PROPS: &[PropSpec] = &[
    prop("namespace", Shape::String),
    prop("flowId", Shape::String),
    prop("executionId", Shape::String),
    prop("tasksId", Shape::StringList),
    prop("level", Shape::Level),
];

const ECHO_PROPS: &[PropSpec] = &[
    required("format", Shape::String),
    prop("level", Shape::Level),
];

/// LocalFiles (deprecated in Kestra for `inputFiles`/`outputFiles`): `inputs` is a map of
/// file name to content (or a template producing one), `outputs` the globs to keep.
const LOCAL_FILES_PROPS: &[PropSpec] = &[
    prop("inputs", Shape::Any),
    prop("outputs", Shape::StringList),
];

/// `auth` of the HTTP tasks: `{type: BASIC, username, password}` or `{type: BEARER, token}`.
const HTTP_AUTH_PROPS: &[PropSpec] = &[
    required("type", Shape::OneOf(&["BASIC", "BEARER"])),
    prop("username", Shape::String),
    prop("password", Shape::String),
    prop("token", Shape::String),
];

/// `options` of the HTTP tasks (Kestra's `HttpInterface.RequestOptions`): the ones Saker
/// acts on, plus `readIdleTimeout`, `connectionPoolIdleTimeout`, `defaultCharset` and
/// `logLevel`, accepted and without effect (each request has its own connection; bodies are
/// UTF-8). Kestra's proxy options are left out: a proxy silently not used would be worse
/// than a property error.
const HTTP_OPTIONS_PROPS: &[PropSpec] = &[
    prop("connectTimeout", Shape::Duration),
    prop("readTimeout", Shape::Duration),
    prop("readIdleTimeout", Shape::Duration),
    prop("connectionPoolIdleTimeout", Shape::Duration),
    prop("maxContentLength", Shape::AtLeast(0)),
    prop("followRedirects", Shape::Bool),
    prop("allowFailed", Shape::Bool),
    prop("basicAuthUser", Shape::String),
    prop("basicAuthPassword", Shape::String),
    prop("defaultCharset", Shape::String),
    prop("logLevel", Shape::String),
    // Kestra's older place for `sslOptions.insecureTrustAllCertificates`.
    prop("insecureTrustAllCertificates", Shape::Bool),
];

/// `sslOptions` of the HTTP tasks.
const HTTP_SSL_PROPS: &[PropSpec] = &[prop("insecureTrustAllCertificates", Shape::Bool)];

/// What Request and Download share (Kestra's `AbstractHttp`). `formData` is sent URL-encoded,
/// or as a multipart form (with files of the execution) when `contentType` says so.
macro_rules! http_props {
    ($($extra:expr),* $(,)?) => {
        &[
            required("uri", Shape::String),
            prop("method", Shape::OneOf(&[
                "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE",
            ])),
            prop("body", Shape::String),
            prop("formData", Shape::Map),
            prop("contentType", Shape::String),
            prop("headers", Shape::Map),
            prop("auth", Shape::Struct(HTTP_AUTH_PROPS)),
            prop("options", Shape::Struct(HTTP_OPTIONS_PROPS)),
            prop("sslOptions", Shape::Struct(HTTP_SSL_PROPS)),
            prop("allowFailed", Shape::Bool),
            $($extra),*
        ]
    };
}

const HTTP_REQUEST_PROPS: &[PropSpec] = http_props![prop("encryptBody", Shape::Bool)];

const HTTP_DOWNLOAD_PROPS: &[PropSpec] = http_props![prop("failOnEmptyResponse", Shape::Bool)];

/// The core task types of this module.
pub const CORE_TASKS: &[TaskType] = &[
    TaskType {
        name: "io.kestra.plugin.core.flow.Subflow",
        aliases: &[
            "io.kestra.core.tasks.flows.Subflow",
            "io.kestra.core.tasks.flows.Flow",
            "Subflow",
        ],
        kind: TaskKind::Subflow,
        props: SUBFLOW_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.flow.ForEachItem",
        aliases: &["io.kestra.core.tasks.flows.ForEachItem", "ForEachItem"],
        kind: TaskKind::ForEachItem,
        props: FOR_EACH_ITEM_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.kv.Set",
        aliases: &["kv.Set"],
        kind: TaskKind::KvSet,
        props: KV_SET_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.kv.Get",
        aliases: &["kv.Get"],
        kind: TaskKind::KvGet,
        props: KV_GET_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.kv.Delete",
        aliases: &["kv.Delete"],
        kind: TaskKind::KvDelete,
        props: KV_GET_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.kv.GetKeys",
        aliases: &["kv.GetKeys"],
        kind: TaskKind::KvGetKeys,
        props: KV_GET_KEYS_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.execution.Labels",
        aliases: &["io.kestra.core.tasks.executions.Labels", "Labels"],
        kind: TaskKind::Labels,
        props: LABELS_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.execution.Assert",
        aliases: &["Assert"],
        kind: TaskKind::Assert,
        props: ASSERT_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.execution.Exit",
        aliases: &["Exit"],
        kind: TaskKind::Exit,
        props: EXIT_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.execution.Resume",
        aliases: &["Resume"],
        kind: TaskKind::Resume,
        props: RESUME_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.log.Fetch",
        aliases: &["io.kestra.core.tasks.log.Fetch", "log.Fetch"],
        kind: TaskKind::LogFetch,
        props: FETCH_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.debug.Echo",
        aliases: &["io.kestra.core.tasks.debugs.Echo", "Echo"],
        kind: TaskKind::Echo,
        props: ECHO_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.storage.LocalFiles",
        aliases: &["io.kestra.core.tasks.storages.LocalFiles", "LocalFiles"],
        kind: TaskKind::LocalFiles,
        props: LOCAL_FILES_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.http.Request",
        aliases: &["io.kestra.plugin.fs.http.Request"],
        kind: TaskKind::HttpRequest,
        props: HTTP_REQUEST_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.http.Download",
        aliases: &["io.kestra.plugin.fs.http.Download"],
        kind: TaskKind::HttpDownload,
        props: HTTP_DOWNLOAD_PROPS,
    },
];
