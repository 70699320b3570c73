//! Plugin defaults (`pluginDefaults`, formerly `taskDefaults`): property values given once for
//! every task or trigger of a type.
//!
//! They are merged into each matching task before it is validated, so a default is checked
//! like a property written on the task (and a mistake in it is reported where the default is
//! written). As in Kestra, a default's `type` names a type (canonical name or alias) or a
//! package prefix (`io.kestra.plugin.core.log` covers every type under it); maps are merged
//! key by key, other values are replaced whole. A package-prefix default gives each task only
//! the properties its type has (a key no matching task has is reported once, at the default). A non-forced default only fills properties the
//! task leaves out, and of two non-forced defaults the first listed wins; a `forced` default
//! overrides the task, and of two forced defaults the last listed wins.

use std::collections::HashSet;

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

use crate::catalog::{COMMON_TASK_PROPS, TaskType};
use crate::diagnostic::{Diags, index, join};
use crate::read;
use crate::suggest::{closest, did_you_mean};
use crate::yaml::{Entry, Node, NodeKind, Pos};

/// One entry of `pluginDefaults` / `taskDefaults`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginDefault {
    /// A type name, alias or package prefix, as written.
    #[serde(rename = "type")]
    pub type_name: String,
    pub forced: bool,
    pub values: IndexMap<String, Value>,
}

impl PluginDefault {
    /// True if this default applies to the type with this canonical name and aliases.
    pub fn applies_to(&self, canonical: &str, aliases: &[&str]) -> bool {
        applies(&self.type_name, canonical, aliases)
    }
}

fn applies(rule: &str, canonical: &str, aliases: &[&str]) -> bool {
    let under = |name: &str| {
        name == rule
            || (name.len() > rule.len()
                && name.starts_with(rule)
                && name.as_bytes()[rule.len()] == b'.')
    };
    under(canonical) || aliases.iter().any(|a| under(a))
}

/// The flow's defaults with the YAML of their values, ready to merge.
#[derive(Debug, Default)]
pub(crate) struct Defaults {
    rules: Vec<(PluginDefault, Node)>,
    /// Where each default value's key is written, to tell merged values from the task's own.
    origins: HashSet<Pos>,
    /// Keys of package-prefix defaults that some task of a matching type took.
    taken: HashSet<Pos>,
    /// Keys of package-prefix defaults left out of a task whose type lacks them: reported
    /// when the pass ends if no task took them (a typo, not another type's property).
    left_out: IndexMap<Pos, LeftOut>,
}

/// A prefix default's key that a task's type does not have.
#[derive(Debug)]
struct LeftOut {
    key: String,
    /// The default's `type`, as written.
    rule: String,
    /// The types it was offered to, and the property names they have (for "did you mean").
    types: Vec<&'static str>,
    names: Vec<&'static str>,
}

impl Defaults {
    /// Reads a `pluginDefaults` or `taskDefaults` list.
    pub(crate) fn read(&mut self, d: &mut Diags, node: &Node, path: &str) {
        let Some(items) = read::seq(d, node, path) else {
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let item_path = index(path, i);
            let Some(entries) = read::map(d, item, &item_path) else {
                continue;
            };
            read::check_keys(
                d,
                entries,
                &["type", "forced", "values"],
                &item_path,
                "a plugin default",
            );
            let type_name = match item.get("type").filter(|n| !n.is_null()) {
                Some(n) => read::string(d, n, &join(&item_path, "type")),
                None => {
                    d.error(
                        item.pos,
                        &join(&item_path, "type"),
                        "a plugin default needs a 'type'",
                    );
                    None
                }
            };
            let forced = match item.get("forced").filter(|n| !n.is_null()) {
                Some(n) => read::boolean(d, n, &join(&item_path, "forced")),
                None => Some(false),
            };
            let values = match item.get("values").filter(|n| !n.is_null()) {
                Some(n) => read::map(d, n, &join(&item_path, "values")).map(|_| n.clone()),
                None => Some(Node {
                    kind: NodeKind::Map(Vec::new()),
                    pos: item.pos,
                }),
            };
            if let (Some(type_name), Some(forced), Some(values)) = (type_name, forced, values) {
                self.origins.extend(
                    values
                        .as_map()
                        .unwrap_or_default()
                        .iter()
                        .map(|e| e.key_pos),
                );
                let json = match values.to_json() {
                    Value::Object(map) => map.into_iter().collect(),
                    _ => IndexMap::new(),
                };
                self.rules.push((
                    PluginDefault {
                        type_name,
                        forced,
                        values: json,
                    },
                    values,
                ));
            }
        }
    }

    /// True if the key at `pos` is written in a default rather than in a task.
    pub(crate) fn is_default(&self, pos: Pos) -> bool {
        self.origins.contains(&pos)
    }

    /// The defaults as read, in order.
    pub(crate) fn list(&self) -> Vec<PluginDefault> {
        self.rules.iter().map(|(d, _)| d.clone()).collect()
    }

    /// `item` (a map: a trigger) with the matching defaults merged in.
    pub(crate) fn apply(&self, canonical: &str, aliases: &[&str], item: &Node) -> Node {
        self.merge(canonical, aliases, item, |_| true)
    }

    /// `task` (a map) with the defaults matching its type merged in. A default written for a
    /// package prefix covers types with different properties (`io.kestra.plugin.core` holds
    /// Log and Return): it gives each type only the properties that type has, as Kestra,
    /// which does not validate a prefix default against any one type, ignores the others. A
    /// default naming the type itself gives it everything, so its mistakes are reported.
    pub(crate) fn apply_task(&mut self, task_type: &TaskType, task: &Node) -> Node {
        let has = |key: &str| COMMON_TASK_PROPS.contains(&key) || task_type.prop(key).is_some();
        let prefixes = self.rules.iter().filter(|(d, _)| {
            d.applies_to(task_type.name, task_type.aliases) && !task_type.answers_to(&d.type_name)
        });
        for (rule, values) in prefixes {
            for entry in values.as_map().unwrap_or_default() {
                if has(&entry.key) {
                    self.taken.insert(entry.key_pos);
                    continue;
                }
                let left_out = self.left_out.entry(entry.key_pos).or_insert(LeftOut {
                    key: entry.key.clone(),
                    rule: rule.type_name.clone(),
                    types: Vec::new(),
                    names: COMMON_TASK_PROPS.to_vec(),
                });
                if !left_out.types.contains(&task_type.name) {
                    left_out.types.push(task_type.name);
                    left_out
                        .names
                        .extend(task_type.props.iter().map(|p| p.name));
                }
            }
        }
        self.merge(task_type.name, task_type.aliases, task, has)
    }

    /// Reports the keys of prefix defaults that no task they were offered to has.
    pub(crate) fn report_left_out(&self, d: &mut Diags) {
        for (pos, left) in &self.left_out {
            if self.taken.contains(pos) {
                continue;
            }
            let hint = did_you_mean(&closest(&left.key, left.names.iter().copied()));
            d.error(
                *pos,
                &join("pluginDefaults", &left.key),
                format!(
                    "unknown property '{}' on the plugin default for {}: no type it applies to \
                     in this flow has it ({}){hint}",
                    left.key,
                    left.rule,
                    left.types.join(", ")
                ),
            );
        }
    }

    /// `item` with the matching defaults merged in; `prefix_keeps` says which keys a
    /// prefix default may give.
    fn merge(
        &self,
        canonical: &str,
        aliases: &[&str],
        item: &Node,
        prefix_keeps: impl Fn(&str) -> bool,
    ) -> Node {
        let mut merged = item.clone();
        let NodeKind::Map(entries) = &mut merged.kind else {
            return merged;
        };
        let names_the_type =
            |d: &PluginDefault| d.type_name == canonical || aliases.contains(&d.type_name.as_str());
        let values_of = |(d, values): &(PluginDefault, Node)| -> Vec<Entry> {
            values
                .as_map()
                .unwrap_or_default()
                .iter()
                .filter(|e| names_the_type(d) || prefix_keeps(&e.key))
                .cloned()
                .collect()
        };
        let matching = || {
            self.rules
                .iter()
                .filter(|(d, _)| d.applies_to(canonical, aliases))
        };
        for rule in matching().filter(|(d, _)| !d.forced) {
            fill(entries, &values_of(rule));
        }
        for rule in matching().filter(|(d, _)| d.forced) {
            force(entries, &values_of(rule));
        }
        merged
    }
}

/// Adds what `target` lacks; maps present on both sides are filled recursively.
fn fill(target: &mut Vec<Entry>, defaults: &[Entry]) {
    for default in defaults.iter().filter(|e| e.key != "id" && e.key != "type") {
        match target.iter_mut().find(|e| e.key == default.key) {
            None => target.push(default.clone()),
            Some(existing) => {
                if let (NodeKind::Map(inner), Some(more)) =
                    (&mut existing.value.kind, default.value.as_map())
                {
                    fill(inner, more);
                }
            }
        }
    }
}

/// Writes `forced` over `target`; maps present on both sides are merged recursively.
fn force(target: &mut Vec<Entry>, forced: &[Entry]) {
    for value in forced.iter().filter(|e| e.key != "id" && e.key != "type") {
        match target.iter_mut().find(|e| e.key == value.key) {
            None => target.push(value.clone()),
            Some(existing) => match (&mut existing.value.kind, value.value.as_map()) {
                (NodeKind::Map(inner), Some(more)) => force(inner, more),
                _ => existing.value = value.value.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;
    use serde_json::json;

    fn defaults(text: &str) -> Defaults {
        let node = yaml::parse(text).expect("YAML");
        let mut d = Diags::default();
        let mut out = Defaults::default();
        out.read(&mut d, &node, "pluginDefaults");
        assert!(d.is_empty(), "{:?}", d.into_sorted());
        out
    }

    const LOG: &str = "io.kestra.plugin.core.log.Log";

    #[test]
    fn type_matching() {
        assert!(applies(LOG, LOG, &[]));
        assert!(applies("io.kestra.plugin.core.log", LOG, &[]));
        assert!(applies("io.kestra.plugin.core", LOG, &[]));
        assert!(!applies("io.kestra.plugin.core.lo", LOG, &[]));
        assert!(applies(
            "io.kestra.core.tasks.log.Log",
            LOG,
            &["io.kestra.core.tasks.log.Log"]
        ));
        assert!(!applies("io.kestra.plugin.core.debug.Return", LOG, &[]));
    }

    #[test]
    fn non_forced_fill_and_forced_override() {
        let d = defaults(
            "- type: io.kestra.plugin.core.log\n  values:\n    level: WARN\n    message: default\n    env: {A: '1', B: '2'}\n\
             - type: io.kestra.plugin.core.log.Log\n  forced: true\n  values:\n    logLevel: ERROR\n    env: {B: forced}\n",
        );
        let task = yaml::parse("id: t\ntype: x\nmessage: mine\nlogLevel: INFO\nenv: {C: '3'}\n")
            .expect("YAML");
        let merged = d.apply(LOG, &[], &task).to_json();
        assert_eq!(
            merged,
            json!({"id": "t", "type": "x", "message": "mine", "logLevel": "ERROR",
                   "env": {"C": "3", "A": "1", "B": "forced"}, "level": "WARN"})
        );
        let other = d
            .apply("io.kestra.plugin.core.debug.Return", &[], &task)
            .to_json();
        assert_eq!(other, task.to_json());
    }

    #[test]
    fn a_prefix_default_gives_a_task_only_the_properties_its_type_has() {
        let mut d = defaults(
            "- type: io.kestra.plugin.core\n  values: {message: hi, format: f, retry: {type: constant}}\n\
             - type: io.kestra.plugin.core.debug.Return\n  values: {nope: 1}\n",
        );
        let task = yaml::parse("id: t\n").expect("YAML");
        let log = crate::catalog::task_type("Log").expect("Log");
        let ret = crate::catalog::task_type("Return").expect("Return");
        assert_eq!(
            d.apply_task(log, &task).to_json(),
            json!({"id": "t", "message": "hi", "retry": {"type": "constant"}})
        );
        // A default naming the type gives it all its values, so `nope` is reported.
        assert_eq!(
            d.apply_task(ret, &task).to_json(),
            json!({"id": "t", "format": "f", "retry": {"type": "constant"}, "nope": 1})
        );
    }

    #[test]
    fn first_non_forced_wins_and_last_forced_wins() {
        let d = defaults(
            "- {type: T, values: {a: first}}\n- {type: T, values: {a: second}}\n\
             - {type: T, forced: true, values: {b: first}}\n- {type: T, forced: true, values: {b: second}}\n",
        );
        let task = yaml::parse("id: t\n").expect("YAML");
        assert_eq!(
            d.apply("T", &[], &task).to_json(),
            json!({"id": "t", "a": "first", "b": "second"})
        );
        assert_eq!(d.list().len(), 4);
    }

    #[test]
    fn malformed_defaults_are_reported() {
        let node =
            yaml::parse("- values: {a: 1}\n- type: T\n  value: {}\n- type: T\n  forced: maybe\n")
                .expect("YAML");
        let mut d = Diags::default();
        Defaults::default().read(&mut d, &node, "pluginDefaults");
        let messages: Vec<String> = d.into_sorted().into_iter().map(|x| x.to_string()).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(messages[0].starts_with("1:3: a plugin default needs a 'type'"));
        assert!(
            messages[1]
                .contains("unknown property 'value' on a plugin default, did you mean 'values'?")
        );
        assert!(messages[2].contains("must be true or false"));
    }
}
