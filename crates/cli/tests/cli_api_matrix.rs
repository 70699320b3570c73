//! The authorization matrix: every route of the served OpenAPI document, called as
//! anonymous, as a user without bindings, as a user bound to `company.team` only and as the
//! admin, with the status codes in `tests/api_matrix/*.yaml` (format in its README). A route
//! without an entry fails, so a new endpoint cannot ship without saying who may call it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::*;
use serde_json::Value;

const CALLERS: [&str; 4] = ["anonymous", "nobody", "team", "admin"];

/// One request of a case or of its setup.
#[derive(Clone)]
struct Request {
    method: String,
    path: String,
    body: Option<String>,
    content_type: String,
}

struct Case {
    setup: Vec<Request>,
    request: Request,
    expect: BTreeMap<String, u16>,
}

struct Entry {
    route: String,
    file: String,
    cases: Vec<Case>,
}

fn text(value: &Value, field: &str, at: &str) -> String {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{at}: '{field}' must be a string"))
        .to_owned()
}

fn request(value: &Value, at: &str) -> Request {
    let line = text(value, "request", at);
    let (method, path) = line
        .split_once(' ')
        .unwrap_or_else(|| panic!("{at}: request must be 'METHOD /path', got '{line}'"));
    let body = match &value["body"] {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    };
    let content_type = value["content-type"]
        .as_str()
        .unwrap_or("application/json")
        .to_owned();
    Request {
        method: method.to_owned(),
        path: path.trim().to_owned(),
        body,
        content_type,
    }
}

fn load_entries(dir: &Path) -> Vec<Entry> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut entries = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(&file).unwrap();
        let doc = saker_model::yaml::parse(&source)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .to_json();
        for (i, item) in doc.as_array().unwrap_or(&Vec::new()).iter().enumerate() {
            let at = format!("{name} entry {}", i + 1);
            let route = text(item, "route", &at);
            let cases = item["cases"]
                .as_array()
                .unwrap_or_else(|| panic!("{at}: 'cases' must be a list"))
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    let at = format!("{at} case {}", j + 1);
                    let expect = CALLERS
                        .iter()
                        .map(|who| {
                            let code = c["expect"][*who].as_u64().unwrap_or_else(|| {
                                panic!("{at}: expect.{who} must be a status code")
                            });
                            ((*who).to_owned(), code as u16)
                        })
                        .collect();
                    let setup = c["setup"]
                        .as_array()
                        .map(|s| s.iter().map(|r| request(r, &at)).collect())
                        .unwrap_or_default();
                    Case {
                        setup,
                        request: request(c, &at),
                        expect,
                    }
                })
                .collect();
            entries.push(Entry {
                route,
                file: name.clone(),
                cases,
            });
        }
    }
    entries
}

/// The tenant-less alias of each tenant route (`/api/v1/{tenant}/x` answers at `/api/v1/x`
/// for the default tenant), with the cases of its tenant form that call the default tenant,
/// expecting exactly the same answers. `{caller}` becomes `{caller}_alias` in what is sent,
/// so a case that creates an item per caller creates another one, not the same one again.
fn tenantless_aliases(entries: &[Entry]) -> Vec<Entry> {
    let alias = |r: &Request| Request {
        method: r.method.clone(),
        path: r
            .path
            .replacen("/api/v1/main/", "/api/v1/", 1)
            .replace("{caller}", "{caller}_alias"),
        body: r
            .body
            .as_ref()
            .map(|b| b.replace("{caller}", "{caller}_alias")),
        content_type: r.content_type.clone(),
    };
    let fresh = |r: &Request| Request {
        body: r
            .body
            .as_ref()
            .map(|b| b.replace("{caller}", "{caller}_alias")),
        path: r.path.replace("{caller}", "{caller}_alias"),
        ..r.clone()
    };
    entries
        .iter()
        .filter_map(|entry| {
            let (method, path) = entry.route.split_once(' ')?;
            let rest = path.strip_prefix("/api/v1/{tenant}/")?;
            let cases = entry
                .cases
                .iter()
                .filter(|c| c.request.path.starts_with("/api/v1/main/"))
                .map(|c| Case {
                    setup: c.setup.iter().map(fresh).collect(),
                    request: alias(&c.request),
                    expect: c.expect.clone(),
                })
                .collect();
            Some(Entry {
                route: format!("{method} /api/v1/{rest}"),
                file: format!("{} (tenant-less alias)", entry.file),
                cases,
            })
        })
        .collect()
}

/// "METHOD /path" of every operation in the OpenAPI document.
fn documented_routes(document: &Value) -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "delete", "patch", "head", "options"] {
            if item.get(method).is_some() {
                routes.insert(format!("{} {path}", method.to_ascii_uppercase()));
            }
        }
    }
    routes
}

fn substitute(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = text.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

fn send(
    port: u16,
    request: &Request,
    values: &BTreeMap<String, String>,
    auth: Option<&str>,
) -> (u16, String) {
    let path = substitute(&request.path, values);
    let body = request.body.as_deref().map(|b| substitute(b, values));
    http_as(
        port,
        &request.method,
        &path,
        body.as_deref().map(|b| (request.content_type.as_str(), b)),
        auth,
    )
    .unwrap()
}

/// Runs `saker` and returns its stderr, failing the test if it fails.
fn cli(data: &Path, config: &Path, args: &[&str], stdin: &str) -> (String, String) {
    let (ok, out, err) = saker_cli(data, config, args, stdin);
    assert!(ok, "saker {args:?}: {err}");
    (out, err)
}

/// The id in "created user NAME (ID)".
fn created_id(stderr: &str) -> String {
    stderr
        .rsplit_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(id, _)| id.to_owned())
        .unwrap_or_else(|| panic!("no user id in: {stderr}"))
}

fn token(data: &Path, config: &Path, user: &str) -> String {
    let (out, _) = cli(
        data,
        config,
        &["token", "create", user, "--name", "matrix"],
        "",
    );
    let text = out.lines().last().unwrap_or_default().trim().to_owned();
    format!("Bearer {text}")
}

const FLOW: &str = "id: hello
namespace: NS
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hello from NS
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: matrixkey
";

#[test]
fn every_route_answers_each_caller_as_the_matrix_says() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(dir.path(), ADMIN_CONFIG);
    // The first start creates the admin user and role; bindings need them.
    stop(start_server_with(&data, free_port(), Some(&config)));

    let mut values = BTreeMap::new();
    for user in ["nobody", "team"] {
        let (_, err) = cli(
            &data,
            &config,
            &["user", "add", user],
            "Matrix-pass-2026!\n",
        );
        values.insert(format!("user.{user}"), created_id(&err));
    }
    cli(
        &data,
        &config,
        &[
            "user",
            "bind",
            "team",
            "admin",
            "--namespace",
            "company.team",
        ],
        "",
    );
    let mut auth: BTreeMap<&str, Option<String>> = BTreeMap::new();
    auth.insert("anonymous", None);
    for user in ["nobody", "team", "admin"] {
        auth.insert(user, Some(token(&data, &config, user)));
    }
    let admin = auth["admin"].clone();

    let port = free_port();
    let server = start_server_with(&data, port, Some(&config));
    for (ns, side) in [("company.team.x", "team"), ("company.other", "other")] {
        let flow = FLOW.replace("NS", ns);
        let (status, body) = http_as(
            port,
            "POST",
            "/api/v1/main/flows",
            Some(("application/x-yaml", &flow)),
            admin.as_deref(),
        )
        .unwrap();
        assert_eq!(status, 200, "{body}");
        let (status, body) = http_as(
            port,
            "POST",
            &format!("/api/v1/main/executions/{ns}/hello"),
            None,
            admin.as_deref(),
        )
        .unwrap();
        assert_eq!(status, 200, "{body}");
        let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let execution = loop {
            let (_, body) = http_as(
                port,
                "GET",
                &format!("/api/v1/main/executions/{id}"),
                None,
                admin.as_deref(),
            )
            .unwrap();
            let execution: Value = serde_json::from_str(&body).unwrap();
            if execution["state"]["current"] == "SUCCESS" {
                break execution;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        values.insert(format!("execution.{side}"), id);
        values.insert(
            format!("taskrun.{side}"),
            execution["taskRunList"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        let secret = format!("matrix-secret-value-{side}-5f1c");
        remember_secret(&secret);
        let body = serde_json::json!({"key": "MATRIX_SECRET", "value": secret}).to_string();
        let (status, answer) = http_as(
            port,
            "PUT",
            &format!("/api/v1/main/namespaces/{ns}/secrets"),
            Some(("application/json", &body)),
            admin.as_deref(),
        )
        .unwrap();
        assert_eq!(status, 200, "{answer}");
    }

    let (status, body) =
        http_as(port, "GET", "/api/v1/openapi.json", None, admin.as_deref()).unwrap();
    assert_eq!(status, 200);
    let documented = documented_routes(&serde_json::from_str(&body).unwrap());
    let mut entries = load_entries(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api_matrix"));
    let aliases = tenantless_aliases(&entries);
    entries.extend(aliases);
    let listed: BTreeSet<String> = entries.iter().map(|e| e.route.clone()).collect();
    let missing: Vec<_> = documented.difference(&listed).collect();
    let unknown: Vec<_> = listed.difference(&documented).collect();
    let mut failures = Vec::new();
    let mut calls = 0;
    for entry in &entries {
        for case in &entry.cases {
            for who in CALLERS {
                let mut values = values.clone();
                values.insert("caller".into(), who.to_owned());
                for setup in &case.setup {
                    let (status, body) = send(port, setup, &values, admin.as_deref());
                    assert!(
                        (200..300).contains(&status),
                        "{}: setup {} {} answered {status}: {body}",
                        entry.file,
                        setup.method,
                        setup.path
                    );
                    if let Some(id) = serde_json::from_str::<Value>(&body)
                        .ok()
                        .and_then(|v| v["id"].as_str().map(str::to_owned))
                    {
                        values.insert("setup.id".into(), id);
                    }
                }
                let (status, body) = send(port, &case.request, &values, auth[who].as_deref());
                calls += 1;
                let expected = case.expect[who];
                if status != expected {
                    failures.push(format!(
                        "{}: {} {} as {who}: expected {expected}, got {status}: {}",
                        entry.file,
                        case.request.method,
                        substitute(&case.request.path, &values),
                        body.chars().take(200).collect::<String>()
                    ));
                }
            }
        }
    }
    stop(server);
    // Both checks are reported together, so one run shows everything to fix.
    assert!(
        missing.is_empty() && unknown.is_empty() && failures.is_empty(),
        "routes served without a matrix entry: {missing:?}\nentries for routes not served: \
         {unknown:?}\n{} of {calls} calls answered otherwise:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
#[should_panic(expected = "holds remembered secret")]
fn the_response_scan_catches_a_remembered_secret_and_its_encodings() {
    remember_secret("a-remembered-value");
    assert_no_secret("plain", "nothing here");
    // base64 of the value, as a leak through an encoding would show it.
    assert_no_secret("encoded", "x YS1yZW1lbWJlcmVkLXZhbHVl y");
}
