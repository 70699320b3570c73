//! An unknown type is reported once per flow, shortly, with "did you mean" only for near
//! names, and a task of an unknown type gets no property error.

use saker_model::parse_flow;

fn messages(source: &str) -> Vec<String> {
    match parse_flow(source) {
        Ok(_) => panic!("the flow validated:\n{source}"),
        Err(diagnostics) => diagnostics.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn an_unknown_type_is_reported_once_with_the_lines_of_its_other_uses() {
    let found = messages(
        "id: u\nnamespace: n\ntasks:\n  - {id: a, type: io.kestra.plugin.snowflake.Query}\n  - {id: b, type: io.kestra.plugin.snowflake.Query}\n  - {id: c, type: com.example.Thing}\n  - id: d\n    type: io.kestra.plugin.core.flow.Sequential\n    tasks:\n      - {id: e, type: io.kestra.plugin.snowflake.Query}\n",
    );
    assert_eq!(
        found,
        [
            "4:19: unknown task type 'io.kestra.plugin.snowflake.Query': it belongs to the Kestra plugin 'io.kestra.plugin.snowflake', which is a plugin Saker does not have (also used at lines 5, 10)",
            "6:19: unknown task type 'com.example.Thing': Saker has no type of this name (`saker plugins list` lists the types it has)",
        ]
    );
}

#[test]
fn an_unknown_trigger_type_is_reported_once() {
    let found = messages(
        "id: u\nnamespace: n\ntasks:\n  - {id: a, type: io.kestra.plugin.core.log.Log, message: hi}\ntriggers:\n  - {id: t1, type: com.example.Poll, interval: PT1M}\n  - {id: t2, type: com.example.Poll}\n",
    );
    assert_eq!(
        found,
        [
            "6:20: unknown trigger type 'com.example.Poll': Saker has no type of this name (`saker plugins list` lists the types it has) (also used at line 7)"
        ]
    );
}

#[test]
fn near_names_get_a_suggestion_and_far_ones_none() {
    let found = messages(
        "id: u\nnamespace: n\ntasks:\n  - {id: a, type: io.kestra.plugin.core.flow.Foreach, values: [1], tasks: [{id: x, type: Log, message: hi}]}\n  - {id: b, type: io.kestra.plugin.core.log.Logg, message: hi}\n  - {id: c, type: io.kestra.plugin.core.flow.Loop}\n",
    );
    assert_eq!(
        found,
        [
            "4:19: unknown task type 'io.kestra.plugin.core.flow.Foreach', did you mean 'io.kestra.plugin.core.flow.ForEach'?",
            "5:19: unknown task type 'io.kestra.plugin.core.log.Logg', did you mean 'io.kestra.plugin.core.log.Log'?",
            "6:19: unknown task type 'io.kestra.plugin.core.flow.Loop': Saker has no type of this name (`saker plugins list` lists the types it has)",
        ]
    );
}

#[test]
fn a_task_of_an_unknown_type_gets_no_property_error() {
    // `descripton` would be a misspelt common property on a known type; `sql` and `url` are
    // the unknown type's own; no required property is asked for.
    let found = messages(
        "id: u\nnamespace: n\ntasks:\n  - id: q\n    type: io.kestra.plugin.snowflake.Query\n    descripton: x\n    sql: select 1\n    url: jdbc:oracle:thin:@db\n",
    );
    assert_eq!(
        found,
        [
            "5:11: unknown task type 'io.kestra.plugin.snowflake.Query': it belongs to the Kestra plugin 'io.kestra.plugin.snowflake', which is a plugin Saker does not have"
        ]
    );
}

#[test]
fn children_of_a_task_of_an_unknown_type_are_still_checked() {
    let found = messages(
        "id: u\nnamespace: n\ntasks:\n  - id: w\n    type: com.example.Wrapper\n    tasks:\n      - {id: inner, type: io.kestra.plugin.core.log.Log}\n",
    );
    assert_eq!(
        found,
        [
            "5:11: unknown task type 'com.example.Wrapper': Saker has no type of this name (`saker plugins list` lists the types it has)",
            "7:9: task 'inner' (io.kestra.plugin.core.log.Log) is missing required property 'message'",
        ]
    );
}

#[test]
fn condition_types_get_suggestions_only_when_near() {
    let found = messages(
        "id: u\nnamespace: n\ntasks:\n  - {id: a, type: Log, message: hi}\ntriggers:\n  - id: s\n    type: Schedule\n    cron: '0 * * * *'\n    conditions:\n      - type: io.kestra.plugin.core.condition.HasRetryAttempt\n      - type: io.kestra.plugin.core.condition.DayWek\n        dayOfWeek: MONDAY\n",
    );
    assert_eq!(
        found,
        [
            "10:15: unknown condition type 'io.kestra.plugin.core.condition.HasRetryAttempt'",
            "11:15: unknown condition type 'io.kestra.plugin.core.condition.DayWek', did you mean 'io.kestra.plugin.core.condition.DayWeek'?",
        ]
    );
}

#[test]
fn many_uses_of_an_unknown_type_are_counted_past_ten_lines() {
    let mut source = "id: u\nnamespace: n\ntasks:\n".to_owned();
    for i in 0..13 {
        source.push_str(&format!("  - {{id: t{i}, type: com.example.Thing}}\n"));
    }
    let found = messages(&source);
    assert_eq!(
        found,
        [
            "4:20: unknown task type 'com.example.Thing': Saker has no type of this name (`saker plugins list` lists the types it has) (also used at lines 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 and 2 more)"
        ]
    );
}
