//! `io.kestra.plugin.core.log.Fetch`: reads the log lines of an execution (this one unless
//! `executionId` names another) at `level` or above (INFO by default), of the tasks in
//! `tasksId` only when it is given, writes them to a file of this task run in the internal
//! storage, and outputs its `uri` and `size`, how many lines matched.
//!
//! The file holds one JSON object per line with Kestra's field names (`taskId`, `level`,
//! `message`, ...), named `.ion` as Kestra names it: JSON is Ion text, so what reads Kestra's
//! file reads this one. The lines are written as the store holds them, already masked; they
//! are never rendered again (a line that reads `{{ secret('x') }}` is text, not a template).
//! A file that still holds a value of this execution's mask set (a line of another execution,
//! which did not know this one's secrets) is stored sealed, as every such file is.
//!
//! What a flow may read: executions of its own namespace and the namespaces below it, in its
//! own tenant, as for the purge tasks. `namespace` and `flowId` say which flow the execution
//! must belong to (this flow by default, as in Kestra); an execution of another flow is
//! refused with the flow it belongs to, rather than answering no lines as Kestra does.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use saker_model::{Execution, Level, LogEntry};
use saker_store::{LogQuery, Store};
use serde_json::{Map, Value};

use super::echo::level;
use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};
use crate::logs::off_worker;

/// Lines read per store call.
const PAGE: u32 = 1_000;

/// The name of the file of the fetched lines, under the task run's folder.
const FILE_NAME: &str = "logs.ion";

pub struct Fetch {
    pub(super) store: Arc<dyn Store>,
}

/// The execution whose lines are read, and which of them.
struct Target {
    execution_id: String,
    min_level: Level,
    /// Empty for every task (and the execution's own lines).
    tasks: HashSet<String>,
}

impl TaskRunner for Fetch {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let target = target(ctx, &self.store)?;
            let files = ctx.task_files()?.clone();
            let max = files.files.storage()?.max_file_bytes();
            let (size, bytes) = off_worker(|| read_lines(self.store.as_ref(), &target, max))?;
            let seal = matches!(ctx.mask_set().mask_bytes(&bytes), Cow::Owned(_));
            let uri = files
                .task_run_folder()?
                .join(FILE_NAME)
                .map_err(crate::files::FileError::from)?;
            files.put(&uri, &bytes, seal)?;
            let mut outputs = Map::new();
            outputs.insert("uri".into(), Value::String(uri.to_string()));
            outputs.insert("size".into(), Value::from(size));
            Ok(TaskOutcome::with_outputs(outputs))
        })
    }
}

/// Reads the properties and checks that this flow may read the execution they name.
fn target(ctx: &mut TaskContext, store: &Arc<dyn Store>) -> Result<Target, TaskError> {
    let tenant = ctx.render_template("{{ flow.tenantId }}")?;
    let own_namespace = ctx.render_template("{{ flow.namespace }}")?;
    let own_flow = ctx.render_template("{{ flow.id }}")?;
    let namespace = trimmed(ctx.render_string("namespace")?).unwrap_or(own_namespace.clone());
    let flow_id = trimmed(ctx.render_string("flowId")?).unwrap_or(own_flow);
    if !within(&namespace, &own_namespace) {
        return Err(outside(&own_namespace, &namespace));
    }
    let execution_id = match trimmed(ctx.render_string("executionId")?) {
        Some(id) => id,
        None => ctx.render_template("{{ execution.id }}")?,
    };
    let execution: Option<Execution> = off_worker(|| store.get_execution(&execution_id))
        .map_err(|err| TaskError::Failed(format!("reading execution '{execution_id}': {err}")))?;
    // Another tenant's execution is answered as one that does not exist.
    let execution =
        execution
            .filter(|e| e.tenant_id == tenant)
            .ok_or_else(|| TaskError::Property {
                property: "executionId".into(),
                message: format!("execution '{execution_id}' not found"),
            })?;
    if !within(&execution.namespace, &own_namespace) {
        return Err(outside(&own_namespace, &execution.namespace));
    }
    if execution.namespace != namespace || execution.flow_id != flow_id {
        return Err(TaskError::Property {
            property: "executionId".into(),
            message: format!(
                "execution '{execution_id}' is of flow {}.{}, not {namespace}.{flow_id}: set \
                 'namespace' and 'flowId' to the flow it belongs to",
                execution.namespace, execution.flow_id
            ),
        });
    }
    Ok(Target {
        execution_id,
        min_level: level(ctx, "level")?.unwrap_or(Level::Info),
        tasks: ctx
            .render_string_or_list("tasksId")?
            .into_iter()
            .map(|t| t.trim().to_owned())
            .collect(),
    })
}

/// The stored lines that match, one JSON object a line, and how many they are; read a page
/// at a time, refused once past `max` bytes (what a stored file may hold).
fn read_lines(store: &dyn Store, target: &Target, max: u64) -> Result<(u64, Vec<u8>), TaskError> {
    let mut query = LogQuery::new(target.execution_id.clone());
    query.min_level = Some(target.min_level);
    query.limit = Some(PAGE);
    let mut count = 0u64;
    let mut bytes = Vec::new();
    loop {
        let page = store.list_logs(&query).map_err(|err| {
            TaskError::Failed(format!(
                "reading the log of execution '{}': {err}",
                target.execution_id
            ))
        })?;
        let Some(last) = page.last() else {
            return Ok((count, bytes));
        };
        query.after_seq = Some(last.seq);
        let full = page.len() as u64 == u64::from(PAGE);
        for line in page.iter().filter(|line| target.wants(&line.entry)) {
            serde_json::to_writer(&mut bytes, &line.entry)
                .map_err(|err| TaskError::Failed(format!("writing a log line: {err}")))?;
            bytes.push(b'\n');
            count += 1;
        }
        if bytes.len() as u64 > max {
            return Err(TaskError::Failed(format!(
                "the log lines fetched are more than the {max} bytes a stored file may hold: \
                 fetch fewer with 'tasksId' or a higher 'level'"
            )));
        }
        if !full {
            return Ok((count, bytes));
        }
    }
}

impl Target {
    /// A line of one of `tasks` (any line when `tasks` is empty).
    fn wants(&self, entry: &LogEntry) -> bool {
        self.tasks.is_empty()
            || entry
                .task_id
                .as_ref()
                .is_some_and(|task| self.tasks.contains(task))
    }
}

fn trimmed(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

fn outside(own: &str, other: &str) -> TaskError {
    TaskError::Property {
        property: "namespace".into(),
        message: format!(
            "a flow of namespace '{own}' may only fetch the logs of executions in '{own}' and \
             the namespaces below it, not '{other}'"
        ),
    }
}

/// `namespace` is `parent` or below it (`company.team.x` is below `company.team`, and
/// `company.teamx` is not).
fn within(namespace: &str, parent: &str) -> bool {
    namespace
        .strip_prefix(parent)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::within;

    #[test]
    fn only_the_namespace_and_those_below_it_are_within_it() {
        assert!(within("io.kestra.tests", "io.kestra.tests"));
        assert!(within("io.kestra.tests.child.deeper", "io.kestra.tests"));
        assert!(!within("io.kestra.testsuite", "io.kestra.tests"));
        assert!(!within("io.kestra", "io.kestra.tests"));
        assert!(!within("io.other.tests", "io.kestra.tests"));
    }
}
