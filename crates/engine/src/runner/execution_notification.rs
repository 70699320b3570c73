//! Kestra's `SlackExecution`, `TeamsExecution` and `DiscordExecution`: a summary of one
//! execution (namespace, flow, id, state, duration, the task it ended on, `customMessage`
//! and `customFields`) posted to the service's incoming webhook, in the shape of Kestra's
//! templates:
//!
//! * Slack (`slack-template.peb`): a `text` line, `blocks`, and an attachment of fields
//!   coloured by state; the legacy-webhook `channel`, `username`, `iconUrl` and `iconEmoji`
//!   are added as Kestra adds them.
//! * Teams (`teams-template.peb`): a MessageCard of facts with `themeColor` (`0076D7`),
//!   `activityTitle` and `activitySubtitle`; the custom fields are more facts and the custom
//!   message the section's text (Kestra's template has neither).
//! * Discord (`discord-template.peb`): `username`, `avatarUrl`, `content` (followed by the
//!   execution id, as Kestra writes it; the custom message when there is no `content`), one
//!   embed per `embedList` entry (its `title` and `color`, a number or Kestra's `[r, g, b]`)
//!   and a last embed, each describing the execution, custom fields included.
//!
//! Which execution: `executionId`, this one by default (in `errors:` its state is still
//! RUNNING, as in Kestra). Another execution is read from the store, in the flow's tenant,
//! when it is the one whose end started this execution (a Flow trigger's
//! `trigger.executionId`, the use Kestra documents) or belongs to the flow's namespace or a
//! namespace below it; any other is refused, as `log.Fetch` refuses it. Kestra's summary has
//! a link to the execution in its UI; Saker's engine knows no public URL of a UI, so there is
//! none.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use saker_model::{Execution, Level, StateType};
use saker_store::Store;
use serde_json::{Map, Value, json};

use super::notifications::{post, property, webhook_url};
use super::{Registry, RunFuture, TaskContext, TaskError, TaskRunner};
use crate::logs::off_worker;

/// The canonical names of the execution summaries (the catalog holds their aliases).
pub const SLACK_EXECUTION: &str = "io.kestra.plugin.notifications.slack.SlackExecution";
pub const TEAMS_EXECUTION: &str = "io.kestra.plugin.notifications.teams.TeamsExecution";
pub const DISCORD_EXECUTION: &str = "io.kestra.plugin.notifications.discord.DiscordExecution";

impl Registry {
    /// These runners plus the execution-summary notifications, which read the execution
    /// they report from `store` (the engine's).
    pub fn with_execution_notifications(mut self, store: Arc<dyn Store>) -> Self {
        for (name, service) in [
            (SLACK_EXECUTION, Service::Slack),
            (TEAMS_EXECUTION, Service::Teams),
            (DISCORD_EXECUTION, Service::Discord),
        ] {
            self.register(
                name,
                Arc::new(ExecutionNotification {
                    store: store.clone(),
                    service,
                }),
            );
        }
        self
    }
}

/// Which service's message the summary becomes.
#[derive(Clone, Copy)]
enum Service {
    Slack,
    Teams,
    Discord,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Self::Slack => "Slack",
            Self::Teams => "Teams",
            Self::Discord => "Discord",
        }
    }
}

pub struct ExecutionNotification {
    store: Arc<dyn Store>,
    service: Service,
}

impl TaskRunner for ExecutionNotification {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let url = webhook_url(ctx)?;
            // Kestra's *Execution tasks extend the incoming-webhook task, so they accept its
            // `payload` (and Slack's `messageText`), then replace it with the summary. Flows
            // written for Kestra carry it (its own blueprints do): accepted, and said so.
            let inherited: Vec<&str> = ["payload", "messageText"]
                .into_iter()
                .filter(|name| ctx.property(name).is_some())
                .collect();
            if !inherited.is_empty() {
                ctx.log(
                    Level::Warn,
                    &format!(
                        "{} is not sent: this task posts the execution summary, as Kestra's does; \
                         put your text in customMessage",
                        inherited.join(" and ")
                    ),
                );
            }
            let execution = reported_execution(ctx, &self.store)?;
            let summary = Summary::of(&execution, ctx.task().id.as_str(), Utc::now());
            let custom_message = ctx.render_string("customMessage")?;
            let custom_fields = match ctx.render_output_value("customFields")? {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(map)) => map,
                Some(_) => return Err(property("customFields", "expected a map of name to value")),
            };
            let payload = match self.service {
                Service::Slack => slack_payload(ctx, &summary, custom_message, &custom_fields)?,
                Service::Teams => teams_payload(ctx, &summary, custom_message, &custom_fields)?,
                Service::Discord => discord_payload(ctx, &summary, custom_message, &custom_fields)?,
            };
            post(ctx, self.service.name(), url, payload.to_string()).await
        })
    }
}

/// The execution `executionId` names (this one by default), if this flow may report it.
fn reported_execution(
    ctx: &mut TaskContext,
    store: &Arc<dyn Store>,
) -> Result<Execution, TaskError> {
    let own_id = ctx.execution_id();
    let id = ctx
        .render_string("executionId")?
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| own_id.clone());
    let tenant = ctx.render_template("{{ flow.tenantId }}")?;
    let own_namespace = ctx.render_template("{{ flow.namespace }}")?;
    let triggered_by = match ctx.variable("trigger") {
        Some(saker_expr::Value::Map(map, _)) => map
            .get("executionId")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        _ => None,
    };
    let found = off_worker(|| store.get_execution(&id))
        .map_err(|err| TaskError::Failed(format!("reading execution '{id}': {err}")))?;
    // Another tenant's execution is answered as one that does not exist.
    let execution = found
        .filter(|e| e.tenant_id == tenant)
        .ok_or_else(|| property("executionId", &format!("execution '{id}' not found")))?;
    let allowed = id == own_id
        || triggered_by.as_deref() == Some(id.as_str())
        || within(&execution.namespace, &own_namespace);
    if !allowed {
        return Err(property(
            "executionId",
            &format!(
                "execution '{id}' is of namespace '{}': a flow of '{own_namespace}' reports \
                 executions of its namespace and those below it, or the one whose end \
                 triggered it (trigger.executionId)",
                execution.namespace
            ),
        ));
    }
    Ok(execution)
}

/// `namespace` is `parent` or below it.
fn within(namespace: &str, parent: &str) -> bool {
    namespace
        .strip_prefix(parent)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// What Kestra's template shows of an execution.
struct Summary {
    id: String,
    namespace: String,
    flow_id: String,
    state: StateType,
    /// `H:mm:ss.SSS`, up to now for an execution still running.
    duration: String,
    /// Seconds since the epoch.
    start: Option<i64>,
    /// The task the execution ended on: its last failed run when a run failed, else its
    /// last successful one.
    last_task: Option<String>,
    failed: bool,
}

impl Summary {
    /// `reporter` is the id of the notification task, left out of "the last task".
    fn of(execution: &Execution, reporter: &str, now: DateTime<Utc>) -> Self {
        let failed = execution.state.current.is_failed()
            || execution
                .task_run_list
                .iter()
                .any(|run| run.state.current.is_failed());
        let wanted = if failed {
            StateType::Failed
        } else {
            StateType::Success
        };
        let last_task = execution
            .task_run_list
            .iter()
            .rfind(|run| run.task_id != reporter && run.state.current == wanted)
            .map(|run| run.task_id.clone());
        let start = execution.state.start_date();
        let end = execution.state.end_date().unwrap_or(now);
        Self {
            id: execution.id.clone(),
            namespace: execution.namespace.clone(),
            flow_id: execution.flow_id.clone(),
            state: execution.state.current,
            duration: start.map_or_else(|| "0:00:00.000".to_owned(), |s| human(end - s)),
            start: start.map(|s| s.timestamp()),
            last_task,
            failed,
        }
    }

    /// `*[namespace] flow ➛ STATE*` and the outcome line, as the templates write them.
    fn headline(&self) -> String {
        format!(
            "*[{}] {} ➛ {}*\n> {}",
            self.namespace,
            self.flow_id,
            self.state.as_str(),
            self.outcome()
        )
    }

    /// `Succeeded after 0:00:01.234`, or `Failed on task `x` after ...`.
    fn outcome(&self) -> String {
        let outcome = match (&self.last_task, self.failed) {
            (Some(task), true) => format!("Failed on task `{task}`"),
            (None, true) => "Failed".to_owned(),
            (_, false) => "Succeeded".to_owned(),
        };
        format!("{outcome} after {}", self.duration)
    }
}

/// Kestra's `humanDuration` (`DurationFormatUtils.formatDurationHMS`): `H:mm:ss.SSS`.
fn human(duration: chrono::TimeDelta) -> String {
    let millis = duration.num_milliseconds().max(0);
    let (hours, rest) = (millis / 3_600_000, millis % 3_600_000);
    let (minutes, rest) = (rest / 60_000, rest % 60_000);
    let (seconds, millis) = (rest / 1000, rest % 1000);
    format!("{hours}:{minutes:02}:{seconds:02}.{millis:03}")
}

/// The JSON of Kestra's `slack-template.peb` for `summary`.
fn slack_payload(
    ctx: &mut TaskContext,
    summary: &Summary,
    custom_message: Option<String>,
    custom_fields: &Map<String, Value>,
) -> Result<Value, TaskError> {
    let headline = summary.headline();
    let mut blocks = Vec::new();
    if let Some(message) = custom_message {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": message}}));
    }
    blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": headline}}));
    let field = |title: &str, value: Value| json!({"title": title, "value": value, "short": true});
    let mut fields = vec![
        field("Namespace", summary.namespace.clone().into()),
        field("Flow ID", summary.flow_id.clone().into()),
        field("Execution ID", summary.id.clone().into()),
        field("Execution Status", summary.state.as_str().into()),
    ];
    for (title, value) in custom_fields {
        fields.push(field(title, value.clone()));
    }
    fields.push(field(
        "Final task ID",
        summary.last_task.clone().map_or(Value::Null, Value::String),
    ));
    let color = match summary.state {
        StateType::Success => "good",
        StateType::Warning => "warning",
        _ => "danger",
    };
    let mut attachment = json!({"color": color, "fields": fields});
    if let Some(start) = summary.start {
        attachment["ts"] = start.into();
    }
    let mut payload = Map::new();
    payload.insert("text".into(), headline.into());
    payload.insert("blocks".into(), blocks.into());
    payload.insert("attachments".into(), json!([attachment]));
    for (property_name, key) in [
        ("channel", "channel"),
        ("username", "username"),
        ("iconUrl", "icon_url"),
        ("iconEmoji", "icon_emoji"),
    ] {
        if let Some(value) = ctx.render_string(property_name)? {
            payload.insert(key.into(), Value::String(value));
        }
    }
    Ok(Value::Object(payload))
}

/// The MessageCard of Kestra's `teams-template.peb` for `summary`.
fn teams_payload(
    ctx: &mut TaskContext,
    summary: &Summary,
    custom_message: Option<String>,
    custom_fields: &Map<String, Value>,
) -> Result<Value, TaskError> {
    let fact = |name: &str, value: Value| json!({"name": name, "value": value});
    let mut facts = vec![
        fact("Namespace", summary.namespace.clone().into()),
        fact("Job", summary.flow_id.clone().into()),
        fact("Execution", summary.id.clone().into()),
        fact("Status", summary.state.as_str().into()),
    ];
    for (name, value) in custom_fields {
        facts.push(fact(name, value.clone()));
    }
    let mut section = Map::new();
    for name in ["activityTitle", "activitySubtitle"] {
        if let Some(value) = ctx.render_string(name)? {
            section.insert(name.into(), Value::String(value));
        }
    }
    if let Some(message) = custom_message {
        section.insert("text".into(), Value::String(message));
    }
    section.insert("facts".into(), Value::Array(facts));
    section.insert("markdown".into(), Value::Bool(true));
    let color = ctx
        .render_string("themeColor")?
        .unwrap_or_else(|| "0076D7".to_owned());
    Ok(json!({
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "themeColor": color,
        "summary": summary.headline(),
        "sections": [section],
    }))
}

/// The message of Kestra's `discord-template.peb` for `summary`.
fn discord_payload(
    ctx: &mut TaskContext,
    summary: &Summary,
    custom_message: Option<String>,
    custom_fields: &Map<String, Value>,
) -> Result<Value, TaskError> {
    let mut description = format!(
        "Namespace: {}\nFlow ID: {}\nExecution ID: {}\nExecution Status: {}",
        summary.namespace,
        summary.flow_id,
        summary.id,
        summary.state.as_str()
    );
    for (name, value) in custom_fields {
        let value = match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        description.push_str(&format!("\n{name}: {value}"));
    }
    let footer = json!({"text": summary.outcome()});
    let mut embeds = Vec::new();
    let listed = match ctx.render_output_value("embedList")? {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(property(
                "embedList",
                "expected a list of {title, color} maps",
            ));
        }
    };
    for item in listed {
        let Value::Object(item) = item else {
            return Err(property(
                "embedList",
                "expected a list of {title, color} maps",
            ));
        };
        let mut embed = Map::new();
        if let Some(title) = item.get("title") {
            embed.insert("title".into(), title.clone());
        }
        if let Some(color) = item.get("color") {
            embed.insert("color".into(), discord_color(color)?);
        }
        embed.insert("description".into(), description.clone().into());
        embed.insert("footer".into(), footer.clone());
        embeds.push(Value::Object(embed));
    }
    embeds.push(json!({"description": description, "footer": footer}));
    let mut payload = Map::new();
    if let Some(username) = ctx.render_string("username")? {
        payload.insert("username".into(), username.into());
    }
    if let Some(avatar) = ctx.render_string("avatarUrl")? {
        payload.insert("avatar_url".into(), avatar.into());
    }
    match (ctx.render_string("content")?, custom_message) {
        (Some(content), _) => {
            payload.insert("content".into(), format!("{content} {}", summary.id).into());
        }
        (None, Some(message)) => {
            payload.insert("content".into(), message.into());
        }
        (None, None) => {}
    }
    payload.insert("embeds".into(), Value::Array(embeds));
    Ok(Value::Object(payload))
}

/// A Discord embed colour: a number, or Kestra's `[r, g, b]`.
fn discord_color(color: &Value) -> Result<Value, TaskError> {
    let wrong = || {
        property(
            "embedList",
            "a color is a number or a list [red, green, blue] of 0 to 255",
        )
    };
    match color {
        Value::Number(_) => Ok(color.clone()),
        Value::String(text) => text
            .trim()
            .parse::<u32>()
            .map(Value::from)
            .map_err(|_| wrong()),
        Value::Array(parts) if parts.len() == 3 => {
            let mut rgb = 0u32;
            for part in parts {
                let channel = match part {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                }
                .filter(|c| *c <= 255)
                .ok_or_else(wrong)?;
                rgb = (rgb << 8) | channel as u32;
            }
            Ok(Value::from(rgb))
        }
        _ => Err(wrong()),
    }
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn durations_read_as_kestra_writes_them() {
        assert_eq!(human(chrono::TimeDelta::milliseconds(1_234)), "0:00:01.234");
        assert_eq!(
            human(chrono::TimeDelta::milliseconds(3_600_000 + 61_005)),
            "1:01:01.005"
        );
        assert_eq!(human(chrono::TimeDelta::milliseconds(-5)), "0:00:00.000");
    }
}
