//! Templates of Kestra's conformance flows (shared/conformance/kestra-flows) that need no
//! engine, rendered against the variables Kestra would give them: dates are instants, SECRET
//! inputs are tainted, labels are nested maps.

mod common;

use common::{Secrets, env_with};
use saker_expr::{Context, Rendered, Value, render};

fn instant(s: &str) -> Value {
    Value::from(chrono::DateTime::parse_from_rfc3339(s).expect("valid instant"))
}

fn json(s: &str) -> Value {
    Value::from_json(&serde_json::from_str(s).expect("valid json"))
}

fn kestra_context() -> Context {
    let mut ctx = Context::new();
    ctx.insert(
        "flow",
        json(r#"{"id": "variables", "namespace": "io.kestra.tests", "revision": 1}"#),
    );
    ctx.insert(
        "execution",
        Value::map([
            ("id", Value::from("5wXbPQKJsS3Tv0IBg0mJBb")),
            ("startDate", instant("2026-11-22T10:00:00.123456Z")),
        ]),
    );
    ctx.insert(
        "task",
        json(r#"{"id": "log-secret", "type": "io.kestra.plugin.core.log.Log"}"#),
    );
    ctx.insert(
        "taskrun",
        Value::map([
            ("id", Value::from("3nP1qNo9Xj6fyR2GfbQ4vI")),
            ("startDate", instant("2026-11-22T10:00:01.5Z")),
            ("attemptsCount", Value::from(1)),
        ]),
    );
    ctx.insert(
        "vars",
        json(r#"{"first": "1", "second": "{{vars.first}} > 2", "third": "{{vars.second}} > 3"}"#),
    );
    ctx.insert(
        "envs",
        json(r#"{"test1": "true", "test2": "Pass by env var"}"#),
    );
    ctx.insert(
        "globals",
        json(r#"{"string": "myString", "int": 42, "bool": true, "nested": {"int": 43}}"#),
    );
    ctx.insert(
        "labels",
        json(r#"{"system": {"correlationId": "5wXbPQKJsS3Tv0IBg0mJBb"}}"#),
    );
    let mut inputs = json(
        r#"{"emptyKey": {}, "emptySubObject": {"json": {"someEmptyObject": {}}},
            "string": "myString", "int": 42, "float": 42.42,
            "file": "kestra:///io/kestra/tests/restart-with-inputs/executions/x/inputs/file/a.txt",
            "items": "kestra:///io/kestra/tests/items.ion"}"#,
    );
    if let Value::Map(map, _) = &mut inputs {
        let map = std::sync::Arc::make_mut(map);
        map.insert("instant".into(), instant("2026-11-22T10:00:00Z"));
        map.insert("secret".into(), Value::secret("password"));
    }
    ctx.insert("inputs", inputs);
    ctx.insert(
        "outputs",
        json(r#"{"output": {"values": {"taskrun_data": 1}}, "return": {"value": "hello", "values": {"one": 1, "two": 2}}}"#),
    );
    ctx
}

fn run(template: &str) -> Result<Rendered, String> {
    run_with(template, &kestra_context())
}

fn run_with(template: &str, ctx: &Context) -> Result<Rendered, String> {
    let secrets = Secrets::new([
        ("my_secret", r#"{"secretKey": "secretValue"}"#),
        ("new_line", "Hello\nWorld"),
    ]);
    let env = env_with(&secrets);
    render(template, ctx, &env).map_err(|e| e.to_string())
}

fn text(template: &str) -> String {
    run(template)
        .unwrap_or_else(|e| panic!("{template}: {e}"))
        .text
}

#[test]
fn logs_and_disable_simple() {
    assert_eq!(text("first {{task.id}}"), "first log-secret");
    assert_eq!(
        text("second {{task.type}}"),
        "second io.kestra.plugin.core.log.Log"
    );
    assert_eq!(text("third {{flow.id}}"), "third variables");
}

#[test]
fn empty_variables() {
    assert_eq!(text("{{ outputs.not_existing ?? '' }}"), "");
    let mut no_outputs = kestra_context();
    no_outputs.remove("outputs");
    let r = run_with("{{ outputs.not_existing ?? '' }}", &no_outputs)
        .expect("?? absorbs a missing root");
    assert_eq!(r.text, "");
    assert_eq!(text("{{ inputs['emptyKey']['foo'] }}"), "");
    assert_eq!(
        text("{{ inputs.emptySubObject.json.someEmptyObject }}"),
        "{}"
    );
}

#[test]
fn dates_print_as_java_instants() {
    assert_eq!(
        text("{{ execution.startDate }}"),
        "2026-11-22T10:00:00.123456Z"
    );
    assert_eq!(text("{{taskrun.startDate}}"), "2026-11-22T10:00:01.500Z");
    assert_eq!(
        text("{{ task.id }} > {{ taskrun.startDate }}"),
        "log-secret > 2026-11-22T10:00:01.500Z"
    );
    assert_eq!(text("{{inputs.instant}}"), "2026-11-22T10:00:00Z");
}

#[test]
fn missing_variables_fail() {
    let e = run("{{missingVar}}").expect_err("strict variables");
    assert!(e.contains("variable 'missingVar' is not defined"), "{e}");
    let e = run("{{ invalid }}").expect_err("strict variables");
    assert!(e.contains("'invalid'"), "{e}");
}

#[test]
fn outputs_and_parents() {
    assert_eq!(
        text("from parents: {{execution.id}}"),
        "from parents: 5wXbPQKJsS3Tv0IBg0mJBb"
    );
    assert_eq!(text("{{ outputs.return.values.one }}"), "1");
    assert_eq!(text("{{ outputs.return.values.two }}"), "2");
    assert_eq!(text("{{ flow.id }}"), "variables");
    assert_eq!(
        text("{{ outputs.return }}"),
        r#"{"value":"hello","values":{"one":1,"two":2}}"#
    );
    assert_eq!(text("{{ outputs.return.value }}"), "hello");
    assert_eq!(
        text("{{ inputs.items }}"),
        "kestra:///io/kestra/tests/items.ion"
    );
}

#[test]
fn secret_input_is_masked() {
    let r = run("This is my secret: {{inputs.secret}}").expect("renders");
    assert_eq!(r.text, "This is my secret: password");
    assert_eq!(r.masked("******"), "This is my secret: ******");
    assert_eq!(r.tainted_strings, vec!["password".to_string()]);
}

#[test]
fn inputs_of_every_type() {
    assert_eq!(text("{{inputs.string}}"), "myString");
    assert_eq!(text("{{inputs.int}}"), "42");
    assert_eq!(text("{{inputs.float}}"), "42.42");
    assert!(text("{{inputs.file}}").starts_with("kestra:///"));
}

#[test]
fn kv_of_a_missing_key_is_absorbed_by_null_coalescing() {
    assert_eq!(text("{{ kv('my-key').field ?? null }}"), "");
    let e = run("{{ kv('my-key', 'io.kestra.tests', false).field }}").expect_err("null.field");
    assert!(e.contains("cannot read attribute 'field'"), "{e}");
}

#[test]
fn engine_functions_are_not_yet_available() {
    let e = run("{{ read(inputs.items) }}").expect_err("read needs storage");
    assert!(
        e.contains("function 'read': files cannot be read here (no internal storage)"),
        "{e}"
    );
}

#[test]
fn restart_last_failed_ternary() {
    assert_eq!(text("{{taskrun.attemptsCount == 1 ? 'ok' : ko}}"), "ok");
    let mut second = kestra_context();
    second.insert("taskrun", Value::map([("attemptsCount", Value::from(2))]));
    let e = run_with("{{taskrun.attemptsCount == 1 ? 'ok' : ko}}", &second)
        .expect_err("ko is undefined");
    assert!(e.contains("variable 'ko' is not defined"), "{e}");
}

#[test]
fn secrets_flow() {
    let r = run("{{ json(secret('my_secret')).secretKey }}").expect("renders");
    assert_eq!(r.text, "secretValue");
    assert_eq!(r.masked("******"), "******");
    let r = run("{{ secret('my_secret') }}").expect("renders");
    assert_eq!(r.text, r#"{"secretKey": "secretValue"}"#);
    assert!(r.is_tainted());
    let r = run("{{ secret('new_line') }}").expect("renders");
    assert_eq!(r.text, "Hello\nWorld");
    assert_eq!(r.tainted, vec![0..r.text.len()]);
}

#[test]
fn sla_and_labels() {
    assert_eq!(text("{{inputs.string != 'CANCEL'}}"), "true");
    assert_eq!(text("{{inputs.string != 'LABEL'}}"), "true");
    assert_eq!(
        text("My grandparent is {{labels.system.correlationId}}"),
        "My grandparent is 5wXbPQKJsS3Tv0IBg0mJBb"
    );
}

#[test]
fn task_run_if() {
    assert_eq!(
        text("{{ outputs.output['values']['taskrun_data'] == 1 }}"),
        "true"
    );
    assert_eq!(
        text("{{ outputs.output['values']['taskrun_data'] == 2 }}"),
        "false"
    );
    let e = run("{{ outputs.notexists == 2 }}").expect_err("a missing output fails the condition");
    assert!(e.contains("'outputs' has no attribute 'notexists'"), "{e}");
}

#[test]
fn variables_flow() {
    assert_eq!(text("{{render(vars.third)}}"), "1 > 2 > 3");
    assert_eq!(
        text("{{envs.test1}} {{envs.test2}}"),
        "true Pass by env var"
    );
    assert_eq!(
        text("{{globals.string}} {{globals.int}} {{globals.bool}} {{globals.nested.int}}"),
        "myString 42 true 43"
    );
}
