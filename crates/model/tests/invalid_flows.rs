//! Invalid flows as data: each `tests/invalid/NAME.yaml` has a `NAME.expected` listing the
//! diagnostics it must produce, one per line, in file order, as `LINE:COL: text` where `text`
//! must appear in the message. Blank lines and lines starting with `#` are ignored. Adding a
//! case is adding two files.

use std::path::{Path, PathBuf};

use saker_model::{Diagnostic, parse_flow};

struct Expected {
    line: usize,
    column: usize,
    text: String,
}

fn parse_expected(path: &Path) -> Vec<Expected> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}); every invalid flow needs one",
            path.display()
        )
    });
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.splitn(3, ':');
            let mut number = |what: &str| -> usize {
                let part = parts.next().unwrap_or_default().trim();
                part.parse()
                    .unwrap_or_else(|_| panic!("{}: bad {what} in '{l}'", path.display()))
            };
            let line = number("line");
            let column = number("column");
            let text = parts.next().unwrap_or_default().trim().to_owned();
            Expected { line, column, text }
        })
        .collect()
}

fn check(yaml: &Path) -> Result<(), String> {
    let source = std::fs::read_to_string(yaml).map_err(|e| e.to_string())?;
    let expected = parse_expected(&yaml.with_extension("expected"));
    let got: Vec<Diagnostic> = match parse_flow(&source) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics,
    };
    let listing = got
        .iter()
        .map(|d| format!("  {d}"))
        .collect::<Vec<_>>()
        .join("\n");
    if got.len() != expected.len() {
        return Err(format!(
            "{}: expected {} diagnostics, got {}:\n{listing}",
            yaml.display(),
            expected.len(),
            got.len()
        ));
    }
    for (d, e) in got.iter().zip(&expected) {
        if d.line != e.line || d.column != e.column || !d.message.contains(&e.text) {
            return Err(format!(
                "{}: expected '{}:{}: {}', got '{d}'\nall diagnostics:\n{listing}",
                yaml.display(),
                e.line,
                e.column,
                e.text
            ));
        }
    }
    Ok(())
}

#[test]
fn invalid_flows_report_the_expected_diagnostics() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/invalid exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no invalid flows in {}", dir.display());
    let failures: Vec<String> = files.iter().filter_map(|f| check(f).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
