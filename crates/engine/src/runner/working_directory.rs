//! `io.kestra.plugin.core.flow.WorkingDirectory`: its tasks run one after the other in one
//! directory they share (the worker gives every attempt of the `WorkingDirectory`'s run and
//! of its children the run's shared sandbox, removed by the executor when the run ends).
//!
//! The `WorkingDirectory`'s own job runs first, already in that directory: it prepares it as
//! Kestra's `preExecuteTasks` does: the files of its `cache` (see `cache.rs`), then the
//! `namespaceFiles`, then the `inputFiles` (an entry of the same name replaces a file put
//! there before). Its children are fixed by the flow, so it decides nothing else.
//!
//! Kestra's `postExecuteTasks` (uploading `outputFiles`, saving the `cache`) needs a step
//! after the last child, in the same directory: [`finish_working_directory`] is that step's
//! worker side, for a job the executor sends for the `WorkingDirectory`'s run once its
//! children have ended. Until the executor sends that job ([`WorkingDirectory::finish_step`]
//! says whether it does), `outputFiles` and `cache` are refused with a "not yet available"
//! error rather than silently ignored.

mod cache;

use saker_model::Resolved;
use serde_json::{Map, Value};

use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};
use crate::files::{OutputRule, collect_files_of, stage_input_files, stage_namespace_files};
use cache::Cache;

/// The start of a `WorkingDirectory` run.
pub struct WorkingDirectory {
    /// Whether the executor sends the job that runs [`finish_working_directory`] after the
    /// last child: without it, `outputFiles` and `cache` cannot work and are refused.
    pub finish_step: bool,
}

impl TaskRunner for WorkingDirectory {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(prepare(ctx, self.finish_step))
    }
}

async fn prepare(ctx: &mut TaskContext, finish_step: bool) -> Result<TaskOutcome, TaskError> {
    if !finish_step {
        refuse_what_needs_the_finish_step(ctx)?;
    }
    let cache = Cache::of(ctx)?;
    let workdir = ctx
        .sandbox()?
        .work_dir()
        .map_err(|e| TaskError::Failed(e.to_string()))?;
    let dir = workdir.host_path().to_path_buf();
    if let Some(cache) = &cache {
        cache.restore(ctx, &dir)?;
    }
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

fn refuse_what_needs_the_finish_step(ctx: &TaskContext) -> Result<(), TaskError> {
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
    Ok(())
}

/// The end of a `WorkingDirectory` run, in its shared directory after its last child (run
/// whatever the children's states, as Kestra does):
///
/// * the files `outputFiles` matches are uploaded under the `WorkingDirectory`'s run and
///   listed in its output `outputFiles` (relative path → `kestra:///` URI), as Kestra's
///   `WorkingDirectory.Outputs`. The children's processes wrote them, so they are sealed
///   under [`OutputRule::written_by_others`]. A failure here fails the run;
/// * the `cache` is saved (a failure to save it is only a warning).
pub async fn finish_working_directory(ctx: &mut TaskContext) -> Result<TaskOutcome, TaskError> {
    let cache = Cache::of(ctx)?;
    let patterns = ctx.property("outputFiles").cloned();
    let mut outputs = Map::new();
    if patterns.is_none() && cache.is_none() {
        return Ok(TaskOutcome::with_outputs(outputs));
    }
    let workdir = ctx
        .sandbox()?
        .work_dir()
        .map_err(|e| TaskError::Failed(e.to_string()))?;
    let dir = workdir.host_path().to_path_buf();
    if let Some(patterns) = patterns {
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
    }
    if let Some(cache) = &cache {
        cache.save(ctx, &dir);
    }
    Ok(TaskOutcome::with_outputs(outputs))
}

#[cfg(test)]
mod tests;
