//! Kestra's `MailSend` (`io.kestra.plugin.notifications.mail.MailSend`, now
//! `io.kestra.plugin.email.MailSend`): one e-mail sent over SMTP with lettre, on the tokio
//! runtime (never blocking one of its threads), as Kestra's simple-java-mail sends it:
//!
//! * `transportStrategy` SMTPS (the default: TLS from the first byte, port 465), SMTP_TLS
//!   (STARTTLS required, port 587), SMTP (plain, STARTTLS when the server offers it, port
//!   25), SMTP_OAUTH2 (STARTTLS required, `password` is the OAuth2 token, XOAUTH2);
//!   `sessionTimeout` in milliseconds (10 000 by default) bounds the whole exchange with
//!   the server, connection included; `verifyServerIdentity: false` accepts a certificate for another host name,
//!   and a `host` listed in `trustedHosts` is trusted whatever its certificate.
//! * `to` and `cc`: addresses separated by `;` or `,` (or a list); `from` one address.
//! * The body: `plainTextContent` and `htmlTextContent` as alternatives (the plain text is
//!   Kestra's "Please view this email in a modern email client" when only HTML is given),
//!   `embeddedImages` inline beside them (an HTML body refers to one as `cid:<name>`), and
//!   `attachments` (`mail_files`).
//!
//! Secrets. `username` and `password` come from `secret()`: they are only handed to lettre,
//! never logged; an error names the server with its secret parts as `****` and carries
//! lettre's message, which holds the server's answer, never the credentials (and every
//! error line is masked by value as well). Kestra outputs nothing for this task.

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use saker_model::Level;
use std::time::Duration;

use super::mail_files::{MailFile, mail_files, property};
use super::{RunFuture, TaskContext, TaskError, TaskOutcome, TaskRunner};

/// Kestra's plain-text body when a flow gives only HTML.
const DEFAULT_PLAIN_TEXT: &str = "Please view this email in a modern email client";
/// Kestra's `sessionTimeout` default, in milliseconds.
const DEFAULT_SESSION_TIMEOUT_MS: u64 = 10_000;

pub struct MailSend;

/// How the connection is secured (Kestra's `transportStrategy`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Strategy {
    Smtp,
    Smtps,
    SmtpTls,
    SmtpOauth2,
}

impl Strategy {
    fn parse(text: Option<String>) -> Result<Self, TaskError> {
        let Some(text) = text else {
            return Ok(Self::Smtps);
        };
        match text.trim().to_ascii_uppercase().as_str() {
            "SMTP" => Ok(Self::Smtp),
            "SMTPS" => Ok(Self::Smtps),
            "SMTP_TLS" => Ok(Self::SmtpTls),
            "SMTP_OAUTH2" => Ok(Self::SmtpOauth2),
            _ => Err(property(
                "transportStrategy",
                "must be SMTP, SMTPS, SMTP_TLS or SMTP_OAUTH2",
            )),
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Self::Smtp => 25,
            Self::Smtps => 465,
            Self::SmtpTls | Self::SmtpOauth2 => 587,
        }
    }
}

impl TaskRunner for MailSend {
    fn run<'a>(&'a self, ctx: &'a mut TaskContext) -> RunFuture<'a> {
        Box::pin(async move {
            let message = message(ctx)?;
            let server = Server::from_task(ctx)?;
            let recipients = message.envelope().to().len();
            let mailer = server.transport()?;
            let cancel = ctx.cancellation();
            // lettre bounds only the connection by its timeout: the deadline of the whole
            // exchange is here, so a server that stops answering cannot hold the task.
            let sending = tokio::time::timeout(server.timeout, mailer.send(message));
            let sent = tokio::select! {
                sent = sending => sent.map_err(|_| TaskError::Failed(format!(
                    "sending mail through {} took more than sessionTimeout ({} ms): raise \
                     'sessionTimeout' if the server is slow",
                    server.shown,
                    server.timeout.as_millis()
                )))?,
                () = cancel.cancelled() => {
                    return Err(TaskError::Killed(format!(
                        "killed while sending mail through {}", server.shown
                    )));
                }
            };
            sent.map_err(|err| {
                TaskError::Failed(format!(
                    "sending mail through {} failed: {err}",
                    server.shown
                ))
            })?;
            ctx.log(
                Level::Info,
                &format!(
                    "mail sent to {recipients} recipient(s) through {}",
                    server.shown
                ),
            );
            Ok(TaskOutcome::default())
        })
    }
}

/// Where and how the mail is sent.
struct Server {
    host: String,
    /// `host:port` for a person, secret parts as `****`.
    shown: String,
    port: u16,
    strategy: Strategy,
    timeout: Duration,
    credentials: Option<Credentials>,
    accept_invalid_certs: bool,
    accept_invalid_hostnames: bool,
}

impl Server {
    fn from_task(ctx: &mut TaskContext) -> Result<Self, TaskError> {
        let host = ctx
            .render_rendered_string("host")?
            .filter(|h| !h.text.trim().is_empty())
            .ok_or_else(|| property("host", "is required: the SMTP server's host name"))?;
        let strategy = Strategy::parse(ctx.render_string("transportStrategy")?)?;
        let port = match ctx.render_string("port")? {
            None => strategy.default_port(),
            Some(text) => text.trim().parse::<u16>().map_err(|_| {
                property(
                    "port",
                    "is not a port number (1 to 65535, such as 465 or 587)",
                )
            })?,
        };
        let timeout = match ctx.render_string("sessionTimeout")? {
            None => DEFAULT_SESSION_TIMEOUT_MS,
            Some(text) => text
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms > 0)
                .ok_or_else(|| property("sessionTimeout", "is not a number of milliseconds"))?,
        };
        let username = ctx.render_string("username")?;
        let password = ctx.render_string("password")?;
        let credentials = match (username, password) {
            (Some(user), password) if !user.is_empty() => {
                Some(Credentials::new(user, password.unwrap_or_default()))
            }
            (_, Some(_)) if strategy == Strategy::SmtpOauth2 => {
                return Err(property(
                    "username",
                    "is required with SMTP_OAUTH2: the account the token is for",
                ));
            }
            _ => None,
        };
        let verify = match ctx.render_string("verifyServerIdentity")? {
            None => true,
            Some(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(property("verifyServerIdentity", "expected true or false")),
            },
        };
        let trusted = ctx.render_string_or_list("trustedHosts")?;
        let host_name = host.text.trim().to_owned();
        let trusted = trusted.iter().any(|t| t.trim() == host_name);
        if !verify || trusted {
            ctx.log(
                Level::Warn,
                "the mail server's certificate is not fully checked (verifyServerIdentity: \
                 false or trustedHosts): anyone between Saker and the server could read the \
                 mail and the credentials",
            );
        }
        Ok(Self {
            shown: format!("{}:{port}", host.masked(saker_mask::MASK).trim()),
            host: host_name,
            port,
            strategy,
            timeout: Duration::from_millis(timeout),
            credentials,
            accept_invalid_certs: trusted,
            accept_invalid_hostnames: !verify,
        })
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, TaskError> {
        let tls = || {
            TlsParameters::builder(self.host.clone())
                .dangerous_accept_invalid_certs(self.accept_invalid_certs)
                .dangerous_accept_invalid_hostnames(self.accept_invalid_hostnames)
                .build_rustls()
                .map_err(|err| {
                    TaskError::Failed(format!("preparing TLS for {}: {err}", self.shown))
                })
        };
        let tls = match self.strategy {
            Strategy::Smtp => Tls::Opportunistic(tls()?),
            Strategy::Smtps => Tls::Wrapper(tls()?),
            Strategy::SmtpTls | Strategy::SmtpOauth2 => Tls::Required(tls()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .timeout(Some(self.timeout))
            .tls(tls);
        if let Some(credentials) = &self.credentials {
            builder = builder.credentials(credentials.clone());
        }
        if self.strategy == Strategy::SmtpOauth2 {
            builder = builder.authentication(vec![Mechanism::Xoauth2]);
        }
        Ok(builder.build())
    }
}

/// The message the task's properties describe.
fn message(ctx: &mut TaskContext) -> Result<Message, TaskError> {
    let from = ctx
        .render_string("from")?
        .ok_or_else(|| property("from", "is required: the sender's address"))?;
    let mut builder = Message::builder().from(mailbox("from", &from)?);
    let to = addresses(ctx, "to")?;
    if to.is_empty() {
        return Err(property(
            "to",
            "is required: at least one recipient address",
        ));
    }
    for address in to {
        builder = builder.to(address);
    }
    for address in addresses(ctx, "cc")? {
        builder = builder.cc(address);
    }
    if let Some(subject) = ctx.render_string("subject")? {
        builder = builder.subject(subject);
    }
    let html = ctx.render_string("htmlTextContent")?;
    let plain = ctx
        .render_string("plainTextContent")?
        .unwrap_or_else(|| DEFAULT_PLAIN_TEXT.to_owned());
    let images = mail_files(ctx, "embeddedImages")?;
    let attachments = mail_files(ctx, "attachments")?;

    let mut body = match html {
        Some(html) => Body::Multi(MultiPart::alternative_plain_html(plain, html)),
        None => Body::Single(SinglePart::plain(plain)),
    };
    if !images.is_empty() {
        let mut related = body.start(MultiPart::related());
        for image in images {
            related = related.singlepart(part(&image, "embeddedImages", true)?);
        }
        body = Body::Multi(related);
    }
    if !attachments.is_empty() {
        let mut mixed = body.start(MultiPart::mixed());
        for file in attachments {
            mixed = mixed.singlepart(part(&file, "attachments", false)?);
        }
        body = Body::Multi(mixed);
    }
    let built = match body {
        Body::Single(part) => builder.singlepart(part),
        Body::Multi(parts) => builder.multipart(parts),
    };
    built.map_err(|err| TaskError::Failed(format!("building the mail: {err}")))
}

/// The body built so far.
enum Body {
    Single(SinglePart),
    Multi(MultiPart),
}

impl Body {
    /// A multipart of `kind` whose first part is this body.
    fn start(self, kind: lettre::message::MultiPartBuilder) -> MultiPart {
        match self {
            Body::Single(part) => kind.singlepart(part),
            Body::Multi(parts) => kind.multipart(parts),
        }
    }
}

/// An attachment, or an inline image referred to as `cid:<name>`.
fn part(file: &MailFile, property_name: &str, inline: bool) -> Result<SinglePart, TaskError> {
    let content_type = ContentType::parse(&file.content_type).map_err(|_| {
        property(
            property_name,
            &format!(
                "'{}' has a contentType that is not a media type (such as text/csv or image/png)",
                file.name
            ),
        )
    })?;
    let attachment = if inline {
        Attachment::new_inline_with_name(file.name.clone(), file.name.clone())
    } else {
        Attachment::new(file.name.clone())
    };
    Ok(attachment.body(file.bytes.to_vec(), content_type))
}

/// The addresses of `to` or `cc`: each text split at `;` and `,`.
fn addresses(ctx: &mut TaskContext, name: &str) -> Result<Vec<Mailbox>, TaskError> {
    let mut out = Vec::new();
    for text in ctx.render_string_or_list(name)? {
        for piece in text.split([';', ',']) {
            let piece = piece.trim();
            if !piece.is_empty() {
                out.push(mailbox(name, piece)?);
            }
        }
    }
    Ok(out)
}

/// One address (`ada@example.com` or `Ada <ada@example.com>`). The error does not repeat
/// the text, which may come from a secret.
fn mailbox(name: &str, text: &str) -> Result<Mailbox, TaskError> {
    text.trim().parse::<Mailbox>().map_err(|err| {
        property(
            name,
            &format!("holds an address that is not valid ({err}): write ada@example.com or Ada <ada@example.com>"),
        )
    })
}
