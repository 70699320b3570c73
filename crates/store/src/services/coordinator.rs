//! The coordinator's decisions, as a pure function of what the store holds: which instances
//! to declare gone and what to do with the jobs they held. `PgStore::coordinate` reads the
//! inputs and applies the decisions in one transaction; keeping the rules here, free of
//! I/O, lets the tests walk every case as data.

use chrono::{DateTime, TimeDelta, Utc};
use saker_model::execution::StateType;

use super::settings::{LivenessSettings, RestartStrategy};
use super::{ServiceInstance, ServiceState};

/// A job claimed by an instance and not finished.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldJob {
    pub job_id: String,
    /// The instance that claimed it.
    pub holder: String,
    /// The state of the job's execution; `None` when the execution no longer exists.
    pub execution_state: Option<StateType>,
}

/// An instance's state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub instance_id: String,
    pub from: ServiceState,
    pub to: ServiceState,
}

/// What happens to a job of a gone instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobAction {
    /// Claimable again by another worker (IMMEDIATELY, or AFTER_TERMINATION_GRACE_PERIOD once
    /// the grace period has passed).
    Requeue,
    /// Never run again (NEVER): the executor fails its task run.
    Abandon,
    /// Its execution ended, is being killed or is gone: nothing is to run, whatever the
    /// strategy.
    Cancel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobDecision {
    pub job_id: String,
    pub holder: String,
    pub action: JobAction,
}

/// Everything one round decided; empty when nothing is to change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decisions {
    pub transitions: Vec<Transition>,
    pub jobs: Vec<JobDecision>,
}

/// One round of the coordinator at `now`.
///
/// - An instance that started at least `initial_delay` ago and whose last heartbeat is older
///   than `timeout` is declared gone: CREATED or RUNNING → DISCONNECTED, TERMINATING →
///   NOT_RUNNING.
/// - The jobs held by an instance that is not alive (after the step above) follow the
///   restart strategy, except that a job whose execution has ended, is being killed or no
///   longer exists is always cancelled. AFTER_TERMINATION_GRACE_PERIOD requeues once the
///   grace period has passed since the holder's last heartbeat (at once for a holder
///   TERMINATED_FORCED, whose grace period has run out by definition); until then the job
///   stays held and no decision is made about it.
/// - A DISCONNECTED or TERMINATED_FORCED instance left holding nothing becomes NOT_RUNNING
///   (one declared gone in this round waits for the next one). TERMINATED_GRACEFULLY stays.
///
/// Every transition is one legal step of [`ServiceState::check_transition`].
///
/// With liveness disabled nothing is decided.
pub fn decide(
    now: DateTime<Utc>,
    settings: &LivenessSettings,
    instances: &[ServiceInstance],
    held: &[HeldJob],
) -> Decisions {
    let mut decisions = Decisions::default();
    if !settings.enabled {
        return decisions;
    }
    for instance in instances {
        let mut state = instance.state;
        let declared = declared_gone(now, settings, instance);
        if let Some(to) = declared {
            decisions.transitions.push(Transition {
                instance_id: instance.id.clone(),
                from: state,
                to,
            });
            state = to;
        }
        if state.is_alive() {
            continue;
        }
        let mut still_held = false;
        for job in held.iter().filter(|job| job.holder == instance.id) {
            match job_action(now, settings, instance, state, job) {
                Some(action) => decisions.jobs.push(JobDecision {
                    job_id: job.job_id.clone(),
                    holder: instance.id.clone(),
                    action,
                }),
                None => still_held = true,
            }
        }
        // TERMINATED_GRACEFULLY stays as it is (what it says is worth seeing, and it left
        // nothing to handle); the purge removes it in time.
        let settled = matches!(
            state,
            ServiceState::Disconnected | ServiceState::TerminatedForced
        );
        // Declared gone in this round: shown as such for at least one round before it
        // becomes NOT_RUNNING (and every transition stays one step of the state machine).
        if settled && !still_held && declared.is_none() {
            decisions.transitions.push(Transition {
                instance_id: instance.id.clone(),
                from: state,
                to: ServiceState::NotRunning,
            });
        }
    }
    decisions
}

/// The state an instance that stopped heartbeating moves to, if it is to be declared gone.
fn declared_gone(
    now: DateTime<Utc>,
    settings: &LivenessSettings,
    instance: &ServiceInstance,
) -> Option<ServiceState> {
    if !instance.state.is_alive() {
        return None;
    }
    if now < after(instance.started_at, settings.initial_delay) {
        return None;
    }
    if now <= after(instance.last_heartbeat, settings.timeout) {
        return None;
    }
    Some(match instance.state {
        ServiceState::Terminating => ServiceState::NotRunning,
        _ => ServiceState::Disconnected,
    })
}

fn job_action(
    now: DateTime<Utc>,
    settings: &LivenessSettings,
    holder: &ServiceInstance,
    holder_state: ServiceState,
    job: &HeldJob,
) -> Option<JobAction> {
    let runnable = job
        .execution_state
        .is_some_and(|state| !state.is_terminated() && state != StateType::Killing);
    if !runnable {
        return Some(JobAction::Cancel);
    }
    match settings.restart_strategy {
        RestartStrategy::Never => Some(JobAction::Abandon),
        RestartStrategy::Immediately => Some(JobAction::Requeue),
        RestartStrategy::AfterTerminationGracePeriod => {
            let due = holder_state == ServiceState::TerminatedForced
                || now >= after(holder.last_heartbeat, settings.termination_grace_period);
            due.then_some(JobAction::Requeue)
        }
    }
}

/// `at + duration`, saturating at the latest representable date.
fn after(at: DateTime<Utc>, duration: std::time::Duration) -> DateTime<Utc> {
    TimeDelta::from_std(duration)
        .ok()
        .and_then(|delta| at.checked_add_signed(delta))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
