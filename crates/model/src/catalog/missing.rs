//! Why a task or trigger type Saker does not know is missing, when its name tells: a class
//! of Kestra's own test suite, a Kestra core type Saker does not have yet, or a type of a
//! Kestra plugin other than core (or a part of one Saker has not). A plain "unknown type, did you mean" would send the user
//! hunting for a spelling mistake that is not there.

use super::Catalog;

/// Kestra core types (tasks and triggers) that Saker does not have yet: canonical name and
/// the aliases Kestra declares for it.
const NOT_YET: &[(&str, &[&str])] = &[
    (
        "io.kestra.plugin.core.flow.Template",
        &["io.kestra.core.tasks.flows.Template"],
    ),
    ("io.kestra.plugin.core.kv.PurgeKV", &[]),
    ("io.kestra.plugin.core.trigger.ScheduleOnDates", &[]),
    (
        "io.kestra.plugin.core.trigger.Toggle",
        &["io.kestra.core.tasks.trigger.Toggle"],
    ),
];

/// Types of plugins Saker has part of, which a plain "did you mean" would answer wrongly (a
/// misspelt sqlite.Query): each with why it is not there.
const PLUGIN_NOT_YET: &[(&str, &str)] = &[
    (
        "io.kestra.plugin.jdbc.mysql.Query",
        "Saker's jdbc tasks run PostgreSQL and SQLite only: MySQL and MariaDB need a MySQL \
         client in Saker and tests against a real server, which are not there yet",
    ),
    (
        "io.kestra.plugin.jdbc.mysql.Queries",
        "Saker's jdbc tasks run PostgreSQL and SQLite only: MySQL and MariaDB need a MySQL \
         client in Saker and tests against a real server, which are not there yet",
    ),
];

/// Why type `name` is missing from `catalog`, when its name tells; `close` are the known
/// names close to it (a misspelt core name is better answered with "did you mean" than with
/// "a plugin"). `None` for any other name. The text completes "unknown task type 'X': ".
pub fn missing_type_reason(name: &str, close: &[&str], catalog: &Catalog) -> Option<String> {
    let segments: Vec<&str> = name.split('.').collect();
    if name.starts_with("io.kestra.") && segments.contains(&"test") {
        return Some(
            "it exists only in Kestra's own test suite (test code that no Kestra release \
             ships), so Saker does not provide it"
                .to_owned(),
        );
    }
    if let Some((canonical, _)) = NOT_YET
        .iter()
        .find(|(n, aliases)| *n == name || aliases.contains(&name))
    {
        let alias = if *canonical == name {
            String::new()
        } else {
            format!(" '{canonical}' (of which this name is an alias)")
        };
        return Some(format!(
            "it is a Kestra core type{alias} that Saker does not have yet"
        ));
    }
    if let Some((_, reason)) = PLUGIN_NOT_YET.iter().find(|(n, _)| *n == name) {
        return Some((*reason).to_owned());
    }
    match segments.as_slice() {
        // A close name of another plugin (gcp.bigquery.Query ~ jdbc.sqlite.Query) is no
        // misspelling: only one of the same plugin earns a "did you mean".
        ["io", "kestra", "plugin", plugin, _, ..]
            if *plugin != "core"
                && !close
                    .iter()
                    .any(|c| c.starts_with(&format!("io.kestra.plugin.{plugin}."))) =>
        {
            let prefix = format!("io.kestra.plugin.{plugin}.");
            let has: Vec<&str> = catalog
                .tasks()
                .iter()
                .map(|t| t.name)
                .chain(catalog.triggers().iter().map(|t| t.name))
                .filter(|n| n.starts_with(&prefix))
                .collect();
            Some(if has.is_empty() {
                format!(
                    "it belongs to the Kestra plugin 'io.kestra.plugin.{plugin}', which is a \
                     plugin Saker does not have"
                )
            } else {
                format!(
                    "it belongs to the Kestra plugin 'io.kestra.plugin.{plugin}', of which \
                     Saker has only {}",
                    has.join(", ")
                )
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing_type_reason(name: &str, close: &[&str]) -> Option<String> {
        super::missing_type_reason(name, close, Catalog::builtin())
    }

    #[test]
    fn test_suite_core_and_plugin_types_are_told_apart() {
        let reason = |name| missing_type_reason(name, &[]).unwrap_or_default();
        assert!(reason("io.kestra.core.tasks.test.Read").contains("own test suite"));
        assert!(reason("io.kestra.core.runners.test.TaskWithAlias").contains("own test suite"));
        assert_eq!(
            reason("io.kestra.plugin.core.trigger.Toggle"),
            "it is a Kestra core type that Saker does not have yet"
        );
        assert_eq!(
            reason("io.kestra.core.tasks.trigger.Toggle"),
            "it is a Kestra core type 'io.kestra.plugin.core.trigger.Toggle' (of which this \
             name is an alias) that Saker does not have yet"
        );
        assert!(reason("io.kestra.plugin.gcp.bigquery.Query").contains("'io.kestra.plugin.gcp'"));
        assert!(
            missing_type_reason("io.kestra.plugin.jdbc.mysql.Query", &["x"])
                .unwrap_or_default()
                .contains("PostgreSQL and SQLite only")
        );
        let r_script = reason("io.kestra.plugin.scripts.r.Script");
        assert!(
            r_script.starts_with(
                "it belongs to the Kestra plugin 'io.kestra.plugin.scripts', of which Saker \
                 has only io.kestra.plugin.scripts.shell.Commands, "
            ) && r_script.contains("io.kestra.plugin.scripts.python.Script"),
            "{r_script}"
        );
        assert_eq!(
            missing_type_reason(
                "io.kestra.plugin.scripts.shell.Comands",
                &["io.kestra.plugin.scripts.shell.Commands"]
            ),
            None,
            "a near miss of a known name gets 'did you mean' instead"
        );
        assert_eq!(missing_type_reason("com.example.Thing", &[]), None);
    }
}
