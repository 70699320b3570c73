//! Flows that share values through YAML anchors and aliases, as Kestra users write them,
//! still read within the limits on alias expansion; expansions past them are refused with a
//! positioned diagnostic (the data cases are `tests/invalid/alias_*.yaml`).

use saker_model::{Limits, parse_flow};
use serde_json::json;

const SHARED: &str = "\
id: anchors
namespace: company.team
variables:
  retry: &retry
    type: constant
    interval: PT10S
    maxAttempt: 3
  greeting: &greeting 'Hello from {{ flow.id }}'
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: *greeting
    retry: *retry
  - id: second
    type: io.kestra.plugin.core.log.Log
    message: *greeting
    retry: *retry
  - id: third
    type: io.kestra.plugin.core.log.Log
    message: *greeting
    retry: *retry
";

#[test]
fn a_flow_sharing_a_retry_policy_and_a_message_through_anchors_is_valid() {
    let flow = parse_flow(SHARED).unwrap_or_else(|d| panic!("{d:?}"));
    assert_eq!(flow.tasks.len(), 3);
    for task in &flow.tasks {
        assert_eq!(
            task.properties.get("message"),
            Some(&json!("Hello from {{ flow.id }}"))
        );
        assert!(task.retry.is_some(), "{} has the shared retry", task.id);
    }
}

#[test]
fn the_default_limits_are_the_documented_ones() {
    assert_eq!(
        Limits::default(),
        Limits {
            max_depth: 128,
            max_nodes: 1_000_000,
            max_alias_bytes: 1024 * 1024,
        }
    );
}
