//! What a task runner sees of its task: rendered properties, a masked logger and a
//! cancellation flag.
//!
//! Rendered text keeps its taint ranges (the bytes that came from a secret) up to where it
//! leaves: text shown to a person has them replaced by `****` whatever their length
//! ([`TaskContext::log_rendered`]), text handed to a process must not hold a piece shorter
//! than the mask minimum ([`TaskContext::render_for_process`]), and outputs derived from them
//! are sealed (the [`OutputTaint`] the worker gets back).

use std::sync::Arc;

use saker_expr::{Context, RenderEnv, Rendered, Template};
use saker_mask::{DEFAULT_MIN_LEN, MASK};
use saker_model::{Level, TaskDef};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::cancel::Cancellation;
use crate::logs::TaskLogger;
use crate::masks::{ExecutionMasks, MaskSource, tainted_pieces};
use crate::runner::TaskError;
use crate::sealing::OutputTaint;
use crate::secrets::TaskSecrets;

/// One attempt of one task, as its runner sees it.
pub struct TaskContext {
    task: Arc<TaskDef>,
    variables: Context,
    secrets: TaskSecrets,
    masks: Arc<ExecutionMasks>,
    logger: TaskLogger,
    cancel: Cancellation,
    taint: OutputTaint,
    /// Where this attempt's processes run (set by the worker).
    pub(crate) sandbox: Option<saker_confine::AttemptSandbox>,
    /// Budgets of every render (set by the worker from `EngineParts::expression_limits`).
    pub(crate) limits: saker_expr::Limits,
    /// The files this attempt may read and write (set by the worker): `read()`, and
    /// `inputFiles`/`outputFiles`/`namespaceFiles` (`crate::files`).
    pub(crate) files: Option<crate::files::TaskFiles>,
    /// The KV store of `kv()` and the kv.* tasks (set by the worker).
    pub(crate) kv: Option<crate::kv::TaskKv>,
    /// The execution's ERROR lines for `errorLogs()` (set by the worker).
    pub(crate) error_logs: Option<crate::error_logs::TaskErrorLogs>,
}

impl TaskContext {
    pub(crate) fn new(
        task: Arc<TaskDef>,
        variables: Context,
        secrets: TaskSecrets,
        logger: TaskLogger,
        cancel: Cancellation,
    ) -> Self {
        let masks = secrets.masks.clone();
        Self {
            task,
            variables,
            secrets,
            masks,
            logger,
            cancel,
            taint: OutputTaint::default(),
            sandbox: None,
            limits: saker_expr::Limits::default(),
            files: None,
            kv: None,
            error_logs: None,
        }
    }

    /// Sets `taskrun.<field>` for the renders that follow (ForEachItem's `taskrun.items`,
    /// the batch each subflow call is rendered for).
    pub(crate) fn set_taskrun_field(&mut self, field: &str, value: saker_expr::Value) {
        let mut entries: Vec<(String, saker_expr::Value)> = match self.variables.get("taskrun") {
            Some(saker_expr::Value::Map(map, _)) => {
                map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
            }
            _ => Vec::new(),
        };
        entries.retain(|(k, _)| k != field);
        entries.push((field.to_owned(), value));
        self.variables
            .insert("taskrun", saker_expr::Value::map(entries));
    }

    /// The id of the execution this attempt belongs to (`{{ execution.id }}`).
    pub fn execution_id(&self) -> String {
        match self.variables.get("execution") {
            Some(saker_expr::Value::Map(map, _)) => map
                .get("id")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned(),
            _ => String::new(),
        }
    }

    /// A variable of this task's templates (`outputs`, `taskrun`, ...), taint included.
    pub(crate) fn variable(&self, name: &str) -> Option<&saker_expr::Value> {
        self.variables.get(name)
    }

    /// The task being run.
    pub fn task(&self) -> &TaskDef {
        &self.task
    }

    /// Runs the rest of this attempt as `task` (a TemplatedTask's task, built from its
    /// rendered `spec`); returns the task it replaces.
    pub(crate) fn replace_task(&mut self, task: Arc<TaskDef>) -> Arc<TaskDef> {
        std::mem::replace(&mut self.task, task)
    }

    /// A raw (unrendered) property.
    pub fn property(&self, name: &str) -> Option<&Value> {
        self.task.properties.get(name)
    }

    /// Renders a template with this task's variables, keeping which bytes of the text are
    /// tainted. Every tainted string it produced, and the text of every tainted range, joins
    /// the execution's mask set before the text is returned. Text that reaches a person goes
    /// out through [`log_rendered`](Self::log_rendered) or [`Rendered::masked`].
    pub fn render_template_rendered(&mut self, source: &str) -> Result<Rendered, TaskError> {
        let template = Template::compile(source).map_err(|e| TaskError::Render(e.to_string()))?;
        if template.is_static() {
            return Ok(untainted(source.to_owned()));
        }
        self.render_compiled(&template)
    }

    /// Renders a template with `extra` variables on top of this task's own (an item of a
    /// file: FilterItems' and DeduplicateItems' row), taint-tracked as
    /// [`render_template_rendered`](Self::render_template_rendered). A variable of `extra`
    /// hides the task's variable of the same name for this render only. Its values are clean
    /// variables: a caller whose values came from a secret (a row of a sealed file) keeps what
    /// it renders from them inside Saker and seals what it stores.
    pub fn render_with(
        &mut self,
        source: &str,
        extra: &Map<String, Value>,
    ) -> Result<Rendered, TaskError> {
        let template = Template::compile(source).map_err(|e| TaskError::Render(e.to_string()))?;
        if template.is_static() {
            return Ok(untainted(source.to_owned()));
        }
        // Swapped in and back out rather than cloning every variable of the task per render.
        let hidden: Vec<(&String, Option<saker_expr::Value>)> = extra
            .iter()
            .map(|(name, value)| {
                let before = self.variables.remove(name);
                self.variables
                    .insert(name.clone(), saker_expr::Value::from_json(value));
                (name, before)
            })
            .collect();
        let rendered = self.render_compiled(&template);
        for (name, before) in hidden {
            self.variables.remove(name);
            if let Some(before) = before {
                self.variables.insert(name.clone(), before);
            }
        }
        rendered
    }

    /// Renders a compiled, non-static template with this task's variables (see
    /// [`render_template_rendered`](Self::render_template_rendered)).
    fn render_compiled(&mut self, template: &Template) -> Result<Rendered, TaskError> {
        // Keys read by an earlier render are not this render's.
        self.secrets.take_read_keys();
        let env = RenderEnv {
            secrets: Some(&self.secrets),
            kv: self.kv.as_ref().map(|kv| kv as &dyn saker_expr::KvResolver),
            limits: self.limits,
            files: self
                .files
                .as_ref()
                .map(|files| files as &dyn saker_expr::FileReader),
            error_logs: self
                .error_logs
                .as_ref()
                .map(|logs| logs as &dyn saker_expr::ErrorLogReader),
            ..RenderEnv::default()
        };
        let rendered = template.render(&self.variables, &env);
        for warning in self.secrets.take_warnings() {
            self.logger.log(Level::Warn, &warning);
        }
        let rendered = rendered.map_err(|e| TaskError::Render(e.to_string()))?;
        if rendered.is_tainted() {
            self.masks.add_rendered(&rendered);
            self.taint.texts.push(Zeroizing::new(rendered.text.clone()));
        }
        Ok(rendered)
    }

    /// Renders a template with this task's variables, for text that stays inside Saker (a
    /// condition, a level). See [`render_template_rendered`](Self::render_template_rendered).
    pub fn render_template(&mut self, source: &str) -> Result<String, TaskError> {
        self.render_template_rendered(source).map(|r| r.text)
    }

    /// A scalar property rendered to a string; `None` when absent or null.
    pub fn render_string(&mut self, name: &str) -> Result<Option<String>, TaskError> {
        Ok(self.render_rendered_string(name)?.map(|r| r.text))
    }

    /// Like [`render_string`](Self::render_string), with the tainted ranges kept, for text
    /// shown to a person (an error message).
    pub fn render_rendered_string(&mut self, name: &str) -> Result<Option<Rendered>, TaskError> {
        match self.property(name).cloned() {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(_) | Value::Object(_)) => Err(TaskError::Property {
                property: name.to_owned(),
                message: "expected a string".into(),
            }),
            Some(other) => self
                .render_scalar(name, name, &other, Boundary::Engine)
                .map(Some),
        }
    }

    /// A property that is a string or a list of strings, each rendered; empty when absent.
    pub fn render_string_or_list(&mut self, name: &str) -> Result<Vec<String>, TaskError> {
        let rendered = self.render_list(name, Boundary::Engine)?;
        Ok(rendered.into_iter().map(|r| r.text).collect())
    }

    /// Like [`render_string_or_list`](Self::render_string_or_list), with the tainted ranges
    /// kept, for text shown to a person (log it with [`log_rendered`](Self::log_rendered)).
    pub fn render_rendered_or_list(&mut self, name: &str) -> Result<Vec<Rendered>, TaskError> {
        self.render_list(name, Boundary::Engine)
    }

    /// A string or list of strings handed to a process (a command, a script, an
    /// interpreter). A piece of a secret too short to be masked in what the process prints
    /// is refused with an error naming the task, the property and the secret.
    pub fn render_for_process(&mut self, name: &str) -> Result<Vec<String>, TaskError> {
        let rendered = self.render_list(name, Boundary::Process)?;
        Ok(rendered.into_iter().map(|r| r.text).collect())
    }

    /// A map of strings handed to a process (such as `env`), keys and values rendered and
    /// checked as in [`render_for_process`](Self::render_for_process).
    pub fn render_map_for_process(
        &mut self,
        name: &str,
    ) -> Result<Vec<(String, String)>, TaskError> {
        self.render_map(name, Boundary::Process)
    }

    /// A map of strings (such as `env`), keys and values rendered.
    pub fn render_string_map(&mut self, name: &str) -> Result<Vec<(String, String)>, TaskError> {
        self.render_map(name, Boundary::Engine)
    }

    /// A string property rendered into an output value.
    pub fn render_output_string(&mut self, name: &str) -> Result<Option<Value>, TaskError> {
        Ok(self.render_string(name)?.map(Value::String))
    }

    /// Any property with every string inside it rendered (maps, lists, scalars). A key
    /// derived from a secret is refused: keys are stored and shown as they are.
    pub fn render_output_value(&mut self, name: &str) -> Result<Option<Value>, TaskError> {
        match self.property(name).cloned() {
            None => Ok(None),
            Some(value) => self.render_deep(name, &value).map(Some),
        }
    }

    fn render_list(&mut self, name: &str, to: Boundary) -> Result<Vec<Rendered>, TaskError> {
        match self.property(name).cloned() {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| self.render_scalar(name, &format!("{name}[{i}]"), item, to))
                .collect(),
            Some(other) => Ok(vec![self.render_scalar(name, name, &other, to)?]),
        }
    }

    fn render_map(&mut self, name: &str, to: Boundary) -> Result<Vec<(String, String)>, TaskError> {
        match self.property(name).cloned() {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Object(map)) => {
                let mut out = Vec::with_capacity(map.len());
                for (k, v) in &map {
                    let place = format!("{name}.{k}");
                    let key = self.render_checked(&place, k, to)?;
                    let value = self.render_scalar(name, &place, v, to)?;
                    out.push((key.text, value.text));
                }
                Ok(out)
            }
            Some(_) => Err(TaskError::Property {
                property: name.to_owned(),
                message: "expected a map of strings".into(),
            }),
        }
    }

    fn render_deep(&mut self, name: &str, value: &Value) -> Result<Value, TaskError> {
        Ok(match value {
            Value::String(s) => Value::String(self.render_template(s)?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.render_deep(name, v))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    let key = self.render_template_rendered(k)?;
                    if key.is_tainted() {
                        return Err(TaskError::Property {
                            property: name.to_owned(),
                            message: "a key is derived from a secret; keys are stored and shown \
                                      as they are, so put the secret in a value instead"
                                .into(),
                        });
                    }
                    out.insert(key.text, self.render_deep(name, v)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }

    /// One scalar (`place` names it in errors: `commands[1]`, `env.TOKEN`).
    fn render_scalar(
        &mut self,
        name: &str,
        place: &str,
        value: &Value,
        to: Boundary,
    ) -> Result<Rendered, TaskError> {
        let text = match value {
            Value::String(s) => return self.render_checked(place, s, to),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            _ => {
                return Err(TaskError::Property {
                    property: name.to_owned(),
                    message: "expected a string or a list of strings".into(),
                });
            }
        };
        Ok(untainted(text))
    }

    fn render_checked(
        &mut self,
        place: &str,
        source: &str,
        to: Boundary,
    ) -> Result<Rendered, TaskError> {
        let rendered = self.render_template_rendered(source)?;
        if to == Boundary::Process && rendered.is_tainted() {
            self.taint.handed_to_process = true;
            self.refuse_short_pieces(place, &rendered)?;
        }
        Ok(rendered)
    }

    /// A tainted range shorter than the mask minimum would reach a process that can print
    /// it, where no masker could recognise it: refused, naming where it came from.
    fn refuse_short_pieces(&self, place: &str, rendered: &Rendered) -> Result<(), TaskError> {
        let Some(piece) =
            tainted_pieces(rendered).find(|piece| piece.chars().count() < DEFAULT_MIN_LEN)
        else {
            return Ok(());
        };
        let read = self.secrets.read_keys();
        let mut sources: Vec<MaskSource> = self
            .masks
            .sources_containing(piece)
            .into_iter()
            .filter(|s| match s {
                MaskSource::Secret(key) => read.contains(key),
                MaskSource::Sealed(_) => true,
            })
            .collect();
        if sources.is_empty() {
            sources = read.into_iter().map(MaskSource::Secret).collect();
        }
        if sources.is_empty() {
            sources = self.masks.sealed_sources();
        }
        Err(TaskError::SecretPiece {
            task: self.task.id.clone(),
            property: place.to_owned(),
            sources: if sources.is_empty() {
                "a value derived from a secret".to_owned()
            } else {
                sources
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            length: piece.chars().count(),
            min: DEFAULT_MIN_LEN,
        })
    }

    /// Logs one line (masked) for this task.
    pub fn log(&mut self, level: Level, message: &str) {
        self.logger.log(level, message);
    }

    /// Logs rendered text: every tainted range becomes `****` whatever its length, then the
    /// line is masked by value like any other.
    pub fn log_rendered(&mut self, level: Level, rendered: &Rendered) {
        self.logger.log(level, &rendered.masked(MASK));
    }

    /// Writes the buffered log lines now; long-running runners call it periodically so that
    /// what a task printed is in the store even while it keeps running.
    pub fn flush_logs(&mut self) {
        self.logger.flush();
    }

    /// The execution's mask set as it is now, for runners that mask a stream themselves
    /// (a secret split across reads of a process's output).
    pub fn mask_set(&self) -> saker_mask::MaskSet {
        self.masks.snapshot()
    }

    /// Set when the execution is killed or the task times out.
    pub fn cancellation(&self) -> Cancellation {
        self.cancel.clone()
    }

    /// True once a rendered property was derived from a secret.
    pub fn saw_taint(&self) -> bool {
        !self.taint.texts.is_empty()
    }

    /// The logger and what the task's outputs must be sealed for, handed back to the worker
    /// when the task ends.
    pub(crate) fn finish(self) -> (TaskLogger, OutputTaint) {
        (self.logger, self.taint)
    }

    /// The files of this attempt (`crate::files`).
    pub fn task_files(&self) -> Result<&crate::files::TaskFiles, TaskError> {
        self.files
            .as_ref()
            .ok_or_else(|| TaskError::Failed(crate::files::FileError::NoStorage.to_string()))
    }

    /// Text written into the working directory for the process (an `inputFiles` entry),
    /// rendered and checked as in [`render_for_process`](Self::render_for_process).
    pub(crate) fn render_file_for_process(
        &mut self,
        place: &str,
        source: &str,
    ) -> Result<Rendered, TaskError> {
        self.render_checked(place, source, Boundary::Process)
    }

    /// Secret content (a sealed file) was handed to the process: its outputs are sealed.
    pub(crate) fn mark_handed_to_process(&mut self) {
        self.taint.handed_to_process = true;
    }

    /// True once tainted text was handed to a process of this attempt.
    pub(crate) fn handed_taint_to_process(&self) -> bool {
        self.taint.handed_to_process
    }

    /// Marks `text` as derived from a secret, as a tainted render would: it joins the mask set,
    /// and an output string equal to it is sealed (a kv.Get of a sealed value).
    pub(crate) fn taint_output(&mut self, text: &str) {
        self.masks.add([text]);
        self.taint.texts.push(Zeroizing::new(text.to_owned()));
    }

    /// The KV store, for the kv.* tasks.
    pub fn kv(&self) -> Result<&crate::kv::TaskKv, TaskError> {
        self.kv
            .as_ref()
            .ok_or_else(|| TaskError::Failed("this worker has no KV store".into()))
    }

    /// The confined sandbox every process of this attempt must run in.
    pub fn sandbox(&self) -> Result<&saker_confine::AttemptSandbox, TaskError> {
        self.sandbox.as_ref().ok_or_else(|| {
            TaskError::Failed("this worker has no task confinement configured".into())
        })
    }
}

/// Text that came from no secret, as a render result.
fn untainted(text: String) -> Rendered {
    Rendered {
        text,
        ..Rendered::default()
    }
}

/// Where rendered text goes: it stays in Saker (logged masked, stored sealed), or it leaves
/// for a process, which prints what it likes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Boundary {
    Engine,
    Process,
}

/// Kestra's truthiness of a rendered condition: `true` (any case) and non-zero numbers are
/// true; `false`, `0`, the empty string and `null` are false; anything else is true.
pub fn is_truthy(rendered: &str) -> bool {
    let s = rendered.trim();
    !(s.is_empty() || s.eq_ignore_ascii_case("false") || s == "0" || s.eq_ignore_ascii_case("null"))
}

#[cfg(test)]
mod tests {
    use super::is_truthy;

    #[test]
    fn truthiness() {
        for t in ["true", "TRUE", "1", "yes", " true "] {
            assert!(is_truthy(t), "{t}");
        }
        for f in ["false", "False", "0", "", "null", "  "] {
            assert!(!is_truthy(f), "{f}");
        }
    }
}
