//! Kestra's script tasks through the engine, with the host's real `python3` and `node`:
//! `Script` and `Commands` of shell, Python and Node, Kestra's output protocol (`::{...}::`
//! lines setting outputs, log lines and metrics) read by the next task, a secret handed to a
//! script masked in what it prints, and the properties Saker cannot honour reported.
//! Python's `dependencies` are in `python_dependencies.rs`, the other languages in `tools.rs`.

mod common;

use std::sync::Arc;

use saker_model::{Execution, Level, StateType};
use serde_json::{Value, json};

const K: &str = "script-secret-Hq4Zr8Wm2";

use common::data_dir::DataDir as Data;

fn data_dir() -> Data {
    Data::start(|_, parts| {
        parts.secrets = Arc::new(common::KeyedSecrets::new([("K", K.to_owned())]));
    })
}

async fn execute_ok(data: &Data, flow_source: &str) -> (Execution, Vec<(Level, String)>) {
    let done = data.run(flow_source).await;
    let lines = data.levels(&done);
    assert_eq!(done.state.current, StateType::Success, "{lines:?}");
    (done, lines)
}

fn vars(execution: &Execution, task: &str) -> Value {
    execution.task_run(task).unwrap().outputs["vars"].clone()
}

const PYTHON: &str = r#"
id: python
namespace: company.team
tasks:
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    containerImage: python:3.13-slim
    beforeCommands:
      - echo before-ran
    script: |
      import json
      print("::" + json.dumps({"outputs": {"count": 42, "who": "{{ flow.id }}"}}) + "::")
      print("::" + json.dumps({"metrics": [{"name": "rows", "type": "counter", "value": 3, "tags": {}}]}) + "::")
  - id: secret
    type: io.kestra.plugin.scripts.python.Script
    env:
      TOKEN: "{{ secret('K') }}"
    script: |
      import json, os
      token = os.environ["TOKEN"]
      print("the token is " + token)
      print("::" + json.dumps({"outputs": {"tok": token}}) + "::")
      print("::" + json.dumps({"logs": [{"level": "WARN", "message": "careful with " + token}]}) + "::")
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.py.vars.count + 1 }} {{ outputs.py.vars.who }}"
  - id: cmd
    type: io.kestra.plugin.scripts.python.Commands
    commands:
      - python3 -c 'print("::{\"outputs\":{\"from\":\"commands\"}}::")'
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_script_sets_outputs_logs_and_metrics_and_its_secret_is_masked() {
    let data = data_dir();
    let (done, lines) = execute_ok(&data, PYTHON).await;
    let py = vars(&done, "py");
    assert_eq!(py["count"], 42);
    assert_eq!(py["who"], "python");
    assert_eq!(
        done.task_run("after").unwrap().outputs["value"],
        "43 python"
    );
    assert_eq!(vars(&done, "cmd"), json!({"from": "commands"}));
    // A process handed a secret has its outputs sealed: shown masked.
    assert_eq!(vars(&done, "secret"), json!({"tok": "****"}));
    assert!(
        lines.contains(&(Level::Info, "before-ran".to_owned())),
        "{lines:?}"
    );
    assert!(
        lines.contains(&(Level::Info, "the token is ****".to_owned())),
        "{lines:?}"
    );
    assert!(
        lines.contains(&(Level::Warn, "careful with ****".to_owned())),
        "{lines:?}"
    );
    assert!(
        lines.contains(&(Level::Debug, "metric rows (counter) = 3".to_owned())),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|(l, m)| *l == Level::Warn
            && m.contains("containerImage 'python:3.13-slim' is not used")),
        "{lines:?}"
    );
    // No protocol line is logged as text, and the secret appears nowhere in clear.
    assert!(lines.iter().all(|(_, m)| !m.starts_with("::")), "{lines:?}");
    let stored = serde_json::to_string(&done).unwrap() + &format!("{lines:?}");
    assert!(!stored.contains(K), "the secret leaked: {stored}");
}

const NODE_AND_SHELL: &str = r#"
id: node-and-shell
namespace: company.team
tasks:
  - id: js
    type: io.kestra.plugin.scripts.node.Script
    script: |
      const n = [1, 2, 3].reduce((a, b) => a + b, 0);
      console.log("::" + JSON.stringify({ outputs: { sum: n } }) + "::");
  - id: sh
    type: io.kestra.plugin.scripts.shell.Script
    script: |
      total=$(( {{ outputs.js.vars.sum }} * 2 ))
      echo "::{\"outputs\":{\"total\":$total}}::"
  - id: node-cmd
    type: io.kestra.plugin.scripts.node.Commands
    commands:
      - node -e 'console.log("hi from node")'
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_and_shell_scripts_pass_outputs_along() {
    let data = data_dir();
    let (done, lines) = execute_ok(&data, NODE_AND_SHELL).await;
    assert_eq!(vars(&done, "js"), json!({"sum": 6}));
    assert_eq!(vars(&done, "sh"), json!({"total": 12}));
    assert!(
        lines.contains(&(Level::Info, "hi from node".to_owned())),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_script_fails_its_task_and_fail_fast_stops_a_shell_script() {
    let data = data_dir();
    let done = data
        .run(
            r#"
id: failing
namespace: company.team
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Script
    script: |
      false
      echo not-reached
"#,
        )
        .await;
    let lines = data.levels(&done);
    assert_eq!(done.state.current, StateType::Failed, "{lines:?}");
    assert!(lines.iter().all(|(_, m)| m != "not-reached"), "{lines:?}");

    let done = data
        .run(
            r#"
id: failing-python
namespace: company.team
tasks:
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    script: raise SystemExit(3)
"#,
        )
        .await;
    let lines = data.levels(&done);
    assert_eq!(done.state.current, StateType::Failed, "{lines:?}");
    assert!(
        lines.iter().any(|(_, m)| m.contains("exit code 3")),
        "{lines:?}"
    );
}

/// The `kestra` Python package's venv, which `scripts/test.sh` installs (outside `/work`,
/// where a sandbox mounts the task's own directory) and names in `SAKER_KESTRA_VENV`.
fn kestra_venv() -> Option<std::path::PathBuf> {
    let venv = std::path::PathBuf::from(std::env::var_os("SAKER_KESTRA_VENV")?);
    venv.join("bin/python3").exists().then_some(venv)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kestra_python_package_sets_outputs_read_by_the_next_task() {
    let Some(venv) = kestra_venv() else {
        eprintln!(
            "SKIPPED: SAKER_KESTRA_VENV names no venv holding the `kestra` package \
             (scripts/test.sh installs one)"
        );
        return;
    };
    let data = Data::start(|_, parts| {
        parts.secrets = Arc::new(common::KeyedSecrets::new([("K", K.to_owned())]));
        // As a server does: a value derived from a secret is sealed, then opened tainted.
        parts.sealer = Some(common::data_dir::sealer());
        let mut settings = saker_confine::Settings::default();
        settings.read_only.push(venv.clone());
        parts.confinement = saker_confine::Confinement::new(settings);
    });
    let flow = format!(
        r#"
id: kestra-package
namespace: company.team
labels:
  team: data
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: from-first
  - id: held
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ secret('K') }}}}"
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    beforeCommands:
      - . '{venv}/bin/activate'
    script: |
      from kestra import Kestra
      import kestra
      ctx = kestra.context
      Kestra.outputs({{"n": 7, "prev": ctx.outputs.first.value, "team": ctx.labels.team,
                       "held": "held" in ctx["outputs"] and "value" in ctx["outputs"]["held"]}})
      Kestra.counter("rows", 3, {{"t": "x"}})
      logger = Kestra.logger()
      logger.info("hello from the kestra package")
      logger.warning("warned by the kestra package")
  - id: next
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.py.vars.n * 6 }}}} {{{{ outputs.py.vars.prev }}}} {{{{ outputs.py.vars.team }}}} {{{{ outputs.py.vars.held }}}}"
"#,
        venv = venv.display()
    );
    let (done, lines) = execute_ok(&data, &flow).await;
    // The held secret is not in the execution context: `held` has no `value` there.
    assert_eq!(
        done.task_run("next").unwrap().outputs["value"],
        "42 from-first data false"
    );
    let has = |level: Level, text: &str| lines.iter().any(|(l, m)| *l == level && m.contains(text));
    assert!(
        has(Level::Info, "hello from the kestra package"),
        "{lines:?}"
    );
    assert!(
        has(Level::Warn, "warned by the kestra package"),
        "{lines:?}"
    );
    assert!(
        has(Level::Debug, r#"metric rows (counter) = 3 {"t":"x"}"#),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_files_hold_what_the_script_wrote_and_nothing_saker_put_there() {
    let data = Data::start(|dir, parts| parts.storage = Some(common::data_dir::storage(dir)));
    let (done, _) = execute_ok(
        &data,
        r#"
id: out
namespace: company.team
tasks:
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    outputFiles:
      - "*"
    script: |
      import os
      assert os.path.exists(".kestra-execution-context.json")
      open("result.txt", "w").write("42")
"#,
    )
    .await;
    let files = done.task_run("py").unwrap().outputs["outputFiles"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(files, ["result.txt"]);
}
