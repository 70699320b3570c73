//! Runs every case of `cases.yaml` (see the comment at its top for the format) and reports
//! all failures at once.

mod common;

use std::collections::HashMap;

use common::{Secrets, env_with};
use saker_expr::{Context, RenderEnv, Value, render};
use yaml_rust2::{Yaml, YamlLoader};

fn to_json(y: &Yaml) -> serde_json::Value {
    match y {
        Yaml::Real(s) => s
            .parse::<f64>()
            .map_or(serde_json::Value::Null, serde_json::Value::from),
        Yaml::Integer(i) => (*i).into(),
        Yaml::String(s) => s.clone().into(),
        Yaml::Boolean(b) => (*b).into(),
        Yaml::Array(items) => items.iter().map(to_json).collect(),
        Yaml::Hash(h) => serde_json::Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        other => format!("{other:?}"),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        _ => serde_json::Value::Null,
    }
}

fn text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn context_of(shared: &Yaml, own: &Yaml) -> Context {
    let mut ctx = Context::from_json(&to_json(shared));
    if let Yaml::Hash(h) = own {
        for (k, v) in h {
            if let Some(k) = text(k) {
                ctx.insert(k, Value::from_json(&to_json(v)));
            }
        }
    }
    // `secret_inputs` become tainted inputs, as the engine passes SECRET inputs.
    if let Some(Value::Map(..)) = ctx.get("secret_inputs") {
        let v = ctx.remove("secret_inputs").unwrap_or_default();
        ctx.insert("secret_inputs", v.tainted());
    }
    ctx
}

#[test]
fn cases_from_the_table() {
    let src = include_str!("cases.yaml");
    let docs = YamlLoader::load_from_str(src).expect("cases.yaml is valid YAML");
    let root = &docs[0];
    let secrets: HashMap<String, String> = match &root["secrets"] {
        Yaml::Hash(h) => h
            .iter()
            .filter_map(|(k, v)| Some((text(k)?, text(v)?)))
            .collect(),
        _ => HashMap::new(),
    };
    let resolver = Secrets::new(secrets);
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-22T10:15:30.123456Z")
        .expect("fixed clock")
        .to_utc();
    let cases = root["cases"].as_vec().expect("a 'cases' list");
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let template =
            text(&case["template"]).unwrap_or_else(|| panic!("case {i} has no template"));
        let name = text(&case["name"]).unwrap_or_else(|| template.clone());
        let ctx = context_of(&root["context"], &case["context"]);
        let env = RenderEnv {
            allow_secrets: case["allow_secrets"].as_bool().unwrap_or(true),
            now: Some(now),
            ..env_with(&resolver)
        };
        let result = render(&template, &ctx, &env);
        let problem = match (&result, text(&case["expect"]), text(&case["error"])) {
            (Ok(r), Some(want), _) if r.text != want => {
                Some(format!("rendered {:?}, expected {want:?}", r.text))
            }
            (Ok(r), Some(_), _) => text(&case["masked"])
                .filter(|m| r.masked("****") != *m)
                .map(|m| format!("masked {:?}, expected {m:?}", r.masked("****"))),
            (Ok(r), None, Some(want)) => Some(format!(
                "rendered {:?}, expected an error containing {want:?}",
                r.text
            )),
            (Err(e), _, Some(want)) if !e.to_string().contains(&want) => Some(format!(
                "error {:?}, expected it to contain {want:?}",
                e.to_string()
            )),
            (Err(_), _, Some(_)) => None,
            (Err(e), _, None) => Some(format!("failed: {e}")),
            (Ok(_), None, None) => Some("the case has neither 'expect' nor 'error'".into()),
        };
        if let Some(p) = problem {
            failures.push(format!("case {i} ({name}): {p}"));
        }
    }
    assert!(
        cases.len() >= 200,
        "the table should hold at least 200 cases"
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    println!("{} cases passed", cases.len());
}
