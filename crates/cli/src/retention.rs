//! Retention: `executions.retention` (e.g. `30d`) makes `saker server local` purge, for every
//! tenant, the executions (with their task runs and log lines) that ended longer ago than
//! that: once a minute after start, then every 24 hours. Executions that have not ended are
//! never purged, nor is the audit trail. `saker execution purge` does the same on demand.
//!
//! Two more keys exist so that tests (and impatient operators) need not wait a day:
//! `executions.retention-delay` (before the first run, default `1m`) and
//! `executions.retention-interval` (between runs, default `24h`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, Utc};
use saker_secrets::duration::parse_duration;
use saker_store::{ExecutionPurge, PurgeScope, PurgedExecutions, Store};

use crate::config::Config;

/// When and how far back the server purges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Executions that ended longer ago than this are purged.
    pub keep: Duration,
    /// From start to the first purge.
    pub delay: Duration,
    /// Between two purges.
    pub interval: Duration,
}

const DEFAULT_DELAY: Duration = Duration::from_secs(60);
const DEFAULT_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

impl Retention {
    /// The retention `config` asks for; `None` when `executions.retention` is not set.
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Retention>> {
        let Some(keep) = duration(config, "executions.retention")? else {
            return Ok(None);
        };
        let interval =
            duration(config, "executions.retention-interval")?.unwrap_or(DEFAULT_INTERVAL);
        if interval.is_zero() {
            return Err(anyhow!(
                "executions.retention-interval must be longer than zero, e.g. 24h"
            ));
        }
        Ok(Some(Retention {
            keep,
            delay: duration(config, "executions.retention-delay")?.unwrap_or(DEFAULT_DELAY),
            interval,
        }))
    }
}

fn duration(config: &Config, key: &str) -> anyhow::Result<Option<Duration>> {
    let Some(value) = config.get(key) else {
        return Ok(None);
    };
    let text = match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => return Ok(None),
        other => other.to_string(),
    };
    parse_duration(&text)
        .map(Some)
        .with_context(|| format!("invalid configuration: {key}"))
}

/// The date before which an execution must have ended to be purged, keeping `keep`.
pub fn cutoff(now: DateTime<Utc>, keep: Duration) -> anyhow::Result<DateTime<Utc>> {
    chrono::TimeDelta::from_std(keep)
        .ok()
        .and_then(|keep| now.checked_sub_signed(keep))
        .ok_or_else(|| anyhow!("a retention of {keep:?} reaches before the earliest date"))
}

/// One retention run: every tenant's executions that ended before `keep` ago.
pub fn purge_once(store: &dyn Store, keep: Duration) -> anyhow::Result<PurgedExecutions> {
    let purge = ExecutionPurge::new(PurgeScope::all_tenants(), cutoff(Utc::now(), keep)?);
    Ok(store.purge_executions(&purge)?)
}

/// The server's retention task; dropping it stops it.
pub struct RetentionTask(tokio::task::JoinHandle<()>);

impl Drop for RetentionTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the retention task `config` asks for, if any, on the current tokio runtime.
pub fn spawn(config: &Config, store: Arc<dyn Store>) -> anyhow::Result<Option<RetentionTask>> {
    let Some(retention) = Retention::from_config(config)? else {
        return Ok(None);
    };
    Ok(Some(RetentionTask(tokio::spawn(run(retention, store)))))
}

async fn run(retention: Retention, store: Arc<dyn Store>) {
    tokio::time::sleep(retention.delay).await;
    loop {
        let purge_store = store.clone();
        let result =
            tokio::task::spawn_blocking(move || purge_once(purge_store.as_ref(), retention.keep))
                .await;
        match result {
            Ok(Ok(removed)) => tracing::info!(
                executions = removed.executions,
                task_runs = removed.task_runs,
                logs = removed.logs,
                "retention purge done"
            ),
            // A failed run is retried at the next interval; the server keeps serving.
            Ok(Err(err)) => tracing::warn!("retention purge failed: {err:#}"),
            Err(err) => tracing::warn!("retention purge stopped: {err}"),
        }
        tokio::time::sleep(retention.interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retention_is_read_with_its_defaults() {
        let none = Config::from_yaml("saker: {}\n");
        assert_eq!(Retention::from_config(&none).unwrap(), None);
        let set = Config::from_yaml("saker:\n  executions:\n    retention: 30d\n");
        assert_eq!(
            Retention::from_config(&set).unwrap(),
            Some(Retention {
                keep: Duration::from_secs(30 * 24 * 3600),
                delay: DEFAULT_DELAY,
                interval: DEFAULT_INTERVAL,
            })
        );
        let fast = Config::from_yaml(
            "saker:\n  executions:\n    retention: PT1H\n    retention-delay: 1s\n    retention-interval: 500ms\n",
        );
        let fast = Retention::from_config(&fast).unwrap().unwrap();
        assert_eq!(fast.delay, Duration::from_secs(1));
        assert_eq!(fast.interval, Duration::from_millis(500));
    }

    #[test]
    fn a_bad_retention_names_the_key() {
        for (yaml, key) in [
            ("retention: 30", "executions.retention"),
            ("retention: soon", "executions.retention"),
            (
                "retention: 1d\n    retention-interval: 0s",
                "executions.retention-interval",
            ),
        ] {
            let config = Config::from_yaml(&format!("saker:\n  executions:\n    {yaml}\n"));
            let err = format!("{:#}", Retention::from_config(&config).unwrap_err());
            assert!(err.contains(key), "{yaml}: {err}");
        }
    }

    #[test]
    fn the_cutoff_is_the_retention_before_now() {
        let now = DateTime::from_timestamp(1_000_000, 0).unwrap();
        assert_eq!(
            cutoff(now, Duration::from_secs(10)).unwrap(),
            DateTime::from_timestamp(999_990, 0).unwrap()
        );
        assert!(cutoff(now, Duration::from_secs(u64::MAX)).is_err());
    }
}
