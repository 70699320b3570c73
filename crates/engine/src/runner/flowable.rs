//! The worker's half of the flowable tasks: it renders what a flowable decides on (an `If`'s
//! condition, a `Switch`'s value, a `ForEach`'s values, a `Pause`'s duration) and returns it
//! as a [`Resolved`]; the executor records it and the planner (`plan.rs`) opens the chosen
//! children. Rendering happens here because only the worker may resolve secrets, and a
//! decision derived from one leaves the worker sealed (a `ForEach` value) or not at all (an
//! `If` branch is a choice between two lists the flow already shows).
//!
//! Also `Sleep`, a runnable task that waits.

use std::time::Duration;

use saker_model::{Branch, Resolved};
use serde_json::Value;

use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

/// Most values a `ForEach` iterates on: beyond this the flow should batch (`ForEachItem`).
pub const MAX_VALUES: usize = 100_000;

/// Sequential, Parallel, AllowFailure, Dag: nothing to decide; their
/// children are fixed by the flow.
pub struct Fixed;

impl TaskRunner for Fixed {
    fn run<'a>(&'a self, _ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move { Ok(resolved(Resolved::default())) })
    }
}

/// `If`: `then` when `condition` renders to a true value, else `else`.
pub struct If;

impl TaskRunner for If {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let condition = ctx.render_string("condition")?.unwrap_or_default();
            let branch = if crate::task_context::is_truthy(&condition) {
                Branch::Then
            } else {
                Branch::Else
            };
            Ok(resolved(Resolved {
                branch: Some(branch),
                ..Resolved::default()
            }))
        })
    }
}

/// `Switch`: the case whose key equals the rendered `value`, else `defaults`. Its output
/// `value` is the rendered value (sealed by the worker when derived from a secret).
pub struct Switch;

impl TaskRunner for Switch {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let value = ctx.render_string("value")?.unwrap_or_default();
            let task = ctx.task();
            let branch = if task.cases.contains_key(&value) {
                Branch::Case(value.clone())
            } else if task.subtasks.get("defaults").is_some_and(|d| !d.is_empty()) {
                Branch::Defaults
            } else {
                // Kestra fails the same way: no case matches and there are no defaults.
                let cases: Vec<&str> = task.cases.keys().map(String::as_str).collect();
                return Err(TaskError::Failed(format!(
                    "no case of switch '{}' matches its value and it has no 'defaults' (cases: {})",
                    task.id,
                    cases.join(", ")
                )));
            };
            let defaults = branch == Branch::Defaults;
            let mut outcome = resolved(Resolved {
                branch: Some(branch),
                ..Resolved::default()
            });
            outcome.outputs.insert("value".into(), Value::String(value));
            outcome
                .outputs
                .insert("defaults".into(), Value::Bool(defaults));
            Ok(outcome)
        })
    }
}

/// `ForEach` (`values`), `EachSequential` and `EachParallel` (`value`): the values to
/// iterate on, rendered, as Kestra takes them: a list (each element rendered; non-string
/// elements become JSON text) or a string rendering to a JSON array. Duplicates are dropped;
/// a null value is an error. Values from a render that touched a secret are marked for
/// sealing.
pub struct Each {
    pub property: &'static str,
}

impl TaskRunner for Each {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let raw = ctx.property(self.property).cloned().unwrap_or(Value::Null);
            let mut items: Vec<(Value, bool)> = Vec::new();
            match raw {
                Value::String(source) => {
                    let rendered = ctx.render_template_rendered(&source)?;
                    let tainted = rendered.is_tainted();
                    let parsed: Value = serde_json::from_str(&rendered.text).map_err(|e| {
                        TaskError::Property {
                            property: self.property.into(),
                            message: format!(
                                "must be a list or a JSON array, and the rendered text is not JSON ({e})"
                            ),
                        }
                    })?;
                    let Value::Array(list) = parsed else {
                        return Err(TaskError::Property {
                            property: self.property.into(),
                            message: "must render to a JSON array".into(),
                        });
                    };
                    items.extend(list.into_iter().map(|v| (v, tainted)));
                }
                Value::Array(list) => {
                    for item in list {
                        match item {
                            Value::String(s) => {
                                let rendered = ctx.render_template_rendered(&s)?;
                                let tainted = rendered.is_tainted();
                                items.push((Value::String(rendered.text), tainted));
                            }
                            other => items.push((other, false)),
                        }
                    }
                }
                Value::Null => {}
                other => {
                    return Err(TaskError::Property {
                        property: self.property.into(),
                        message: format!("must be a list or a JSON array, got {other}"),
                    });
                }
            }
            if items.len() > MAX_VALUES {
                return Err(TaskError::Property {
                    property: self.property.into(),
                    message: format!(
                        "{} values is more than the {MAX_VALUES} a loop takes; split the work with ForEachItem",
                        items.len()
                    ),
                });
            }
            let nulls = items.iter().filter(|(v, _)| v.is_null()).count();
            if nulls > 0 {
                // Kestra's words, so that a flow's error handling that matches them still does.
                return Err(TaskError::Property {
                    property: self.property.into(),
                    message: format!(
                        "Found '{nulls}' null values on Each: a null value cannot be iterated on"
                    ),
                });
            }
            let mut values = Vec::with_capacity(items.len());
            let mut tainted_values = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for (item, tainted) in items {
                let text = match item {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                if seen.insert(text.clone()) {
                    if tainted {
                        tainted_values.push(values.len());
                    }
                    values.push(Value::String(text));
                }
            }
            let mut outcome = resolved(Resolved {
                values: Some(values),
                ..Resolved::default()
            });
            outcome.tainted_values = tainted_values;
            Ok(outcome)
        })
    }
}

/// `Pause`: when it ends by itself (`pauseDuration`, or Kestra's older `delay`/`timeout`) and
/// what it does then (`behavior`, RESUME by default). Without a duration it waits for
/// `resume`.
pub struct Pause;

impl TaskRunner for Pause {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let mut duration = None;
            for name in ["pauseDuration", "delay", "timeout"] {
                if let Some(text) = ctx.render_string(name)? {
                    duration = Some(parse_duration(name, &text)?);
                    break;
                }
            }
            let behavior = ctx
                .render_string("behavior")?
                .map(|b| b.trim().to_ascii_uppercase())
                .unwrap_or_else(|| "RESUME".into());
            if !["RESUME", "WARN", "FAIL", "CANCEL"].contains(&behavior.as_str()) {
                return Err(TaskError::Property {
                    property: "behavior".into(),
                    message: format!("'{behavior}' is not one of RESUME, WARN, FAIL, CANCEL"),
                });
            }
            let until = match duration {
                Some(d) => Some(
                    chrono::Utc::now()
                        + chrono::Duration::from_std(d).map_err(|_| TaskError::Property {
                            property: "pauseDuration".into(),
                            message: "is too long".into(),
                        })?,
                ),
                None => None,
            };
            Ok(resolved(Resolved {
                pause_until: until,
                pause_behavior: Some(behavior),
                ..Resolved::default()
            }))
        })
    }
}

/// `LoopUntil` (Kestra's `WaitFor`): its first iteration starts at once; the condition is
/// checked after each (see `executor/loops.rs`). During iteration `k` (from 0),
/// `outputs.<id>.iterationCount` is `k`, as Kestra's tests read it.
pub struct LoopUntil;

impl TaskRunner for LoopUntil {
    fn run<'a>(&'a self, _ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let mut outcome = resolved(Resolved {
                iteration: Some(0),
                ..Resolved::default()
            });
            outcome
                .outputs
                .insert("iterationCount".into(), Value::from(0));
            Ok(outcome)
        })
    }
}

/// `Sleep`: waits `duration`, or until the execution is killed.
pub struct Sleep;

impl TaskRunner for Sleep {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let text = ctx.render_string("duration")?.unwrap_or_default();
            let duration = parse_duration("duration", &text)?;
            // Kestra's Sleep says so; Kestra's own log tests count this line.
            ctx.log(
                saker_model::Level::Info,
                &format!(
                    "Waiting for {}",
                    saker_model::duration::format_iso8601(duration)
                ),
            );
            let cancel = ctx.cancellation();
            tokio::select! {
                () = tokio::time::sleep(duration) => Ok(TaskOutcome::default()),
                () = cancel.cancelled() => Err(TaskError::Killed("killed while sleeping".into())),
            }
        })
    }
}

fn parse_duration(property: &str, text: &str) -> Result<Duration, TaskError> {
    saker_model::duration::parse(text.trim()).map_err(|e| TaskError::Property {
        property: property.into(),
        message: e.to_string(),
    })
}

fn resolved(resolved: Resolved) -> TaskOutcome {
    TaskOutcome {
        resolved: Some(resolved),
        ..TaskOutcome::default()
    }
}
