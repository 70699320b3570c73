//! docs/tasks.md: the reference of every task and trigger type, generated from the catalog
//! (`saker plugins docs > docs/tasks.md`). A test compares the file with this output, so the
//! documentation cannot drift from what validation accepts.

use std::fmt::Write as _;

use saker_model::Catalog;
use saker_model::catalog::COMMON_TASK_PROPS;

/// The command that regenerates docs/tasks.md, as the file and the drift test name it.
pub const REGENERATE: &str = "cargo run -p saker -- plugins docs > docs/tasks.md";

/// The Markdown reference of `catalog`.
pub fn markdown(catalog: &Catalog) -> String {
    let mut out = String::new();
    out.push_str("# Task and trigger types\n\n");
    let _ = writeln!(
        out,
        "<!-- Generated from the catalog by `{REGENERATE}`; do not edit by hand. -->\n"
    );
    let _ = writeln!(
        out,
        "Saker runs the {} task types and {} trigger types below, under Kestra's names and \
         aliases. `saker plugins list` prints the same list; a type not listed here is \
         reported by `saker flow validate` as unknown.\n",
        catalog.tasks().len(),
        catalog.triggers().len()
    );
    let common: Vec<String> = COMMON_TASK_PROPS.iter().map(|p| format!("`{p}`")).collect();
    let _ = writeln!(
        out,
        "Every task also has the common properties {}.\n",
        common.join(", ")
    );
    out.push_str("## Tasks\n");
    for t in catalog.tasks() {
        let doc = t.kind.doc();
        section(&mut out, t.name, t.aliases, doc.summary);
        if t.props.is_empty() {
            out.push_str("Properties: none of its own.\n\n");
        } else {
            out.push_str("| Property | Shape | Required |\n|---|---|---|\n");
            for p in t.props {
                let required = if p.required { "yes" } else { "no" };
                let shape = p.shape.describe().replace('|', "\\|");
                let _ = writeln!(out, "| `{}` | {shape} | {required} |", p.name);
            }
            out.push('\n');
        }
        outputs(&mut out, doc.outputs);
    }
    out.push_str("## Triggers\n");
    for t in catalog.triggers() {
        let doc = t.doc();
        section(&mut out, t.name, t.aliases, doc.map_or("", |d| d.summary));
        if t.required.is_empty() {
            out.push_str("Required properties: none.\n\n");
        } else {
            let required: Vec<String> = t.required.iter().map(|p| format!("`{p}`")).collect();
            let _ = writeln!(out, "Required properties: {}.\n", required.join(", "));
        }
        outputs(&mut out, doc.map_or(&[], |d| d.outputs));
    }
    out
}

fn section(out: &mut String, name: &str, aliases: &[&str], summary: &str) {
    let _ = writeln!(out, "\n### `{name}`\n");
    if !summary.is_empty() {
        let _ = writeln!(out, "{summary}\n");
    }
    if !aliases.is_empty() {
        let aliases: Vec<String> = aliases.iter().map(|a| format!("`{a}`")).collect();
        let _ = writeln!(out, "Aliases: {}.\n", aliases.join(", "));
    }
}

fn outputs(out: &mut String, names: &[&str]) {
    if names.is_empty() {
        out.push_str("Outputs: none.\n");
    } else {
        let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        let _ = writeln!(out, "Outputs: {}.", names.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/tasks.md is exactly what the catalog generates.
    #[test]
    fn docs_tasks_md_matches_the_catalog() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/tasks.md");
        let written = std::fs::read_to_string(path).unwrap_or_default();
        let generated = markdown(Catalog::builtin());
        assert!(
            written == generated,
            "docs/tasks.md is not what the catalog generates (a task type, alias, property or \
             output changed); regenerate it with `{REGENERATE}` and commit it"
        );
    }
}
