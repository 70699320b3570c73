//! `saker user` and `saker token`: bootstrapping API access without a UI. Passwords come
//! from stdin or a hidden prompt, never from the command line; a token is printed once.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Subcommand;
use saker_auth::{AuthService, Password, SecurityConfig, ServiceOptions};
use saker_store::Database;

use crate::app::{App, Globals};

/// The users of the data directory, with the `security:` settings of the configuration.
pub fn open_auth_service(app: &App, store: Arc<dyn Database>) -> anyhow::Result<AuthService> {
    let null = serde_json::Value::Null;
    let security = SecurityConfig::from_value(app.config.get("security").unwrap_or(&null))?;
    Ok(AuthService::new(
        store,
        security,
        ServiceOptions::default(),
    )?)
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from stdin or a hidden prompt.
    Add {
        username: String,
        /// Create the user without a password (API tokens only).
        #[arg(long)]
        no_password: bool,
    },
    /// Set a user's password (stdin or hidden prompt).
    Passwd { username: String },
    /// List users.
    List,
    /// Give a user a role on a tenant, or on a namespace and its children (`admin` exists
    /// from the first start).
    Bind {
        username: String,
        role: String,
        /// Limit the role to this namespace and its children.
        #[arg(long)]
        namespace: Option<String>,
        #[arg(long, default_value = saker_auth::DEFAULT_TENANT)]
        tenant: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a user and print it once.
    Create {
        username: String,
        /// A name to recognise the token by.
        #[arg(long)]
        name: String,
        /// Expire after this long (e.g. 30d, 12h, PT1H); never by default.
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
    },
}

fn read_password(username: &str) -> anyhow::Result<Password> {
    let text = crate::prompt::read_hidden(&format!("password of {username} (hidden): "))?;
    anyhow::ensure!(!text.is_empty(), "the password is empty");
    Ok(Password::new(text.to_string()))
}

fn find(service: &AuthService, username: &str) -> anyhow::Result<saker_auth::User> {
    service.find_user(username)?.ok_or_else(|| {
        anyhow::anyhow!("no user named {username} (create one with `saker user add`)")
    })
}

pub fn run_user(globals: &Globals, command: UserCommand) -> anyhow::Result<ExitCode> {
    let app = globals.app()?;
    let service = open_auth_service(&app, app.open_store()?)?;
    match command {
        UserCommand::Add {
            username,
            no_password,
        } => {
            let password = if no_password {
                None
            } else {
                Some(read_password(&username)?)
            };
            let user = service.create_user(&username, password.as_ref())?;
            eprintln!("created user {} ({})", user.username, user.id);
        }
        UserCommand::Passwd { username } => {
            let user = find(&service, &username)?;
            service.set_password(&user.id, &read_password(&username)?)?;
            eprintln!("password of {username} changed");
        }
        UserCommand::Bind {
            username,
            role,
            namespace,
            tenant,
        } => {
            let user = find(&service, &username)?;
            service.bind(&tenant, &user.id, &role, namespace.as_deref())?;
            let scope = namespace.map_or_else(
                || format!("tenant {tenant}"),
                |ns| format!("{ns} in {tenant}"),
            );
            eprintln!("{username} has role {role} on {scope}");
        }
        UserCommand::List => {
            for user in service.list_users()? {
                let state = if user.disabled { "disabled" } else { "active" };
                println!(
                    "{:<24}  {:<8}  {}",
                    user.username,
                    state,
                    user.created_at.format("%Y-%m-%d")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_token(globals: &Globals, command: TokenCommand) -> anyhow::Result<ExitCode> {
    let TokenCommand::Create {
        username,
        name,
        expires_in,
    } = command;
    let app = globals.app()?;
    let service = open_auth_service(&app, app.open_store()?)?;
    let user = find(&service, &username)?;
    let expires_at = match expires_in {
        None => None,
        Some(text) => {
            let span = saker_secrets::duration::parse_duration(&text)
                .ok()
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .context("--expires-in: write a duration such as 30d, 12h or PT1H")?;
            Some(chrono::Utc::now() + span)
        }
    };
    let (info, secret) = service.create_token(&user.id, &name, expires_at)?;
    eprintln!(
        "token '{}' for {} created; it is shown once, keep it now:",
        info.name, username
    );
    println!("{}", secret.reveal());
    Ok(ExitCode::SUCCESS)
}
