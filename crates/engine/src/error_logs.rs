//! `errorLogs()` as one task run sees it ([`TaskErrorLogs`]): the ERROR lines of its own
//! execution, read from the store.
//!
//! As Kestra's `LogService.errorLogs`: the first [`MAX_LINES`] ERROR lines, oldest first
//! (Kestra asks its log repository for one page of 25 sorted by timestamp). The lines were
//! masked before the store saw them, so their text goes to the template as it is, plain; the
//! expression engine hands it back as values, never as templates to render again.
//!
//! An `errors` branch runs after the executor recorded the failed task run together with its
//! remaining log lines (one `Store::write`), so its ERROR lines are there to read; Kestra's
//! retry for up to five seconds while the list is empty (its log queue is asynchronous) has no
//! counterpart here.

use std::sync::Arc;

use saker_expr::{ErrorLogLine, ErrorLogLookupError, ErrorLogReader};
use saker_model::Level;
use saker_store::{LogQuery, Store};

use crate::logs::off_worker;

/// How many ERROR lines `errorLogs()` returns at most: Kestra's page of 25.
pub const MAX_LINES: u32 = 25;

/// The ERROR lines of one execution, for the templates of one of its task runs.
pub struct TaskErrorLogs {
    store: Arc<dyn Store>,
    execution_id: String,
}

impl TaskErrorLogs {
    pub(crate) fn new(store: Arc<dyn Store>, execution_id: &str) -> Self {
        Self {
            store,
            execution_id: execution_id.to_owned(),
        }
    }
}

impl ErrorLogReader for TaskErrorLogs {
    fn error_logs(&self) -> Result<Vec<ErrorLogLine>, ErrorLogLookupError> {
        let query = LogQuery {
            min_level: Some(Level::Error),
            limit: Some(MAX_LINES),
            ..LogQuery::new(self.execution_id.clone())
        };
        let stored = off_worker(|| self.store.list_logs(&query))
            .map_err(|e| ErrorLogLookupError::new(e.to_string()))?;
        Ok(stored
            .into_iter()
            .map(|line| line.entry)
            .filter(|entry| entry.level == Level::Error)
            .map(|entry| ErrorLogLine {
                tenant_id: entry.tenant_id,
                namespace: entry.namespace,
                flow_id: entry.flow_id,
                execution_id: entry.execution_id,
                task_id: entry.task_id,
                task_run_id: entry.task_run_id,
                attempt_number: entry.attempt_number,
                timestamp: entry.timestamp,
                level: entry.level.as_str().to_owned(),
                message: entry.message,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use saker_model::{DEFAULT_TENANT, Execution, LogEntry, StateType};
    use saker_store::SqliteStore;
    use zeroize::Zeroizing;

    use super::*;
    use crate::{Engine, EngineParts, ResolvedSecret, SecretRequester, SecretSource};

    const SECRET: &str = "s3cr3t-v4lue-of-the-failure";

    struct OneSecret;

    impl SecretSource for OneSecret {
        fn resolve(
            &self,
            _: &SecretRequester,
            key: &str,
            _: Option<&str>,
        ) -> Result<ResolvedSecret, String> {
            match key {
                "K" => Ok(Zeroizing::new(SECRET.to_owned()).into()),
                _ => Err(format!("secret '{key}' not found")),
            }
        }
    }

    /// A failure whose message held a secret reaches the `errors` branch through
    /// `errorLogs()` as it was stored: masked, in the log and in the outputs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_errors_branch_reads_the_masked_failure() {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let mut parts = EngineParts::new(store.clone());
        parts.secrets = Arc::new(OneSecret);
        let engine = Engine::start(parts);
        let source = r#"
id: errors
namespace: company.team
tasks:
  - id: failed
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "refused {{ secret('K') }}"
errors:
  - id: report
    type: io.kestra.plugin.core.debug.Return
    format: "{% for log in errorLogs() %}{{ log.taskId }}: {{ log.message }};{% endfor %}"
"#;
        let (flow, saved) = engine.deploy(DEFAULT_TENANT, source).unwrap();
        let execution = engine
            .create_execution(
                DEFAULT_TENANT,
                flow,
                saved.flow.revision,
                serde_json::Map::new(),
            )
            .unwrap();
        let ended = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            engine.wait(&execution.id),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(ended.state.current, StateType::Failed);
        let report = ended.task_run("report").unwrap();
        assert_eq!(report.state.current, StateType::Success);
        let value = report.outputs["value"].as_str().unwrap_or_default();
        assert_eq!(value, "failed: refused ****;", "{report:?}");
        let logs = store.list_logs(&LogQuery::new(&execution.id)).unwrap();
        assert!(logs.iter().all(|l| !l.entry.message.contains(SECRET)));
    }

    fn line(execution: &Execution, task: &str, level: Level, message: &str) -> LogEntry {
        LogEntry {
            tenant_id: "main".into(),
            namespace: "company.team".into(),
            flow_id: "flow".into(),
            execution_id: execution.id.clone(),
            task_run_id: Some(format!("{task}-run")),
            task_id: Some(task.into()),
            attempt_number: Some(1),
            timestamp: Utc::now(),
            level,
            message: message.into(),
        }
    }

    #[test]
    fn only_the_first_error_lines_of_the_execution_are_read() {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let e1 = Execution::new("main", "company.team", "flow", 1);
        let e2 = Execution::new("main", "company.team", "flow", 1);
        store.create_execution(&e1).unwrap();
        store.create_execution(&e2).unwrap();
        let mut lines = vec![
            line(&e1, "a", Level::Info, "starting"),
            line(&e1, "a", Level::Warn, "careful"),
            line(&e1, "a", Level::Error, "broke: ****"),
            line(&e2, "b", Level::Error, "another execution"),
        ];
        for i in 0..MAX_LINES + 5 {
            lines.push(line(&e1, "c", Level::Error, &format!("line {i}")));
        }
        store.append_logs(&lines).unwrap();
        let read = TaskErrorLogs::new(store, &e1.id).error_logs().unwrap();
        assert_eq!(read.len(), MAX_LINES as usize);
        assert_eq!(read[0].message, "broke: ****");
        assert_eq!(read[0].task_id.as_deref(), Some("a"));
        assert_eq!(read[0].level, "ERROR");
        assert_eq!(read[1].message, "line 0");
        assert!(read.iter().all(|l| l.execution_id == e1.id));
    }
}
