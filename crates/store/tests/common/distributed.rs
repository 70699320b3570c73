//! Builders shared by the distributed mode tests (`postgres_queue.rs`,
//! `postgres_services.rs`): explicit instants, workers, jobs, claims.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use saker_store::PgStore;
use saker_store::queue::{Claim, NewJob};
use saker_store::services::{NewInstance, ServiceState, ServiceType};

/// Each case named after its function, for `pg::run_cases`.
#[macro_export]
macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        vec![$((stringify!($name), $name as fn(&str))),*]
    };
}

pub fn t0() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap()
}

pub fn at(secs: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(secs)
}

/// Registers `id` as a RUNNING worker of `group` at `when`.
pub fn worker(store: &PgStore, id: &str, group: Option<&str>, when: DateTime<Utc>) {
    store
        .register_instance(
            &NewInstance {
                id: id.to_owned(),
                service_type: ServiceType::Worker,
                host: "test-host".to_owned(),
                worker_group: group.map(str::to_owned),
                config: serde_json::json!({"threads": 4}),
            },
            when,
        )
        .unwrap();
    store
        .set_instance_state(id, ServiceState::Running, when)
        .unwrap();
}

pub fn job(id: &str, execution: &str, group: Option<&str>) -> NewJob {
    NewJob {
        id: id.to_owned(),
        execution_id: execution.to_owned(),
        task_run_id: format!("tr-{id}"),
        attempt: 1,
        worker_group: group.map(str::to_owned),
        payload: format!(r#"{{"job":"{id}"}}"#),
    }
}

pub fn claim<'a>(
    instance: &'a str,
    group: Option<&'a str>,
    max: u32,
    now: DateTime<Utc>,
) -> Claim<'a> {
    Claim {
        instance,
        worker_group: group,
        max,
        lease: Duration::from_secs(45),
        now,
    }
}

pub fn claimed_ids(store: &PgStore, claim: &Claim<'_>) -> Vec<String> {
    store
        .claim_jobs(claim)
        .unwrap()
        .into_iter()
        .map(|job| job.id)
        .collect()
}
