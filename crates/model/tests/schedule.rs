//! The Schedule trigger's dates: nicknames, intervals, seconds, boundaries, time zones and DST.

use chrono::{DateTime, TimeZone, Utc};
use indexmap::IndexMap;
use saker_model::schedule::{RecoverMissed, Schedule, ScheduleError, schedules};
use saker_model::{Pos, TriggerDef, parse_flow};
use serde_json::{Value, json};

fn trigger(properties: Value) -> TriggerDef {
    let properties: IndexMap<String, Value> = match properties {
        Value::Object(map) => map.into_iter().collect(),
        other => panic!("properties must be a map, got {other}"),
    };
    TriggerDef {
        id: "schedule".to_owned(),
        type_name: Schedule::TYPE.to_owned(),
        disabled: false,
        properties,
        conditions: Vec::new(),
        preconditions: None,
        pos: Pos::START,
    }
}

fn schedule(properties: Value) -> Schedule {
    Schedule::from_trigger(&trigger(properties)).expect("a valid schedule")
}

fn cron(expression: &str) -> Schedule {
    schedule(json!({ "cron": expression }))
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("an RFC 3339 date")
        .with_timezone(&Utc)
}

fn formatted(s: &Schedule, dates: &[DateTime<Utc>]) -> Vec<String> {
    dates.iter().map(|d| s.format_date(*d)).collect()
}

#[test]
fn defaults() {
    let s = cron("0 9 * * *");
    assert_eq!(s.trigger_id, "schedule");
    assert_eq!(s.expression, "0 9 * * *");
    assert!(!s.with_seconds);
    assert_eq!(s.timezone_name(), "Etc/UTC");
    assert!(s.inputs.is_empty());
    assert_eq!(s.recover, RecoverMissed::All);
    assert!(s.unsupported.is_empty());
    assert_eq!(RecoverMissed::default(), RecoverMissed::All);
}

#[test]
fn nicknames() {
    let from = utc("2026-05-13T10:20:30Z"); // a Wednesday
    for (nickname, next) in [
        ("@yearly", "2027-01-01T00:00:00Z"),
        ("@annually", "2027-01-01T00:00:00Z"),
        ("@monthly", "2026-06-01T00:00:00Z"),
        ("@weekly", "2026-05-17T00:00:00Z"),
        ("@daily", "2026-05-14T00:00:00Z"),
        ("@midnight", "2026-05-14T00:00:00Z"),
        ("@hourly", "2026-05-13T11:00:00Z"),
        ("@HOURLY", "2026-05-13T11:00:00Z"),
    ] {
        assert_eq!(
            cron(nickname).next_after(from),
            Some(utc(next)),
            "{nickname}"
        );
    }
    let with_seconds = schedule(json!({"cron": "@hourly", "withSeconds": true}));
    assert_eq!(
        with_seconds.next_after(from),
        Some(utc("2026-05-13T11:00:00Z"))
    );
}

#[test]
fn every_15_minutes_over_an_hour() {
    let s = cron("*/15 * * * *");
    let got = s.occurrences(
        utc("2026-01-01T10:00:00Z"),
        utc("2026-01-01T11:00:00Z"),
        100,
    );
    assert_eq!(
        formatted(&s, &got),
        [
            "2026-01-01T10:15:00Z",
            "2026-01-01T10:30:00Z",
            "2026-01-01T10:45:00Z",
            "2026-01-01T11:00:00Z"
        ]
    );
}

#[test]
fn with_seconds_every_second() {
    let s = schedule(json!({"cron": "* * * * * *", "withSeconds": true}));
    let from = utc("2026-01-01T00:00:58Z");
    let got = s.occurrences(from, utc("2026-01-01T00:01:02Z"), 100);
    assert_eq!(
        formatted(&s, &got),
        [
            "2026-01-01T00:00:59Z",
            "2026-01-01T00:01:00Z",
            "2026-01-01T00:01:01Z",
            "2026-01-01T00:01:02Z"
        ]
    );
    let thirty = schedule(json!({"cron": "*/30 * * * * *", "withSeconds": true}));
    assert_eq!(thirty.next_after(from), Some(utc("2026-01-01T00:01:00Z")));
}

#[test]
fn occurrences_stop_at_the_limit() {
    let s = cron("* * * * *");
    let from = utc("2026-01-01T00:00:00Z");
    let got = s.occurrences(from, utc("2026-01-02T00:00:00Z"), 3);
    assert_eq!(got.len(), 3);
    assert_eq!(got[2], utc("2026-01-01T00:03:00Z"));
    assert!(s.occurrences(from, from, 10).is_empty());
    assert!(
        s.occurrences(from, utc("2025-01-01T00:00:00Z"), 10)
            .is_empty()
    );
    assert!(
        s.occurrences(from, utc("2026-01-02T00:00:00Z"), 0)
            .is_empty()
    );
}

#[test]
fn next_and_previous_are_strict_at_exact_boundaries() {
    let s = cron("0 * * * *");
    let on = utc("2026-03-10T10:00:00Z");
    assert_eq!(s.next_after(on), Some(utc("2026-03-10T11:00:00Z")));
    assert_eq!(s.previous_before(on), Some(utc("2026-03-10T09:00:00Z")));
    // A fraction of a second past an occurrence: that occurrence is before, not after.
    let just_after = on + chrono::Duration::milliseconds(1);
    assert_eq!(s.next_after(just_after), Some(utc("2026-03-10T11:00:00Z")));
    assert_eq!(s.previous_before(just_after), Some(on));
    let just_before = on - chrono::Duration::milliseconds(1);
    assert_eq!(s.next_after(just_before), Some(on));
    assert_eq!(
        s.previous_before(just_before),
        Some(utc("2026-03-10T09:00:00Z"))
    );
}

#[test]
fn day_of_week_seven_is_sunday_like_zero() {
    let from = utc("2026-05-13T10:00:00Z"); // a Wednesday
    let sunday = Some(utc("2026-05-17T00:00:00Z"));
    assert_eq!(cron("0 0 * * 0").next_after(from), sunday);
    assert_eq!(cron("0 0 * * 7").next_after(from), sunday);
    assert_eq!(cron("0 0 * * SUN").next_after(from), sunday);
    assert_eq!(
        cron("0 9 * * MON-FRI").next_after(utc("2026-05-15T10:00:00Z")),
        Some(utc("2026-05-18T09:00:00Z"))
    );
}

fn paris(properties: Value) -> Schedule {
    let mut properties = properties;
    properties["timezone"] = json!("Europe/Paris");
    schedule(properties)
}

/// 29 March 2026: Paris goes from 02:00 CET (+01:00) to 03:00 CEST (+02:00); 02:xx does not
/// exist that day. A daily 02:00 fires once, at the first instant after the gap.
#[test]
fn dst_spring_forward_in_paris() {
    let s = paris(json!({"cron": "0 2 * * *"}));
    let got = s.occurrences(utc("2026-03-27T12:00:00Z"), utc("2026-03-31T12:00:00Z"), 10);
    assert_eq!(
        formatted(&s, &got),
        [
            "2026-03-28T02:00:00+01:00",
            "2026-03-29T03:00:00+02:00",
            "2026-03-30T02:00:00+02:00",
            "2026-03-31T02:00:00+02:00"
        ]
    );
    assert_eq!(got[1], utc("2026-03-29T01:00:00Z"));
    // An interval cron skips the missing wall-clock times: 01:30 +01:00 then 03:00 +02:00.
    let half_hourly = paris(json!({"cron": "*/30 * * * *"}));
    let got = half_hourly.occurrences(utc("2026-03-29T00:00:00Z"), utc("2026-03-29T01:30:00Z"), 10);
    assert_eq!(
        formatted(&half_hourly, &got),
        [
            "2026-03-29T01:30:00+01:00",
            "2026-03-29T03:00:00+02:00",
            "2026-03-29T03:30:00+02:00"
        ]
    );
}

/// 25 October 2026: Paris goes from 03:00 CEST back to 02:00 CET; 02:xx happens twice.
/// 01:30 is before the repeated hour: a daily 01:30 fires once a day, 25 hours apart across
/// the change. A daily 02:30 fires once, on the first (CEST) pass; an interval cron fires on
/// both passes.
#[test]
fn dst_fall_back_in_paris() {
    let s = paris(json!({"cron": "30 1 * * *"}));
    let got = s.occurrences(utc("2026-10-23T12:00:00Z"), utc("2026-10-26T12:00:00Z"), 10);
    assert_eq!(
        formatted(&s, &got),
        [
            "2026-10-24T01:30:00+02:00",
            "2026-10-25T01:30:00+02:00",
            "2026-10-26T01:30:00+01:00"
        ]
    );
    assert_eq!(got[2] - got[1], chrono::Duration::hours(25));

    let repeated = paris(json!({"cron": "30 2 * * *"}));
    let got = repeated.occurrences(utc("2026-10-24T12:00:00Z"), utc("2026-10-26T12:00:00Z"), 10);
    assert_eq!(
        formatted(&repeated, &got),
        ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]
    );
    // Starting inside the repeated hour, on its second pass, the next date is the next day.
    assert_eq!(
        repeated.next_after(utc("2026-10-25T01:00:00Z")),
        Some(utc("2026-10-26T01:30:00Z"))
    );

    let half_hourly = paris(json!({"cron": "*/30 * * * *"}));
    let got = half_hourly.occurrences(utc("2026-10-24T23:45:00Z"), utc("2026-10-25T02:00:00Z"), 10);
    assert_eq!(
        formatted(&half_hourly, &got),
        [
            "2026-10-25T02:00:00+02:00",
            "2026-10-25T02:30:00+02:00",
            "2026-10-25T02:00:00+01:00",
            "2026-10-25T02:30:00+01:00",
            "2026-10-25T03:00:00+01:00"
        ]
    );
    assert_eq!(
        half_hourly.previous_before(utc("2026-10-25T01:00:00Z")),
        Some(utc("2026-10-25T00:30:00Z"))
    );
}

/// 1 November 2026: New York goes from 02:00 EDT back to 01:00 EST; 01:30 happens twice and
/// a daily 01:30 fires once, on the first (EDT) pass.
#[test]
fn dst_fall_back_in_new_york() {
    let s = schedule(json!({"cron": "30 1 * * *", "timezone": "America/New_York"}));
    let got = s.occurrences(utc("2026-10-31T12:00:00Z"), utc("2026-11-02T12:00:00Z"), 10);
    assert_eq!(
        formatted(&s, &got),
        ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]
    );
}

#[test]
fn fingerprint_follows_the_dates_not_the_inputs() {
    let base = schedule(json!({"cron": "0 9 * * *", "inputs": {"a": 1}}));
    assert_eq!(
        base.fingerprint(),
        "cron=0 9 * * *;withSeconds=false;timezone=Etc/UTC"
    );
    let same = [
        json!({"cron": "0 9 * * *", "inputs": {"a": 2}}),
        json!({"cron": " 0  9 * * * ", "recoverMissedSchedules": "NONE"}),
        json!({"cron": "0 9 * * *", "stopAfter": ["FAILED"]}),
    ];
    for properties in same {
        assert_eq!(
            schedule(properties.clone()).fingerprint(),
            base.fingerprint(),
            "{properties}"
        );
    }
    let different = [
        json!({"cron": "0 10 * * *"}),
        json!({"cron": "0 9 * * *", "timezone": "Europe/Paris"}),
        json!({"cron": "0 0 9 * * *", "withSeconds": true}),
    ];
    for properties in different {
        assert_ne!(
            schedule(properties.clone()).fingerprint(),
            base.fingerprint(),
            "{properties}"
        );
    }
}

#[test]
fn format_date_in_utc_and_paris() {
    let t = utc("2026-11-22T09:15:00.123Z");
    assert_eq!(cron("* * * * *").format_date(t), "2026-11-22T09:15:00Z");
    let s = paris(json!({"cron": "* * * * *"}));
    assert_eq!(s.format_date(t), "2026-11-22T10:15:00+01:00");
    assert_eq!(
        s.format_date(utc("2026-07-01T09:15:00Z")),
        "2026-07-01T11:15:00+02:00"
    );
    let london = schedule(json!({"cron": "* * * * *", "timezone": "Europe/London"}));
    assert_eq!(london.format_date(t), "2026-11-22T09:15:00Z");
}

#[test]
fn typing_errors() {
    let err =
        |properties: Value| Schedule::from_trigger(&trigger(properties)).expect_err("invalid");
    assert_eq!(err(json!({})), ScheduleError::MissingCron);
    // The first problem, in the order the properties are read (withSeconds first).
    assert_eq!(
        err(json!({"withSeconds": "yes"})).property(),
        Some("withSeconds")
    );
    assert_eq!(
        err(json!({"cron": "0 9 * * * *", "withSeconds": 1})).property(),
        Some("withSeconds")
    );
    assert!(matches!(
        err(json!({"cron": "0 0 * * * *"})),
        ScheduleError::SecondsWithoutWithSeconds { .. }
    ));
    assert!(matches!(
        err(json!({"cron": "* * * * *", "timezone": "Nowhere/Land"})),
        ScheduleError::UnknownTimezone { .. }
    ));
    let e = err(json!({"cron": "* * * * *", "recoverMissedSchedules": "SOME"}));
    assert_eq!(e.property(), Some("recoverMissedSchedules"));
    assert!(e.to_string().contains("ALL, LAST or NONE"), "{e}");
    let e = err(json!({"cron": "* * * * *", "inputs": "x"}));
    assert_eq!(e.property(), Some("inputs"));
    let mut webhook = trigger(json!({"key": "k"}));
    webhook.type_name = "io.kestra.plugin.core.trigger.Webhook".to_owned();
    assert!(matches!(
        Schedule::from_trigger(&webhook),
        Err(ScheduleError::NotASchedule(_))
    ));
    let mut alias = trigger(json!({"cron": "@daily"}));
    alias.type_name = "io.kestra.core.models.triggers.types.Schedule".to_owned();
    assert!(Schedule::from_trigger(&alias).is_ok());
}

#[test]
fn cron_errors_name_the_field() {
    assert_eq!(
        saker_model::trigger_type("Schedule").map(|t| t.name),
        Some(Schedule::TYPE)
    );
    let message = |properties: Value| {
        Schedule::from_trigger(&trigger(properties))
            .expect_err("invalid")
            .to_string()
    };
    assert_eq!(
        message(json!({"cron": "61 * * * *"})),
        "'cron': '61 * * * *' is not a valid cron expression: minute (0-59) field '61': \
         number out of bounds; see https://crontab.guru"
    );
    let bad_character = message(json!({"cron": "* * * * x"}));
    assert!(
        bad_character.contains(
            "day-of-week (0-7 or SUN-SAT, 0 and 7 are Sunday) field 'x': illegal character 'x'"
        ),
        "{bad_character}"
    );
    let range = message(json!({"cron": "5-2 * * * *"}));
    assert!(
        range.contains("minute (0-59) field '5-2': range out of bounds"),
        "{range}"
    );
    let seconds = message(json!({"cron": "0 9 * * *", "withSeconds": true}));
    assert!(
        seconds.contains("expected 6 fields (with 'withSeconds: true'): second minute hour day-of-month month day-of-week; found 5"),
        "{seconds}"
    );
    assert!(message(json!({"cron": "  "})).contains("it is empty"));
}

#[test]
fn schedules_of_a_flow() {
    let flow = parse_flow(
        "id: f\nnamespace: n\ntasks:\n  - {id: t, type: Log, message: x}\ntriggers:\n  - {id: a, type: Schedule, cron: '@hourly'}\n  - {id: w, type: io.kestra.plugin.core.trigger.Webhook, key: k}\n  - {id: off, type: Schedule, cron: '@daily', disabled: true}\n  - {id: b, type: Schedule, cron: '0 9 * * *', timezone: Asia/Tokyo}\n",
    )
    .expect("valid");
    let ids: Vec<String> = schedules(&flow)
        .into_iter()
        .map(|s| s.expect("typed").trigger_id)
        .collect();
    assert_eq!(ids, ["a", "b"]);
}

#[test]
fn a_cron_far_in_the_future_ends() {
    let s = cron("0 0 1 1 *");
    // Croner searches up to the year 5000.
    let late = Utc
        .with_ymd_and_hms(4999, 6, 1, 0, 0, 0)
        .single()
        .expect("a date");
    assert_eq!(s.next_after(late), Some(utc("5000-01-01T00:00:00Z")));
    assert_eq!(s.next_after(utc("5000-01-01T00:00:00Z")), None);
    assert_eq!(s.previous_before(late), Some(utc("4999-01-01T00:00:00Z")));
}
