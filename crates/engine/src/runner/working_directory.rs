//! `io.kestra.plugin.core.flow.WorkingDirectory`: its tasks run one after the other in one
//! directory they share (the worker gives every attempt of the `WorkingDirectory`'s run and
//! of its children the run's shared sandbox, removed by the executor when the run ends).
//!
//! The `WorkingDirectory`'s own job runs first, already in that directory: it prepares it as
//! Kestra's `preExecuteTasks` does, copying the `namespaceFiles` and writing the
//! `inputFiles` (an `inputFiles` entry of the same name replaces a namespace file). Its
//! children are fixed by the flow, so it decides nothing else.
//!
//! Kestra's `postExecuteTasks` (uploading `outputFiles`, saving the `cache`) needs a step
//! after the last child, in the same directory: [`finish_working_directory`] is that step's
//! worker side, run for a job the executor sends for the `WorkingDirectory`'s run once its
//! children have ended. Until the executor sends it, `outputFiles` and `cache` are refused
//! with a "not yet available" error rather than silently ignored.

use saker_model::Resolved;
use serde_json::{Map, Value};

use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};
use crate::files::{OutputRule, collect_files_of, stage_input_files, stage_namespace_files};

/// The start of a `WorkingDirectory` run.
pub struct WorkingDirectory;

impl TaskRunner for WorkingDirectory {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(prepare(ctx))
    }
}

async fn prepare(ctx: &mut TaskContext) -> Result<TaskOutcome, TaskError> {
    for (name, why) in [
        (
            "outputFiles",
            "uploading files after the last task of a WorkingDirectory is not yet available in \
             Saker; add an io.kestra.plugin.core.storage.LocalFiles task with `outputs` as the \
             WorkingDirectory's last task instead",
        ),
        (
            "cache",
            "the WorkingDirectory cache is not yet available in Saker; remove `cache` (the \
             tasks then start from an empty directory on every run)",
        ),
    ] {
        if ctx.property(name).is_some_and(|v| !v.is_null()) {
            return Err(TaskError::Property {
                property: name.into(),
                message: why.into(),
            });
        }
    }
    let workdir = ctx
        .sandbox()?
        .work_dir()
        .map_err(|e| TaskError::Failed(e.to_string()))?;
    let dir = workdir.host_path().to_path_buf();
    if let Some(value) = ctx.property("namespaceFiles").cloned() {
        stage_namespace_files(ctx, &dir, &value)?;
    }
    if let Some(value) = ctx.property("inputFiles").cloned() {
        stage_input_files(ctx, &dir, &value)?;
    }
    Ok(TaskOutcome {
        resolved: Some(Resolved::default()),
        ..TaskOutcome::default()
    })
}

/// The end of a `WorkingDirectory` run, in its shared directory after its last child: the
/// files `outputFiles` matches are uploaded under the `WorkingDirectory`'s run and listed
/// in its output `outputFiles` (relative path → `kestra:///` URI), as Kestra's
/// `WorkingDirectory.Outputs`. The children's processes wrote those files, so they are
/// sealed under [`OutputRule::written_by_others`].
pub async fn finish_working_directory(ctx: &mut TaskContext) -> Result<TaskOutcome, TaskError> {
    let mut outputs = Map::new();
    let Some(patterns) = ctx.property("outputFiles").cloned() else {
        return Ok(TaskOutcome::with_outputs(outputs));
    };
    let workdir = ctx
        .sandbox()?
        .work_dir()
        .map_err(|e| TaskError::Failed(e.to_string()))?;
    let dir = workdir.host_path().to_path_buf();
    let files = collect_files_of(
        ctx,
        &dir,
        &patterns,
        OutputRule {
            property: "outputFiles",
            written_by_others: true,
        },
    )?;
    outputs.insert("outputFiles".into(), Value::Object(files));
    Ok(TaskOutcome::with_outputs(outputs))
}
