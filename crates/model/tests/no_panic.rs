//! Bad input gets a clear error, never a panic (DESIGN.md, invariant 6): random text, YAML-like
//! token soup and mutations of a real flow all go through `parse_flow`, and random strings
//! through durations and input coercion.

use proptest::prelude::*;
use saker_model::{Flow, coerce_inputs, duration, parse_flow};
use serde_json::{Map, Value};

const SAMPLE: &str = r#"id: sample
namespace: company.team
labels:
  team: data
inputs:
  - id: day
    type: DATE
    defaults: 2026-11-22
  - id: pick
    type: SELECT
    values: [a, b]
variables:
  greeting: "hello {{ inputs.day }}"
pluginDefaults:
  - type: io.kestra.plugin.core.log.Log
    values:
      level: INFO
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "{{ vars.greeting }}"
    retry:
      type: exponential
      interval: PT0.25s
      maxInterval: PT5S
  - id: shell
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo hi
    env: {A: "1"}
    timeout: PT1M
errors:
  - id: failed
    type: io.kestra.plugin.core.execution.Fail
outputs:
  - id: out
    type: STRING
    value: "{{ outputs.hello }}"
triggers:
  - id: hourly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
"#;

/// Flowable tasks nested in each other, a Dag, a Pause with resume inputs, trigger
/// conditions and preconditions, SLAs and a listener: the readers of these parts are mutated
/// too.
const FLOWABLE_SAMPLE: &str = r#"id: flowables
namespace: company.team
sla:
  - {id: slow, type: MAX_DURATION, behavior: FAIL, duration: PT1H}
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.ForEach
    values: '["a", "b"]'
    concurrencyLimit: 0
    tasks:
      - id: branch
        type: io.kestra.plugin.core.flow.Switch
        value: "{{ taskrun.value }}"
        cases:
          a:
            - {id: on-a, type: Log, message: a}
        defaults:
          - id: graph
            type: io.kestra.plugin.core.flow.Dag
            tasks:
              - task: {id: d1, type: Log, message: x}
              - task: {id: d2, type: Log, message: y}
                dependsOn: [d1]
  - id: hold
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT1S
    onResume:
      - {id: ok, type: BOOLEAN}
    onPause: {id: paused, type: Log, message: p}
  - id: until
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ true }}"
    checkFrequency: {maxIterations: 3, interval: PT0.1S}
    tasks:
      - {id: count, type: Return, format: "1"}
listeners:
  - conditions:
      - {type: io.kestra.plugin.core.condition.ExecutionStatus, in: [FAILED]}
    tasks:
      - {id: notify, type: Log, message: failed}
triggers:
  - id: on-flow
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - id: both
        type: io.kestra.plugin.core.condition.MultipleCondition
        window: P1D
        conditions:
          a: {type: io.kestra.plugin.core.condition.ExecutionFlow, namespace: n, flowId: a}
    preconditions:
      flows:
        - {namespace: n, flowId: b, states: [SUCCESS]}
  - id: weekdays
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
    conditions:
      - {type: io.kestra.plugin.core.condition.DayWeekInMonth, dayOfWeek: MONDAY, dayInMonth: LAST}
"#;

const TOKENS: &[&str] = &[
    "id: ",
    "namespace: ",
    "tasks:",
    "type: ",
    "Log",
    "message: ",
    "dependsOn: ",
    "cases:",
    "then:",
    "Switch",
    "io.kestra.plugin.core.flow.Dag",
    "- ",
    "  ",
    "    ",
    "\n",
    ":",
    "{",
    "}",
    "[",
    "]",
    ",",
    "'",
    "\"",
    "&a ",
    "*a",
    "? ",
    "|",
    ">",
    "#",
    "---",
    "...",
    "!!str ",
    "!!int ",
    "{{ x }}",
    "retry:",
    "interval: ",
    "PT1S",
    "P",
    "-1",
    "0x1F",
    "1e999",
    "~",
    "null",
    "true",
    "inputs:",
    "defaults: ",
    "INT",
    "pluginDefaults:",
    "values:",
    "forced: true",
    "labels:",
    "key: ",
    "value: ",
    "triggers:",
    "\t",
    "é",
    "\u{0}",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..80).prop_map(|t| t.concat())
}

/// One edit of the sample: delete a span, insert a token, or repeat a line.
#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, &'static str),
    RepeatLine(usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<usize>(), 1usize..20).prop_map(|(at, len)| Edit::Delete(at, len)),
        (any::<usize>(), prop::sample::select(TOKENS)).prop_map(|(at, t)| Edit::Insert(at, t)),
        any::<usize>().prop_map(Edit::RepeatLine),
    ];
    prop::collection::vec(edit, 1..6)
}

fn apply(sample: &str, edits: &[Edit]) -> String {
    let mut text: Vec<char> = sample.chars().collect();
    for edit in edits {
        match edit {
            Edit::Delete(at, len) => {
                let start = at % (text.len() + 1);
                let end = (start + len).min(text.len());
                text.drain(start..end);
            }
            Edit::Insert(at, token) => {
                let at = at % (text.len() + 1);
                text.splice(at..at, token.chars());
            }
            Edit::RepeatLine(n) => {
                let s: String = text.iter().collect();
                let lines: Vec<&str> = s.split_inclusive('\n').collect();
                if !lines.is_empty() {
                    let i = n % lines.len();
                    let mut out: Vec<&str> = lines.clone();
                    out.insert(i, lines[i]);
                    text = out.concat().chars().collect();
                }
            }
        }
    }
    text.into_iter().collect()
}

/// A rejected flow must carry at least one diagnostic, each inside the text.
fn check(source: &str) -> Option<Flow> {
    match parse_flow(source) {
        Ok(flow) => Some(flow),
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty(), "rejected without a diagnostic");
            let lines = source.lines().count().max(1) + 1;
            for d in &diagnostics {
                assert!(
                    d.line >= 1 && d.line <= lines,
                    "line {} outside the text: {d}",
                    d.line
                );
                assert!(d.column >= 1, "column 0: {d}");
            }
            None
        }
    }
}

#[test]
fn the_samples_are_valid() {
    let flow = check(SAMPLE).expect("the sample flow is valid");
    assert_eq!(flow.tasks.len(), 2);
    let flow = check(FLOWABLE_SAMPLE).expect("the flowable sample is valid");
    assert_eq!(flow.all_tasks().len(), 11);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(source in any::<String>()) {
        check(&source);
    }

    #[test]
    fn yaml_like_token_soup_never_panics(source in token_soup()) {
        check(&source);
    }

    #[test]
    fn mutated_flows_never_panic(edits in edits(), flowables in any::<bool>()) {
        let source = apply(if flowables { FLOWABLE_SAMPLE } else { SAMPLE }, &edits);
        if let Some(flow) = check(&source) {
            // What validates can be used: inputs coerce without panicking either.
            let _ = coerce_inputs(&flow.inputs, Map::new());
        }
    }

    #[test]
    fn durations_never_panic(text in any::<String>(), iso in "[+-]?[Pp][0-9.,DTHMSdthms+-]{0,12}") {
        let _ = duration::parse(&text);
        if let Ok(d) = duration::parse_iso8601(&iso) {
            prop_assert_eq!(duration::parse_iso8601(&duration::format_iso8601(d)), Ok(d));
        }
    }

    #[test]
    fn coercion_never_panics(raw in any::<String>()) {
        let flow = parse_flow(
            "id: c\nnamespace: n\ninputs:\n  - {id: s, type: STRING}\n  - {id: i, type: INT, min: 1}\n  - {id: f, type: FLOAT}\n  - {id: b, type: BOOLEAN}\n  - {id: dt, type: DATETIME}\n  - {id: d, type: DATE}\n  - {id: t, type: TIME}\n  - {id: du, type: DURATION}\n  - {id: j, type: JSON}\n  - {id: y, type: YAML}\n  - {id: e, type: ENUM, values: [a]}\n  - {id: m, type: MULTISELECT, values: [a]}\n  - {id: a, type: ARRAY, itemType: INT}\n  - {id: u, type: URI}\n  - {id: em, type: EMAIL}\n  - {id: se, type: SECRET}\ntasks:\n  - {id: t, type: Return}\n",
        ).expect("valid");
        for input in &flow.inputs {
            let _ = input.coerce(&Value::String(raw.clone()));
        }
    }
}
