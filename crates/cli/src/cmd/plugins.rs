//! `saker plugins`: the task and trigger types this build runs, read from the catalog, as a
//! list (`list`, `--json` for tools) or as the Markdown of docs/tasks.md (`docs`).

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use saker_model::Catalog;
use serde_json::{Value, json};

use super::plugins_docs;

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Print every task and trigger type with its aliases.
    List(ListArgs),
    /// Print the Markdown reference of every type (docs/tasks.md is this output).
    Docs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON: each type with its aliases, summary, properties and outputs.
    #[arg(long)]
    json: bool,
}

pub fn run(command: PluginsCommand) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::builtin();
    let text = match command {
        PluginsCommand::List(args) if args.json => {
            let listed: Vec<Value> = listing(catalog).iter().map(Listed::to_json).collect();
            let mut json = serde_json::to_string_pretty(&listed)?;
            json.push('\n');
            json
        }
        PluginsCommand::List(_) => list_text(catalog),
        PluginsCommand::Docs => plugins_docs::markdown(catalog),
    };
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("writing to stdout")?;
    Ok(ExitCode::SUCCESS)
}

/// One type, as `list` prints it.
#[derive(Debug)]
struct Listed {
    /// "task" or "trigger".
    category: &'static str,
    name: &'static str,
    aliases: &'static [&'static str],
    summary: &'static str,
    properties: Vec<ListedProp>,
    outputs: &'static [&'static str],
}

#[derive(Debug)]
struct ListedProp {
    name: &'static str,
    shape: String,
    required: bool,
}

impl Listed {
    /// The type as `--json` prints it.
    fn to_json(&self) -> Value {
        let properties: Vec<Value> = self
            .properties
            .iter()
            .map(|p| json!({"name": p.name, "shape": p.shape, "required": p.required}))
            .collect();
        json!({
            "category": self.category,
            "name": self.name,
            "aliases": self.aliases,
            "summary": self.summary,
            "properties": properties,
            "outputs": self.outputs,
        })
    }
}

fn listing(catalog: &Catalog) -> Vec<Listed> {
    let tasks = catalog.tasks().iter().map(|t| {
        let doc = t.kind.doc();
        Listed {
            category: "task",
            name: t.name,
            aliases: t.aliases,
            summary: doc.summary,
            properties: t
                .props
                .iter()
                .map(|p| ListedProp {
                    name: p.name,
                    shape: p.shape.describe(),
                    required: p.required,
                })
                .collect(),
            outputs: doc.outputs,
        }
    });
    let triggers = catalog.triggers().iter().map(|t| {
        let doc = t.doc();
        Listed {
            category: "trigger",
            name: t.name,
            aliases: t.aliases,
            summary: doc.map_or("", |d| d.summary),
            // Only a trigger's required properties are in the catalog; their shape is
            // checked by the trigger's own reader.
            properties: t
                .required
                .iter()
                .map(|name| ListedProp {
                    name,
                    shape: "see the trigger".to_owned(),
                    required: true,
                })
                .collect(),
            outputs: doc.map_or(&[], |d| d.outputs),
        }
    });
    tasks.chain(triggers).collect()
}

/// `task    NAME  (aliases: A, B)`, one type a line, tasks first.
fn list_text(catalog: &Catalog) -> String {
    let mut out = String::new();
    for item in listing(catalog) {
        out.push_str(&format!("{:<8} {}", item.category, item.name));
        if !item.aliases.is_empty() {
            out.push_str(&format!("  (aliases: {})", item.aliases.join(", ")));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_and_alias_is_listed() {
        let catalog = Catalog::builtin();
        let text = list_text(catalog);
        assert_eq!(
            text.lines().count(),
            catalog.tasks().len() + catalog.triggers().len()
        );
        for t in catalog.tasks() {
            let line = text
                .lines()
                .find(|l| l.split_whitespace().nth(1) == Some(t.name))
                .unwrap_or_else(|| panic!("{} is not listed", t.name));
            for alias in t.aliases {
                assert!(line.contains(alias), "{line} lacks alias {alias}");
            }
        }
        assert!(text.contains("trigger  io.kestra.plugin.core.trigger.Schedule"));
    }
}
