//! The scheduler fires Schedule triggers at their dates, recovers missed ones as
//! `recoverMissedSchedules` says, and keeps its memory in the store. Ticks are given their
//! `now`, so every case runs at once, on fixed dates.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use saker_engine::scheduler::{Scheduler, SchedulerConfig};
use saker_engine::{Engine, EngineParts};
use saker_model::{DEFAULT_TENANT, StateType};
use saker_store::{LogQuery, SqliteStore, Store};

const NS: &str = "company.team";

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn flow(trigger_extra: &str) -> String {
    format!(
        "id: report\nnamespace: {NS}\ninputs:\n  - id: who\n    type: STRING\n    defaults: nobody\ntasks:\n  - id: hello\n    type: Log\n    message: \"run for {{{{ trigger.date }}}} by {{{{ inputs.who }}}}\"\ntriggers:\n  - id: quarter\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"*/15 * * * *\"\n{trigger_extra}"
    )
}

struct Setup {
    engine: Arc<Engine>,
    store: Arc<SqliteStore>,
    scheduler: Scheduler,
}

fn setup(source: &str, config: SchedulerConfig) -> Setup {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let engine = Arc::new(Engine::start(EngineParts::new(store.clone())));
    engine.deploy(DEFAULT_TENANT, source).unwrap();
    let scheduler = Scheduler::new(engine.clone(), config);
    Setup {
        engine,
        store,
        scheduler,
    }
}

impl Setup {
    fn next_date(&self) -> Option<DateTime<Utc>> {
        self.store
            .trigger_state(DEFAULT_TENANT, NS, "report", "quarter")
            .unwrap()
            .map(|s| s.next_date)
    }

    fn fired_at(&self, now: &str) -> Vec<DateTime<Utc>> {
        let mut fired = self.scheduler.tick(at(now)).unwrap();
        fired.sort_by_key(|f| f.date);
        fired.into_iter().map(|f| f.date).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_trigger_starts_nothing_and_waits_for_its_next_date() {
    let s = setup(&flow(""), SchedulerConfig::default());
    assert!(s.fired_at("2026-11-22T10:07:00Z").is_empty());
    assert_eq!(s.next_date(), Some(at("2026-11-22T10:15:00Z")));
    assert!(s.fired_at("2026-11-22T10:14:59Z").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_date_starts_one_execution_that_sees_the_trigger() {
    let s = setup(
        &flow("    inputs:\n      who: scheduler\n"),
        SchedulerConfig::default(),
    );
    s.fired_at("2026-11-22T10:07:00Z");
    let fired = s.scheduler.tick(at("2026-11-22T10:15:00.400Z")).unwrap();
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].date, at("2026-11-22T10:15:00Z"));
    assert_eq!(fired[0].trigger_id, "quarter");
    // The same moment again starts nothing: the state moved on with the execution.
    assert!(s.fired_at("2026-11-22T10:15:00.900Z").is_empty());
    assert_eq!(s.next_date(), Some(at("2026-11-22T10:30:00Z")));

    let done = tokio::time::timeout(
        Duration::from_secs(30),
        s.engine.wait(&fired[0].execution_id),
    )
    .await
    .expect("the scheduled execution did not end")
    .unwrap();
    assert_eq!(done.state.current, StateType::Success);
    let trigger = done
        .trigger
        .as_ref()
        .expect("the execution records its trigger");
    assert_eq!(trigger.id, "quarter");
    assert_eq!(trigger.type_name, "io.kestra.plugin.core.trigger.Schedule");
    let date = trigger.variables["date"].as_str().unwrap().to_owned();
    assert!(date.starts_with("2026-11-22T10:15:00"), "{date}");
    assert!(
        trigger.variables["next"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-22T10:30:00")
    );
    assert!(
        trigger.variables["previous"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-22T10:00:00")
    );
    assert_eq!(done.inputs["who"], "scheduler");
    let logs = s.store.list_logs(&LogQuery::new(&done.id)).unwrap();
    assert!(
        logs.iter()
            .any(|l| l.entry.message == format!("run for {date} by scheduler")),
        "{:?}",
        logs.iter().map(|l| &l.entry.message).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_dates_are_all_recovered_oldest_first_by_default() {
    let s = setup(&flow(""), SchedulerConfig::default());
    s.fired_at("2026-11-22T10:07:00Z");
    assert_eq!(
        s.fired_at("2026-11-22T11:01:00Z"),
        ["10:15", "10:30", "10:45", "11:00"].map(|t| at(&format!("2026-11-22T{t}:00Z")))
    );
    assert_eq!(s.next_date(), Some(at("2026-11-22T11:15:00Z")));
    let executions = s
        .store
        .list_executions(&saker_store::ExecutionFilter::new(DEFAULT_TENANT))
        .unwrap();
    assert_eq!(executions.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_outage_drains_a_bounded_number_per_tick() {
    let config = SchedulerConfig {
        max_per_tick: 3,
        ..SchedulerConfig::default()
    };
    let s = setup(&flow(""), config);
    s.fired_at("2026-11-22T10:07:00Z");
    let now = "2026-11-22T11:31:00Z";
    assert_eq!(s.fired_at(now).len(), 3);
    assert_eq!(s.fired_at(now).len(), 3);
    assert!(s.fired_at(now).is_empty());
    assert_eq!(s.next_date(), Some(at("2026-11-22T11:45:00Z")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_last_starts_only_the_latest_missed_date() {
    let s = setup(
        &flow("    recoverMissedSchedules: LAST\n"),
        SchedulerConfig::default(),
    );
    s.fired_at("2026-11-22T10:07:00Z");
    assert_eq!(
        s.fired_at("2026-11-22T11:05:00Z"),
        [at("2026-11-22T11:00:00Z")]
    );
    assert_eq!(s.next_date(), Some(at("2026-11-22T11:15:00Z")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_none_skips_late_dates_but_keeps_time() {
    let s = setup(
        &flow("    recoverMissedSchedules: NONE\n"),
        SchedulerConfig::default(),
    );
    s.fired_at("2026-11-22T10:07:00Z");
    assert!(s.fired_at("2026-11-22T11:05:00Z").is_empty());
    assert_eq!(s.next_date(), Some(at("2026-11-22T11:15:00Z")));
    // On time (within a minute), the date fires.
    assert_eq!(
        s.fired_at("2026-11-22T11:15:02Z"),
        [at("2026-11-22T11:15:00Z")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_schedule_starts_over_from_now() {
    let s = setup(&flow(""), SchedulerConfig::default());
    s.fired_at("2026-11-22T10:07:00Z");
    let hourly = flow("").replace("*/15 * * * *", "@hourly");
    s.engine.deploy(DEFAULT_TENANT, &hourly).unwrap();
    // 10:15 was due under the old cron; the new one is not due before 11:00.
    assert!(s.fired_at("2026-11-22T10:20:00Z").is_empty());
    assert_eq!(s.next_date(), Some(at("2026-11-22T11:00:00Z")));
    assert_eq!(
        s.fired_at("2026-11-22T11:00:01Z"),
        [at("2026-11-22T11:00:00Z")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timezone_moves_the_dates() {
    let source = flow("    timezone: Europe/Paris\n").replace("*/15 * * * *", "0 9 * * *");
    let s = setup(&source, SchedulerConfig::default());
    s.fired_at("2026-11-22T05:00:00Z");
    // 09:00 in Paris is 08:00 UTC in November.
    assert_eq!(s.next_date(), Some(at("2026-11-22T08:00:00Z")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_triggers_lose_their_state() {
    let s = setup(&flow(""), SchedulerConfig::default());
    s.fired_at("2026-11-22T10:07:00Z");
    assert!(s.next_date().is_some());
    let disabled = flow("    disabled: true\n");
    s.engine.deploy(DEFAULT_TENANT, &disabled).unwrap();
    assert!(s.fired_at("2026-11-22T10:20:00Z").is_empty());
    assert_eq!(s.next_date(), None);

    // Enabled again, it starts from that moment: 10:15 is not recovered.
    s.engine.deploy(DEFAULT_TENANT, &flow("")).unwrap();
    assert!(s.fired_at("2026-11-22T10:21:00Z").is_empty());
    assert_eq!(s.next_date(), Some(at("2026-11-22T10:30:00Z")));

    s.store.delete_flow(DEFAULT_TENANT, NS, "report").unwrap();
    assert!(s.fired_at("2026-11-22T10:31:00Z").is_empty());
    assert_eq!(s.next_date(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_flow_does_not_fire() {
    let source = flow("").replace("namespace:", "disabled: true\nnamespace:");
    let s = setup(&source, SchedulerConfig::default());
    assert!(s.fired_at("2026-11-22T10:07:00Z").is_empty());
    assert!(s.fired_at("2026-11-22T11:07:00Z").is_empty());
    assert_eq!(s.next_date(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditions_decide_each_date_and_a_date_they_refuse_is_skipped() {
    // 2026-11-22 is a Sunday.
    let on = |day: &str| {
        format!(
            "    conditions:\n      - type: io.kestra.plugin.core.condition.DayWeek\n        date: \"{{{{ trigger.date }}}}\"\n        dayOfWeek: {day}\n"
        )
    };
    let sunday = setup(&flow(&on("SUNDAY")), SchedulerConfig::default());
    sunday.fired_at("2026-11-22T10:07:00Z");
    assert_eq!(
        sunday.fired_at("2026-11-22T10:15:01Z"),
        [at("2026-11-22T10:15:00Z")]
    );

    let monday = setup(&flow(&on("MONDAY")), SchedulerConfig::default());
    monday.fired_at("2026-11-22T10:07:00Z");
    assert!(monday.fired_at("2026-11-22T10:15:01Z").is_empty());
    // The refused date is passed, not retried.
    assert_eq!(monday.next_date(), Some(at("2026-11-22T10:30:00Z")));
    let executions = monday
        .store
        .list_executions(&saker_store::ExecutionFilter::new(DEFAULT_TENANT))
        .unwrap();
    assert!(executions.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_that_do_not_fit_skip_the_date_instead_of_retrying_forever() {
    let source = flow("    inputs:\n      who: scheduler\n      count: many\n").replace(
        "inputs:\n  - id: who",
        "inputs:\n  - id: count\n    type: INT\n    required: false\n  - id: who",
    );
    let s = setup(&source, SchedulerConfig::default());
    s.fired_at("2026-11-22T10:07:00Z");
    assert!(s.fired_at("2026-11-22T10:15:01Z").is_empty());
    assert_eq!(s.next_date(), Some(at("2026-11-22T10:30:00Z")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_survives_a_restart_so_nothing_fires_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saker.db");
    let tick = |now: &str| {
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        let engine = Arc::new(Engine::start(EngineParts::new(store.clone())));
        engine.deploy(DEFAULT_TENANT, &flow("")).unwrap();
        let fired = Scheduler::new(engine, SchedulerConfig::default())
            .tick(at(now))
            .unwrap();
        fired.len()
    };
    assert_eq!(tick("2026-11-22T10:07:00Z"), 0);
    assert_eq!(tick("2026-11-22T10:15:01Z"), 1);
    // A new process at the same moment finds the date already fired.
    assert_eq!(tick("2026-11-22T10:15:02Z"), 0);
    assert_eq!(tick("2026-11-22T10:30:01Z"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_templates_see_the_trigger_and_secret_is_refused() {
    let s = setup(
        &flow("    inputs:\n      who: \"{{ flow.id }} for {{ trigger.date }}\"\n"),
        SchedulerConfig::default(),
    );
    s.fired_at("2026-11-22T10:07:00Z");
    let fired = s.scheduler.tick(at("2026-11-22T10:15:01Z")).unwrap();
    assert_eq!(fired.len(), 1);
    let execution = s
        .store
        .get_execution(&fired[0].execution_id)
        .unwrap()
        .unwrap();
    assert_eq!(execution.inputs["who"], "report for 2026-11-22T10:15:00Z");

    let with_secret = flow("    inputs:\n      who: \"{{ secret('TOKEN') }}\"\n");
    s.engine.deploy(DEFAULT_TENANT, &with_secret).unwrap();
    assert!(s.fired_at("2026-11-22T10:30:01Z").is_empty());
    // The date is skipped, not retried every second.
    assert_eq!(s.next_date(), Some(at("2026-11-22T10:45:00Z")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_that_cannot_start_does_not_hold_up_the_others() {
    // A SECRET input needs encryption.secret-key, which this engine lacks.
    let sealed = flow("    inputs:\n      token: abc\n")
        .replace("id: report", "id: sealed")
        .replace(
            "inputs:\n  - id: who",
            "inputs:\n  - id: token\n    type: SECRET\n  - id: who",
        );
    let s = setup(&flow(""), SchedulerConfig::default());
    s.engine.deploy(DEFAULT_TENANT, &sealed).unwrap();
    s.fired_at("2026-11-22T10:07:00Z");
    let fired = s.scheduler.tick(at("2026-11-22T10:15:01Z")).unwrap();
    let flows: Vec<&str> = fired.iter().map(|f| f.flow_id.as_str()).collect();
    assert_eq!(flows, ["report"]);
    let sealed_next = s
        .store
        .trigger_state(DEFAULT_TENANT, NS, "sealed", "quarter")
        .unwrap()
        .map(|st| st.next_date);
    assert_eq!(sealed_next, Some(at("2026-11-22T10:30:00Z")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_maximum_delay_skips_dates_reached_too_late() {
    let s = setup(
        &flow("    lateMaximumDelay: PT20M\n"),
        SchedulerConfig::default(),
    );
    s.fired_at("2026-11-22T10:07:00Z");
    // Down from 10:07 to 11:01: 10:15, 10:30 are over 20 minutes late; 10:45 and 11:00 not.
    assert_eq!(
        s.fired_at("2026-11-22T11:01:00Z"),
        [at("2026-11-22T10:45:00Z"), at("2026-11-22T11:00:00Z")]
    );
    assert_eq!(s.next_date(), Some(at("2026-11-22T11:15:00Z")));
    // Down again until 12:59: only 12:45 is in time (11:15 to 12:30 are skipped).
    assert_eq!(
        s.fired_at("2026-11-22T12:59:00Z"),
        [at("2026-11-22T12:45:00Z")]
    );
    assert_eq!(s.next_date(), Some(at("2026-11-22T13:00:00Z")));
    // With every date late, nothing starts and the trigger waits for its next date.
    let strict = flow(
        "    lateMaximumDelay: PT1M
",
    );
    s.engine.deploy(DEFAULT_TENANT, &strict).unwrap();
    assert!(s.fired_at("2026-11-22T13:02:00Z").is_empty());
    assert_eq!(s.next_date(), Some(at("2026-11-22T13:15:00Z")));
}
