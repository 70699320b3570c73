//! Flow-level parts around the tasks: triggers' conditions and preconditions, SLAs, listeners
//! and `extend`, as the engine receives them.

use std::time::Duration;

use saker_model::condition::{
    CalendarRule, Condition, DayInMonth, FilterField, FilterType, NamespaceComparison,
    TimeWindowType,
};
use saker_model::{ExecutionFacts, SlaBehavior, SlaKind, parse_flow};

fn valid(source: &str) -> saker_model::Flow {
    parse_flow(source).unwrap_or_else(|d| {
        let lines: Vec<String> = d.iter().map(ToString::to_string).collect();
        panic!("flow rejected:\n{}", lines.join("\n"))
    })
}

#[test]
fn flow_trigger_conditions_are_typed_and_hold_on_facts() {
    let flow = valid(
        r#"
id: listener
namespace: company.team
tasks:
  - {id: t, type: Log, message: x}
triggers:
  - id: on-orders
    type: io.kestra.plugin.core.trigger.Flow
    states: [success, WARNING]
    inputs:
      from: "{{ outputs.only.value }}"
    conditions:
      - type: io.kestra.core.models.conditions.types.ExecutionStatusCondition
        in: [SUCCESS]
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: company.sales
        flowId: orders
      - type: io.kestra.plugin.core.condition.ExecutionNamespace
        namespace: company
        prefix: true
      - type: io.kestra.plugin.core.condition.ExpressionCondition
        expression: "{{ trigger.state == 'SUCCESS' }}"
      - id: both
        type: io.kestra.plugin.core.condition.MultipleCondition
        window: P1D
        windowAdvance: P0D
        conditions:
          a:
            type: io.kestra.plugin.core.condition.ExecutionFlow
            namespace: company.sales
            flowId: a
          b:
            type: io.kestra.plugin.core.condition.ExecutionFlow
            namespace: company.sales
            flowId: b
"#,
    );
    let trigger = &flow.triggers[0];
    assert_eq!(trigger.flow_states(), ["SUCCESS", "WARNING"]);
    assert_eq!(trigger.conditions.len(), 5);
    let facts = ExecutionFacts {
        namespace: "company.sales",
        flow_id: "orders",
        state: "SUCCESS",
    };
    let answers: Vec<Option<bool>> = trigger
        .conditions
        .iter()
        .map(|c| c.holds_for(&facts))
        .collect();
    assert_eq!(answers, [Some(true), Some(true), Some(true), None, None]);
    assert_eq!(
        trigger.conditions[2],
        Condition::ExecutionNamespace {
            namespace: "company".to_owned(),
            comparison: NamespaceComparison::Prefix
        }
    );
    let Condition::Multiple(multiple) = &trigger.conditions[4] else {
        panic!("a MultipleCondition");
    };
    assert_eq!(multiple.id, "both");
    assert!(multiple.reset_on_success);
    assert_eq!(
        multiple.time_window.window,
        Some(Duration::from_secs(86_400))
    );
    assert_eq!(multiple.time_window.window_advance, Some(Duration::ZERO));
    let names: Vec<&str> = multiple.conditions.keys().map(String::as_str).collect();
    assert_eq!(names, ["a", "b"]);
}

/// Kestra's Not and Or combine conditions; on a Schedule they may hold only what a schedule
/// can decide, and a MultipleCondition cannot be inside them.
#[test]
fn not_and_or_combine_conditions() {
    let flow = valid(
        r#"
id: combined
namespace: company.team
tasks:
  - {id: t, type: Log, message: x}
triggers:
  - id: on-flow
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.Or
        conditions:
          - type: io.kestra.plugin.core.condition.ExecutionStatus
            in: [FAILED]
          - type: io.kestra.plugin.core.condition.ExecutionNamespace
            namespace: company.sales
      - type: io.kestra.plugin.core.condition.NotCondition
        conditions:
          - type: io.kestra.plugin.core.condition.ExecutionFlow
            namespace: company.sales
            flowId: noisy
  - id: weekdays
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
    conditions:
      - type: io.kestra.plugin.core.condition.Not
        conditions:
          - type: io.kestra.plugin.core.condition.Weekend
"#,
    );
    let on_flow = &flow.triggers[0].conditions;
    let facts = |flow_id| ExecutionFacts {
        namespace: "company.sales",
        flow_id,
        state: "SUCCESS",
    };
    let held =
        |id| -> Vec<Option<bool>> { on_flow.iter().map(|c| c.holds_for(&facts(id))).collect() };
    assert_eq!(held("orders"), [Some(true), Some(true)]);
    assert_eq!(held("noisy"), [Some(true), Some(false)]);
    assert!(matches!(&flow.triggers[1].conditions[0], Condition::Not(inner) if inner.len() == 1));

    let refused = parse_flow(
        r#"
id: refused
namespace: company.team
tasks:
  - {id: t, type: Log, message: x}
triggers:
  - id: weekdays
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
    conditions:
      - type: io.kestra.plugin.core.condition.Or
        conditions:
          - type: io.kestra.plugin.core.condition.ExecutionStatus
            in: [FAILED]
  - id: on-flow
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.Not
        conditions:
          - id: both
            type: io.kestra.plugin.core.condition.MultipleCondition
            conditions:
              a: {type: io.kestra.plugin.core.condition.ExecutionFlow, namespace: n, flowId: a}
"#,
    )
    .unwrap_err()
    .iter()
    .map(|d| d.message.clone())
    .collect::<Vec<_>>()
    .join("\n");
    assert!(
        refused.contains("cannot be used on a Schedule trigger"),
        "{refused}"
    );
    assert!(
        refused.contains("cannot be inside a Not or an Or"),
        "{refused}"
    );
}

#[test]
fn a_flow_trigger_without_states_listens_to_terminated_ones() {
    let flow = valid(
        "id: l\nnamespace: n\ntasks:\n  - {id: t, type: Log, message: x}\ntriggers:\n  - id: f\n    type: io.kestra.plugin.core.trigger.Flow\n",
    );
    let states = flow.triggers[0].flow_states();
    assert!(states.contains(&"FAILED".to_owned()) && states.contains(&"SUCCESS".to_owned()));
    assert!(!states.contains(&"RUNNING".to_owned()));
}

#[test]
fn preconditions_are_typed() {
    let flow = valid(
        r#"
id: pre
namespace: company.team
tasks:
  - {id: t, type: Log, message: x}
triggers:
  - id: flow
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: flow
      timeWindow:
        type: DAILY_TIME_DEADLINE
        deadline: "09:00:00"
      flows:
        - namespace: company.sales
          flowId: a
          states: [SUCCESS, WARNING]
          labels:
            team: sales
        - namespace: company.sales
      where:
        - id: f1
          operand: OR
          filters:
            - field: NAMESPACE
              type: STARTS_WITH
              value: company
            - field: STATE
              type: IN
              values: [SUCCESS, FAILED]
"#,
    );
    let pre = flow.triggers[0]
        .preconditions
        .as_ref()
        .expect("preconditions");
    assert_eq!(pre.id.as_deref(), Some("flow"));
    assert_eq!(
        pre.time_window.window_type,
        TimeWindowType::DailyTimeDeadline
    );
    assert_eq!(
        pre.time_window.deadline.map(|t| t.to_string()),
        Some("09:00:00".to_owned())
    );
    assert_eq!(pre.flows.len(), 2);
    assert_eq!(pre.flows[0].states, ["SUCCESS", "WARNING"]);
    assert_eq!(pre.flows[0].labels["team"], "sales");
    assert_eq!(pre.flows[1].flow_id, None);
    let group = &pre.filters[0];
    assert_eq!(group.filters[0].field, FilterField::Namespace);
    assert_eq!(group.filters[0].filter_type, FilterType::StartsWith);
    assert_eq!(group.filters[1].values, ["SUCCESS", "FAILED"]);
}

#[test]
fn schedule_conditions_are_typed_and_evaluated_on_rendered_dates() {
    let flow = valid(
        r#"
id: sched
namespace: company.team
tasks:
  - {id: t, type: Log, message: x}
triggers:
  - id: daily
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
    conditions:
      - type: io.kestra.plugin.core.condition.DayWeekInMonth
        dayOfWeek: MONDAY
        dayInMonth: FIRST
      - type: io.kestra.plugin.core.condition.Weekend
        date: "{{ trigger.date | dateAdd(1, 'DAYS') }}"
      - type: io.kestra.core.models.conditions.types.DateTimeBetweenCondition
        after: "2024-01-01T00:00:00Z"
"#,
    );
    let conditions = &flow.triggers[0].conditions;
    let Condition::Calendar(first_monday) = &conditions[0] else {
        panic!("a calendar condition");
    };
    assert_eq!(first_monday.date, "{{ trigger.date }}");
    assert!(matches!(
        first_monday.rule,
        CalendarRule::DayWeekInMonth {
            day_in_month: DayInMonth::First,
            ..
        }
    ));
    assert_eq!(first_monday.holds_at("2024-05-06T09:00:00+02:00"), Ok(true));
    assert_eq!(
        first_monday.holds_at("2024-05-13T09:00:00+02:00"),
        Ok(false)
    );
    let Condition::Calendar(weekend) = &conditions[1] else {
        panic!("a calendar condition");
    };
    assert_eq!(weekend.date, "{{ trigger.date | dateAdd(1, 'DAYS') }}");
    let Condition::Calendar(after) = &conditions[2] else {
        panic!("a calendar condition");
    };
    assert_eq!(after.holds_at("2023-12-31T23:00:00Z"), Ok(false));
    assert_eq!(after.holds_at("2024-06-01T00:00:00Z"), Ok(true));

    let schedule = saker_model::Schedule::from_trigger(&flow.triggers[0]).expect("a schedule");
    assert_eq!(
        &schedule.conditions, conditions,
        "the typed schedule carries them"
    );
}

#[test]
fn slas_listeners_and_extend() {
    let flow = valid(
        r#"
id: around
namespace: company.team
extend:
  title: A blueprint
  tags: [demo]
sla:
  - id: slow
    type: MAX_DURATION
    behavior: CANCEL
    duration: PT0.5S
    labels:
      sla: missed
  - id: check
    type: EXECUTION_ASSERTION
    behavior: NONE
    assert: "{{ inputs.x != 'bad' }}"
tasks:
  - {id: t, type: Log, message: x}
listeners:
  - description: on failure
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [FAILED]
    tasks:
      - id: notify
        type: Log
        message: failed
"#,
    );
    assert_eq!(
        flow.sla[0].kind,
        SlaKind::MaxDuration(Duration::from_millis(500))
    );
    assert_eq!(flow.sla[0].behavior, SlaBehavior::Cancel);
    assert_eq!(flow.sla[0].labels["sla"], "missed");
    assert_eq!(
        flow.sla[1].kind,
        SlaKind::ExecutionAssertion("{{ inputs.x != 'bad' }}".to_owned())
    );
    let listener = &flow.listeners[0];
    assert_eq!(listener.description.as_deref(), Some("on failure"));
    assert_eq!(listener.tasks[0].id, "notify");
    assert!(
        flow.find_task("notify").is_some(),
        "listener tasks are flow tasks"
    );
    let failed = ExecutionFacts {
        namespace: "company.team",
        flow_id: "around",
        state: "FAILED",
    };
    assert_eq!(listener.conditions[0].holds_for(&failed), Some(true));
    assert_eq!(flow.warnings.len(), 1);
    assert_eq!((flow.warnings[0].line, flow.warnings[0].column), (4, 1));
    assert!(flow.warnings[0].message.contains("'extend'"));
    assert!(!flow.extras.contains_key("listeners"));
    assert!(flow.extras.contains_key("extend"));
}
