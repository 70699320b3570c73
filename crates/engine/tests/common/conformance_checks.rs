//! The checks of the conformance files (`conformance.yaml`, `conformance_v2.yaml`) on one
//! ended execution: each key of an entry, read as that file's header documents it.
//!
//! The tree fields of a task run (`value`, `parentTaskRunId`) are read from the task run
//! serialised to JSON under Kestra's names, so these checks compile whether or not
//! `saker_model::TaskRun` has them yet; until it does they find no value and fail.

use saker_engine::display_masked;
use saker_model::{Execution, TaskRun};
use serde_json::{Map, Value};

/// An execution as stored, with the messages of its log lines.
pub struct Observed<'a> {
    pub execution: &'a Execution,
    pub logs: &'a [String],
}

/// Every check of `case` on `observed`; each failure is one message.
pub fn check(case: &Value, observed: &Observed<'_>) -> Vec<String> {
    let mut failures = Vec::new();
    let execution = observed.execution;
    let logs = observed.logs;
    let mut fail = |m: String| failures.push(m);
    if let Some(state) = case["state"].as_str()
        && execution.state.current.as_str() != state
    {
        fail(format!(
            "state {} instead of {state}; logs: {logs:?}",
            execution.state.current
        ));
    }
    if let Some(expected) = case.get("taskRunCount") {
        let got = execution.task_run_list.len() as u64;
        if !count_matches(got, expected) {
            fail(format!(
                "{got} task run(s) instead of {expected}: {:?}",
                task_ids(execution)
            ));
        }
    }
    for (task, expected) in entries(case, "taskRuns") {
        let runs = runs_of(execution, task);
        let states: Vec<&str> = runs.iter().map(|r| r.state.current.as_str()).collect();
        let ok = match expected {
            Value::String(state) => !runs.is_empty() && states.iter().all(|s| s == state),
            Value::Array(list) => {
                states.len() == list.len() && states.iter().zip(list).all(|(s, e)| e == s)
            }
            _ => false,
        };
        if !ok {
            fail(format!("task {task} ended {states:?}, expected {expected}"));
        }
    }
    for (task, expected) in entries(case, "runs") {
        let got = runs_of(execution, task).len() as u64;
        if !count_matches(got, expected) {
            fail(format!(
                "task {task} has {got} task run(s), expected {expected}"
            ));
        }
    }
    for task in case["absent"].as_array().into_iter().flatten() {
        let task = task.as_str().unwrap_or_default();
        if !runs_of(execution, task).is_empty() {
            fail(format!("task {task} should not have run"));
        }
    }
    for (task, expected) in entries(case, "attempts") {
        let got: Vec<u64> = runs_of(execution, task)
            .iter()
            .map(|r| r.attempts.len() as u64)
            .collect();
        if got.is_empty() || !got.iter().all(|n| count_matches(*n, expected)) {
            fail(format!(
                "task {task} made {got:?} attempt(s), expected {expected} for each run"
            ));
        }
    }
    if let Some(order) = case["taskRunOrder"].as_array() {
        let got = task_ids(execution);
        let expected: Vec<&str> = order.iter().filter_map(Value::as_str).collect();
        if !got.starts_with(&expected) {
            fail(format!(
                "task runs in order {got:?}, expected to begin with {expected:?}"
            ));
        }
    }
    check_logs(case, logs, &mut fail);
    if let Some(expected) = case.get("outputs") {
        let shown = display_masked(&Value::Object(execution.outputs.clone()));
        if &shown != expected {
            fail(format!("outputs {shown} instead of {expected}"));
        }
    }
    for (task, outputs) in entries(case, "taskOutputs") {
        match runs_of(execution, task).first() {
            None => fail(format!("task {task} has no task run")),
            Some(run) => {
                if let Some(m) = outputs_mismatch(run, outputs) {
                    fail(format!("task {task}: {m}"));
                }
            }
        }
    }
    for (task, outputs) in entries(case, "anyTaskOutputs") {
        let runs = runs_of(execution, task);
        if !runs.iter().any(|r| outputs_mismatch(r, outputs).is_none()) {
            let shown: Vec<Value> = runs
                .iter()
                .map(|r| display_masked(&Value::Object(r.outputs.clone())))
                .collect();
            fail(format!(
                "no task run of {task} has outputs {outputs}; they have {shown:?}"
            ));
        }
    }
    for expected in case["valueOutputs"].as_array().into_iter().flatten() {
        if let Some(m) = value_outputs_mismatch(execution, expected) {
            fail(m);
        }
    }
    for (task, counts) in entries(case, "histories") {
        let Some(run) = runs_of(execution, task).first().copied() else {
            fail(format!("task {task} has no task run"));
            continue;
        };
        for (state, expected) in counts.as_object().into_iter().flatten() {
            let got = run
                .state
                .histories
                .iter()
                .filter(|h| h.state.as_str() == state)
                .count() as u64;
            if !count_matches(got, expected) {
                fail(format!(
                    "task {task} went {got} time(s) through {state}, expected {expected}"
                ));
            }
        }
    }
    if let Some(expected) = case["stateHistory"].as_array() {
        let got: Vec<&str> = execution
            .state
            .histories
            .iter()
            .map(|h| h.state.as_str())
            .collect();
        let expected: Vec<&str> = expected.iter().filter_map(Value::as_str).collect();
        if !got.starts_with(&expected) {
            fail(format!(
                "went through {got:?}, expected to begin with {expected:?}"
            ));
        }
    }
    for (label, expected) in entries(case, "labels") {
        if !matches(execution.labels.get(label), expected) {
            fail(format!(
                "label {label} is {:?}, expected {expected}",
                execution.labels.get(label)
            ));
        }
    }
    for (label, task) in entries(case, "labelIsTaskRunId") {
        let task = task.as_str().unwrap_or_default();
        let id = runs_of(execution, task).first().map(|r| r.id.clone());
        let got = execution.labels.get(label).and_then(Value::as_str);
        if id.is_none() || got != id.as_deref() {
            fail(format!(
                "label {label} is {got:?}, expected the id of task {task}'s run ({id:?})"
            ));
        }
    }
    if let Some(expected) = case.get("trigger") {
        check_trigger(execution, expected, &mut fail);
    }
    failures
}

fn check_logs(case: &Value, logs: &[String], fail: &mut impl FnMut(String)) {
    for text in case["logsContain"].as_array().into_iter().flatten() {
        let text = text.as_str().unwrap_or_default();
        if !logs.iter().any(|l| l.contains(text)) {
            fail(format!("no log line contains {text:?}; logs: {logs:?}"));
        }
    }
    for text in case["logsAbsent"].as_array().into_iter().flatten() {
        let text = text.as_str().unwrap_or_default();
        if logs.iter().any(|l| l.contains(text)) {
            fail(format!("a log line contains {text:?}"));
        }
    }
}

/// The trigger of the execution as Kestra shows it: its variables, plus `id` and `type`.
fn check_trigger(execution: &Execution, expected: &Value, fail: &mut impl FnMut(String)) {
    let Some(trigger) = execution.trigger.as_deref() else {
        fail("the execution has no trigger".to_owned());
        return;
    };
    let mut shown = trigger.variables.clone();
    shown.insert("id".into(), Value::String(trigger.id.clone()));
    shown.insert("type".into(), Value::String(trigger.type_name.clone()));
    for (key, value) in expected.as_object().into_iter().flatten() {
        if !matches(shown.get(key), value) {
            fail(format!(
                "trigger {key} is {:?}, expected {value}",
                shown.get(key)
            ));
        }
    }
}

/// Why the outputs of `run` do not have `expected` (name -> value), if they do not.
fn outputs_mismatch(run: &TaskRun, expected: &Value) -> Option<String> {
    let shown = display_masked(&Value::Object(run.outputs.clone()));
    for (name, value) in expected.as_object().into_iter().flatten() {
        if !matches(shown.get(name), value) {
            return Some(format!(
                "output {name} is {:?}, expected {value}",
                shown.get(name)
            ));
        }
    }
    None
}

/// `{task, values, outputs}`: the run of `task` at those iteration values has those outputs.
fn value_outputs_mismatch(execution: &Execution, expected: &Value) -> Option<String> {
    let task = expected["task"].as_str().unwrap_or_default();
    let values: Vec<String> = expected["values"]
        .as_array()
        .into_iter()
        .flatten()
        .map(value_text)
        .collect();
    let tree: Vec<Value> = execution
        .task_run_list
        .iter()
        .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
        .collect();
    let found = execution
        .task_run_list
        .iter()
        .zip(&tree)
        .find(|(run, json)| run.task_id == task && value_path(json, &tree) == values);
    match found {
        None => Some(format!(
            "no task run of {task} at values {values:?} (task runs at: {:?})",
            execution
                .task_run_list
                .iter()
                .zip(&tree)
                .filter(|(r, _)| r.task_id == task)
                .map(|(_, j)| value_path(j, &tree))
                .collect::<Vec<_>>()
        )),
        Some((run, _)) => outputs_mismatch(run, &expected["outputs"])
            .map(|m| format!("task {task} at values {values:?}: {m}")),
    }
}

/// The iteration values of a task run (Kestra's `findTaskRunByTaskIdAndValue` path): those
/// of its ancestors through `parentTaskRunId`, outermost first, then its own; nulls skipped.
pub fn value_path(run: &Value, tree: &[Value]) -> Vec<String> {
    let mut path = Vec::new();
    let mut current = Some(run);
    // The depth bound stops a cycle in a corrupt tree from hanging the test.
    for _ in 0..=tree.len() {
        let Some(node) = current else { break };
        if let Some(value) = node.get("value").filter(|v| !v.is_null()) {
            path.push(value_text(value));
        }
        current = node["parentTaskRunId"]
            .as_str()
            .and_then(|parent| tree.iter().find(|t| t["id"].as_str() == Some(parent)));
    }
    path.reverse();
    path
}

/// A value as Kestra compares iteration values: as text.
fn value_text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

fn entries<'a>(case: &'a Value, key: &str) -> impl Iterator<Item = (&'a String, &'a Value)> {
    case[key].as_object().into_iter().flatten()
}

fn runs_of<'a>(execution: &'a Execution, task: &str) -> Vec<&'a TaskRun> {
    execution
        .task_run_list
        .iter()
        .filter(|r| r.task_id == task)
        .collect()
}

fn task_ids(execution: &Execution) -> Vec<&str> {
    execution
        .task_run_list
        .iter()
        .map(|r| r.task_id.as_str())
        .collect()
}

/// `got` is `expected` (a number) or at least `expected.min`.
pub fn count_matches(got: u64, expected: &Value) -> bool {
    match expected {
        Value::Number(n) => n.as_u64() == Some(got),
        Value::Object(m) => m
            .get("min")
            .and_then(Value::as_u64)
            .is_some_and(|min| got >= min),
        _ => false,
    }
}

/// `got` satisfies `expected`: a literal (an object only needs the keys it lists) or a
/// matcher, an object of one `$` key (`$startsWith`, `$endsWith`, `$contains`, `$equals`,
/// `$present`).
pub fn matches(got: Option<&Value>, expected: &Value) -> bool {
    if let Some((op, arg)) = matcher(expected) {
        let text = got.map(value_text);
        let arg_text = arg.as_str().unwrap_or_default();
        return match op {
            "$startsWith" => text.is_some_and(|t| t.starts_with(arg_text)),
            "$endsWith" => text.is_some_and(|t| t.ends_with(arg_text)),
            "$contains" => text.is_some_and(|t| t.contains(arg_text)),
            "$equals" => got == Some(arg),
            "$present" => got.is_some_and(|g| !g.is_null()) == arg.as_bool().unwrap_or(true),
            _ => false,
        };
    }
    match (got, expected) {
        (Some(Value::Object(g)), Value::Object(e)) => e.iter().all(|(k, v)| matches(g.get(k), v)),
        (Some(g), e) => g == e,
        (None, _) => false,
    }
}

fn matcher(expected: &Value) -> Option<(&str, &Value)> {
    let map = expected.as_object()?;
    let (key, arg) = map.iter().next()?;
    (map.len() == 1 && key.starts_with('$')).then_some((key.as_str(), arg))
}

/// `case` with `$parent` replaced by `parent` in every string.
pub fn substitute(case: &Value, parent: &str) -> Value {
    match case {
        Value::String(s) => Value::String(s.replace("$parent", parent)),
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, parent)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute(v, parent)))
                .collect::<Map<String, Value>>(),
        ),
        other => other.clone(),
    }
}
