//! YAML text to a tree that remembers where every key and value came from.
//!
//! `yaml-rust2` does the scanning and parsing (YAML 1.2) and reports a line and column for each
//! event; this module builds the tree from those events so that validation can point at the
//! exact key or value at fault. It also does what the event parser leaves to its users:
//! duplicate keys, aliases (with limits so that an "alias bomb" cannot exhaust memory) and
//! the resolution of plain scalars to null, booleans and numbers.
//!
//! Plain scalars follow the YAML 1.2 core schema, which is also what Kestra's Jackson parser
//! applies: `true`/`false` (any case of the first letter or all caps), `null`/`~`/empty, decimal,
//! octal (`0o`) and hexadecimal (`0x`) integers, decimal floats. `yes`/`no`/`on`/`off` stay
//! strings. Merge keys (`<<`) have no special meaning.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deepest nesting accepted, counting every map and list, after aliases are expanded.
/// Flows nest a handful of levels; the limit keeps recursive walks of the tree safe.
pub const MAX_DEPTH: usize = 128;

/// Most nodes a document may expand to (aliases count as many nodes as they stand for).
pub const MAX_NODES: usize = 1_000_000;

/// A place in the source text; both numbers start at 1. Columns count characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    pub const START: Pos = Pos { line: 1, column: 1 };

    fn from_marker(m: &Marker) -> Self {
        // yaml-rust2 counts lines from 1 and columns from 0.
        Pos {
            line: m.line().max(1),
            column: m.col() + 1,
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A scalar as written and as resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// The text of the scalar after YAML unquoting and folding.
    pub text: String,
    /// The resolved value: Null, Bool, Number or String.
    pub value: Value,
    /// False for plain scalars, true for quoted and block ones (which are always strings).
    pub quoted: bool,
}

/// One `key: value` pair of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    /// Entries in source order; keys are unique.
    Map(Vec<Entry>),
}

/// A YAML value and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub pos: Pos,
}

/// Why YAML text could not be turned into a tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlError {
    #[error("{pos}: YAML syntax error: {message}")]
    Syntax { pos: Pos, message: String },
    #[error("{pos}: duplicate key '{key}' (first defined at line {first_line})")]
    DuplicateKey {
        pos: Pos,
        key: String,
        first_line: usize,
    },
    #[error("{pos}: mapping keys must be scalars")]
    ComplexKey { pos: Pos },
    #[error("{pos}: the file holds more than one YAML document")]
    MultipleDocuments { pos: Pos },
    #[error("{pos}: nesting deeper than {MAX_DEPTH} levels")]
    TooDeep { pos: Pos },
    #[error("{pos}: the document expands to more than {MAX_NODES} nodes")]
    TooLarge { pos: Pos },
}

impl YamlError {
    /// Where the problem is.
    pub fn pos(&self) -> Pos {
        match self {
            Self::Syntax { pos, .. }
            | Self::DuplicateKey { pos, .. }
            | Self::ComplexKey { pos }
            | Self::MultipleDocuments { pos }
            | Self::TooDeep { pos }
            | Self::TooLarge { pos } => *pos,
        }
    }

    /// The message without the position.
    pub fn message(&self) -> String {
        let full = self.to_string();
        let prefix = format!("{}: ", self.pos());
        full.strip_prefix(&prefix).unwrap_or(&full).to_owned()
    }
}

/// Parses one YAML document; any duplicate key is an error. An empty text gives a null node.
pub fn parse(source: &str) -> Result<Node, YamlError> {
    let (node, mut duplicates) = parse_lenient(source)?;
    if duplicates.is_empty() {
        Ok(node)
    } else {
        Err(duplicates.swap_remove(0))
    }
}

/// Parses one YAML document, keeping the first value of a duplicated key and returning every
/// duplicate beside the tree, so that a validator can report them with its other findings.
pub fn parse_lenient(source: &str) -> Result<(Node, Vec<YamlError>), YamlError> {
    Builder::default().run(source)
}

impl Node {
    /// The string of a scalar, whatever it resolved to (`42` gives "42"); `None` for null,
    /// lists and maps.
    pub fn as_text(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar(s) if !s.value.is_null() => Some(&s.text),
            _ => None,
        }
    }

    /// The string of a scalar that resolved to a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar(Scalar {
                value: Value::String(s),
                ..
            }) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar(s) if s.value.is_null())
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The entry of `key` in a mapping.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.as_map()?.iter().find(|e| e.key == key)
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    /// A short name of the node's shape, for error messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a map",
            NodeKind::Scalar(s) => match s.value {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                _ => "a string",
            },
        }
    }

    /// The node as JSON, with scalars resolved.
    pub fn to_json(&self) -> Value {
        match &self.kind {
            NodeKind::Scalar(s) => s.value.clone(),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect::<Map<_, _>>(),
            ),
        }
    }
}

/// A finished node with what the limits need to know about it.
#[derive(Clone)]
struct Built {
    node: Node,
    size: usize,
    depth: usize,
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
        size: usize,
        depth: usize,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        /// The key waiting for its value, and whether it repeats an earlier key.
        key: Option<(String, Pos, bool)>,
        seen: HashMap<String, usize>,
        size: usize,
        depth: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Built>,
    root: Option<Built>,
    duplicates: Vec<YamlError>,
    total: usize,
}

impl Builder {
    fn run(mut self, source: &str) -> Result<(Node, Vec<YamlError>), YamlError> {
        let mut parser = Parser::new_from_str(source);
        let mut documents = 0;
        loop {
            let (event, marker) = parser.next_token().map_err(|e| YamlError::Syntax {
                pos: Pos::from_marker(e.marker()),
                message: e.info().to_owned(),
            })?;
            let pos = Pos::from_marker(&marker);
            match event {
                Event::StreamEnd => break,
                Event::DocumentStart => {
                    documents += 1;
                    if documents > 1 {
                        return Err(YamlError::MultipleDocuments { pos });
                    }
                }
                Event::Scalar(text, style, anchor, tag) => {
                    self.count(1, pos)?;
                    let scalar = resolve(text, style, tag.as_ref());
                    let built = Built {
                        node: Node {
                            kind: NodeKind::Scalar(scalar),
                            pos,
                        },
                        size: 1,
                        depth: 0,
                    };
                    self.finish(built, anchor)?;
                }
                Event::Alias(id) => {
                    // An unknown anchor is a parser error, so the lookup only fails if the
                    // anchor names a collection that is still open (a recursive alias).
                    let mut built =
                        self.anchors
                            .get(&id)
                            .cloned()
                            .ok_or_else(|| YamlError::Syntax {
                                pos,
                                message: "an alias may not refer to a collection that contains it"
                                    .to_owned(),
                            })?;
                    built.node.pos = pos;
                    self.count(built.size, pos)?;
                    self.finish(built, 0)?;
                }
                Event::SequenceStart(anchor, _) => {
                    self.open(pos)?;
                    self.stack.push(Frame::Seq {
                        pos,
                        anchor,
                        items: Vec::new(),
                        size: 1,
                        depth: 1,
                    });
                }
                Event::MappingStart(anchor, _) => {
                    self.open(pos)?;
                    self.stack.push(Frame::Map {
                        pos,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                        seen: HashMap::new(),
                        size: 1,
                        depth: 1,
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let (built, anchor) = match self.stack.pop() {
                        Some(Frame::Seq {
                            pos,
                            anchor,
                            items,
                            size,
                            depth,
                        }) => {
                            let pos = items.first().map_or(pos, |first| pos.min(first.pos));
                            let node = Node {
                                kind: NodeKind::Seq(items),
                                pos,
                            };
                            (Built { node, size, depth }, anchor)
                        }
                        Some(Frame::Map {
                            pos,
                            anchor,
                            entries,
                            size,
                            depth,
                            ..
                        }) => {
                            // A block mapping's start event comes after its first key; the
                            // first key is where a reader sees the mapping begin.
                            let pos = entries.first().map_or(pos, |first| pos.min(first.key_pos));
                            let node = Node {
                                kind: NodeKind::Map(entries),
                                pos,
                            };
                            (Built { node, size, depth }, anchor)
                        }
                        None => continue,
                    };
                    self.finish(built, anchor)?;
                }
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            }
        }
        let root = self.root.map(|b| b.node).unwrap_or(Node {
            kind: NodeKind::Scalar(Scalar {
                text: String::new(),
                value: Value::Null,
                quoted: false,
            }),
            pos: Pos::START,
        });
        Ok((root, self.duplicates))
    }

    /// Counts `n` more nodes in the expanded document.
    fn count(&mut self, n: usize, pos: Pos) -> Result<(), YamlError> {
        self.total = self.total.saturating_add(n);
        if self.total > MAX_NODES {
            return Err(YamlError::TooLarge { pos });
        }
        Ok(())
    }

    fn open(&mut self, pos: Pos) -> Result<(), YamlError> {
        self.count(1, pos)?;
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError::TooDeep { pos });
        }
        Ok(())
    }

    /// Hands a finished node to its parent (as an item, a key or a value), or makes it the root.
    fn finish(&mut self, built: Built, anchor: usize) -> Result<(), YamlError> {
        if built.depth + self.stack.len() > MAX_DEPTH {
            return Err(YamlError::TooDeep {
                pos: built.node.pos,
            });
        }
        if anchor != 0 {
            // The copy kept for later aliases counts too, so that many anchors on large
            // nested collections cannot multiply memory past the limit.
            self.count(built.size, built.node.pos)?;
            self.anchors.insert(anchor, built.clone());
        }
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some(built);
            return Ok(());
        };
        match parent {
            Frame::Seq {
                items, size, depth, ..
            } => {
                *size += built.size;
                *depth = (*depth).max(built.depth + 1);
                items.push(built.node);
            }
            Frame::Map {
                entries,
                key,
                seen,
                size,
                depth,
                ..
            } => match key.take() {
                None => {
                    let NodeKind::Scalar(scalar) = built.node.kind else {
                        return Err(YamlError::ComplexKey {
                            pos: built.node.pos,
                        });
                    };
                    let text = scalar.text;
                    let duplicate = match seen.get(&text) {
                        Some(first_line) => {
                            self.duplicates.push(YamlError::DuplicateKey {
                                pos: built.node.pos,
                                key: text.clone(),
                                first_line: *first_line,
                            });
                            true
                        }
                        None => {
                            seen.insert(text.clone(), built.node.pos.line);
                            false
                        }
                    };
                    *key = Some((text, built.node.pos, duplicate));
                }
                Some((k, key_pos, duplicate)) => {
                    *size += built.size;
                    *depth = (*depth).max(built.depth + 1);
                    // The first definition of a repeated key wins; later ones are reported.
                    if !duplicate {
                        entries.push(Entry {
                            key: k,
                            key_pos,
                            value: built.node,
                        });
                    }
                }
            },
        }
        Ok(())
    }
}

/// Resolves a scalar's value from its text, style and tag.
fn resolve(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Scalar {
    let quoted = style != TScalarStyle::Plain;
    let core_tag = tag
        .filter(|t| t.handle == "tag:yaml.org,2002:" || t.handle == "!!")
        .map(|t| t.suffix.as_str());
    let value = match core_tag {
        Some("str") => Value::String(text.clone()),
        Some("null") => Value::Null,
        Some("bool") => {
            resolve_bool(&text).map_or_else(|| Value::String(text.clone()), Value::Bool)
        }
        Some("int") | Some("float") => {
            resolve_number(&text).map_or_else(|| Value::String(text.clone()), Value::Number)
        }
        _ if quoted => Value::String(text.clone()),
        _ => resolve_plain(&text),
    };
    Scalar {
        text,
        value,
        quoted,
    }
}

fn resolve_plain(text: &str) -> Value {
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Value::Null;
    }
    if let Some(b) = resolve_bool(text) {
        return Value::Bool(b);
    }
    resolve_number(text).map_or_else(|| Value::String(text.to_owned()), Value::Number)
}

fn resolve_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// A YAML 1.2 core-schema number. Integers too large for 64 bits and the special floats
/// (`.inf`, `.nan`), which JSON cannot hold, stay strings.
fn resolve_number(text: &str) -> Option<Number> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if let Some(oct) = digits.strip_prefix("0o") {
        return int_from(i64::from_str_radix(oct, 8).ok()?, negative);
    }
    if let Some(hex) = digits.strip_prefix("0x") {
        return int_from(i64::from_str_radix(hex, 16).ok()?, negative);
    }
    if digits.is_empty() {
        return None;
    }
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return Some(Number::from(i));
        }
        return text.parse::<u64>().ok().map(Number::from);
    }
    if is_core_float(digits) {
        return text.parse::<f64>().ok().and_then(Number::from_f64);
    }
    None
}

fn int_from(value: i64, negative: bool) -> Option<Number> {
    Some(Number::from(if negative {
        value.checked_neg()?
    } else {
        value
    }))
}

/// `( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?` without the sign.
fn is_core_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac_part {
        Some(f) => all_digits(int_part) && all_digits(f) && !(int_part.is_empty() && f.is_empty()),
        None => !int_part.is_empty() && all_digits(int_part),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok
}
