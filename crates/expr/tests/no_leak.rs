//! No error message, and no `Debug` output, ever holds a secret or a value derived from one.

mod common;

use common::{Secrets, env_with};
use saker_expr::{Context, Template, Value};

const SECRET: &str = "Zq9-S3CR3T-xK";

fn secrets() -> Secrets {
    Secrets::new([
        ("X", SECRET.to_string()),
        ("J", format!(r#"{{"a": "{SECRET}", "n": 1}}"#)),
        ("T", format!("{{{{ {} }}}}", SECRET.replace('-', "_"))),
        (
            "T2",
            format!("{{{{ 'x' | {} }}}}", SECRET.replace('-', "_")),
        ),
        ("T3", format!("{{{{ '{SECRET}' | nosuchfilter }}}}")),
        ("U", format!("{SECRET}%zz")),
    ])
}

/// Forms of the secret that must not show up either.
fn forms() -> Vec<String> {
    vec![
        SECRET.to_string(),
        SECRET.to_uppercase(),
        SECRET.to_lowercase(),
        SECRET.replace('-', "_"),
        "S3CR3T".to_string(),
        "s3cr3t".to_string(),
    ]
}

fn context() -> Context {
    let mut ctx = Context::new();
    ctx.insert("inputs", Value::map([("day", Value::from("monday"))]));
    ctx.insert(
        "secret_inputs",
        Value::map([("password", Value::secret(SECRET))]),
    );
    ctx
}

const FAILING: &[&str] = &[
    "{{ secret('X') | number }}",
    "{{ secret('X') | number('INT') }}",
    "{{ secret('X') | jq('.') }}",
    "{{ secret('J') | jq('.a.b') }}",
    "{{ secret('J') | jq('.a | tonumber') }}",
    "{{ secret('J') | jq('error(.a)') }}",
    "{{ '{}' | jq(secret('X')) }}",
    "{{ json(secret('X')) }}",
    "{{ fromJson(secret('X') ~ '{') }}",
    "{{ secret('X') | date('yyyy') }}",
    "{{ secret('X') | date('yyyy', existingFormat='dd/MM') }}",
    "{{ '2026-01-01' | date(secret('X')) }}",
    "{{ '2026-01-01' | date('yyyy', timeZone=secret('X')) }}",
    "{{ '2026-01-01' | dateAdd(1, secret('X')) }}",
    "{{ secret('X') | base64decode }}",
    "{{ secret('U') | urldecode }}",
    "{{ inputs[secret('X')] }}",
    "{{ {'a': 1}[secret('X')] }}",
    "{{ [1, 2][secret('X')] }}",
    "{{ secret('X') | abbreviate(-1) }}",
    "{{ secret('X') * 2 }}",
    "{{ -secret('X') }}",
    "{{ secret('X') > 1 }}",
    "{{ secret('X') is even }}",
    "{{ max(secret('X'), 1) }}",
    "{{ render(secret('T')) }}",
    "{{ render(secret('T2')) }}",
    "{{ render(secret('T3')) }}",
    "{{ secret(secret('X')) }}",
    "{{ secret('X', subkey='a') }}",
    "{{ secret('J', subkey=secret('X')) }}",
    "{{ secret('X') | split(1) }}",
    "{{ secret('X').substring(100) }}",
    "{{ secret('X').nosuchmethod() }}",
    "{{ secret('X').foo }}",
    "{{ secret_inputs.password.foo }}",
    "{{ secret_inputs.password | number }}",
    "{{ secret('X') | slice(0, 100) }}",
    "{% for c in secret('X') %}{% endfor %}",
    "{{ 'a' | replace({secret('X') ~ '[': 'b'}, regexp=true) }}",
    "{{ secret('X') | escapeChar(secret('X')) }}",
    "{{ secret('X') | round(0, secret('X')) }}",
    "{{ 1..secret('X') }}",
    "{{ secret('X') | dateAdd(1, 'DAYS') }}",
    "{{ secret('X') | timestamp }}",
];

#[test]
fn errors_never_show_secrets() {
    let resolver = secrets();
    let env = env_with(&resolver);
    let ctx = context();
    let mut problems = Vec::new();
    for template in FAILING {
        let result = Template::compile(template).and_then(|t| t.render(&ctx, &env));
        match result {
            Ok(r) => problems.push(format!(
                "{template}: rendered {:?} instead of failing",
                r.masked("****")
            )),
            Err(e) => {
                let shown = format!("{e}\n{e:?}");
                for form in forms() {
                    if shown.contains(&form) {
                        problems.push(format!("{template}: the error shows {form:?}: {shown}"));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn debug_output_is_redacted() {
    let resolver = secrets();
    let env = env_with(&resolver);
    let ctx = context();
    let t =
        Template::compile("{{ secret('X') }} and {{ secret('X') | upper }} for {{ inputs.day }}")
            .expect("compiles");
    let r = t.render(&ctx, &env).expect("renders");
    assert!(r.text.contains(SECRET));
    let dbg = format!("{r:?} {ctx:?} {env:?} {t:?}");
    for form in forms() {
        assert!(!dbg.contains(&form), "Debug shows {form:?}: {dbg}");
    }
    assert!(dbg.contains("monday"), "clean text stays readable: {dbg}");
    let v = t.render_value(&ctx, &env).expect("renders");
    assert!(v.is_tainted());
    assert!(!format!("{v:?}").contains(SECRET));
}
