//! Kestra's notification tasks: incoming webhooks (a JSON `payload` POSTed to a webhook
//! `url`; Slack's task also takes `messageText`, Kestra 0.22+), e-mail over SMTP
//! (`MailSend`) and SendGrid's API (`SendGridMailSend`).
//!
//! Names. Kestra first shipped these in `plugin-notifications` (`io.kestra.plugin.notifications.*`),
//! then moved each service to a plugin of its own, keeping the old name as an alias of the
//! new class: `io.kestra.plugin.slack.notifications.*` (and `io.kestra.plugin.slack.*` in
//! between), `io.kestra.plugin.discord.*`, `io.kestra.plugin.microsoft365.teams.*`,
//! `io.kestra.plugin.googleworkspace.chat.*`, `io.kestra.plugin.email.*`. Both names are
//! accepted here; the first one, which flows written so far use most, stays canonical.
//! `SlackExecution`, `TeamsExecution` and `DiscordExecution` post a summary of an execution;
//! the other services' `*Execution` tasks and the `*Template` variants (a payload from a
//! template file) are not here yet.

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

/// Kestra's `SlackExecution`: the webhook `url`, which execution (this one by default), a
/// message and fields added to the summary, and the legacy-webhook overrides.
const SLACK_EXECUTION_PROPS: &[PropSpec] = &[
    required("url", Shape::String),
    // Inherited from the incoming-webhook task, as in Kestra; replaced by the summary.
    prop("payload", Shape::String),
    prop("messageText", Shape::String),
    prop("executionId", Shape::String),
    prop("customMessage", Shape::String),
    prop("customFields", Shape::Map),
    prop("channel", Shape::String),
    prop("username", Shape::String),
    prop("iconUrl", Shape::String),
    prop("iconEmoji", Shape::String),
    prop("options", Shape::Map),
];

/// Kestra's `TeamsExecution` (a MessageCard).
const TEAMS_EXECUTION_PROPS: &[PropSpec] = &[
    required("url", Shape::String),
    // Inherited from the incoming-webhook task, as in Kestra; replaced by the summary.
    prop("payload", Shape::String),
    prop("executionId", Shape::String),
    prop("customMessage", Shape::String),
    prop("customFields", Shape::Map),
    prop("themeColor", Shape::String),
    prop("activityTitle", Shape::String),
    prop("activitySubtitle", Shape::String),
    prop("options", Shape::Map),
];

/// Kestra's `DiscordExecution`: `embedList` is a list of `{title, color}` maps.
const DISCORD_EXECUTION_PROPS: &[PropSpec] = &[
    required("url", Shape::String),
    // Inherited from the incoming-webhook task, as in Kestra; replaced by the summary.
    prop("payload", Shape::String),
    prop("executionId", Shape::String),
    prop("customMessage", Shape::String),
    prop("customFields", Shape::Map),
    prop("username", Shape::String),
    prop("avatarUrl", Shape::String),
    prop("content", Shape::String),
    prop("embedList", Shape::Any),
    prop("options", Shape::Map),
];

/// An attachment list: `{name, uri, contentType}` maps, or a string holding their JSON (a
/// `{{ inputs.attachments | toJson }}`), as Kestra's `MailSend` takes it.
const ATTACHMENTS: Shape = Shape::Any;

/// Kestra's `MailSend` (simple-java-mail underneath). `to` and `cc` are strings of
/// addresses separated by `;` (or `,`); a list is taken too.
const MAIL_SEND_PROPS: &[PropSpec] = &[
    prop("host", Shape::String),
    prop("port", Shape::Int),
    prop("username", Shape::String),
    prop("password", Shape::String),
    prop(
        "transportStrategy",
        Shape::OneOf(&["SMTP", "SMTPS", "SMTP_TLS", "SMTP_OAUTH2"]),
    ),
    prop("sessionTimeout", Shape::Int),
    prop("verifyServerIdentity", Shape::Bool),
    prop("trustedHosts", Shape::StringList),
    required("from", Shape::String),
    required("to", Shape::StringOrList),
    prop("cc", Shape::StringOrList),
    prop("subject", Shape::String),
    prop("htmlTextContent", Shape::String),
    prop("plainTextContent", Shape::String),
    prop("attachments", ATTACHMENTS),
    prop("embeddedImages", ATTACHMENTS),
];

/// Kestra's `SendGridMailSend`: `to` and `cc` are lists. `htmlTextContent` is the name of
/// `htmlContent` in Kestra's first versions of the task.
const SENDGRID_PROPS: &[PropSpec] = &[
    required("sendgridApiKey", Shape::String),
    required("from", Shape::String),
    required("to", Shape::StringOrList),
    prop("cc", Shape::StringOrList),
    prop("subject", Shape::String),
    prop("htmlContent", Shape::String),
    prop("htmlTextContent", Shape::String),
    prop("textContent", Shape::String),
    prop("attachments", ATTACHMENTS),
    prop("embeddedImages", ATTACHMENTS),
];

pub const NOTIFICATION_TASKS: &[TaskType] = &[
    TaskType {
        name: "io.kestra.plugin.notifications.slack.SlackIncomingWebhook",
        aliases: &[
            "io.kestra.plugin.slack.notifications.SlackIncomingWebhook",
            "io.kestra.plugin.slack.SlackIncomingWebhook",
        ],
        kind: TaskKind::IncomingWebhook,
        props: SLACK_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.notifications.slack.SlackExecution",
        aliases: &[
            "io.kestra.plugin.slack.notifications.SlackExecution",
            "io.kestra.plugin.slack.SlackExecution",
        ],
        kind: TaskKind::ExecutionNotification,
        props: SLACK_EXECUTION_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.notifications.teams.TeamsExecution",
        aliases: &["io.kestra.plugin.microsoft365.teams.TeamsExecution"],
        kind: TaskKind::ExecutionNotification,
        props: TEAMS_EXECUTION_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.notifications.discord.DiscordExecution",
        aliases: &["io.kestra.plugin.discord.DiscordExecution"],
        kind: TaskKind::ExecutionNotification,
        props: DISCORD_EXECUTION_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.notifications.discord.DiscordIncomingWebhook",
        aliases: &["io.kestra.plugin.discord.DiscordIncomingWebhook"],
        kind: TaskKind::IncomingWebhook,
        props: WEBHOOK_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.notifications.teams.TeamsIncomingWebhook",
        aliases: &["io.kestra.plugin.microsoft365.teams.TeamsIncomingWebhook"],
        kind: TaskKind::IncomingWebhook,
        props: WEBHOOK_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.notifications.google.GoogleChatIncomingWebhook",
        aliases: &["io.kestra.plugin.googleworkspace.chat.GoogleChatIncomingWebhook"],
        kind: TaskKind::IncomingWebhook,
        props: WEBHOOK_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.notifications.mattermost.MattermostIncomingWebhook",
        aliases: &[],
        kind: TaskKind::IncomingWebhook,
        props: WEBHOOK_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.notifications.mail.MailSend",
        aliases: &["io.kestra.plugin.email.MailSend"],
        kind: TaskKind::MailSend,
        props: MAIL_SEND_PROPS,
    },
    TaskType {
        name: "io.kestra.plugin.notifications.sendgrid.SendGridMailSend",
        aliases: &[],
        kind: TaskKind::SendGridMailSend,
        props: SENDGRID_PROPS,
    },
];
