//! Kestra's incoming-webhook notification tasks (`io.kestra.plugin.notifications.*`): a JSON
//! `payload` POSTed to a webhook `url`. Slack's task also takes `messageText` (Kestra 0.22+).
//! The `*Execution` and `*Template` variants, which build the payload from a template file,
//! are not here yet.

use super::{PropSpec, TaskKind, TaskType, prop, required};
use crate::shape::Shape;

const WEBHOOK_PROPS: &[PropSpec] = &[
    required("url", Shape::String),
    prop("payload", Shape::String),
    // Kestra's HTTP client options: `connectTimeout`, `readTimeout`, ...
    prop("options", Shape::Map),
];

const SLACK_PROPS: &[PropSpec] = &[
    required("url", Shape::String),
    prop("payload", Shape::String),
    prop("messageText", Shape::String),
    prop("options", Shape::Map),
];

pub const NOTIFICATION_TASKS: &[TaskType] = &[
    TaskType {
        name: "io.kestra.plugin.notifications.slack.SlackIncomingWebhook",
        aliases: &[],
        kind: TaskKind::IncomingWebhook,
        props: SLACK_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.notifications.discord.DiscordIncomingWebhook",
        aliases: &[],
        kind: TaskKind::IncomingWebhook,
        props: WEBHOOK_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.notifications.teams.TeamsIncomingWebhook",
        aliases: &[],
        kind: TaskKind::IncomingWebhook,
        props: WEBHOOK_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.notifications.google.GoogleChatIncomingWebhook",
        aliases: &[],
        kind: TaskKind::IncomingWebhook,
        props: WEBHOOK_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.notifications.mattermost.MattermostIncomingWebhook",
        aliases: &[],
        kind: TaskKind::IncomingWebhook,
        props: WEBHOOK_PROPS,
    },
];
