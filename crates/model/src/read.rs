//! Reading typed values out of YAML nodes while collecting diagnostics, so that one pass over
//! a flow reports every mistake instead of stopping at the first.

use std::time::Duration;

use crate::diagnostic::Diags;
use crate::duration;
use crate::suggest;
use crate::yaml::{Entry, Node};

/// A non-null scalar's text.
pub(crate) fn string(d: &mut Diags, node: &Node, path: &str) -> Option<String> {
    match node.as_text() {
        Some(t) => Some(t.to_owned()),
        None => {
            d.error(
                node.pos,
                path,
                format!("'{path}' must be a string, got {}", node.describe()),
            );
            None
        }
    }
}

/// A boolean as Kestra reads one: `true`/`false`, or a string saying so in any case.
pub(crate) fn json_bool(value: &serde_json::Value) -> Option<bool> {
    match value {
        serde_json::Value::Bool(b) => Some(*b),
        serde_json::Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        serde_json::Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A boolean, also from the strings `true` and `false` (Jackson accepts both).
pub(crate) fn boolean(d: &mut Diags, node: &Node, path: &str) -> Option<bool> {
    match json_bool(&node.to_json()) {
        Some(b) => Some(b),
        None => {
            d.error(
                node.pos,
                path,
                format!("'{path}' must be true or false, got {}", node.describe()),
            );
            None
        }
    }
}

/// An integer of at least `min`, also from a string holding one.
pub(crate) fn integer(d: &mut Diags, node: &Node, path: &str, min: u32) -> Option<u32> {
    let parsed = match node.to_json() {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match parsed.and_then(|n| u32::try_from(n).ok()) {
        Some(n) if n >= min => Some(n),
        Some(n) => {
            d.error(
                node.pos,
                path,
                format!("'{path}' must be at least {min}, got {n}"),
            );
            None
        }
        None => {
            let got = node
                .as_text()
                .map_or_else(|| node.describe().to_owned(), |t| format!("'{t}'"));
            d.error(
                node.pos,
                path,
                format!("'{path}' must be a whole number of at least {min}, got {got}"),
            );
            None
        }
    }
}

/// An ISO-8601 duration such as `PT15S`.
pub(crate) fn duration(d: &mut Diags, node: &Node, path: &str) -> Option<Duration> {
    let text = string(d, node, path)?;
    match duration::parse_iso8601(&text) {
        Ok(value) => Some(value),
        Err(e) => {
            d.error(node.pos, path, format!("'{path}': {e}"));
            None
        }
    }
}

/// The entries of a mapping.
pub(crate) fn map<'a>(d: &mut Diags, node: &'a Node, path: &str) -> Option<&'a [Entry]> {
    let entries = node.as_map();
    if entries.is_none() {
        d.error(
            node.pos,
            path,
            format!("'{path}' must be a map, got {}", node.describe()),
        );
    }
    entries
}

/// The items of a list.
pub(crate) fn seq<'a>(d: &mut Diags, node: &'a Node, path: &str) -> Option<&'a [Node]> {
    let items = node.as_seq();
    if items.is_none() {
        d.error(
            node.pos,
            path,
            format!("'{path}' must be a list, got {}", node.describe()),
        );
    }
    items
}

/// Reports every key of `entries` that is not in `allowed`, with the closest allowed names.
/// `owner` completes "unknown property 'x' on ...". True when every key is allowed.
pub(crate) fn check_keys(
    d: &mut Diags,
    entries: &[Entry],
    allowed: &[&str],
    path: &str,
    owner: &str,
) -> bool {
    let mut ok = true;
    for entry in entries {
        if !allowed.contains(&entry.key.as_str()) {
            unknown_key(d, entry, allowed.iter().copied(), path, owner);
            ok = false;
        }
    }
    ok
}

/// True if `node` has a key outside `known` that looks like a misspelling of `wanted`. A
/// missing required property is then not reported: the unknown key's "did you mean" says it.
pub(crate) fn misspelt(node: &Node, wanted: &str, known: &[&str]) -> bool {
    node.as_map().unwrap_or_default().iter().any(|e| {
        !known.contains(&e.key.as_str())
            && suggest::closest(&e.key, known.iter().copied()).contains(&wanted)
    })
}

/// Reports `entry` as an unknown property of `owner`.
pub(crate) fn unknown_key<'a>(
    d: &mut Diags,
    entry: &Entry,
    known: impl IntoIterator<Item = &'a str>,
    path: &str,
    owner: &str,
) {
    let hint = suggest::did_you_mean(&suggest::closest(&entry.key, known));
    d.error(
        entry.key_pos,
        &crate::diagnostic::join(path, &entry.key),
        format!("unknown property '{}' on {owner}{hint}", entry.key),
    );
}

/// Reads the properties of one map-shaped object (a condition, an SLA, a filter) with
/// diagnostics naming the object: unknown keys are reported with "did you mean", missing
/// required ones once, and `ok` turns false on any mistake so that the object is not built.
pub(crate) struct Fields<'n, 'd> {
    pub(crate) d: &'d mut Diags,
    pub(crate) node: &'n Node,
    pub(crate) path: String,
    /// Completes "... on {owner}" and "{owner} is missing ...".
    pub(crate) owner: String,
    pub(crate) ok: bool,
}

impl<'n, 'd> Fields<'n, 'd> {
    /// Starts reading `node`, which must be a map with only `allowed` keys.
    pub(crate) fn new(
        d: &'d mut Diags,
        node: &'n Node,
        path: &str,
        owner: String,
        allowed: &[&str],
    ) -> Self {
        let ok = match map(d, node, path) {
            Some(entries) => check_keys(d, entries, allowed, path, &owner),
            None => false,
        };
        Self {
            d,
            node,
            path: path.to_owned(),
            owner,
            ok,
        }
    }

    /// The non-null value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&'n Node> {
        self.node.get(key).filter(|n| !n.is_null())
    }

    pub(crate) fn key_path(&self, key: &str) -> String {
        crate::diagnostic::join(&self.path, key)
    }

    /// Reports `key` as missing.
    pub(crate) fn missing(&mut self, key: &str) {
        let message = format!("{} is missing required property '{key}'", self.owner);
        self.d.error(self.node.pos, &self.key_path(key), message);
        self.ok = false;
    }

    /// Records the outcome of reading a present value.
    fn check<T>(&mut self, value: Option<T>) -> Option<T> {
        self.ok &= value.is_some();
        value
    }

    pub(crate) fn text(&mut self, key: &str) -> Option<String> {
        let node = self.get(key)?;
        let value = string(self.d, node, &self.key_path(key));
        self.check(value)
    }

    pub(crate) fn required_text(&mut self, key: &str) -> Option<String> {
        if self.get(key).is_none() {
            self.missing(key);
        }
        self.text(key)
    }

    pub(crate) fn boolean(&mut self, key: &str) -> Option<bool> {
        let node = self.get(key)?;
        let value = boolean(self.d, node, &self.key_path(key));
        self.check(value)
    }

    pub(crate) fn duration(&mut self, key: &str) -> Option<Duration> {
        let node = self.get(key)?;
        let value = duration(self.d, node, &self.key_path(key));
        self.check(value)
    }

    /// A list of strings (a single string is taken as a list of one, as Jackson does).
    pub(crate) fn texts(&mut self, key: &str) -> Vec<String> {
        let Some(node) = self.get(key) else {
            return Vec::new();
        };
        let path = self.key_path(key);
        let items: Vec<Option<String>> = match node.as_seq() {
            Some(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| string(self.d, item, &crate::diagnostic::index(&path, i)))
                .collect(),
            None => vec![string(self.d, node, &path)],
        };
        let all = items.into_iter().collect::<Option<Vec<_>>>();
        self.check(all).unwrap_or_default()
    }

    /// A name out of `names` (any case), turned into a value by `parse`.
    pub(crate) fn choice<T>(
        &mut self,
        key: &str,
        names: &[&str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let text = self.text(key)?;
        let value = parse(&text);
        if value.is_none() {
            let node = self.get(key).unwrap_or(self.node);
            let message = format!(
                "'{}': unknown value '{text}' (expected {})",
                self.key_path(key),
                names.join(", ")
            );
            self.d.error(node.pos, &self.key_path(key), message);
        }
        self.check(value)
    }

    /// A list of names out of `names` (any case), as their canonical upper-case form.
    pub(crate) fn names(&mut self, key: &str, names: &[&'static str]) -> Vec<String> {
        let path = self.key_path(key);
        let texts = self.texts(key);
        let Some(node) = self.get(key) else {
            return texts;
        };
        let mut out = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            match names.iter().find(|n| n.eq_ignore_ascii_case(text)) {
                Some(name) => out.push((*name).to_owned()),
                None => {
                    let at = node.as_seq().and_then(|items| items.get(i)).unwrap_or(node);
                    let message = format!(
                        "'{path}': unknown value '{text}' (expected one of {})",
                        names.join(", ")
                    );
                    self.d.error(at.pos, &path, message);
                    self.ok = false;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    fn node(text: &str) -> Node {
        yaml::parse(&format!("v: {text}\n"))
            .expect("YAML")
            .get("v")
            .expect("v")
            .clone()
    }

    #[test]
    fn typed_reads_report_mismatches() {
        let mut d = Diags::default();
        assert_eq!(string(&mut d, &node("42"), "v"), Some("42".into()));
        assert_eq!(boolean(&mut d, &node("'true'"), "v"), Some(true));
        assert_eq!(integer(&mut d, &node("3"), "v", 1), Some(3));
        assert_eq!(
            duration(&mut d, &node("PT1S"), "v"),
            Some(Duration::from_secs(1))
        );
        assert!(d.is_empty());
        assert_eq!(string(&mut d, &node("[a]"), "v"), None);
        assert_eq!(boolean(&mut d, &node("maybe"), "v"), None);
        assert_eq!(integer(&mut d, &node("0"), "v", 1), None);
        assert_eq!(integer(&mut d, &node("x"), "v", 1), None);
        assert_eq!(duration(&mut d, &node("1s"), "v"), None);
        let messages: Vec<String> = d.into_sorted().into_iter().map(|x| x.message).collect();
        assert_eq!(messages.len(), 5, "{messages:?}");
        assert!(
            messages
                .iter()
                .any(|m| m.contains("must be at least 1, got 0"))
        );
        assert!(messages.iter().any(|m| m.contains("invalid duration '1s'")));
    }

    #[test]
    fn misspellings_are_recognised() {
        let doc = yaml::parse("mesage: x\ntpye: Log\n").expect("YAML");
        assert!(misspelt(&doc, "message", &["message", "type"]));
        assert!(misspelt(&doc, "type", &["message", "type"]));
        assert!(!misspelt(&doc, "level", &["message", "type", "level"]));
    }

    #[test]
    fn unknown_keys_get_suggestions() {
        let doc = yaml::parse("mesage: x\nlevel: INFO\n").expect("YAML");
        let mut d = Diags::default();
        check_keys(
            &mut d,
            doc.as_map().expect("map"),
            &["message", "level"],
            "",
            "task 't'",
        );
        let out = d.into_sorted();
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].message,
            "unknown property 'mesage' on task 't', did you mean 'message'?"
        );
        assert_eq!((out[0].line, out[0].column), (1, 1));
    }
}
