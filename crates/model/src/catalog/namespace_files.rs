//! Kestra's namespace file tasks: `io.kestra.plugin.core.namespace.{UploadFiles,
//! DownloadFiles, DeleteFiles}`, between an execution's files (or its working directory) and
//! the namespace files of a namespace.

use super::{PropSpec, TaskKind, TaskType, prop, required};
use crate::shape::Shape;

const UPLOAD_PROPS: &[PropSpec] = &[
    required("namespace", Shape::String),
    // A list of `kestra:///` URIs and globs of the working directory, or a map of
    // destination path → `kestra:///` URI.
    required("files", Shape::Any),
    prop("destination", Shape::String),
    prop("conflict", Shape::OneOf(&["OVERWRITE", "ERROR", "SKIP"])),
];

const DOWNLOAD_PROPS: &[PropSpec] = &[
    required("namespace", Shape::String),
    required("files", Shape::StringOrList),
];

const DELETE_PROPS: &[PropSpec] = DOWNLOAD_PROPS;

pub const NAMESPACE_FILE_TASKS: &[TaskType] = &[
    TaskType {
        name: "io.kestra.plugin.core.namespace.UploadFiles",
        aliases: &[],
        kind: TaskKind::NamespaceUploadFiles,
        props: UPLOAD_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.namespace.DownloadFiles",
        aliases: &[],
        kind: TaskKind::NamespaceDownloadFiles,
        props: DOWNLOAD_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.core.namespace.DeleteFiles",
        aliases: &[],
        kind: TaskKind::NamespaceDeleteFiles,
        props: DELETE_PROPS,
    },
];
