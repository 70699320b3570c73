//! One scenario of a conformance file: deploy what it needs on an engine of its own, run the
//! flow (or the flows it `start`s), drive it (pause and resume, a concurrent execution, a
//! rerun, a restart, a replay), and check every stage with `conformance_checks`.

use std::path::PathBuf;
use std::sync::Arc;

use saker_engine::{Engine, EngineParts};
use saker_model::{DEFAULT_TENANT, Execution, ExecutionTrigger, Flow};
use saker_store::{SqliteStore, Store};
use serde_json::{Map, Value};

use crate::conformance_checks::{Observed, check, substitute};
use crate::conformance_engine as eng;

/// Where a conformance file's flows are, and how its engines are built.
pub struct Corpus {
    /// The folder of the flows the entries' `file` keys name.
    pub dir: PathBuf,
    /// Further folders searched for `deploy` and `start` files, in order.
    pub also: Vec<PathBuf>,
    /// The engine's parts (secrets, globals, sealer) over a store.
    pub parts: fn(Arc<dyn Store>) -> EngineParts,
}

impl Corpus {
    fn source(&self, file: &str) -> Result<String, String> {
        std::iter::once(&self.dir)
            .chain(&self.also)
            .map(|dir| dir.join(file))
            .find(|path| path.is_file())
            .ok_or_else(|| format!("{file} is in none of the corpus folders"))
            .and_then(|path| {
                std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))
            })
    }
}

/// The scenario's name in failure messages: its file, and the Kestra test it comes from.
pub fn name(case: &Value) -> String {
    let file = case["file"].as_str().unwrap_or("(no file)");
    match case["test"].as_str() {
        Some(test) => format!("{file} [{test}]"),
        None => file.to_owned(),
    }
}

/// Runs one scenario; returns its failures, each prefixed by the scenario's name.
pub async fn run(corpus: Arc<Corpus>, case: Value) -> Vec<String> {
    let name = name(&case);
    let store: Arc<dyn Store> = match SqliteStore::open_in_memory() {
        Ok(s) => Arc::new(s),
        Err(e) => return vec![format!("{name}: cannot open a store: {e}")],
    };
    let engine = Engine::start((corpus.parts)(store.clone()));
    let run = Run {
        corpus: &corpus,
        engine: &engine,
        store: store.as_ref(),
    };
    let failures = match run.scenario(&case).await {
        Ok(failures) => failures,
        Err(stop) => vec![stop],
    };
    failures
        .into_iter()
        .map(|f| format!("{name}: {f}"))
        .collect()
}

struct Run<'a> {
    corpus: &'a Corpus,
    engine: &'a Engine,
    store: &'a dyn Store,
}

impl Run<'_> {
    /// The failures of a scenario that ran to its end, or `Err` for the one that stopped it.
    async fn scenario(&self, case: &Value) -> Result<Vec<String>, String> {
        let file = case["file"].as_str().ok_or("entry without 'file'")?;
        let source = self.corpus.source(file)?;
        if let Some(expected) = case["rejected"].as_str() {
            return Ok(match self.engine.deploy(DEFAULT_TENANT, &source) {
                Ok(_) => vec![format!(
                    "deployed, but must be rejected naming '{expected}'"
                )],
                Err(e) if e.to_string().contains(expected) => Vec::new(),
                Err(e) => vec![format!("rejected without naming '{expected}': {e}")],
            });
        }
        for other in case["deploy"].as_array().into_iter().flatten() {
            self.deploy(other.as_str().unwrap_or_default())?;
        }
        let flow = self.deploy(file)?;
        if let Some(starts) = case["start"].as_array() {
            return self.started(case, starts).await;
        }
        let inputs = self.inputs(case, &flow.0)?;
        let created = self.create(case, &flow, inputs.clone());
        let execution = match (created, case["createError"].as_str()) {
            (Err(e), Some(expected)) if e.contains(expected) => return Ok(Vec::new()),
            (Err(e), _) => return Err(format!("creation failed: {e}")),
            (Ok(_), Some(expected)) => {
                return Err(format!("creation should fail with '{expected}'"));
            }
            (Ok(execution), None) => execution,
        };
        let case = &substitute(case, &execution.id);
        let mut failures = Vec::new();
        if case.get("paused").is_some() || case.get("resume").is_some() {
            let at_pause = eng::wait_state(self.store, &execution.id, "PAUSED").await?;
            failures.extend(prefixed(
                "paused",
                self.check_one(&case["paused"], &at_pause),
            ));
            if let Some(resume) = case.get("resume") {
                let inputs = resume["inputs"].as_object().cloned().unwrap_or_default();
                let resumed = eng::resume(self.engine, &execution.id, inputs);
                if let Some(expected) = case["resumeError"].as_str() {
                    let _ = self.engine.kill(&execution.id);
                    return Ok(match resumed {
                        Err(e) if e.contains(expected) => failures,
                        Err(e) => vec![format!("resume refused without '{expected}': {e}")],
                        Ok(()) => vec![format!("resume should be refused with '{expected}'")],
                    });
                }
                resumed.inspect_err(|_| {
                    let _ = self.engine.kill(&execution.id);
                })?;
            }
        }
        if let Some(expected) = case.get("concurrent") {
            eng::wait_started(self.store, &execution.id).await?;
            let second = self
                .create(case, &flow, inputs.clone())
                .map_err(|e| format!("the concurrent execution was not created: {e}"))?;
            let second = eng::wait_end(self.engine, &second.id).await?;
            failures.extend(prefixed("concurrent", self.check_one(expected, &second)));
        }
        let ended = eng::wait_end(self.engine, &execution.id).await?;
        failures.extend(self.check_one(case, &ended));
        if let Some(expected) = case.get("rerun") {
            let again = self.create(case, &flow, inputs)?;
            let again = eng::wait_end(self.engine, &again.id).await?;
            failures.extend(prefixed("rerun", self.check_one(expected, &again)));
        }
        if let Some(expected) = case.get("restart") {
            eng::restart(self.engine, &ended.id)?;
            let restarted = eng::wait_end(self.engine, &ended.id).await?;
            failures.extend(prefixed("restart", self.check_one(expected, &restarted)));
        }
        if let Some(expected) = case.get("replay") {
            let task = expected["from"].as_str().unwrap_or_default();
            let from = ended
                .task_run_list
                .iter()
                .find(|r| r.task_id == task)
                .ok_or_else(|| format!("replay: task {task} has no task run"))?;
            let new_id = eng::replay(self.engine, &ended.id, &from.id)?;
            let replayed = eng::wait_end(self.engine, &new_id).await?;
            failures.extend(prefixed("replay", self.check_one(expected, &replayed)));
        }
        failures.extend(self.triggered(case).await);
        Ok(failures)
    }

    /// `start`: the flows run one after the other, each to its state; then `triggered`.
    async fn started(&self, case: &Value, starts: &[Value]) -> Result<Vec<String>, String> {
        let mut failures = Vec::new();
        let mut last = None;
        for start in starts {
            let file = start["file"].as_str().unwrap_or_default();
            let flow = self.deploy(file)?;
            let created = self
                .engine
                .create_execution(DEFAULT_TENANT, flow.0, flow.1, Map::new())
                .map_err(|e| format!("{file}: creation failed: {e}"))?;
            let ended = eng::wait_end(self.engine, &created.id).await?;
            let state = ended.state.current.as_str();
            if let Some(expected) = start["state"].as_str()
                && state != expected
            {
                failures.push(format!(
                    "started {file} ended {state} instead of {expected}"
                ));
            }
            last = Some(ended.id);
        }
        let parent = last.ok_or("'start' lists no flow")?;
        failures.extend(self.triggered(&substitute(case, &parent)).await);
        Ok(failures)
    }

    /// `triggered`: the executions of other flows the run started, and their checks.
    async fn triggered(&self, case: &Value) -> Vec<String> {
        let mut failures = Vec::new();
        for expected in case["triggered"].as_array().into_iter().flatten() {
            let flow = expected["flow"].as_str().unwrap_or_default();
            let count = expected["count"].as_u64().unwrap_or(1) as usize;
            match eng::wait_triggered(self.store, flow, count).await {
                Err(e) => failures.push(e),
                Ok(found) if count == 0 => {
                    if !found.is_empty() {
                        failures.push(format!(
                            "{} execution(s) of {flow} started, expected none",
                            found.len()
                        ));
                    }
                }
                Ok(found) => {
                    for execution in found.iter().filter(|e| e.state.current.is_terminated()) {
                        let label = format!("triggered {flow} {}", execution.id);
                        failures.extend(prefixed(&label, self.check_one(expected, execution)));
                    }
                }
            }
        }
        failures
    }

    fn check_one(&self, case: &Value, execution: &Execution) -> Vec<String> {
        let logs = eng::log_messages(self.store, &execution.id);
        check(
            case,
            &Observed {
                execution,
                logs: &logs,
            },
        )
    }

    fn deploy(&self, file: &str) -> Result<(Arc<Flow>, u32), String> {
        let source = self.corpus.source(file)?;
        let (flow, saved) = self
            .engine
            .deploy(DEFAULT_TENANT, &source)
            .map_err(|e| format!("{file} does not deploy: {e}"))?;
        Ok((flow, saved.flow.revision))
    }

    /// `inputs`, `largeInputs` and `fileInputs`, as raw inputs.
    fn inputs(&self, case: &Value, flow: &Flow) -> Result<Map<String, Value>, String> {
        let mut inputs = case["inputs"].as_object().cloned().unwrap_or_default();
        for (id, length) in case["largeInputs"].as_object().into_iter().flatten() {
            let length = length.as_u64().unwrap_or_default() as usize;
            inputs.insert(id.clone(), Value::String("a".repeat(length)));
        }
        for (id, content) in case["fileInputs"].as_object().into_iter().flatten() {
            let bytes = file_content(content);
            let value = eng::file_input(self.engine, &flow.namespace, &flow.id, id, &bytes)?;
            inputs.insert(id.clone(), value);
        }
        Ok(inputs)
    }

    /// Creates an execution as the entry says: as a trigger would, with labels, or plainly.
    fn create(
        &self,
        case: &Value,
        flow: &(Arc<Flow>, u32),
        inputs: Map<String, Value>,
    ) -> Result<Execution, String> {
        let (flow, revision) = (flow.0.clone(), flow.1);
        let created = if let Some(trigger) = case.get("startedBy") {
            let trigger = ExecutionTrigger {
                id: trigger["id"].as_str().unwrap_or_default().to_owned(),
                type_name: trigger["type"].as_str().unwrap_or_default().to_owned(),
                variables: trigger["variables"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            };
            self.engine
                .create_execution_triggered(DEFAULT_TENANT, flow, revision, inputs, trigger)
        } else if let Some(labels) = case["executionLabels"].as_object() {
            self.engine.create_execution_labeled(
                DEFAULT_TENANT,
                flow,
                revision,
                inputs,
                labels.clone(),
            )
        } else {
            self.engine
                .create_execution(DEFAULT_TENANT, flow, revision, inputs)
        };
        created.map_err(|e| e.to_string())
    }
}

/// A FILE input's content: the text given, or `{lines: N}` for the file of Kestra's tests
/// (`ForEachItemCaseTest.content`: each line number left-padded to 20 characters).
fn file_content(content: &Value) -> Vec<u8> {
    match content["lines"].as_u64() {
        Some(lines) => (0..lines)
            .map(|n| format!("{n:>20}\n"))
            .collect::<String>()
            .into_bytes(),
        None => content.as_str().unwrap_or_default().as_bytes().to_vec(),
    }
}

fn prefixed(stage: &str, failures: Vec<String>) -> Vec<String> {
    failures
        .into_iter()
        .map(|f| format!("{stage}: {f}"))
        .collect()
}
