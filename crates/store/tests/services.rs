//! Service instances without a database: the state machine, the liveness settings and the
//! coordinator's decisions (a table of cases: instances and held jobs at an instant, and
//! what must be decided).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use saker_model::execution::StateType;
use saker_store::services::coordinator::{self, HeldJob, JobAction, JobDecision, Transition};
use saker_store::services::settings::{LivenessSettings, RestartStrategy, SettingsError};
use saker_store::services::{ServiceInstance, ServiceState, ServiceType};

use ServiceState::*;

#[test]
fn the_state_machine_allows_kestras_transitions_and_nothing_else() {
    let allowed: &[(ServiceState, &[ServiceState])] = &[
        (Created, &[Running, Disconnected, Terminating]),
        (Running, &[Disconnected, Terminating]),
        (Disconnected, &[Terminating, NotRunning]),
        (
            Terminating,
            &[TerminatedGracefully, TerminatedForced, NotRunning],
        ),
        (TerminatedGracefully, &[NotRunning]),
        (TerminatedForced, &[NotRunning]),
        (NotRunning, &[Empty]),
        (Empty, &[]),
    ];
    assert_eq!(allowed.len(), ServiceState::ALL.len());
    for (from, successors) in allowed {
        for to in ServiceState::ALL {
            let expected = *from == to || successors.contains(&to);
            assert_eq!(from.can_become(to), expected, "{from} -> {to}");
            match from.check_transition(to) {
                Ok(()) => assert!(expected, "{from} -> {to} allowed"),
                Err(refused) => {
                    assert!(!expected, "{from} -> {to} refused");
                    let text = refused.to_string();
                    assert!(
                        text.contains(from.as_str()) && text.contains(to.as_str()),
                        "{text}"
                    );
                }
            }
        }
    }
}

#[test]
fn states_and_types_read_back_their_names() {
    for state in ServiceState::ALL {
        assert_eq!(state.as_str().parse::<ServiceState>(), Ok(state));
    }
    for kind in ServiceType::ALL {
        assert_eq!(kind.as_str().parse::<ServiceType>(), Ok(kind));
    }
    let err = "SLEEPING".parse::<ServiceState>().unwrap_err().to_string();
    assert!(
        err.contains("SLEEPING") && err.contains("TERMINATED_FORCED"),
        "{err}"
    );
}

/// Configuration keys and their text.
type Pairs<'a> = &'a [(&'a str, &'a str)];

fn settings_of(pairs: &[(&str, &str)]) -> Result<LivenessSettings, SettingsError> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    LivenessSettings::from_lookup(|key| map.get(key).cloned())
}

#[test]
fn settings_default_to_kestras_jdbc_values() {
    let settings = settings_of(&[]).unwrap();
    assert_eq!(settings, LivenessSettings::default());
    assert!(settings.enabled);
    assert_eq!(settings.interval, Duration::from_secs(5));
    assert_eq!(settings.timeout, Duration::from_secs(45));
    assert_eq!(settings.initial_delay, Duration::from_secs(45));
    assert_eq!(settings.heartbeat_interval, Duration::from_secs(3));
    assert_eq!(
        settings.restart_strategy,
        RestartStrategy::AfterTerminationGracePeriod
    );
    assert_eq!(settings.termination_grace_period, Duration::from_secs(300));
    assert_eq!(settings.purge_retention, Duration::from_secs(7 * 86_400));
}

#[test]
fn settings_are_read_from_their_keys() {
    let settings = settings_of(&[
        ("server.liveness.enabled", "false"),
        ("server.liveness.interval", "2s"),
        ("server.liveness.timeout", "1m"),
        ("server.liveness.initial-delay", "PT10S"),
        ("server.liveness.heartbeat-interval", "500ms"),
        ("server.worker-task-restart-strategy", "immediately"),
        ("server.termination-grace-period", "90s"),
        ("server.service.purge.retention", "30d"),
    ])
    .unwrap();
    assert_eq!(
        settings,
        LivenessSettings {
            enabled: false,
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(60),
            initial_delay: Duration::from_secs(10),
            heartbeat_interval: Duration::from_millis(500),
            restart_strategy: RestartStrategy::Immediately,
            termination_grace_period: Duration::from_secs(90),
            purge_retention: Duration::from_secs(30 * 86_400),
        }
    );
}

#[test]
fn kestras_older_heartbeat_keys_stand_in_for_unset_liveness_keys() {
    let old = settings_of(&[
        ("heartbeat.frequency", "10s"),
        ("heartbeat.heartbeat-missed", "4"),
    ])
    .unwrap();
    assert_eq!(old.heartbeat_interval, Duration::from_secs(10));
    assert_eq!(old.timeout, Duration::from_secs(40));
    let default_missed = settings_of(&[("heartbeat.frequency", "10s")]).unwrap();
    assert_eq!(default_missed.timeout, Duration::from_secs(30));
    let newer_wins = settings_of(&[
        ("heartbeat.frequency", "10s"),
        ("server.liveness.heartbeat-interval", "2s"),
        ("server.liveness.timeout", "20s"),
    ])
    .unwrap();
    assert_eq!(
        (newer_wins.heartbeat_interval, newer_wins.timeout),
        (Duration::from_secs(2), Duration::from_secs(20))
    );
}

#[test]
fn bad_settings_are_refused_naming_their_keys() {
    let cases: &[(Pairs, &[&str])] = &[
        (
            &[("server.liveness.heartbeat-interval", "45s")],
            &[
                "server.liveness.heartbeat-interval",
                "server.liveness.timeout",
            ],
        ),
        (
            &[
                ("server.liveness.heartbeat-interval", "10s"),
                ("server.liveness.timeout", "5s"),
            ],
            &[
                "server.liveness.heartbeat-interval",
                "server.liveness.timeout",
            ],
        ),
        (
            &[("server.liveness.timeout", "soon")],
            &["server.liveness.timeout", "5s"],
        ),
        (
            &[("server.liveness.interval", "0s")],
            &["server.liveness.interval", "longer than zero"],
        ),
        (
            &[("server.liveness.enabled", "yes")],
            &["server.liveness.enabled", "true or false"],
        ),
        (
            &[("server.worker-task-restart-strategy", "SOMETIMES")],
            &[
                "server.worker-task-restart-strategy",
                "AFTER_TERMINATION_GRACE_PERIOD",
            ],
        ),
        (
            &[("server.service.purge.retention", "-1d")],
            &["server.service.purge.retention"],
        ),
        (
            &[("heartbeat.heartbeat-missed", "0")],
            &["heartbeat.heartbeat-missed", "at least 1"],
        ),
        (
            &[("heartbeat.frequency", "often")],
            &["heartbeat.frequency"],
        ),
        (
            // The older keys give a heartbeat as long as the timeout they make.
            &[
                ("heartbeat.frequency", "10s"),
                ("server.liveness.timeout", "10s"),
            ],
            &[
                "server.liveness.heartbeat-interval",
                "server.liveness.timeout",
            ],
        ),
        (
            &[("server.termination-grace-period", "5 minutes")],
            &["server.termination-grace-period"],
        ),
    ];
    for (pairs, expected) in cases {
        let err = settings_of(pairs).expect_err(&format!("{pairs:?} accepted"));
        let text = err.to_string();
        for part in *expected {
            assert!(text.contains(part), "{pairs:?}: {text}");
        }
    }
}

/// The instant every case is judged at.
fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap()
}

fn ago(secs: i64) -> DateTime<Utc> {
    now() - TimeDelta::seconds(secs)
}

/// An instance that started `started` seconds ago and last heartbeat `beat` seconds ago.
fn instance(id: &str, state: ServiceState, started: i64, beat: i64) -> ServiceInstance {
    ServiceInstance {
        id: id.to_owned(),
        service_type: ServiceType::Worker,
        state,
        host: "host-a".to_owned(),
        started_at: ago(started),
        last_heartbeat: ago(beat),
        state_changed_at: ago(beat),
        worker_group: None,
        config: serde_json::json!({}),
        jobs: Vec::new(),
    }
}

fn job(id: &str, holder: &str, execution: Option<StateType>) -> HeldJob {
    HeldJob {
        job_id: id.to_owned(),
        holder: holder.to_owned(),
        execution_state: execution,
    }
}

fn moved(id: &str, from: ServiceState, to: ServiceState) -> Transition {
    Transition {
        instance_id: id.to_owned(),
        from,
        to,
    }
}

fn action(id: &str, holder: &str, action: JobAction) -> JobDecision {
    JobDecision {
        job_id: id.to_owned(),
        holder: holder.to_owned(),
        action,
    }
}

struct Case {
    name: &'static str,
    strategy: RestartStrategy,
    instances: Vec<ServiceInstance>,
    held: Vec<HeldJob>,
    transitions: Vec<Transition>,
    jobs: Vec<JobDecision>,
}

use JobAction::*;
use RestartStrategy::{AfterTerminationGracePeriod as AfterGrace, Immediately, Never};

const RUN: Option<StateType> = Some(StateType::Running);

/// Defaults: timeout 45s, initial delay 45s, grace period 300s.
fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "a living instance is left alone",
            strategy: Immediately,
            instances: vec![instance("w1", Running, 600, 3)],
            held: vec![job("j1", "w1", RUN)],
            transitions: vec![],
            jobs: vec![],
        },
        Case {
            name: "a heartbeat exactly at the timeout is still in time",
            strategy: Immediately,
            instances: vec![instance("w1", Running, 600, 45)],
            held: vec![job("j1", "w1", RUN)],
            transitions: vec![],
            jobs: vec![],
        },
        Case {
            name: "a silent instance is disconnected and its job requeued at once",
            strategy: Immediately,
            instances: vec![
                instance("w1", Running, 600, 46),
                instance("w2", Running, 600, 1),
            ],
            held: vec![job("j1", "w1", RUN), job("j2", "w2", RUN)],
            transitions: vec![moved("w1", Running, Disconnected)],
            jobs: vec![action("j1", "w1", Requeue)],
        },
        Case {
            name: "within its initial delay a silent instance is not judged",
            strategy: Immediately,
            instances: vec![instance("w1", Created, 40, 40)],
            held: vec![],
            transitions: vec![],
            jobs: vec![],
        },
        Case {
            name: "past its initial delay a silent CREATED instance is disconnected",
            strategy: Immediately,
            instances: vec![instance("w1", Created, 50, 50)],
            held: vec![],
            transitions: vec![moved("w1", Created, Disconnected)],
            jobs: vec![],
        },
        Case {
            name: "NEVER abandons the jobs of a dead worker",
            strategy: Never,
            instances: vec![instance("w1", Running, 600, 100)],
            held: vec![
                job("j1", "w1", RUN),
                job("j2", "w1", Some(StateType::Paused)),
            ],
            transitions: vec![moved("w1", Running, Disconnected)],
            jobs: vec![action("j1", "w1", Abandon), action("j2", "w1", Abandon)],
        },
        Case {
            name: "a job whose execution ended, is killed or gone is cancelled whatever the strategy",
            strategy: Immediately,
            instances: vec![instance("w1", Running, 600, 100)],
            held: vec![
                job("ok", "w1", Some(StateType::Success)),
                job("killing", "w1", Some(StateType::Killing)),
                job("killed", "w1", Some(StateType::Killed)),
                job("failed", "w1", Some(StateType::Failed)),
                job("cancelled", "w1", Some(StateType::Cancelled)),
                job("gone", "w1", None),
                job("live", "w1", RUN),
            ],
            transitions: vec![moved("w1", Running, Disconnected)],
            jobs: vec![
                action("ok", "w1", Cancel),
                action("killing", "w1", Cancel),
                action("killed", "w1", Cancel),
                action("failed", "w1", Cancel),
                action("cancelled", "w1", Cancel),
                action("gone", "w1", Cancel),
                action("live", "w1", Requeue),
            ],
        },
        Case {
            name: "a killed execution's job is cancelled under AFTER_TERMINATION_GRACE_PERIOD too",
            strategy: AfterGrace,
            instances: vec![instance("w1", Disconnected, 6000, 6000)],
            held: vec![job("j1", "w1", Some(StateType::Killed))],
            transitions: vec![moved("w1", Disconnected, NotRunning)],
            jobs: vec![action("j1", "w1", Cancel)],
        },
        Case {
            name: "AFTER_TERMINATION_GRACE_PERIOD waits while the grace period runs",
            strategy: AfterGrace,
            instances: vec![instance("w1", Running, 600, 100)],
            held: vec![job("j1", "w1", RUN)],
            transitions: vec![moved("w1", Running, Disconnected)],
            jobs: vec![],
        },
        Case {
            name: "AFTER_TERMINATION_GRACE_PERIOD requeues once it has passed",
            strategy: AfterGrace,
            instances: vec![instance("w1", Disconnected, 600, 300)],
            held: vec![job("j1", "w1", RUN)],
            transitions: vec![moved("w1", Disconnected, NotRunning)],
            jobs: vec![action("j1", "w1", Requeue)],
        },
        Case {
            name: "a TERMINATED_FORCED holder has used its grace period",
            strategy: AfterGrace,
            instances: vec![instance("w1", TerminatedForced, 600, 10)],
            held: vec![job("j1", "w1", RUN)],
            transitions: vec![moved("w1", TerminatedForced, NotRunning)],
            jobs: vec![action("j1", "w1", Requeue)],
        },
        Case {
            name: "a terminating instance that falls silent is not running",
            strategy: Immediately,
            instances: vec![instance("w1", Terminating, 600, 60)],
            held: vec![job("j1", "w1", RUN)],
            transitions: vec![moved("w1", Terminating, NotRunning)],
            jobs: vec![action("j1", "w1", Requeue)],
        },
        Case {
            name: "a terminating instance that still heartbeats keeps its jobs",
            strategy: Immediately,
            instances: vec![instance("w1", Terminating, 600, 2)],
            held: vec![job("j1", "w1", RUN)],
            transitions: vec![],
            jobs: vec![],
        },
        Case {
            name: "a gracefully terminated instance stays so",
            strategy: Never,
            instances: vec![instance("w1", TerminatedGracefully, 600, 500)],
            held: vec![],
            transitions: vec![],
            jobs: vec![],
        },
        Case {
            name: "rows already not running or empty are left to the purge",
            strategy: Immediately,
            instances: vec![
                instance("w1", NotRunning, 600, 500),
                instance("w2", Empty, 600, 500),
            ],
            held: vec![],
            transitions: vec![],
            jobs: vec![],
        },
        Case {
            name: "a job still held by a NOT_RUNNING instance is handled",
            strategy: Never,
            instances: vec![instance("w1", NotRunning, 600, 500)],
            held: vec![job("j1", "w1", RUN)],
            transitions: vec![],
            jobs: vec![action("j1", "w1", Abandon)],
        },
    ]
}

#[test]
fn the_coordinator_decides_as_the_table_says() {
    let mut failures = Vec::new();
    for case in cases() {
        let settings = LivenessSettings {
            restart_strategy: case.strategy,
            ..LivenessSettings::default()
        };
        let decisions = coordinator::decide(now(), &settings, &case.instances, &case.held);
        if decisions.transitions != case.transitions || decisions.jobs != case.jobs {
            failures.push(format!(
                "{}:\n  transitions {:?}\n  expected    {:?}\n  jobs {:?}\n  expected {:?}",
                case.name, decisions.transitions, case.transitions, decisions.jobs, case.jobs
            ));
        }
        for transition in &decisions.transitions {
            assert!(
                transition.from.can_become(transition.to),
                "{}: illegal {transition:?}",
                case.name
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn with_liveness_disabled_nothing_is_decided() {
    let settings = LivenessSettings {
        enabled: false,
        restart_strategy: Immediately,
        ..LivenessSettings::default()
    };
    let instances = [instance("w1", Running, 6000, 6000)];
    let held = [job("j1", "w1", RUN)];
    let decisions = coordinator::decide(now(), &settings, &instances, &held);
    assert_eq!(decisions, coordinator::Decisions::default());
}
