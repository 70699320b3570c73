//! Naming rules for flow ids, namespaces, task, trigger, input and output ids.
//!
//! They are Kestra's (`AbstractFlow`, `TaskInterface`, `Input`, `Output` constraints), so a
//! flow Kestra accepts is accepted here, with two additions: a namespace may not have an empty
//! segment (`a..b`, `a.`), which Kestra's pattern lets through although no namespace tree can
//! hold it; and the flow ids Kestra 1.0 reserves for its API routes are refused.
//!
//! | what | pattern | max length |
//! |---|---|---|
//! | flow id | `[a-zA-Z0-9][a-zA-Z0-9._-]*` | 100 |
//! | namespace | `[a-z0-9][a-z0-9._-]*`, dot-separated non-empty segments | 150 |
//! | task and trigger id | `[a-zA-Z0-9][a-zA-Z0-9_-]*` | 256 |
//! | input and output id | `[a-zA-Z0-9][a-zA-Z0-9._-]*` | - |

pub const MAX_FLOW_ID: usize = 100;
pub const MAX_NAMESPACE: usize = 150;
pub const MAX_TASK_ID: usize = 256;

/// Flow ids that Kestra 1.0 reserves because they collide with API routes. `pause` is not
/// among them here: Kestra's own test flows (and users' flows written before 1.0) use it, and
/// Saker pauses an execution only through a `Pause` task, so no route takes that name.
pub const RESERVED_FLOW_IDS: &[&str] = &[
    "text",
    "resume",
    "force-run",
    "change-status",
    "kill",
    "executions",
    "search",
    "source",
    "disable",
    "enable",
];

/// Checks `text` against `[a-zA-Z0-9][<rest>]*` where `rest` says which ASCII punctuation
/// may follow the first character; `lower` limits letters to lower case.
fn check(text: &str, rest: &str, lower: bool) -> Result<(), String> {
    let letter_ok = |c: char| {
        c.is_ascii_digit() || c.is_ascii_lowercase() || (!lower && c.is_ascii_uppercase())
    };
    let mut chars = text.chars();
    match chars.next() {
        None => return Err("must not be empty".to_owned()),
        Some(c) if !letter_ok(c) => {
            let expected = if lower {
                "a lower-case letter or a digit"
            } else {
                "a letter or a digit"
            };
            return Err(format!("must start with {expected}, not '{c}'"));
        }
        Some(_) => {}
    }
    if let Some(bad) = chars.find(|&c| !(letter_ok(c) || rest.contains(c))) {
        let letters = if lower {
            "lower-case letters"
        } else {
            "letters"
        };
        let punctuation: Vec<String> = rest.chars().map(|c| format!("'{c}'")).collect();
        return Err(format!(
            "may only hold {letters}, digits and {}; found '{bad}'",
            punctuation.join(", ")
        ));
    }
    Ok(())
}

fn check_length(text: &str, max: usize) -> Result<(), String> {
    let n = text.chars().count();
    if n > max {
        return Err(format!("is {n} characters long, at most {max} are allowed"));
    }
    Ok(())
}

/// Checks a flow id; the error completes "flow id '...' ".
pub fn check_flow_id(id: &str) -> Result<(), String> {
    check(id, "._-", false)?;
    check_length(id, MAX_FLOW_ID)?;
    if RESERVED_FLOW_IDS.contains(&id) {
        return Err("is reserved (it names an API route)".to_owned());
    }
    Ok(())
}

/// Checks a namespace; the error completes "namespace '...' ".
pub fn check_namespace(namespace: &str) -> Result<(), String> {
    check(namespace, "._-", true)?;
    check_length(namespace, MAX_NAMESPACE)?;
    if namespace.split('.').any(str::is_empty) {
        return Err("has an empty segment: segments are separated by single dots and the last one may not be empty".to_owned());
    }
    Ok(())
}

/// Checks a task or trigger id; the error completes "task id '...' ".
pub fn check_task_id(id: &str) -> Result<(), String> {
    check(id, "_-", false)?;
    check_length(id, MAX_TASK_ID)
}

/// Checks an input or output id; the error completes "input id '...' ".
pub fn check_data_id(id: &str) -> Result<(), String> {
    check(id, "._-", false)
}

/// The namespace and its parents, nearest first: `a.b.c`, `a.b`, `a`. Secrets and plugin
/// settings are inherited along this chain.
pub fn namespace_chain(namespace: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(namespace);
    std::iter::from_fn(move || {
        let current = next?;
        next = current.rfind('.').map(|i| &current[..i]);
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_ids() {
        for ok in ["minimal", "flow-with-outputs", "a.b_c-1", "9lives", "Hello"] {
            assert_eq!(check_flow_id(ok), Ok(()), "{ok}");
        }
        assert!(check_flow_id("").unwrap_err().contains("empty"));
        assert!(check_flow_id("-x").unwrap_err().contains("must start"));
        assert!(check_flow_id("a b").unwrap_err().contains("found ' '"));
        assert!(
            check_flow_id(&"a".repeat(101))
                .unwrap_err()
                .contains("at most 100")
        );
        assert!(check_flow_id(&"a".repeat(100)).is_ok());
        assert!(check_flow_id("resume").unwrap_err().contains("reserved"));
        assert!(
            check_flow_id("pause").is_ok(),
            "Kestra's test flow pause.yaml uses it"
        );
    }

    #[test]
    fn namespaces() {
        for ok in ["io.kestra.tests", "company.team", "a", "a-b_c.d9"] {
            assert_eq!(check_namespace(ok), Ok(()), "{ok}");
        }
        assert!(
            check_namespace("Company.team")
                .unwrap_err()
                .contains("lower-case")
        );
        assert!(
            check_namespace("company.Team")
                .unwrap_err()
                .contains("found 'T'")
        );
        assert!(check_namespace(".a").is_err());
        assert!(
            check_namespace("a..b")
                .unwrap_err()
                .contains("empty segment")
        );
        assert!(check_namespace("a.").unwrap_err().contains("empty segment"));
        assert!(
            check_namespace(&"a".repeat(151))
                .unwrap_err()
                .contains("at most 150")
        );
    }

    #[test]
    fn task_and_data_ids() {
        assert!(check_task_id("log-not-existing-output").is_ok());
        assert!(check_task_id("a.b").unwrap_err().contains("found '.'"));
        assert!(check_task_id(&"t".repeat(257)).is_err());
        assert!(check_data_id("a.b").is_ok());
        assert!(check_data_id("_a").is_err());
    }

    #[test]
    fn chain_of_parents() {
        let chain: Vec<&str> = namespace_chain("a.b.c").collect();
        assert_eq!(chain, ["a.b.c", "a.b", "a"]);
        assert_eq!(namespace_chain("a").collect::<Vec<_>>(), ["a"]);
    }
}
