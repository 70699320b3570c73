//! `saker expr render`: renders one template, as a task property would be rendered.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use saker_expr::{Context, RenderEnv, Value};

use crate::app::Globals;

#[derive(Debug, Subcommand)]
pub enum ExprCommand {
    /// Render TEMPLATE; values derived from a secret print as `****` unless --reveal.
    Render {
        #[arg(value_name = "TEMPLATE")]
        template: String,
        /// Variables as a JSON object, or `@FILE` to read them from a file.
        #[arg(long, value_name = "JSON|@FILE")]
        context: Option<String>,
        /// The namespace `secret()` resolves in.
        #[arg(long, default_value = "company.team")]
        namespace: String,
        /// Print secret-derived text instead of `****`.
        #[arg(long)]
        reveal: bool,
    },
}

pub fn run(globals: &Globals, command: ExprCommand) -> anyhow::Result<ExitCode> {
    let ExprCommand::Render {
        template,
        context,
        namespace,
        reveal,
    } = command;
    let mut ctx = Context::new();
    if let Some(spec) = context {
        let text = match spec.strip_prefix('@') {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the context file {path}"))?,
            None => spec,
        };
        let json: serde_json::Value = serde_json::from_str(&text)
            .context("--context must be a JSON object, e.g. '{\"x\": 1}'")?;
        let serde_json::Value::Object(map) = json else {
            anyhow::bail!("--context must be a JSON object, e.g. '{{\"x\": 1}}'");
        };
        for (k, v) in map {
            ctx.insert(k, Value::from_json(&v));
        }
    }
    let resolver = crate::cmd::secrets_access::CliSecrets::open(globals, &namespace)?;
    let env = RenderEnv {
        secrets: Some(&resolver),
        ..RenderEnv::default()
    };
    match saker_expr::render(&template, &ctx, &env) {
        Ok(rendered) => {
            if reveal {
                println!("{}", rendered.text);
            } else {
                println!("{}", rendered.masked("****"));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
