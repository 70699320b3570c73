//! Every flow from Kestra's own test suite that uses only the tasks Saker supports must
//! validate unchanged (see ../shared/conformance/README.md). Skipped, saying so, when the
//! corpus is absent.

mod common;

use saker_model::parse_flow;

#[test]
fn every_kestra_flow_validates() {
    let Some(files) = common::corpus("kestra-flows") else {
        return;
    };
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
