//! Every flow from Kestra's own test suite that uses only the tasks Saker supports must
//! validate unchanged (see ../shared/conformance/README.md).

use std::path::PathBuf;

use saker_model::parse_flow;

fn conformance_dir() -> PathBuf {
    // crates/model -> the workspace -> its parent, where shared/ sits beside the repository.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/kestra-flows")
}

#[test]
fn every_kestra_flow_validates() {
    let dir = conformance_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "conformance flows not found at {} ({e}): shared/ must sit beside the repository",
            dir.display()
        )
    });
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")))
        .collect();
    files.sort();
    assert!(
        files.len() >= 46,
        "expected the 46 conformance flows, found {}",
        files.len()
    );

    let mut failures = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).expect("readable flow");
        if let Err(diagnostics) = parse_flow(&source) {
            for d in diagnostics {
                failures.push(format!("{}:{d}", file.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "conformance flows rejected:\n{}",
        failures.join("\n")
    );
}
