//! Input coercion as the CLI and the API use it.

use saker_model::{Flow, InputError, coerce_inputs, parse_flow};
use serde_json::{Map, Value, json};

fn flow(inputs: &str) -> Flow {
    let source = format!(
        "id: f\nnamespace: n\ninputs:\n{inputs}tasks:\n  - {{id: t, type: Return, format: x}}\n"
    );
    parse_flow(&source).unwrap_or_else(|d| panic!("{d:?}"))
}

fn given(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn coerce_one(ty: &str, extra: &str, raw: Value) -> Result<Value, String> {
    let f = flow(&format!("  - id: x\n    type: {ty}\n{extra}"));
    f.inputs[0].coerce(&raw).map_err(|e| e.to_string())
}

#[test]
fn strings_from_the_command_line_become_typed() {
    assert_eq!(coerce_one("INT", "", json!("42")), Ok(json!(42)));
    assert_eq!(coerce_one("INT", "", json!(" -7 ")), Ok(json!(-7)));
    assert_eq!(coerce_one("INT", "", json!(3.0)), Ok(json!(3)));
    assert_eq!(coerce_one("FLOAT", "", json!("2.5")), Ok(json!(2.5)));
    assert_eq!(coerce_one("BOOLEAN", "", json!("TRUE")), Ok(json!(true)));
    assert_eq!(coerce_one("BOOL", "", json!(false)), Ok(json!(false)));
    assert_eq!(coerce_one("STRING", "", json!(12)), Ok(json!("12")));
    assert_eq!(
        coerce_one("JSON", "", json!("{\"a\": [1]}")),
        Ok(json!({"a": [1]}))
    );
    assert_eq!(
        coerce_one("JSON", "", json!({"already": true})),
        Ok(json!({"already": true}))
    );
    assert_eq!(
        coerce_one("YAML", "", json!("a: 1\nb: [x]\n")),
        Ok(json!({"a": 1, "b": ["x"]}))
    );
    assert_eq!(
        coerce_one("URI", "", json!("https://example.com/a?b=c")),
        Ok(json!("https://example.com/a?b=c"))
    );
    assert_eq!(
        coerce_one("EMAIL", "", json!("a@b.io")),
        Ok(json!("a@b.io"))
    );
}

#[test]
fn dates_times_and_durations_are_normalised() {
    assert_eq!(
        coerce_one("DATETIME", "", json!("2026-11-22T10:00:00Z")),
        Ok(json!("2026-11-22T10:00:00Z"))
    );
    assert_eq!(
        coerce_one("DATETIME", "", json!("2026-11-22T12:00:00+02:00")),
        Ok(json!("2026-11-22T10:00:00Z"))
    );
    assert_eq!(
        coerce_one("DATETIME", "", json!("2026-11-22T10:00:00.5")),
        Ok(json!("2026-11-22T10:00:00.500Z"))
    );
    assert_eq!(
        coerce_one("DATE", "", json!("2026-11-22")),
        Ok(json!("2026-11-22"))
    );
    assert_eq!(
        coerce_one("TIME", "", json!("09:30")),
        Ok(json!("09:30:00"))
    );
    assert_eq!(
        coerce_one("DURATION", "", json!("PT90M")),
        Ok(json!("PT1H30M"))
    );
    assert_eq!(
        coerce_one("DURATION", "", json!("pt0.25s")),
        Ok(json!("PT0.25S"))
    );
}

#[test]
fn mismatches_say_what_was_expected() {
    assert_eq!(
        coerce_one("INT", "", json!("abc")),
        Err("input 'x': expected INT, got 'abc'".to_owned())
    );
    assert_eq!(
        coerce_one("BOOLEAN", "", json!("yes")),
        Err("input 'x': expected BOOLEAN (true or false), got 'yes'".to_owned())
    );
    for (ty, raw) in [
        ("FLOAT", json!("1,5")),
        ("DATETIME", json!("yesterday")),
        ("DATE", json!("22/11/2026")),
        ("TIME", json!("25:00")),
        ("DURATION", json!("5m")),
        ("URI", json!("not a uri")),
        ("EMAIL", json!("nobody")),
        ("STRING", json!({"a": 1})),
    ] {
        let err = coerce_one(ty, "", raw.clone()).expect_err(ty);
        assert!(err.starts_with("input 'x': expected "), "{ty} {raw}: {err}");
    }
    let err = coerce_one("JSON", "", json!("{broken")).expect_err("invalid JSON");
    assert!(
        err.starts_with("input 'x': expected JSON, got invalid JSON"),
        "{err}"
    );
    let long = "z".repeat(500);
    let err = coerce_one("INT", "", json!(long)).expect_err("long");
    assert!(err.len() < 120, "long values are shortened: {err}");
}

#[test]
fn secret_values_never_appear_in_errors() {
    assert_eq!(
        coerce_one("SECRET", "", json!("hunter2")),
        Ok(json!("hunter2"))
    );
    let err = coerce_one("SECRET", "", json!(["hunter2"])).expect_err("a list is not a secret");
    assert!(!err.contains("hunter2"), "{err}");
    assert_eq!(err, "input 'x': expected SECRET, got a list");
}

#[test]
fn choices_are_checked() {
    let values = "    values: [RED, GREEN]\n";
    assert_eq!(coerce_one("ENUM", values, json!("RED")), Ok(json!("RED")));
    assert_eq!(
        coerce_one("SELECT", values, json!("BLUE")),
        Err("input 'x': 'BLUE' is not one of the allowed values (RED, GREEN)".to_owned())
    );
    let custom = "    values: [RED]\n    allowCustomValue: true\n";
    assert_eq!(
        coerce_one("SELECT", custom, json!("BLUE")),
        Ok(json!("BLUE"))
    );
    assert_eq!(
        coerce_one("MULTISELECT", values, json!("[\"RED\", \"GREEN\"]")),
        Ok(json!(["RED", "GREEN"]))
    );
    assert!(coerce_one("MULTISELECT", values, json!(["RED", "BLUE"])).is_err());
}

#[test]
fn arrays_coerce_their_items() {
    let ints = "    itemType: INT\n";
    assert_eq!(
        coerce_one("ARRAY", ints, json!(["1", 2])),
        Ok(json!([1, 2]))
    );
    assert_eq!(
        coerce_one("ARRAY", ints, json!("[3, \"4\"]")),
        Ok(json!([3, 4]))
    );
    let err = coerce_one("ARRAY", ints, json!([1, "x"])).expect_err("bad item");
    assert_eq!(
        err,
        "input 'x': expected items of type INT (item 1), got 'x'"
    );
}

#[test]
fn numeric_bounds_are_enforced() {
    let bounds = "    min: 1\n    max: 10\n";
    assert_eq!(coerce_one("INT", bounds, json!("10")), Ok(json!(10)));
    assert!(
        coerce_one("INT", bounds, json!(0))
            .expect_err("below")
            .contains("less than the minimum")
    );
    assert!(
        coerce_one("FLOAT", bounds, json!(10.5))
            .expect_err("above")
            .contains("more than the maximum")
    );
}

#[test]
fn a_file_input_is_a_kestra_uri_and_nothing_else() {
    let uri = "kestra:///company/team/f/executions/E/inputs/x/a.txt";
    assert_eq!(coerce_one("FILE", "", json!(uri)), Ok(json!(uri)));
    let err = coerce_one("FILE", "", json!("file:///tmp/x")).expect_err("FILE");
    assert!(
        err.starts_with("input 'x' is of type FILE: give a file"),
        "{err}"
    );
    assert!(coerce_one("FILE", "", json!("kestra:///")).is_err());
}

#[test]
fn coerce_inputs_applies_defaults_and_reports_everything() {
    let f = flow(
        "  - id: day\n    type: DATE\n  - id: count\n    type: INT\n    defaults: 3\n  - id: note\n    type: STRING\n    required: false\n  - id: when\n    type: STRING\n    defaults: \"{{ now() }}\"\n  - id: password\n    type: SECRET\n    defaults: password\n",
    );
    let ok = coerce_inputs(
        &f.inputs,
        given(&[("day", json!("2026-11-22")), ("count", json!("5"))]),
    )
    .expect("valid");
    assert_eq!(
        Value::Object(ok),
        json!({"day": "2026-11-22", "count": 5, "note": null, "when": "{{ now() }}", "password": "password"})
    );
    let defaults = coerce_inputs(&f.inputs, given(&[("day", json!("2026-01-01"))])).expect("valid");
    assert_eq!(defaults["count"], json!(3));

    let errors = coerce_inputs(
        &f.inputs,
        given(&[("count", json!("many")), ("dya", json!("x"))]),
    )
    .expect_err("invalid");
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "unknown input 'dya', did you mean 'day'?",
            "input 'day' is required",
            "input 'count': expected INT, got 'many'",
        ]
    );
    assert_eq!(errors[1], InputError::Required { id: "day".into() });
    assert_eq!(errors[2].input_id(), "count");
}

#[test]
fn required_file_inputs_explain_they_are_unavailable() {
    let f =
        flow("  - id: f\n    type: FILE\n  - id: optional\n    type: FILE\n    required: false\n");
    let errors = coerce_inputs(&f.inputs, Map::new()).expect_err("FILE");
    assert_eq!(errors, [InputError::FileUnsupported { id: "f".into() }]);
}

#[test]
fn rendered_outputs_take_their_declared_type() {
    let f = parse_flow(
        "id: o\nnamespace: n\ntasks:\n  - {id: t, type: Return, format: x}\noutputs:\n  - {id: s, type: STRING, value: x}\n  - {id: n, type: INT, value: x}\n  - {id: a, type: ARRAY, value: [x]}\n  - {id: k, type: SECRET, value: x}\n  - {id: f, type: FILE, value: x}\n",
    )
    .expect("valid");
    let [s, n, a, k, f] = &f.outputs[..] else {
        panic!("five outputs")
    };
    assert_eq!(s.coerce_rendered(json!({"a": 1})), Ok(json!("{\"a\":1}")));
    assert_eq!(n.coerce_rendered(json!("7")), Ok(json!(7)));
    assert_eq!(
        n.coerce_rendered(json!("seven")).map_err(|e| e.to_string()),
        Err("output 'n': expected INT, got 'seven'".to_owned())
    );
    assert_eq!(a.coerce_rendered(json!(["1", 2])), Ok(json!(["1", 2])));
    assert!(k.is_secret() && !s.is_secret());
    assert!(
        f.coerce_rendered(json!("x"))
            .map_err(|e| e.to_string())
            .is_err_and(|e| e.starts_with("output 'f': expected a file of the execution"))
    );
    assert_eq!(
        f.coerce_rendered(json!("kestra:///n/f/executions/E/o.txt")),
        Ok(json!("kestra:///n/f/executions/E/o.txt"))
    );
}
