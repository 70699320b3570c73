//! What a task runner sees of its task: rendered properties, a masked logger and a
//! cancellation flag.

use std::sync::Arc;

use saker_expr::{Context, RenderEnv, Template};
use saker_model::{Level, TaskDef};
use serde_json::{Map, Value};

use crate::cancel::Cancellation;
use crate::logs::TaskLogger;
use crate::masks::ExecutionMasks;
use crate::runner::TaskError;
use crate::secrets::TaskSecrets;

/// One attempt of one task, as its runner sees it.
pub struct TaskContext {
    task: Arc<TaskDef>,
    variables: Context,
    secrets: TaskSecrets,
    masks: Arc<ExecutionMasks>,
    logger: TaskLogger,
    cancel: Cancellation,
    /// Set once any rendered property was derived from a secret.
    saw_taint: bool,
    /// Where this attempt's processes run (set by the worker).
    pub(crate) sandbox: Option<saker_confine::AttemptSandbox>,
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
            saw_taint: false,
            sandbox: None,
        }
    }

    /// The task being run.
    pub fn task(&self) -> &TaskDef {
        &self.task
    }

    /// A raw (unrendered) property.
    pub fn property(&self, name: &str) -> Option<&Value> {
        self.task.properties.get(name)
    }

    /// Renders a template with this task's variables. Every tainted string it produced joins
    /// the execution's mask set before the text is returned.
    pub fn render_template(&mut self, source: &str) -> Result<String, TaskError> {
        let template = Template::compile(source).map_err(|e| TaskError::Render(e.to_string()))?;
        if template.is_static() {
            return Ok(source.to_owned());
        }
        let env = RenderEnv {
            secrets: Some(&self.secrets),
            ..RenderEnv::default()
        };
        let rendered = template.render(&self.variables, &env);
        for warning in self.secrets.take_warnings() {
            self.logger.log(Level::Warn, &warning);
        }
        let rendered = rendered.map_err(|e| TaskError::Render(e.to_string()))?;
        if rendered.is_tainted() {
            self.saw_taint = true;
            self.masks
                .add(rendered.tainted_strings.iter().map(String::as_str));
        }
        Ok(rendered.text)
    }

    /// A scalar property rendered to a string; `None` when absent or null.
    pub fn render_string(&mut self, name: &str) -> Result<Option<String>, TaskError> {
        match self.property(name).cloned() {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => self.render_template(&s).map(Some),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(TaskError::Property {
                property: name.to_owned(),
                message: "expected a string".into(),
            }),
        }
    }

    /// A property that is a string or a list of strings, each rendered; empty when absent.
    pub fn render_string_or_list(&mut self, name: &str) -> Result<Vec<String>, TaskError> {
        match self.property(name).cloned() {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| self.render_scalar(name, item))
                .collect(),
            Some(other) => Ok(vec![self.render_scalar(name, &other)?]),
        }
    }

    /// A map of strings (such as `env`), keys and values rendered.
    pub fn render_string_map(&mut self, name: &str) -> Result<Vec<(String, String)>, TaskError> {
        match self.property(name).cloned() {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| Ok((self.render_template(k)?, self.render_scalar(name, v)?)))
                .collect(),
            Some(_) => Err(TaskError::Property {
                property: name.to_owned(),
                message: "expected a map of strings".into(),
            }),
        }
    }

    /// A string property rendered into an output value.
    pub fn render_output_string(&mut self, name: &str) -> Result<Option<Value>, TaskError> {
        Ok(self.render_string(name)?.map(Value::String))
    }

    /// Any property with every string inside it rendered (maps, lists, scalars).
    pub fn render_output_value(&mut self, name: &str) -> Result<Option<Value>, TaskError> {
        match self.property(name).cloned() {
            None => Ok(None),
            Some(value) => self.render_deep(&value).map(Some),
        }
    }

    fn render_deep(&mut self, value: &Value) -> Result<Value, TaskError> {
        Ok(match value {
            Value::String(s) => Value::String(self.render_template(s)?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.render_deep(v))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    out.insert(self.render_template(k)?, self.render_deep(v)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }

    fn render_scalar(&mut self, name: &str, value: &Value) -> Result<String, TaskError> {
        match value {
            Value::String(s) => self.render_template(s),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err(TaskError::Property {
                property: name.to_owned(),
                message: "expected a string or a list of strings".into(),
            }),
        }
    }

    /// Logs one line (masked) for this task.
    pub fn log(&mut self, level: Level, message: &str) {
        self.logger.log(level, message);
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
        self.saw_taint
    }

    /// The logger, handed back to the worker when the task ends.
    pub(crate) fn into_logger(self) -> TaskLogger {
        self.logger
    }

    /// The confined sandbox every process of this attempt must run in.
    pub fn sandbox(&self) -> Result<&saker_confine::AttemptSandbox, TaskError> {
        self.sandbox.as_ref().ok_or_else(|| {
            TaskError::Failed("this worker has no task confinement configured".into())
        })
    }
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
