//! Service instances of a distributed deployment: what each Saker process is (its
//! [`ServiceType`]), the state it is in ([`ServiceState`], as Kestra names them) and the
//! transitions allowed between states. The rows live in PostgreSQL (`service_instances`, see
//! `PgStore::register_instance`); the coordinator's decisions over them are the pure
//! function of [`coordinator`]; the settings that drive them are [`settings`].

pub mod coordinator;
pub mod settings;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

/// What a process does. `Standalone` is every role in one process (`saker server local`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServiceType {
    Executor,
    Worker,
    Scheduler,
    Webserver,
    Standalone,
}

impl ServiceType {
    pub const ALL: [ServiceType; 5] = [
        ServiceType::Executor,
        ServiceType::Worker,
        ServiceType::Scheduler,
        ServiceType::Webserver,
        ServiceType::Standalone,
    ];

    /// The name stored and shown (`EXECUTOR`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::Executor => "EXECUTOR",
            ServiceType::Worker => "WORKER",
            ServiceType::Scheduler => "SCHEDULER",
            ServiceType::Webserver => "WEBSERVER",
            ServiceType::Standalone => "STANDALONE",
        }
    }

    /// Whether instances of this type run worker jobs (and so may hold some when they die).
    pub fn runs_jobs(self) -> bool {
        matches!(self, ServiceType::Worker | ServiceType::Standalone)
    }
}

/// The state of a service instance, with Kestra's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServiceState {
    /// Registered, not serving yet.
    Created,
    Running,
    /// Missed the liveness timeout: the coordinator considers it gone.
    Disconnected,
    /// Asked to stop (SIGTERM): finishing what it runs within the grace period.
    Terminating,
    /// Stopped after finishing everything it ran.
    TerminatedGracefully,
    /// Stopped with work left (the grace period ran out).
    TerminatedForced,
    /// Gone for good; nothing it held is left to handle.
    NotRunning,
    /// Final: a row with nothing left to say, waiting for the purge.
    Empty,
}

impl ServiceState {
    pub const ALL: [ServiceState; 8] = [
        ServiceState::Created,
        ServiceState::Running,
        ServiceState::Disconnected,
        ServiceState::Terminating,
        ServiceState::TerminatedGracefully,
        ServiceState::TerminatedForced,
        ServiceState::NotRunning,
        ServiceState::Empty,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Created => "CREATED",
            ServiceState::Running => "RUNNING",
            ServiceState::Disconnected => "DISCONNECTED",
            ServiceState::Terminating => "TERMINATING",
            ServiceState::TerminatedGracefully => "TERMINATED_GRACEFULLY",
            ServiceState::TerminatedForced => "TERMINATED_FORCED",
            ServiceState::NotRunning => "NOT_RUNNING",
            ServiceState::Empty => "EMPTY",
        }
    }

    /// The states a service may move to from this one (Kestra's `ServiceState`
    /// transitions, without its enterprise-only ERROR and MAINTENANCE). Staying in the same
    /// state is always allowed.
    fn successors(self) -> &'static [ServiceState] {
        use ServiceState::*;
        match self {
            Created => &[Running, Disconnected, Terminating],
            Running => &[Disconnected, Terminating],
            // Once disconnected an instance never serves again: it stops (a worker that
            // finds itself here drops its jobs) or is declared gone.
            Disconnected => &[Terminating, NotRunning],
            Terminating => &[TerminatedGracefully, TerminatedForced, NotRunning],
            TerminatedGracefully | TerminatedForced => &[NotRunning],
            NotRunning => &[Empty],
            Empty => &[],
        }
    }

    /// Whether moving from this state to `to` is allowed.
    pub fn can_become(self, to: ServiceState) -> bool {
        self == to || self.successors().contains(&to)
    }

    /// `Ok(())` when moving to `to` is allowed, else an error naming both states.
    pub fn check_transition(self, to: ServiceState) -> Result<(), IllegalTransition> {
        if self.can_become(to) {
            Ok(())
        } else {
            Err(IllegalTransition { from: self, to })
        }
    }

    /// Whether the instance still counts as alive: it may hold jobs and renew their leases.
    pub fn is_alive(self) -> bool {
        matches!(
            self,
            ServiceState::Created | ServiceState::Running | ServiceState::Terminating
        )
    }
}

impl fmt::Display for ServiceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for ServiceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the states or types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{name}`: expected one of {expected}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub name: String,
    pub expected: String,
}

fn parse_name<T: Copy>(
    kind: &'static str,
    all: &[T],
    name_of: fn(T) -> &'static str,
    text: &str,
) -> Result<T, UnknownName> {
    all.iter()
        .copied()
        .find(|v| name_of(*v).eq_ignore_ascii_case(text.trim()))
        .ok_or_else(|| UnknownName {
            kind,
            name: text.to_owned(),
            expected: all
                .iter()
                .map(|v| name_of(*v))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

impl FromStr for ServiceState {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<Self, UnknownName> {
        parse_name(
            "service state",
            &ServiceState::ALL,
            ServiceState::as_str,
            text,
        )
    }
}

impl FromStr for ServiceType {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<Self, UnknownName> {
        parse_name("service type", &ServiceType::ALL, ServiceType::as_str, text)
    }
}

/// A refused state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a service cannot go from {from} to {to}")]
pub struct IllegalTransition {
    pub from: ServiceState,
    pub to: ServiceState,
}

/// One registered process, as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceInstance {
    pub id: String,
    #[serde(rename = "type")]
    pub service_type: ServiceType,
    pub state: ServiceState,
    pub host: String,
    pub started_at: DateTime<Utc>,
    pub last_heartbeat: DateTime<Utc>,
    /// When the state last changed.
    pub state_changed_at: DateTime<Utc>,
    /// The worker group a worker serves (`None`: the default group).
    pub worker_group: Option<String>,
    /// The instance's settings worth showing (JSON object; never a secret).
    pub config: serde_json::Value,
    /// The jobs it holds now (claimed and not finished), oldest first; filled by
    /// `PgStore::list_instances`, empty elsewhere.
    pub jobs: Vec<InstanceJob>,
}

/// A job an instance holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceJob {
    pub job_id: String,
    pub execution_id: String,
    pub task_run_id: String,
    pub attempt: u32,
}

/// Where the API reads the instances from: the `service_instances` table on PostgreSQL
/// (`PgStore`), or the process itself when it is the whole deployment (SQLite).
pub trait InstanceRegistry: Send + Sync {
    /// Every instance, oldest first.
    fn list_instances(&self) -> Result<Vec<ServiceInstance>, crate::StoreError>;
}

impl InstanceRegistry for crate::PgStore {
    fn list_instances(&self) -> Result<Vec<ServiceInstance>, crate::StoreError> {
        crate::PgStore::list_instances(self)
    }
}

/// What a process registers as.
#[derive(Debug, Clone, PartialEq)]
pub struct NewInstance {
    pub id: String,
    pub service_type: ServiceType,
    pub host: String,
    pub worker_group: Option<String>,
    pub config: serde_json::Value,
}
