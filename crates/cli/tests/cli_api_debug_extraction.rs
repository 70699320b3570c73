//! A read-only user (FLOW READ and EXECUTION READ on one namespace) tries to extract a SECRET
//! input, a secret-derived output and a JSON leaf of a secret through the debug expression,
//! with every template of issue 10 that used to work: character loops with `{% if %}` and
//! `? :`, `split('')`, short slices, ROT13 and reversal built in templates, `length`, and
//! jq leaves cut into characters. Nothing of any secret may come back: every answer is
//! `****` (and clean text the template itself wrote), never a character of a secret.

mod common;

use common::iam::*;
use common::*;
use serde_json::{Value, json};

/// Characters that appear in none of the templates' clean text nor in `****`.
const INPUT: &str = "qz7xk9wv3jLMNb";
const TOKEN: &str = "Y6RtH8gfDu5Ecp";

const FLOW: &str = "id: vault
namespace: company.team
inputs:
  - id: pw
    type: SECRET
tasks:
  - id: one
    type: io.kestra.plugin.core.debug.Return
    format: \"{{ secret('JSON') | jq('.token') | first }}\"
  - id: two
    type: io.kestra.plugin.core.output.OutputValues
    values:
      doc: \"{{ secret('JSON') }}\"
";

const ALPHABET: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

/// The extraction templates, each over `target` (an expression of a secret string).
fn attacks(target: &str) -> Vec<String> {
    vec![
        format!(
            "{{% for c in {target} | split('') %}}{{% for a in '{ALPHABET}' | split('') %}}{{% if c == a %}}{{{{ a }}}}{{% endif %}}{{% endfor %}}.{{% endfor %}}"
        ),
        format!(
            "{{% for c in {target} | split('') %}}{{% for a in '{ALPHABET}' | split('') %}}{{{{ c == a ? a : '' }}}}{{% endfor %}}{{% endfor %}}"
        ),
        format!("{{{{ {target} | split('') | join(' ') }}}}"),
        format!(
            "{{{{ {target} | slice(0, 2) }}}} {{{{ {target} | slice(2, 5) }}}} {{{{ {target} | slice(5, 7) }}}}"
        ),
        format!(
            "{{% for c in {target} | split('') %}}{{% if c == 'q' %}}d{{% elseif c == 'z' %}}m{{% elseif c == 'Y' %}}L{{% else %}}{{{{ c }}}}{{% endif %}}{{% endfor %}}"
        ),
        format!("{{% for c in {target} | split('') | reverse %}}{{{{ c }}}}{{% endfor %}}"),
        format!("{{{{ {target} | length }}}}"),
        format!("{{% if {target} | length > 10 %}}long{{% else %}}short{{% endif %}}"),
        format!("{{{{ {target} | upper | split('') | join(',') }}}}"),
    ]
}

/// Fails when `result` holds any character of `secret` outside the masks.
fn assert_nothing_of(secret: &str, expression: &str, result: &str) {
    let rest = result.replace("****", "");
    let leaked: Vec<char> = rest.chars().filter(|c| secret.contains(*c)).collect();
    assert!(
        leaked.is_empty(),
        "{expression}: {} character(s) of a secret came back",
        leaked.len()
    );
}

#[test]
fn a_read_only_user_extracts_nothing_through_the_debug_expression() {
    let s = Server::start(SECURITY);
    remember_secret(INPUT);
    remember_secret(TOKEN);
    let json_secret = format!(r#"{{"token":"{TOKEN}","user":"ann"}}"#);
    remember_secret(&json_secret);
    let (status, body) = s.admin(
        "PUT",
        "/api/v1/main/namespaces/company.team/secrets",
        Some(json!({"key": "JSON", "value": json_secret})),
    );
    assert!(status == 200 || status == 201, "{body}");
    let (status, body) = http_as(
        s.port(),
        "POST",
        "/api/v1/main/flows",
        Some(("application/x-yaml", FLOW)),
        Some(ADMIN_BASIC),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, execution) = s.admin(
        "POST",
        "/api/v1/main/executions/company.team/vault",
        Some(json!({"pw": INPUT})),
    );
    assert_eq!(status, 200, "{execution}");
    let id = execution["id"].as_str().unwrap().to_owned();
    let done = eventually("the execution never ended", || {
        let (_, e) = s.admin("GET", &format!("/api/v1/main/executions/{id}"), None);
        match e["state"]["current"].as_str() {
            Some("SUCCESS") => Ok(e),
            Some("FAILED") => panic!("the execution failed: {e}"),
            _ => Err(e.to_string()),
        }
    });
    let run = done["taskRunList"][1]["id"].as_str().unwrap().to_owned();

    // A viewer: may read flows and executions of company.team, nothing else.
    let viewer =
        json!({"name": "viewer", "permissions": {"FLOW": ["READ"], "EXECUTION": ["READ"]}});
    let (status, body) = s.admin("POST", "/api/v1/main/roles", Some(viewer));
    assert_eq!(status, 200, "{body}");
    s.user("vic", GOOD);
    let (status, body) = s.admin(
        "POST",
        "/api/v1/main/bindings",
        Some(json!({"username": "vic", "role": "viewer", "namespace": "company.team"})),
    );
    assert_eq!(status, 200, "{body}");
    let vic = basic(&format!("vic:{GOOD}"));

    let path = format!("/api/v1/main/executions/{id}/eval/{run}");
    let targets = [
        ("inputs.pw", INPUT),
        ("outputs.one.value", TOKEN),
        ("(outputs.two.values.doc | jq('.token') | first)", TOKEN),
    ];
    let mut answered = 0;
    for (target, secret) in targets {
        for expression in attacks(target) {
            let (status, body): (u16, Value) = {
                let (status, text) = http_as(
                    s.port(),
                    "POST",
                    &path,
                    Some(("text/plain", &expression)),
                    Some(&vic),
                )
                .unwrap();
                (status, serde_json::from_str(&text).unwrap_or(Value::Null))
            };
            match status {
                200 => {
                    let result = body["result"].as_str().unwrap_or_default();
                    assert!(result.contains("****"), "{expression}: nothing masked");
                    assert_nothing_of(secret, &expression, result);
                    answered += 1;
                }
                // A render that failed because of a secret says only that it failed.
                422 => assert_nothing_of(secret, &expression, &body.to_string()),
                other => panic!("{expression}: unexpected status {other}: {body}"),
            }
        }
    }
    // The attacks ran (they were not all refused), so the masking is what held.
    assert!(answered >= 20, "only {answered} attacks were answered");
}
