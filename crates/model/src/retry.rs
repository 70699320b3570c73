//! Retry policies of tasks and flows, as Kestra writes them (`type: constant | exponential |
//! random`, `behavior: RETRY_FAILED_TASK | CREATE_NEW_EXECUTION`).

use std::time::Duration;

use serde::Serialize;

use crate::diagnostic::{Diags, join};
use crate::read;
use crate::yaml::Node;

/// How long to wait between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum RetryPolicy {
    /// The same wait every time.
    Constant { interval: Duration },
    /// `interval` growing by `delay_factor` (Kestra's default 2) up to `max_interval`.
    #[serde(rename_all = "camelCase")]
    Exponential {
        interval: Duration,
        max_interval: Duration,
        delay_factor: Option<f64>,
    },
    /// A random wait between the two bounds.
    #[serde(rename_all = "camelCase")]
    Random {
        min_interval: Duration,
        max_interval: Duration,
    },
}

/// What a retry re-runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RetryBehavior {
    /// A new attempt of the failed task run in the same execution.
    #[default]
    RetryFailedTask,
    /// A new execution of the flow.
    CreateNewExecution,
}

/// A retry policy with its limits.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Retry {
    #[serde(flatten)]
    pub policy: RetryPolicy,
    pub behavior: RetryBehavior,
    /// Most attempts in total (Kestra's `maxAttempt`, `maxAttempts` since 1.0).
    pub max_attempt: Option<u32>,
    /// Give up once this much time has passed since the first attempt.
    pub max_duration: Option<Duration>,
    /// End in WARNING rather than SUCCESS when a retry succeeds.
    pub warning_on_retry: bool,
}

const COMMON_KEYS: &[&str] = &[
    "type",
    "behavior",
    "maxAttempt",
    "maxAttempts",
    "maxDuration",
    "warningOnRetry",
];

/// Parses a `retry` block; `None` (with diagnostics) when it is not valid.
pub(crate) fn parse_retry(d: &mut Diags, node: &Node, path: &str) -> Option<Retry> {
    let entries = read::map(d, node, path)?;
    let Some(type_node) = node.get("type").filter(|n| !n.is_null()) else {
        d.error(
            node.pos,
            path,
            format!("'{path}' is missing 'type' (constant, exponential or random)"),
        );
        return None;
    };
    let kind = read::string(d, type_node, &join(path, "type"))?;
    let own: &[&str] = match kind.as_str() {
        "constant" => &["interval"],
        "exponential" => &["interval", "maxInterval", "delayFactor"],
        "random" => &["minInterval", "maxInterval"],
        other => {
            d.error(
                type_node.pos,
                &join(path, "type"),
                format!("unknown retry type '{other}' (expected constant, exponential or random)"),
            );
            return None;
        }
    };
    let allowed: Vec<&str> = COMMON_KEYS.iter().chain(own).copied().collect();
    let mut ok = read::check_keys(d, entries, &allowed, path, &format!("a {kind} retry"));
    let mut field = |d: &mut Diags, key: &str| -> Option<Duration> {
        match node.get(key).filter(|n| !n.is_null()) {
            Some(n) => {
                let v = read::duration(d, n, &join(path, key));
                ok &= v.is_some();
                v
            }
            None if own.contains(&key) && key != "delayFactor" => {
                d.error(node.pos, path, format!("a {kind} retry needs '{key}'"));
                ok = false;
                None
            }
            None => None,
        }
    };
    let policy = match kind.as_str() {
        "constant" => field(d, "interval").map(|interval| RetryPolicy::Constant { interval }),
        "exponential" => {
            let interval = field(d, "interval");
            let max_interval = field(d, "maxInterval");
            let delay_factor = delay_factor(d, node, path);
            match (interval, max_interval, delay_factor) {
                (Some(interval), Some(max_interval), Ok(delay_factor)) => {
                    Some(RetryPolicy::Exponential {
                        interval,
                        max_interval,
                        delay_factor,
                    })
                }
                _ => None,
            }
        }
        _ => {
            let min_interval = field(d, "minInterval");
            let max_interval = field(d, "maxInterval");
            match (min_interval, max_interval) {
                (Some(min), Some(max)) if min > max => {
                    d.error(node.pos, path, "'minInterval' is longer than 'maxInterval'");
                    None
                }
                (Some(min_interval), Some(max_interval)) => Some(RetryPolicy::Random {
                    min_interval,
                    max_interval,
                }),
                _ => None,
            }
        }
    };

    let behavior = match node.get("behavior").filter(|n| !n.is_null()) {
        None => Some(RetryBehavior::default()),
        Some(n) => {
            let p = join(path, "behavior");
            read::string(d, n, &p).and_then(|text| match text.to_ascii_uppercase().as_str() {
                "RETRY_FAILED_TASK" => Some(RetryBehavior::RetryFailedTask),
                "CREATE_NEW_EXECUTION" => Some(RetryBehavior::CreateNewExecution),
                _ => {
                    d.error(
                        n.pos,
                        &p,
                        format!("unknown retry behavior '{text}' (expected RETRY_FAILED_TASK or CREATE_NEW_EXECUTION)"),
                    );
                    None
                }
            })
        }
    };
    let max_attempt = match (node.get("maxAttempt"), node.get("maxAttempts")) {
        (Some(_), Some(second)) => {
            d.error(
                second.pos,
                &join(path, "maxAttempts"),
                "give either 'maxAttempt' or 'maxAttempts', not both",
            );
            Err(())
        }
        (Some(n), None) | (None, Some(n)) if !n.is_null() => {
            let key = if node.get("maxAttempt").is_some() {
                "maxAttempt"
            } else {
                "maxAttempts"
            };
            read::integer(d, n, &join(path, key), 1).map(Some).ok_or(())
        }
        _ => Ok(None),
    };
    let max_duration = match node.get("maxDuration").filter(|n| !n.is_null()) {
        Some(n) => read::duration(d, n, &join(path, "maxDuration"))
            .map(Some)
            .ok_or(()),
        None => Ok(None),
    };
    let warning_on_retry = match node.get("warningOnRetry").filter(|n| !n.is_null()) {
        Some(n) => read::boolean(d, n, &join(path, "warningOnRetry")).ok_or(()),
        None => Ok(false),
    };
    match (
        policy,
        behavior,
        max_attempt,
        max_duration,
        warning_on_retry,
    ) {
        (Some(policy), Some(behavior), Ok(max_attempt), Ok(max_duration), Ok(warning_on_retry))
            if ok =>
        {
            Some(Retry {
                policy,
                behavior,
                max_attempt,
                max_duration,
                warning_on_retry,
            })
        }
        _ => None,
    }
}

fn delay_factor(d: &mut Diags, node: &Node, path: &str) -> Result<Option<f64>, ()> {
    let Some(n) = node.get("delayFactor").filter(|n| !n.is_null()) else {
        return Ok(None);
    };
    match n
        .to_json()
        .as_f64()
        .or_else(|| n.as_text().and_then(|t| t.trim().parse().ok()))
    {
        Some(f) if f > 0.0 && f.is_finite() => Ok(Some(f)),
        _ => {
            d.error(
                n.pos,
                &join(path, "delayFactor"),
                "'delayFactor' must be a positive number",
            );
            Err(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    fn parse(text: &str) -> (Option<Retry>, Vec<String>) {
        let doc = yaml::parse(text).expect("YAML");
        let mut d = Diags::default();
        let r = parse_retry(&mut d, &doc, "retry");
        (
            r,
            d.into_sorted().into_iter().map(|x| x.to_string()).collect(),
        )
    }

    #[test]
    fn kestra_examples() {
        let (r, errs) = parse(
            "type: exponential\nmaxAttempt: 3\nmaxDuration: PT15S\ninterval: PT0.25s\nmaxInterval: PT5S\n",
        );
        assert!(errs.is_empty(), "{errs:?}");
        let r = r.expect("retry");
        assert_eq!(r.max_attempt, Some(3));
        assert_eq!(
            r.policy,
            RetryPolicy::Exponential {
                interval: Duration::from_millis(250),
                max_interval: Duration::from_secs(5),
                delay_factor: None
            }
        );
        let (r, errs) = parse(
            "behavior: CREATE_NEW_EXECUTION\ntype: constant\nmaxDuration: PT6S\ninterval: PT2S\n",
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            r.expect("retry").behavior,
            RetryBehavior::CreateNewExecution
        );
        let (r, errs) =
            parse("type: random\nmaxAttempts: 3\nminInterval: PT0.20S\nmaxInterval: PT0.50S\n");
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(r.expect("retry").max_attempt, Some(3));
    }

    #[test]
    fn mistakes() {
        for (text, expected) in [
            ("interval: PT1S\n", "1:1: 'retry' is missing 'type'"),
            ("type: linear\n", "1:7: unknown retry type 'linear'"),
            ("type: constant\n", "1:1: a constant retry needs 'interval'"),
            (
                "type: constant\ninterval: 1s\n",
                "2:11: 'retry.interval': invalid duration '1s'",
            ),
            (
                "type: constant\ninterval: PT1S\nmaxInterval: PT2S\n",
                "3:1: unknown property 'maxInterval' on a constant retry",
            ),
            (
                "type: constant\ninterval: PT1S\nmaxAttempt: 0\n",
                "3:13: 'retry.maxAttempt' must be at least 1",
            ),
            (
                "type: constant\ninterval: PT1S\nbehavior: AGAIN\n",
                "3:11: unknown retry behavior 'AGAIN'",
            ),
            (
                "type: random\nminInterval: PT2S\nmaxInterval: PT1S\n",
                "'minInterval' is longer",
            ),
            (
                "type: exponential\ninterval: PT1S\nmaxInterval: PT2S\ndelayFactor: -1\n",
                "4:14: 'delayFactor' must be a positive number",
            ),
            ("[1]\n", "'retry' must be a map"),
        ] {
            let (r, errs) = parse(text);
            assert!(r.is_none(), "{text}");
            assert!(
                errs.iter().any(|e| e.contains(expected)),
                "{text}: {errs:?}"
            );
        }
    }
}
