//! `io.kestra.plugin.core.storage.LocalFiles` (deprecated in Kestra for `inputFiles` and
//! `outputFiles`, still common in flows): writes its `inputs` (file name → content, or a
//! template rendering to a JSON object) into its working directory, then uploads the files
//! its `outputs` globs match and returns them as `uris` (relative path → `kestra:///` URI).
//!
//! Inside a `WorkingDirectory` its working directory is the one the `WorkingDirectory`'s
//! tasks share (the worker gives the attempt that sandbox), so it hands files to the tasks
//! after it and collects what the tasks before it left. Outside one, as in Kestra, it works
//! in a directory of its own, removed when the attempt ends: `outputs` then matches only its
//! own `inputs`.
//!
//! Secrets: an `inputs` content rendered from a secret is written into the directory (never
//! to the storage as is); a file later uploaded is sealed when it holds a value of the
//! execution's mask set, when this task's own `inputs` held a secret, or, since other tasks'
//! processes wrote into the same directory, whenever the execution has used a secret at all
//! (`OutputRule::written_by_others`).

use serde_json::{Map, Value};

use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};
use crate::files::{OutputRule, collect_files_of, stage_files_of};

pub struct LocalFiles;

impl TaskRunner for LocalFiles {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(run_local_files(ctx))
    }
}

async fn run_local_files(ctx: &mut TaskContext) -> Result<TaskOutcome, TaskError> {
    // Kept until the end of the attempt: outside a WorkingDirectory, dropping it removes
    // the directory, which must outlive the upload.
    let workdir = ctx
        .sandbox()?
        .work_dir()
        .map_err(|e| TaskError::Failed(e.to_string()))?;
    let dir = workdir.host_path().to_path_buf();
    if let Some(inputs) = ctx.property("inputs").cloned() {
        stage_files_of(ctx, &dir, &inputs, "inputs")?;
    }
    let uris = match ctx.property("outputs").cloned() {
        Some(outputs) => collect_files_of(
            ctx,
            &dir,
            &outputs,
            OutputRule {
                property: "outputs",
                written_by_others: true,
            },
        )?,
        None => Map::new(),
    };
    let mut outputs = Map::new();
    outputs.insert("uris".into(), Value::Object(uris));
    Ok(TaskOutcome::with_outputs(outputs))
}
