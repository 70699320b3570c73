//! Every flow of Kestra's second conformance corpus (`kestra-flows-2`: Kestra's own test
//! flows for flowable tasks, subflows, files, triggers and the like) must validate unchanged,
//! except the flows that use task or trigger types which exist only in Kestra's own test suite
//! or that Saker does not have yet: those must be refused with a message saying so.
//!
//! The corpus is found at `$SAKER_CONFORMANCE_DIR/kestra-flows-2`, by default
//! `../shared/conformance` beside the repository. A clone without it (a user's) skips this
//! test and says so.

mod common;

use saker_model::parse_flow;

/// Flows refused on purpose, with a text the refusal must contain: each uses a type of
/// Kestra's test suite. (`pause.yaml` validates: Saker has no route
/// `/executions/{id}/pause` for a flow named `pause` to collide with.)
const REFUSED: &[(&str, &str)] = &[
    ("alias-task.yaml", TEST_SUITE),
    ("alias-trigger.yaml", TEST_SUITE),
    ("dynamic-task.yaml", TEST_SUITE),
    ("executable-fail.yml", TEST_SUITE),
    ("retry-dynamic-task.yaml", TEST_SUITE),
    ("working-directory-namespace-files.yaml", TEST_SUITE),
    ("working-directory-taskrun-encrypted.yml", TEST_SUITE),
];

const TEST_SUITE: &str = "only in Kestra's own test suite";

#[test]
fn every_flow_of_kestra_flows_2_validates_or_is_refused_clearly() {
    let Some(files) = common::corpus("kestra-flows-2") else {
        return;
    };
    assert!(
        files.len() >= 80,
        "expected the 80 flows of kestra-flows-2, found {}",
        files.len()
    );

    let mut failures = Vec::new();
    for file in &files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let source = std::fs::read_to_string(file).expect("readable flow");
        let result = parse_flow(&source);
        match (REFUSED.iter().find(|(f, _)| *f == name), result) {
            (None, Ok(_)) => {}
            (None, Err(diagnostics)) => {
                for d in diagnostics {
                    failures.push(format!("{name}:{d}"));
                }
            }
            (Some(_), Ok(_)) => failures.push(format!("{name}: validated, must be refused")),
            (Some((_, text)), Err(diagnostics)) => {
                if !diagnostics.iter().any(|d| d.message.contains(text)) {
                    let got: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
                    failures.push(format!(
                        "{name}: refused without saying '{text}': {}",
                        got.join("; ")
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "kestra-flows-2 flows not handled as expected:\n{}",
        failures.join("\n")
    );
}
