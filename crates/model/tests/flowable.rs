//! Flowable tasks as the engine receives them: children by property, Switch cases, Dag
//! dependencies, Pause's onPause and onResume, and names by alias.

use saker_model::{InputType, TaskKind, parse_flow, task_type};

const FLOW: &str = r#"
id: flowables
namespace: company.team
tasks:
  - id: check
    type: io.kestra.core.tasks.flows.If
    condition: "{{ inputs.go }}"
    then:
      - id: yes
        type: Log
        message: yes
    else:
      - id: no
        type: Log
        message: no
    errors:
      - id: oops
        type: Log
        message: oops
    finally:
      - id: always
        type: Log
        message: done
  - id: route
    type: Switch
    value: "{{ inputs.kind }}"
    cases:
      A:
        - id: a
          type: Log
          message: a
      2:
        - id: two
          type: Log
          message: two
    defaults:
      - id: other
        type: Log
        message: other
  - id: graph
    type: io.kestra.plugin.core.flow.Dag
    concurrent: 2
    tasks:
      - task:
          id: d1
          type: Log
          message: d1
      - task:
          id: d2
          type: Log
          message: d2
        dependsOn: [d1]
  - id: loop
    type: io.kestra.plugin.core.flow.ForEach
    values: '["x", "y"]'
    concurrencyLimit: 0
    tasks:
      - id: par
        type: io.kestra.plugin.core.flow.Parallel
        tasks:
          - id: inner
            type: Log
            message: "{{ parent.taskrun.value }}"
  - id: hold
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT1M
    behavior: warn
    onPause:
      id: paused
      type: Log
      message: paused
    onResume:
      - id: approved
        type: BOOLEAN
        defaults: false
  - id: until
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ outputs.count.value == '3' }}"
    checkFrequency:
      maxIterations: 5
      interval: PT0.1S
    tasks:
      - id: count
        type: Return
        format: "{{ outputs.until.iterationCount }}"
"#;

#[test]
fn children_are_typed_tasks_by_property() {
    let flow = parse_flow(FLOW).expect("valid flow");
    let check = &flow.tasks[0];
    assert_eq!(check.kind, TaskKind::If);
    assert_eq!(check.type_name, "io.kestra.plugin.core.flow.If");
    let lists: Vec<&str> = check.subtasks.keys().map(String::as_str).collect();
    assert_eq!(lists, ["then", "else", "errors", "finally"]);
    assert_eq!(check.subtasks["then"][0].id, "yes");
    assert_eq!(check.str_prop("condition"), Some("{{ inputs.go }}"));

    let route = &flow.tasks[1];
    assert_eq!(route.kind, TaskKind::Switch);
    let cases: Vec<&str> = route.cases.keys().map(String::as_str).collect();
    assert_eq!(cases, ["A", "2"], "case values are kept as text");
    assert_eq!(route.cases["2"][0].id, "two");
    assert_eq!(route.subtasks["defaults"][0].id, "other");
    assert!(!route.properties.contains_key("cases"));

    let graph = &flow.tasks[2];
    assert_eq!(graph.kind, TaskKind::Dag);
    let dag: Vec<(&str, &[String])> = graph.subtasks["tasks"]
        .iter()
        .map(|t| (t.id.as_str(), t.depends_on.as_slice()))
        .collect();
    assert_eq!(dag, [("d1", &[][..]), ("d2", &["d1".to_owned()][..])]);
    assert_eq!(graph.properties["concurrent"], 2);

    let each = &flow.tasks[3];
    assert_eq!(each.kind, TaskKind::ForEach);
    assert_eq!(each.properties["values"], r#"["x", "y"]"#);
    assert_eq!(each.properties["concurrencyLimit"], 0);
    assert_eq!(each.subtasks["tasks"][0].subtasks["tasks"][0].id, "inner");

    let hold = &flow.tasks[4];
    assert_eq!(hold.kind, TaskKind::Pause);
    assert_eq!(hold.properties["behavior"], "WARN");
    assert_eq!(hold.subtasks["onPause"][0].id, "paused");
    assert_eq!(hold.on_resume.len(), 1);
    assert_eq!(hold.on_resume[0].id, "approved");
    assert_eq!(hold.on_resume[0].input_type, InputType::Boolean);

    let until = &flow.tasks[5];
    assert_eq!(until.kind, TaskKind::LoopUntil);
    assert_eq!(
        until.properties["checkFrequency"],
        serde_json::json!({"maxIterations": 5, "interval": "PT0.1S"})
    );
}

#[test]
fn every_nested_task_is_found() {
    let flow = parse_flow(FLOW).expect("valid flow");
    for id in [
        "yes", "oops", "always", "a", "two", "other", "d2", "inner", "paused", "count",
    ] {
        assert!(flow.find_task(id).is_some(), "{id}");
    }
    let ids: Vec<&str> = flow.tasks[1].walk().iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["route", "other", "a", "two"]);
}

#[test]
fn flowable_names_and_aliases_resolve() {
    for (name, kind) in [
        ("io.kestra.plugin.core.flow.If", TaskKind::If),
        ("io.kestra.core.tasks.flows.Switch", TaskKind::Switch),
        ("Sequential", TaskKind::Sequential),
        ("io.kestra.core.tasks.flows.Parallel", TaskKind::Parallel),
        ("io.kestra.plugin.core.flow.ForEach", TaskKind::ForEach),
        (
            "io.kestra.core.tasks.flows.EachSequential",
            TaskKind::EachSequential,
        ),
        (
            "io.kestra.core.tasks.flows.EachParallel",
            TaskKind::EachParallel,
        ),
        (
            "io.kestra.core.tasks.flows.AllowFailure",
            TaskKind::AllowFailure,
        ),
        ("io.kestra.core.tasks.flows.Dag", TaskKind::Dag),
        (
            "io.kestra.core.tasks.flows.Worker",
            TaskKind::WorkingDirectory,
        ),
        (
            "io.kestra.core.tasks.flows.WorkingDirectory",
            TaskKind::WorkingDirectory,
        ),
        ("io.kestra.core.tasks.flows.Pause", TaskKind::Pause),
        ("io.kestra.plugin.core.flow.Sleep", TaskKind::Sleep),
        ("io.kestra.plugin.core.flow.WaitFor", TaskKind::LoopUntil),
        ("io.kestra.plugin.core.flow.LoopUntil", TaskKind::LoopUntil),
    ] {
        assert_eq!(task_type(name).map(|t| t.kind), Some(kind), "{name}");
    }
    assert_eq!(TaskKind::WaitFor, TaskKind::LoopUntil);
    assert!(matches!(
        task_type("WaitFor").map(|t| t.kind),
        Some(TaskKind::WaitFor)
    ));
    assert!(TaskKind::Dag.is_flowable());
    assert!(!TaskKind::Sleep.is_flowable());
    assert!(!TaskKind::Log.is_flowable());
}
