//! `workerGroup: {key, fallback}` on a task: the key is read as the group's name; a key that
//! is not a non-empty string, an unknown property, and the fallbacks Saker does not offer
//! (FAIL, CANCEL) are refused with a message naming the property.

use saker_model::parse_flow;

fn flow(worker_group: &str) -> String {
    format!(
        "id: f\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n    workerGroup: {worker_group}\n"
    )
}

fn errors(worker_group: &str) -> String {
    match parse_flow(&flow(worker_group)) {
        Ok(_) => panic!("workerGroup {worker_group} was accepted"),
        Err(diagnostics) => diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[test]
fn the_key_names_the_group_and_wait_is_accepted() {
    for (group, key) in [
        ("{key: gpu}", "gpu"),
        ("{key: gpu, fallback: WAIT}", "gpu"),
        ("{key: \" eu \", fallback: wait}", "eu"),
    ] {
        let parsed = parse_flow(&flow(group)).unwrap_or_else(|d| panic!("{group}: {d:?}"));
        assert_eq!(parsed.tasks[0].worker_group_key(), Some(key), "{group}");
    }
    let plain = parse_flow(
        "id: f\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
    )
    .unwrap();
    assert_eq!(plain.tasks[0].worker_group_key(), None);
}

#[test]
fn a_key_that_is_not_a_name_is_refused() {
    for group in [
        "{key: [a, b]}",
        "{key: {a: 1}}",
        "{key: \"  \"}",
        "{fallback: WAIT}",
        "gpu",
    ] {
        let message = errors(group);
        assert!(message.contains("workerGroup"), "{group}: {message}");
    }
    assert!(errors("{fallback: WAIT}").contains("'key'"));
    assert!(errors("{key: \"\"}").contains("empty"));
    assert!(errors("{key: gpu, tags: [a]}").contains("tags"));
}

#[test]
fn fail_and_cancel_fallbacks_are_not_available() {
    for fallback in ["FAIL", "CANCEL"] {
        let message = errors(&format!("{{key: gpu, fallback: {fallback}}}"));
        assert!(
            message.contains(&format!("{fallback} is not available"))
                && message.contains("workerGroup.fallback")
                && message.contains("WAIT"),
            "{message}"
        );
    }
    let message = errors("{key: gpu, fallback: SOMETIMES}");
    assert!(
        message.contains("SOMETIMES") && message.contains("WAIT"),
        "{message}"
    );
}
