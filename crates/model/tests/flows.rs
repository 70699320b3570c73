//! What a valid flow turns into: typed fields, canonical types, merged defaults, children of
//! flowable tasks.

use std::time::Duration;

use saker_model::catalog::PropSpec;
use saker_model::{
    Catalog, ConcurrencyBehavior, Flow, InputType, Level, RetryBehavior, RetryPolicy, Shape,
    TaskKind, TaskType, parse_flow, parse_flow_with,
};
use serde_json::json;

fn valid(source: &str) -> Flow {
    match parse_flow(source) {
        Ok(flow) => flow,
        Err(diagnostics) => panic!(
            "expected a valid flow, got:\n{}",
            diagnostics
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn messages(source: &str) -> Vec<String> {
    match parse_flow(source) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn the_seed_flows_validate() {
    let hello = valid(
        "id: secret_test\nnamespace: company.team\n\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: \"You can see my secret token {{ secret('jsonSecret') | jq('.token') }}\"\n",
    );
    assert_eq!(hello.tasks[0].kind, TaskKind::Log);
    assert_eq!(
        hello.tasks[0].str_prop("message"),
        Some("You can see my secret token {{ secret('jsonSecret') | jq('.token') }}")
    );
    let secret = valid(
        "id: my_secret_flow\nnamespace: company.team\ninputs:\n  - id: secret\n    type: SECRET\ntasks:\n  - id: mytask\n    type: io.kestra.plugin.core.log.Log\n    message: task that needs the secret to connect to an external system\noutputs:\n  - id: secret_output\n    type: SECRET\n    value: \"{{ inputs.secret }}\"\n",
    );
    assert_eq!(secret.inputs[0].input_type, InputType::Secret);
    assert!(secret.inputs[0].required);
    assert_eq!(secret.outputs[0].output_type, InputType::Secret);
    assert_eq!(secret.outputs[0].value, json!("{{ inputs.secret }}"));
}

#[test]
fn flow_fields_are_read() {
    let source = "id: full\nnamespace: company.team\nrevision: 3\ndescription: all of it\ndisabled: true\n\
labels:\n  - key: team\n    value: data\n  - key: tier\n    value: 1\n\
variables:\n  first: \"1\"\n  nested: {a: [1, 2]}\n\
concurrency:\n  limit: 2\n  behavior: CANCEL\n\
retry:\n  type: constant\n  interval: PT1S\n  behavior: CREATE_NEW_EXECUTION\n\
sla:\n  - id: slow\n    type: MAX_DURATION\n    behavior: FAIL\n    duration: PT1H\n  - id: checked\n    type: EXECUTION_ASSERTION\n    behavior: NONE\n    assert: \"{{ true }}\"\n\
tasks:\n  - id: t\n    type: Return\n    format: x\n\
errors:\n  - id: e\n    type: Log\n    message: failed\n\
finally:\n  - id: f\n    type: Log\n    message: done\n\
afterExecution:\n  - id: a\n    type: Log\n    message: after\n\
workerSelector:\n  tags: [gpu]\n";
    let flow = valid(source);
    assert_eq!(flow.revision, Some(3));
    assert_eq!(flow.description.as_deref(), Some("all of it"));
    assert!(flow.disabled);
    assert_eq!(flow.labels.get("tier").map(String::as_str), Some("1"));
    assert_eq!(flow.variables["nested"], json!({"a": [1, 2]}));
    let concurrency = flow.concurrency.expect("concurrency");
    assert_eq!(
        (concurrency.limit, concurrency.behavior),
        (2, ConcurrencyBehavior::Cancel)
    );
    assert_eq!(
        flow.retry.as_ref().expect("retry").behavior,
        RetryBehavior::CreateNewExecution
    );
    assert_eq!(flow.sla.len(), 2);
    let ids: Vec<&str> = flow.all_tasks().iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["t", "e", "f", "a"]);
    assert_eq!(flow.extras["workerSelector"], json!({"tags": ["gpu"]}));
    assert_eq!(flow.source, source);
    assert!(flow.find_task("f").is_some());
}

#[test]
fn labels_as_a_map_keep_their_order() {
    let flow = valid(
        "id: l\nnamespace: n\nlabels:\n  z: last\n  a: \"true\"\ntasks:\n  - {id: t, type: Log, message: x}\n",
    );
    let keys: Vec<&str> = flow.labels.keys().map(String::as_str).collect();
    assert_eq!(keys, ["z", "a"]);
}

#[test]
fn aliases_become_canonical_names() {
    let flow = valid(
        "id: a\nnamespace: n\ntasks:\n  - {id: a, type: io.kestra.core.tasks.log.Log, message: x}\n  - {id: b, type: Return}\n  - {id: c, type: Commands, commands: [ls]}\n  - {id: d, type: io.kestra.core.tasks.executions.Fail}\n  - {id: e, type: OutputValues, values: {k: v}}\n",
    );
    let types: Vec<&str> = flow.tasks.iter().map(|t| t.type_name.as_str()).collect();
    assert_eq!(
        types,
        [
            "io.kestra.plugin.core.log.Log",
            "io.kestra.plugin.core.debug.Return",
            "io.kestra.plugin.scripts.shell.Commands",
            "io.kestra.plugin.core.execution.Fail",
            "io.kestra.plugin.core.output.OutputValues",
        ]
    );
}

#[test]
fn common_task_properties_are_typed() {
    let flow = valid(
        "id: c\nnamespace: n\ntasks:\n  - id: t\n    type: shell.Commands\n    commands: [\"exit 3\"]\n    env: {A: \"1\"}\n    timeout: PT5M\n    runIf: \"{{ true }}\"\n    allowFailure: true\n    allowWarning: \"true\"\n    logLevel: warn\n    logToFile: true\n    disabled: false\n    description: d\n    workerGroup: {key: g}\n    retry:\n      type: random\n      minInterval: PT1S\n      maxInterval: PT2S\n      maxAttempts: 2\n  - id: u\n    type: Log\n    message: x\n    timeout: \"{{ vars.t }}\"\n",
    );
    let t = &flow.tasks[0];
    assert_eq!(t.timeout, Some(Duration::from_secs(300)));
    assert_eq!(t.timeout_expression, None);
    assert_eq!(t.run_if.as_deref(), Some("{{ true }}"));
    assert!(t.allow_failure && t.allow_warning && t.log_to_file && !t.disabled);
    assert_eq!(t.log_level, Some(Level::Warn));
    assert_eq!(t.worker_group, Some(json!({"key": "g"})));
    assert_eq!(t.properties["env"], json!({"A": "1"}));
    let retry = t.retry.as_ref().expect("retry");
    assert_eq!(retry.max_attempt, Some(2));
    assert!(matches!(retry.policy, RetryPolicy::Random { .. }));
    assert_eq!(flow.tasks[1].timeout, None);
    assert_eq!(
        flow.tasks[1].timeout_expression.as_deref(),
        Some("{{ vars.t }}")
    );
}

#[test]
fn plugin_defaults_are_merged_into_tasks_and_triggers() {
    let flow = valid(
        r#"id: d
namespace: n
pluginDefaults:
  - type: io.kestra.plugin.core.log.Log
    values:
      level: WARN
      message: from default
  - type: io.kestra.plugin.core.log
    forced: true
    values:
      logLevel: ERROR
  - type: io.kestra.plugin.core.trigger.Schedule
    values:
      timezone: Europe/Paris
taskDefaults:
  - type: io.kestra.plugin.scripts.shell.Commands
    values:
      env: {A: default, B: default}
tasks:
  - id: a
    type: Log
  - id: b
    type: Log
    message: mine
    level: DEBUG
    logLevel: INFO
  - id: c
    type: Commands
    commands: [env]
    env: {B: mine}
triggers:
  - id: every_hour
    type: io.kestra.core.models.triggers.types.Schedule
    cron: "0 * * * *"
"#,
    );
    let (a, b, c) = (&flow.tasks[0], &flow.tasks[1], &flow.tasks[2]);
    assert_eq!(a.str_prop("message"), Some("from default"));
    assert_eq!(a.str_prop("level"), Some("WARN"));
    assert_eq!(b.str_prop("message"), Some("mine"));
    assert_eq!(b.str_prop("level"), Some("DEBUG"));
    assert_eq!(a.log_level, Some(Level::Error));
    assert_eq!(
        b.log_level,
        Some(Level::Error),
        "a forced default overrides the task"
    );
    assert_eq!(c.properties["env"], json!({"B": "mine", "A": "default"}));
    assert_eq!(flow.plugin_defaults.len(), 4);
    let trigger = &flow.triggers[0];
    assert_eq!(trigger.type_name, "io.kestra.plugin.core.trigger.Schedule");
    assert_eq!(trigger.properties["timezone"], json!("Europe/Paris"));
    assert_eq!(trigger.properties["cron"], json!("0 * * * *"));
}

#[test]
fn legacy_input_names_and_types() {
    let flow = valid(
        "id: kv\nnamespace: n\ninputs:\n  - name: namespace\n    type: STRING\n    required: false\n    defaults: io.kestra.tests\n  - id: when\n    type: DATETIME\n    defaults: 2026-11-22T10:00:00Z\n  - id: pick\n    type: MULTISELECT\n    values: [a, b]\n    defaults: [a]\n  - id: nums\n    type: ARRAY\n    itemType: INT\n    defaults: [1, 2]\ntasks:\n  - {id: t, type: Return, format: x}\n",
    );
    assert_eq!(flow.inputs[0].id, "namespace");
    assert!(!flow.inputs[0].required);
    assert_eq!(
        flow.input("nums").and_then(|i| i.item_type),
        Some(InputType::Int)
    );
    assert_eq!(
        flow.input("pick").and_then(|i| i.values.clone()),
        Some(vec!["a".to_owned(), "b".to_owned()])
    );
}

#[test]
fn expressions_stand_in_for_any_shape() {
    valid(
        "id: e\nnamespace: n\ntasks:\n  - id: t\n    type: Commands\n    commands: \"{{ outputs.prev.values.cmds }}\"\n    failFast: \"{{ inputs.strict }}\"\n  - id: l\n    type: Log\n    message: x\n    level: \"{{ inputs.level }}\"\n",
    );
}

#[test]
fn every_mistake_is_reported_in_one_pass() {
    let found = messages(
        "id: Bad Id\nnamespace: n\ninputs:\n  - {id: x, type: NUMBER}\ntasks:\n  - {id: t, type: Log, message: x, level: LOUD}\n  - {id: t, type: Nope}\noutputs:\n  - {id: o, type: STRING}\ntriggers:\n  - {id: s, type: io.kestra.plugin.core.trigger.Schedule}\n",
    );
    assert_eq!(found.len(), 7, "{found:#?}");
    let lines: Vec<&str> = found
        .iter()
        .map(|m| m.split(':').next().unwrap_or_default())
        .collect();
    assert_eq!(lines, ["1", "4", "6", "7", "7", "9", "11"]);
}

/// A flowable task type as a later part would add it: one catalog entry.
const SEQUENTIAL: TaskType = TaskType {
    name: "test.Sequential",
    aliases: &[],
    kind: TaskKind::Log,
    props: &[
        PropSpec {
            name: "tasks",
            shape: Shape::Tasks,
            required: true,
        },
        PropSpec {
            name: "errors",
            shape: Shape::Tasks,
            required: false,
        },
    ],
};

#[test]
fn flowable_tasks_hold_validated_children() {
    let catalog = Catalog::builtin().clone().with_task(SEQUENTIAL);
    let source = "id: f\nnamespace: n\ntasks:\n  - id: outer\n    type: test.Sequential\n    tasks:\n      - id: inner\n        type: Log\n        message: x\n      - id: deeper\n        type: test.Sequential\n        tasks:\n          - {id: leaf, type: Return, format: y}\n";
    let flow = parse_flow_with(source, &catalog).expect("valid with the extra type");
    let ids: Vec<&str> = flow.all_tasks().iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["outer", "inner", "deeper", "leaf"]);
    assert!(
        flow.tasks[0].properties.is_empty(),
        "children are not raw properties"
    );

    let broken = "id: f\nnamespace: n\ntasks:\n  - id: outer\n    type: test.Sequential\n    tasks:\n      - id: outer\n        type: Log\n        mesage: x\n  - id: empty\n    type: test.Sequential\n";
    let found: Vec<String> = parse_flow_with(broken, &catalog)
        .expect_err("invalid")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        found,
        [
            "7:13: duplicate task id 'outer' (already used at line 4)",
            "9:9: unknown property 'mesage' on task 'outer' (io.kestra.plugin.core.log.Log), did you mean 'message'?",
            "10:5: task 'empty' (test.Sequential) is missing required property 'tasks'",
        ]
    );
    assert!(
        parse_flow(source).is_err(),
        "the built-in catalog does not know the test type"
    );
}

#[test]
fn unknown_task_type_without_close_match_points_to_the_list() {
    let found = messages("id: u\nnamespace: n\ntasks:\n  - {id: t, type: com.example.Request}\n");
    assert_eq!(
        found,
        [
            "4:19: unknown task type 'com.example.Request': Saker has no type of this name (`saker plugins list` lists the types it has)"
        ]
    );
}

#[test]
fn types_of_other_plugins_and_of_kestra_tests_say_so() {
    // `session` is the plugin's own property, not a misspelt `version`: no hint for it.
    let found = messages(
        "id: u\nnamespace: n\ntasks:\n  - {id: t, type: io.kestra.plugin.gcp.bigquery.Query, session: x}\n  - {id: r, type: io.kestra.core.tasks.test.Read}\n",
    );
    assert_eq!(
        found,
        [
            "4:19: unknown task type 'io.kestra.plugin.gcp.bigquery.Query': it belongs to the Kestra plugin 'io.kestra.plugin.gcp', of which Saker has only io.kestra.plugin.gcp.cli.GCloudCLI",
            "5:19: unknown task type 'io.kestra.core.tasks.test.Read': it exists only in Kestra's own test suite (test code that no Kestra release ships), so Saker does not provide it",
        ]
    );
}

#[test]
fn retry_of_a_conformance_flow() {
    let flow = valid(
        "id: retry-random\nnamespace: io.kestra.tests\ntasks:\n  - id: failed\n    type: io.kestra.plugin.core.execution.Fail\n    retry:\n      type: random\n      maxAttempt: 3\n      maxDuration: PT15S\n      minInterval: PT0.20S\n      maxInterval: PT0.50S\n",
    );
    let retry = flow.tasks[0].retry.as_ref().expect("retry");
    assert_eq!(retry.max_duration, Some(Duration::from_secs(15)));
    assert_eq!(
        retry.policy,
        RetryPolicy::Random {
            min_interval: Duration::from_millis(200),
            max_interval: Duration::from_millis(500)
        }
    );
}

#[test]
fn a_schedule_with_every_kestra_property_validates() {
    let flow = valid(
        r#"id: scheduled
namespace: company.team
tasks:
  - id: t
    type: Log
    message: "{{ trigger.date }}"
triggers:
  - id: everything
    type: io.kestra.plugin.core.trigger.Schedule
    description: every weekday at 9
    disabled: false
    cron: "0 9 * * MON-FRI"
    withSeconds: false
    timezone: Europe/Paris
    inputs:
      name: scheduled
      when: "{{ trigger.date }}"
    recoverMissedSchedules: LAST
    stopAfter: [FAILED, WARNING]
    conditions:
      - type: io.kestra.plugin.core.condition.DayWeekInMonth
        date: "{{ trigger.date }}"
        dayOfWeek: MONDAY
        dayInMonth: FIRST
    scheduleConditions:
      - type: io.kestra.plugin.core.condition.Weekend
    backfill:
      start: 2024-01-01T00:00:00Z
    lateMaximumDelay: PT1H
    interval: null
    workerGroup:
      key: gpu
    logLevel: WARN
    logToFile: true
    failOnTriggerError: false
    labels:
      team: data
  - id: seconds
    type: io.kestra.core.models.triggers.types.Schedule
    cron: "*/30 * * * * *"
    withSeconds: "true"
  - id: nickname
    type: Schedule
    cron: "@midnight"
    recoverMissedSchedules: none
    disabled: true
"#,
    );
    let found = saker_model::schedule::schedules(&flow);
    assert_eq!(found.len(), 2, "the disabled trigger is left out");
    let everything = found[0].as_ref().expect("typed");
    assert_eq!(everything.trigger_id, "everything");
    assert_eq!(everything.timezone_name(), "Europe/Paris");
    assert_eq!(
        everything.recover,
        saker_model::schedule::RecoverMissed::Last
    );
    assert_eq!(
        everything.unsupported,
        ["conditions", "scheduleConditions", "stopAfter", "backfill"]
    );
    assert_eq!(everything.stop_after, ["FAILED", "WARNING"]);
    assert_eq!(
        everything.late_maximum_delay,
        Some(Duration::from_secs(3600))
    );
    assert_eq!(everything.inputs["name"], json!("scheduled"));
    let seconds = found[1].as_ref().expect("typed");
    assert!(seconds.with_seconds);
    assert!(seconds.unsupported.is_empty());
}
