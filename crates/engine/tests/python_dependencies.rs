//! Python's `dependencies` through the engine, installed by the real uv
//! (`scripts/peers/uv.sh` names it in `SAKER_UV`) from PyPI into the cached environment of
//! their set: reused by a later run, built once by parallel tasks, installed afresh without
//! the cache, a missing package named, `pythonVersion` honoured.

mod common;

use std::path::Path;

use saker_model::{Execution, Level, StateType};
use serde_json::json;

use common::data_dir::DataDir as Data;

fn data_dir() -> Data {
    Data::start(|_, _| {})
}

fn vars(execution: &Execution, task: &str) -> serde_json::Value {
    execution.task_run(task).unwrap().outputs["vars"].clone()
}

/// True when `SAKER_UV` names uv; otherwise says the test is skipped.
fn uv_installed() -> bool {
    let found = std::env::var_os("SAKER_UV").is_some_and(|uv| Path::new(&uv).is_file());
    if !found {
        eprintln!("SKIPPED: SAKER_UV names no uv (scripts/peers/uv.sh installs it)");
    }
    found
}

const PYTHON_DEPENDENCIES: &str = r#"
id: python-dependencies
namespace: company.team
tasks:
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    dependencies:
      - tabulate==0.9.0
    script: |
      import json, sys
      from tabulate import tabulate
      print(tabulate([["a", 1]]))
      print("::" + json.dumps({"outputs": {"venv": sys.prefix != sys.base_prefix,
            "version": __import__("tabulate").__version__}}) + "::")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_dependencies_are_installed_once_and_reused() {
    if !uv_installed() {
        return;
    }
    let data = data_dir();
    let first = data.run_ok(PYTHON_DEPENDENCIES).await;
    let first_lines = data.levels(&first);
    assert_eq!(
        vars(&first, "py"),
        json!({"venv": true, "version": "0.9.0"}),
        "{first_lines:?}"
    );
    // Installed by this run or an earlier one: the second run reuses it either way.
    let second = data.run_ok(PYTHON_DEPENDENCIES).await;
    let lines = data.levels(&second);
    assert_eq!(vars(&second, "py"), vars(&first, "py"));
    assert!(
        lines
            .iter()
            .any(|(_, m)| m.contains("reusing the cached environment of 1 package(s)")),
        "{lines:?}"
    );
    assert!(
        lines.iter().all(|(_, m)| !m.contains("installing")),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_dependency_cache_each_run_installs_afresh() {
    if !uv_installed() {
        return;
    }
    let data = data_dir();
    let flow = PYTHON_DEPENDENCIES.replace(
        "    dependencies:",
        "    dependencyCacheEnabled: false\n    dependencies:",
    );
    let done = data.run_ok(&flow).await;
    let lines = data.levels(&done);
    assert_eq!(vars(&done, "py"), json!({"venv": true, "version": "0.9.0"}));
    assert!(
        lines
            .iter()
            .any(|(_, m)| m.contains("installing tabulate==0.9.0 with uv")),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependency_that_does_not_exist_fails_naming_the_property() {
    if !uv_installed() {
        return;
    }
    let data = data_dir();
    let done = data
        .run(
            r#"
id: bad-dependency
namespace: company.team
tasks:
  - id: py
    type: io.kestra.plugin.scripts.python.Commands
    dependencies: ["saker-no-such-package-zq9x==1.0"]
    commands: ["echo never"]
"#,
        )
        .await;
    let lines = data.levels(&done);
    assert_eq!(done.state.current, StateType::Failed, "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == Level::Error && m.contains("property 'dependencies'")),
        "{lines:?}"
    );
    assert!(lines.iter().all(|(_, m)| m != "never"), "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_tasks_needing_a_new_environment_install_it_once() {
    if !uv_installed() {
        return;
    }
    // A marker that always holds, unique to this run: a dependency set no earlier run built.
    let set = format!(
        "tabulate==0.9.0 ; platform_release != 'saker-{}'",
        uuid::Uuid::new_v4().simple()
    );
    let task = |id: &str| {
        format!(
            r#"      - id: {id}
        type: io.kestra.plugin.scripts.python.Script
        dependencies: ["{set}"]
        script: |
          import json, sys
          import tabulate
          print("::" + json.dumps({{"outputs": {{"prefix": sys.prefix}}}}) + "::")
"#
        )
    };
    let flow = format!(
        "id: parallel-dependencies\nnamespace: company.team\ntasks:\n  - id: both\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n{}{}",
        task("one"),
        task("two")
    );
    let data = data_dir();
    let done = data.run_ok(&flow).await;
    let lines = data.levels(&done);
    let prefix = vars(&done, "one")["prefix"].as_str().unwrap().to_owned();
    assert_eq!(vars(&done, "two")["prefix"], prefix.as_str());
    let count = |text: &str| lines.iter().filter(|(_, m)| m.contains(text)).count();
    // One task built it while the other waited on its lock, then reused it.
    assert_eq!(count("Python dependencies: installing"), 1, "{lines:?}");
    assert_eq!(count("reusing the cached environment"), 1, "{lines:?}");
    let _ = std::fs::remove_dir_all(&prefix);
    let _ = std::fs::remove_file(format!("{prefix}.lock"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_version_picks_the_interpreter_of_the_environment() {
    if !uv_installed() {
        return;
    }
    // The system's own version: uv finds it without downloading one.
    let output = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .unwrap();
    let version = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let flow = PYTHON_DEPENDENCIES
        .replace(
            "    dependencies:",
            &format!("    pythonVersion: \"{version}\"\n    dependencies:"),
        )
        .replace(
            "\"venv\": sys.prefix != sys.base_prefix,",
            "\"venv\": \"%d.%d\" % sys.version_info[:2],",
        );
    let data = data_dir();
    let done = data.run_ok(&flow).await;
    assert_eq!(
        vars(&done, "py"),
        json!({"venv": version, "version": "0.9.0"})
    );
}
