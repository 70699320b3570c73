//! Taint ranges from the render to where text leaves: log lines and error messages show
//! every tainted range as `****` whatever its length, a process is refused a piece too short
//! to mask, and every output derived from a secret is sealed.

mod common;

use std::sync::Arc;
use std::time::Duration;

use saker_crypto::{Keyring, SecretKey};
use saker_engine::{Engine, EngineParts, KeyringSealer, display_masked};
use saker_model::execution::as_sealed;
use saker_model::{DEFAULT_TENANT, Execution, Level, StateType};
use saker_store::{LogQuery, SqliteStore, Store};
use serde_json::{Map, Value, json};

const K: &str = "abcdefgh-secret-42";

struct Run {
    done: Execution,
    /// (task id, level, message) of every log line.
    logs: Vec<(String, Level, String)>,
}

impl Run {
    fn lines_of(&self, task: &str) -> Vec<&str> {
        self.logs
            .iter()
            .filter(|(t, _, _)| t == task)
            .map(|(_, _, m)| m.as_str())
            .collect()
    }

    fn output(&self, task: &str, name: &str) -> &Value {
        &self.done.task_run(task).unwrap().outputs[name]
    }
}

async fn run(tasks: &str) -> Run {
    run_with(tasks, "", Map::new()).await
}

async fn run_with(tasks: &str, inputs_yaml: &str, inputs: Map<String, Value>) -> Run {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let mut parts = EngineParts::new(store.clone());
    parts.secrets = Arc::new(common::KeyedSecrets::new([("K", K.to_owned())]));
    parts.sealer = Some(Arc::new(KeyringSealer::new(Keyring::new(
        SecretKey::generate(),
    ))));
    let engine = Engine::start(parts);
    let source = format!("id: f\nnamespace: company.team\n{inputs_yaml}tasks:\n{tasks}");
    let (flow, saved) = engine.deploy(DEFAULT_TENANT, &source).unwrap();
    let execution = engine
        .create_execution(DEFAULT_TENANT, flow, saved.flow.revision, inputs)
        .unwrap();
    let done = tokio::time::timeout(Duration::from_secs(30), engine.wait(&execution.id))
        .await
        .expect("the execution did not end")
        .unwrap();
    let logs = store
        .list_logs(&LogQuery::new(&done.id))
        .unwrap()
        .into_iter()
        .map(|l| {
            (
                l.entry.task_id.unwrap_or_default(),
                l.entry.level,
                l.entry.message,
            )
        })
        .collect();
    Run { done, logs }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_and_errors_mask_tainted_ranges_of_any_length() {
    let r = run(concat!(
        "  - id: log\n    type: io.kestra.plugin.core.log.Log\n",
        "    message: \"a {{ secret('K') | slice(0, 1) }} b {{ secret('K') | slice(1, 3) }} c\"\n",
        "  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n",
        "    errorMessage: \"failed on {{ secret('K') | slice(3, 5) }}!\"\n",
    ))
    .await;
    assert_eq!(r.lines_of("log"), ["a **** b **** c"]);
    assert_eq!(r.lines_of("boom"), ["failed on ****!"]);
    assert_eq!(r.done.state.current, StateType::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_piece_is_refused_at_a_process_naming_the_secret_not_the_value() {
    let r = run(concat!(
        "  - id: sh\n    type: io.kestra.plugin.scripts.shell.Commands\n",
        "    env:\n      PIECE: \"{{ secret('K') | slice(0, 3) }}\"\n",
        "    commands: ['echo \"$PIECE\"']\n",
    ))
    .await;
    assert_eq!(r.done.state.current, StateType::Failed);
    let lines = r.lines_of("sh");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        lines[0],
        "task 'sh': property 'env.PIECE' holds a piece of secret 'K' only 3 character(s) long; \
         pieces shorter than 4 characters cannot be masked in what a process prints, so they \
         are not handed to one: pass the whole value, or at least 4 characters of it"
    );
    assert!(!lines[0].contains("abc"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_piece_of_a_secret_input_names_the_input() {
    let mut inputs = Map::new();
    inputs.insert("pin".into(), Value::String("pin-9876-xyz".into()));
    let r = run_with(
        concat!(
            "  - id: sh\n    type: io.kestra.plugin.scripts.shell.Commands\n",
            "    commands: ['echo {{ inputs.pin | slice(4, 6) }}']\n",
        ),
        "inputs:\n  - id: pin\n    type: SECRET\n",
        inputs,
    )
    .await;
    assert_eq!(r.done.state.current, StateType::Failed);
    let lines = r.lines_of("sh");
    assert!(
        lines[0].starts_with(
            "task 'sh': property 'commands[0]' holds a piece of 'inputs.pin' only 2 character(s) long"
        ),
        "{lines:?}"
    );
    assert!(r.logs.iter().all(|(_, _, m)| !m.contains("98")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_enough_piece_reaches_the_process_and_is_masked_in_what_it_prints() {
    let r = run(concat!(
        "  - id: sh\n    type: io.kestra.plugin.scripts.shell.Commands\n",
        "    env:\n      PIECE: \"{{ secret('K') | slice(0, 6) }}\"\n",
        "    commands: ['echo \"got $PIECE\"', 'echo ::{\\\"outputs\\\":{\\\"n\\\":1,\\\"s\\\":\\\"plain\\\"}}::']\n",
        "  - id: clean\n    type: io.kestra.plugin.scripts.shell.Commands\n",
        "    commands: ['echo ::{\\\"outputs\\\":{\\\"s\\\":\\\"open\\\"}}::']\n",
    ))
    .await;
    assert_eq!(r.done.state.current, StateType::Success, "{:?}", r.logs);
    assert_eq!(r.lines_of("sh"), ["got ****"]);
    // A task handed tainted text has every string output sealed, numbers kept.
    let vars = r.output("sh", "vars");
    assert!(as_sealed(&vars["s"]).is_some(), "{vars}");
    assert_eq!(vars["n"], 1);
    // One that was not keeps its outputs as they are. ("plain" itself would now be sealed
    // by value: opening `sh`'s sealed output for `clean` put it in the execution's set.)
    assert_eq!(r.output("clean", "vars")["s"], "open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tainted_outputs_are_sealed_and_open_tainted_for_later_tasks() {
    let r = run(concat!(
        "  - id: ret\n    type: io.kestra.plugin.core.debug.Return\n",
        "    format: \"id-{{ secret('K') | slice(0, 2) }}\"\n",
        "  - id: plain\n    type: io.kestra.plugin.core.debug.Return\n",
        "    format: \"nothing secret\"\n",
        "  - id: vals\n    type: io.kestra.plugin.core.output.OutputValues\n",
        "    values:\n      short: \"{{ secret('K') | slice(0, 1) }}\"\n      other: \"x\"\n",
        "  - id: reads\n    type: io.kestra.plugin.core.log.Log\n",
        "    message: \"{{ outputs.ret.value }} {{ outputs.vals['values'].short }}\"\n",
    ))
    .await;
    assert_eq!(r.done.state.current, StateType::Success, "{:?}", r.logs);
    assert!(as_sealed(r.output("ret", "value")).is_some());
    assert_eq!(r.output("plain", "value"), "nothing secret");
    let vals = r.output("vals", "values");
    assert!(as_sealed(&vals["short"]).is_some(), "{vals}");
    assert_eq!(vals["other"], "x");
    assert_eq!(display_masked(vals), json!({"short": "****", "other": "x"}));
    // Opened for a later task, they are tainted again: masked whatever their length.
    assert_eq!(r.lines_of("reads"), ["**** ****"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_key_derived_from_a_secret_is_refused() {
    let r = run(concat!(
        "  - id: vals\n    type: io.kestra.plugin.core.output.OutputValues\n",
        "    values:\n      \"{{ secret('K') | slice(0, 2) }}\": \"v\"\n",
    ))
    .await;
    assert_eq!(r.done.state.current, StateType::Failed);
    let lines = r.lines_of("vals");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("a key is derived from a secret")),
        "{lines:?}"
    );
    assert!(r.logs.iter().all(|(_, _, m)| !m.contains("ab")));
}
