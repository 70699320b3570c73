//! Runs every flow of Kestra's conformance sets (`../shared/conformance/kestra-flows/` and
//! `kestra-flows-2/`) and checks what `conformance.yaml` and `conformance_v2.yaml` say
//! Kestra's tests expect of it. Each scenario runs on an engine and store of its own.
//!
//! A checkout without the corpus (a user's clone, without `../shared/`) skips these tests
//! and says so; a conformance folder that lacks one of the two corpora fails them.

mod common;
#[path = "common/conformance_checks.rs"]
mod conformance_checks;
#[path = "common/conformance_engine.rs"]
mod conformance_engine;
#[path = "common/conformance_scenario.rs"]
mod conformance_scenario;

use std::path::PathBuf;
use std::sync::Arc;

use conformance_scenario::Corpus;
use saker_crypto::{Keyring, SecretKey};
use saker_engine::{EngineParts, KeyringSealer};
use saker_store::Store;
use serde_json::Value;

const MY_SECRET: &str =
    r#"{"secretKey": "passwordveryveryveyrlongpasswordveryveryveyrlongpassword"}"#;
const NEW_LINE: &str = "passwordveryveryveyrlongpassword\nsecondlinepasswordveryveryveyrlong";

/// The conformance folder: `SAKER_CONFORMANCE_DIR`, else `../shared/conformance` next to the
/// repository. `Err(path)` when that folder does not exist: the corpus is not part of a
/// user's clone (and `scripts/test.sh` sets the variable whether or not it exists).
fn conformance_root() -> Result<PathBuf, PathBuf> {
    let root = match std::env::var_os("SAKER_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
    };
    if root.is_dir() { Ok(root) } else { Err(root) }
}

fn engine_parts(store: Arc<dyn Store>) -> EngineParts {
    let mut parts = EngineParts::new(store);
    parts.sealer = Some(Arc::new(KeyringSealer::new(Keyring::new(
        SecretKey::generate(),
    ))));
    parts.secrets = Arc::new(common::KeyedSecrets::new([
        ("my_secret", MY_SECRET.to_owned()),
        ("new_line", NEW_LINE.to_owned()),
    ]));
    parts.globals.envs.insert("test1".into(), "true".into());
    parts
        .globals
        .envs
        .insert("test2".into(), "Pierre Dupont".into());
    let globals: Value =
        serde_json::json!({"string": "string", "int": 1, "bool": true, "nested": {"int": 2}});
    parts.globals.globals = globals.as_object().cloned().unwrap_or_default();
    parts
}

/// The entries of an expectations file of this folder.
fn expectations(file: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let node =
        saker_model::yaml::parse(&text).unwrap_or_else(|e| panic!("{file} is not valid YAML: {e}"));
    node.to_json()
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("{file} must be a list of entries"))
}

/// Runs every scenario of `expectations_file` over the flows of `corpus_dir` (a folder of
/// the conformance root; `also` are searched for the flows scenarios deploy besides).
async fn run_conformance(corpus_dir: &str, also: &[&str], expectations_file: &str) {
    let root = match conformance_root() {
        Ok(root) => root,
        Err(absent) => {
            eprintln!(
                "conformance tests skipped: the corpus is absent ({} does not exist; set \
                 SAKER_CONFORMANCE_DIR to the conformance folder); {expectations_file} was not run",
                absent.display()
            );
            return;
        }
    };
    // A conformance folder without this corpus is a broken checkout of it, not a user's clone.
    let dir = root.join(corpus_dir);
    assert!(
        dir.is_dir(),
        "conformance flows not found at {} ({} has no {corpus_dir}/)",
        dir.display(),
        root.display()
    );
    let cases = expectations(expectations_file);

    // Every flow file has an expectation, so a new file cannot slip through untested.
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let covered: Vec<&str> = cases.iter().filter_map(|c| c["file"].as_str()).collect();
    let missing: Vec<&String> = files
        .iter()
        .filter(|f| !covered.contains(&f.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "no expectation in {expectations_file} for {missing:?}"
    );

    let corpus = Arc::new(Corpus {
        dir,
        also: also.iter().map(|d| root.join(d)).collect(),
        parts: engine_parts,
    });
    let running: Vec<_> = cases
        .into_iter()
        .map(|case| {
            let name = conformance_scenario::name(&case);
            let handle = tokio::spawn(conformance_scenario::run(corpus.clone(), case));
            (name, handle)
        })
        .collect();
    let total = running.len();
    let mut failures = Vec::new();
    let mut failed = 0;
    for (name, handle) in running {
        let found = handle
            .await
            .unwrap_or_else(|e| vec![format!("{name}: the scenario panicked: {e}")]);
        failed += usize::from(!found.is_empty());
        failures.extend(found);
    }
    assert!(
        failures.is_empty(),
        "{failed} of {total} scenario(s) of {expectations_file} failed ({} check(s)):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kestra_conformance_flows_run_as_kestra_expects() {
    run_conformance("kestra-flows", &[], "conformance.yaml").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kestra_conformance_flows_v2_run_as_kestra_expects() {
    run_conformance("kestra-flows-2", &["kestra-flows"], "conformance_v2.yaml").await;
}

/// The checks themselves: a matcher or a count that cannot fail would make every scenario
/// pass, so each form is tried on a value it must accept and one it must refuse.
#[test]
fn conformance_matchers_accept_and_refuse() {
    use conformance_checks::{count_matches, matches, substitute};
    use serde_json::json;

    let text = json!("kestra:///a/b/input.txt");
    assert!(matches(Some(&text), &json!({"$startsWith": "kestra://"})));
    assert!(!matches(Some(&text), &json!({"$startsWith": "s3://"})));
    assert!(matches(Some(&text), &json!({"$endsWith": "input.txt"})));
    assert!(!matches(Some(&text), &json!({"$endsWith": "b"})));
    assert!(matches(Some(&text), &json!({"$contains": "/a/b/"})));
    assert!(!matches(None, &json!({"$contains": ""})));
    assert!(matches(Some(&json!({})), &json!({"$equals": {}})));
    assert!(!matches(Some(&json!({"a": 1})), &json!({"$equals": {}})));
    assert!(matches(Some(&json!({"a": 1})), &json!({})));
    assert!(matches(Some(&json!(0)), &json!({"$present": true})));
    assert!(!matches(Some(&Value::Null), &json!({"$present": true})));
    assert!(matches(Some(&json!({"a": 1, "b": 2})), &json!({"a": 1})));
    assert!(!matches(Some(&json!({"b": 2})), &json!({"a": 1})));
    assert!(!matches(Some(&json!("1")), &json!(1)));
    assert!(count_matches(3, &json!(3)) && !count_matches(2, &json!(3)));
    assert!(count_matches(4, &json!({"min": 3})) && !count_matches(2, &json!({"min": 3})));
    assert_eq!(
        substitute(&json!({"k": ["x $parent y"], "$parent": 1}), "E1"),
        json!({"k": ["x E1 y"], "$parent": 1})
    );
}

/// Iteration values are read through `parentTaskRunId`, outermost first, skipping the task
/// runs without a value (a Switch inside a ForEach has none of its own), as Kestra's
/// `findParentsValues` does; a parent cycle ends instead of hanging.
#[test]
fn conformance_value_paths_follow_parents() {
    use conformance_checks::value_path;
    use serde_json::json;

    let tree = vec![
        json!({"id": "each", "taskId": "2_each"}),
        json!({"id": "sw", "taskId": "2-1_switch", "parentTaskRunId": "each", "value": "b"}),
        json!({"id": "inner", "taskId": "2-1_each", "parentTaskRunId": "sw", "value": null}),
        json!({"id": "n", "taskId": "number", "parentTaskRunId": "inner", "value": 1}),
        json!({"id": "c1", "parentTaskRunId": "c2", "value": "x"}),
        json!({"id": "c2", "parentTaskRunId": "c1", "value": "y"}),
    ];
    assert_eq!(value_path(&tree[3], &tree), ["b", "1"]);
    assert_eq!(value_path(&tree[0], &tree), Vec::<String>::new());
    assert!(value_path(&tree[4], &tree).len() <= tree.len() + 1);
}
