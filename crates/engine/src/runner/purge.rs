//! `io.kestra.plugin.core.execution.PurgeExecutions` and `io.kestra.plugin.core.log.PurgeLogs`:
//! retention as flow tasks, over [`Store::purge_executions`] and [`Store::purge_logs`].
//!
//! These two are the runners that touch the store, so they hold it themselves and are added
//! with [`Registry::with_store_tasks`] by whoever builds the engine from a store.
//!
//! What a flow may purge: its own namespace and the namespaces below it, never another
//! (a flow in `company.team` cannot purge `company.other`'s history). Without `namespace` the
//! task purges its own namespace and children; a `namespace` outside them fails the task.
//! The execution running the task is never purged, nor are its log lines.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use saker_model::{Level, StateType};
use saker_store::{ExecutionPurge, LogPurge, PurgeScope, Store};
use serde_json::{Map, Value, json};

use super::{Registry, RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

const PURGE_EXECUTIONS: &str = "io.kestra.plugin.core.execution.PurgeExecutions";
const PURGE_LOGS: &str = "io.kestra.plugin.core.log.PurgeLogs";

impl Registry {
    /// These runners plus the purge tasks, which act on `store` (the engine's).
    pub fn with_store_tasks(mut self, store: Arc<dyn Store>) -> Self {
        self.register(
            PURGE_EXECUTIONS,
            Arc::new(PurgeExecutions {
                store: store.clone(),
            }),
        );
        self.register(
            "io.kestra.plugin.core.log.Fetch",
            Arc::new(super::fetch::Fetch {
                store: store.clone(),
            }),
        );
        self.register(
            "io.kestra.plugin.core.execution.Count",
            Arc::new(super::count::Count {
                store: store.clone(),
            }),
        );
        self.register(PURGE_LOGS, Arc::new(PurgeLogs { store }));
        self
    }
}

pub struct PurgeExecutions {
    store: Arc<dyn Store>,
}

pub struct PurgeLogs {
    store: Arc<dyn Store>,
}

impl TaskRunner for PurgeExecutions {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let scope = scope(ctx)?;
            let states = names(
                ctx,
                "states",
                "SUCCESS, WARNING, FAILED, KILLED or SKIPPED",
                |n| StateType::parse(&n.to_ascii_uppercase()),
            )?;
            let purge = ExecutionPurge {
                started_after: optional_date(ctx, "startDate")?,
                states,
                executions: flag(ctx, "purgeExecution")?,
                logs: flag(ctx, "purgeLog")?,
                ..ExecutionPurge::new(scope, required_date(ctx, "endDate")?)
            };
            // Read for their errors; Saker keeps neither files nor metrics per execution.
            flag(ctx, "purgeMetric")?;
            flag(ctx, "purgeStorage")?;
            if purge.executions && !purge.logs {
                ctx.log(
                    Level::Warn,
                    "purgeLog is false, but a purged execution's log lines go with it",
                );
            }
            let store = self.store.clone();
            let removed = blocking(move || store.purge_executions(&purge)).await?;
            ctx.log(
                Level::Info,
                &format!(
                    "purged {} executions ({} task runs) and {} log lines",
                    removed.executions, removed.task_runs, removed.logs
                ),
            );
            Ok(TaskOutcome::with_outputs(outputs(json!({
                "executionsCount": removed.executions,
                "logsCount": removed.logs,
                "storagesCount": 0,
                "metricsCount": 0,
            }))))
        })
    }
}

impl TaskRunner for PurgeLogs {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let scope = scope(ctx)?;
            let levels = names(
                ctx,
                "logLevels",
                "TRACE, DEBUG, INFO, WARN or ERROR",
                Level::parse,
            )?;
            let purge = LogPurge {
                after: optional_date(ctx, "startDate")?,
                execution_id: ctx.render_string("executionId")?,
                levels,
                ..LogPurge::new(scope, required_date(ctx, "endDate")?)
            };
            let purge_execution_logs = flag(ctx, "purgeExecutionLogs")?;
            flag(ctx, "purgeNonExecutionLogs")?;
            let store = self.store.clone();
            let removed = if purge_execution_logs {
                blocking(move || store.purge_logs(&purge)).await?
            } else {
                0
            };
            ctx.log(Level::Info, &format!("purged {removed} log lines"));
            Ok(TaskOutcome::with_outputs(outputs(json!({
                "count": removed,
                "executionLogsCount": removed,
                "nonExecutionLogsCount": 0,
            }))))
        })
    }
}

/// A list property of names (states, levels), each read with `parse`; `expected` lists the
/// names that are read, for the error.
pub(super) fn names<T>(
    ctx: &mut TaskContext,
    property: &str,
    expected: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, TaskError> {
    ctx.render_string_or_list(property)?
        .iter()
        .map(|name| {
            parse(name.trim()).ok_or_else(|| TaskError::Property {
                property: property.to_owned(),
                message: format!("unknown value '{name}': use {expected}"),
            })
        })
        .collect()
}

fn outputs(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Runs a store call off the async workers (the store is synchronous).
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> saker_store::Result<T> + Send + 'static,
) -> Result<T, TaskError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|err| TaskError::Failed(format!("the purge stopped: {err}")))?
        .map_err(|err| TaskError::Failed(format!("the purge failed: {err}")))
}

/// What the task may touch: its tenant, its flow's namespace and children, the `namespace`
/// and `flowId` it names, never the execution it runs in.
fn scope(ctx: &mut TaskContext) -> Result<PurgeScope, TaskError> {
    let tenant = ctx.render_template("{{ flow.tenantId }}")?;
    let own = ctx.render_template("{{ flow.namespace }}")?;
    let execution = ctx.render_template("{{ execution.id }}")?;
    let namespace = ctx.render_string("namespace")?;
    if let Some(target) = &namespace
        && !within(target, &own)
    {
        return Err(TaskError::Property {
            property: "namespace".into(),
            message: format!(
                "a flow of namespace '{own}' may only purge '{own}' and the namespaces below \
                 it, not '{target}'; run the purge from a flow of a namespace that contains it"
            ),
        });
    }
    Ok(PurgeScope {
        tenant: Some(tenant),
        namespace,
        flow_id: ctx.render_string("flowId")?,
        namespace_scopes: Some(vec![own]),
        keep_execution: Some(execution),
    })
}

/// `namespace` is `parent` or below it.
pub(super) fn within(namespace: &str, parent: &str) -> bool {
    namespace == parent
        || namespace
            .strip_prefix(parent)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// A boolean property, `true` when absent (every purge flag defaults to true in Kestra).
fn flag(ctx: &mut TaskContext, name: &str) -> Result<bool, TaskError> {
    match ctx.render_string(name)?.as_deref().map(str::trim) {
        None => Ok(true),
        Some(text) if text.eq_ignore_ascii_case("true") => Ok(true),
        Some(text) if text.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(TaskError::Property {
            property: name.to_owned(),
            message: format!("expected true or false, got '{other}'"),
        }),
    }
}

pub(super) fn required_date(ctx: &mut TaskContext, name: &str) -> Result<DateTime<Utc>, TaskError> {
    optional_date(ctx, name)?.ok_or_else(|| TaskError::Property {
        property: name.to_owned(),
        message: "is required (a date such as \"{{ now() | dateAdd(-1, 'MONTHS') }}\")".into(),
    })
}

pub(super) fn optional_date(
    ctx: &mut TaskContext,
    name: &str,
) -> Result<Option<DateTime<Utc>>, TaskError> {
    let Some(text) = ctx.render_string(name)? else {
        return Ok(None);
    };
    parse_date(&text)
        .map(Some)
        .ok_or_else(|| TaskError::Property {
            property: name.to_owned(),
            message: format!(
                "'{text}' is not a date with a time and an offset, such as \
                 2026-01-31T00:00:00Z or 2026-01-31T00:00:00+01:00[Europe/Paris]"
            ),
        })
}

/// An ISO-8601 date-time with an offset, as Java's `ZonedDateTime.parse` reads it: a zone
/// name in brackets after the offset is allowed (the offset already says the instant).
fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let without_zone = match text.find('[') {
        Some(at) if text.ends_with(']') => &text[..at],
        _ => text,
    };
    DateTime::parse_from_rfc3339(without_zone)
        .ok()
        .map(|date| date.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_as_zoned_date_times() {
        let utc = parse_date("2026-01-31T00:00:00Z").unwrap();
        assert_eq!(
            parse_date("2026-01-31T01:00:00+01:00[Europe/Paris]"),
            Some(utc)
        );
        assert_eq!(parse_date(" 2026-01-31T00:00:00.000000Z "), Some(utc));
        for bad in ["2026-01-31", "yesterday", "2026-01-31T00:00:00", ""] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_namespace_is_within_itself_and_its_parents_only() {
        assert!(within("company.team", "company.team"));
        assert!(within("company.team.sub", "company.team"));
        assert!(!within("company.other", "company.team"));
        assert!(!within("company.teamx", "company.team"));
        assert!(!within("company", "company.team"));
    }
}
