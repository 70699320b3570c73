//! YAML text to a tree that remembers where every key and value came from.
//!
//! `yaml-rust2` does the scanning and parsing (YAML 1.2) and reports a line and column for each
//! event; this module builds the tree from those events so that validation can point at the
//! exact key or value at fault. It also does what the event parser leaves to its users:
//! duplicate keys, aliases and the resolution of plain scalars (module `scalar`: the YAML 1.2
//! core schema, as Kestra's Jackson parser applies it). Merge keys (`<<`) have no special
//! meaning.
//!
//! Aliases are expanded into copies, within limits (module `limits`) so that an "alias bomb"
//! cannot exhaust memory. By default: nesting at most [`MAX_DEPTH`] (128) levels, at most
//! [`MAX_NODES`] (1,000,000) nodes after expansion, and aliases adding at most
//! [`MAX_ALIAS_BYTES`] (1 MiB) to the document, every alias use counting the whole size of
//! the value it expands to (the length of its text plus [`NODE_BYTES`] for each node in it),
//! and anchors that some alias uses counting the copy kept for them. [`parse_with`] and
//! [`parse_lenient_with`] take other [`Limits`].
//! A document past a limit is refused with a positioned error naming the limit.

mod limits;
mod scalar;

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::Marker;

pub use limits::{Limits, MAX_ALIAS_BYTES, MAX_DEPTH, MAX_NODES, NODE_BYTES};

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
    #[error("{pos}: nesting deeper than {limit} levels")]
    TooDeep { pos: Pos, limit: usize },
    #[error("{pos}: the document expands to more than {limit} nodes")]
    TooLarge { pos: Pos, limit: usize },
    #[error(
        "{pos}: aliases expand to more than {limit} bytes; an alias stands for a whole copy of \
         the value its anchor names, so alias smaller values or fewer times, or write the \
         values out"
    )]
    AliasesTooLarge { pos: Pos, limit: usize },
}

impl YamlError {
    /// Where the problem is.
    pub fn pos(&self) -> Pos {
        match self {
            Self::Syntax { pos, .. }
            | Self::DuplicateKey { pos, .. }
            | Self::ComplexKey { pos }
            | Self::MultipleDocuments { pos }
            | Self::TooDeep { pos, .. }
            | Self::TooLarge { pos, .. }
            | Self::AliasesTooLarge { pos, .. } => *pos,
        }
    }

    /// The message without the position.
    pub fn message(&self) -> String {
        let full = self.to_string();
        let prefix = format!("{}: ", self.pos());
        full.strip_prefix(&prefix).unwrap_or(&full).to_owned()
    }
}

/// Parses one YAML document within the default [`Limits`]; any duplicate key is an error. An
/// empty text gives a null node.
pub fn parse(source: &str) -> Result<Node, YamlError> {
    parse_with(source, &Limits::default())
}

/// [`parse`] within `limits`.
pub fn parse_with(source: &str, limits: &Limits) -> Result<Node, YamlError> {
    let (node, mut duplicates) = parse_lenient_with(source, limits)?;
    if duplicates.is_empty() {
        Ok(node)
    } else {
        Err(duplicates.swap_remove(0))
    }
}

/// Parses one YAML document within the default [`Limits`], keeping the first value of a
/// duplicated key and returning every duplicate beside the tree, so that a validator can
/// report them with its other findings.
pub fn parse_lenient(source: &str) -> Result<(Node, Vec<YamlError>), YamlError> {
    parse_lenient_with(source, &Limits::default())
}

/// [`parse_lenient`] within `limits`.
pub fn parse_lenient_with(
    source: &str,
    limits: &Limits,
) -> Result<(Node, Vec<YamlError>), YamlError> {
    Builder::new(*limits, aliased_anchors(source)).run(source)
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

/// The anchors that some alias refers to, read in a first pass over the events: only those
/// need a copy kept while the tree is built, so an anchor nothing refers to costs nothing.
/// yaml-rust2 numbers every anchor definition anew, even one that reuses a name. A syntax
/// error ends the pass; the build stops at the same place.
fn aliased_anchors(source: &str) -> HashSet<usize> {
    let mut parser = Parser::new_from_str(source);
    let mut aliased = HashSet::new();
    while let Ok((event, _)) = parser.next_token() {
        match event {
            Event::Alias(id) => {
                aliased.insert(id);
            }
            Event::StreamEnd => break,
            _ => {}
        }
    }
    aliased
}

/// A finished node with what the limits need to know about it.
#[derive(Clone)]
struct Built {
    node: Node,
    /// Nodes in it, itself included.
    size: usize,
    /// Its size in bytes, as [`limits`] defines it.
    bytes: usize,
    depth: usize,
}

/// What an open collection has gathered so far towards the limits.
struct Totals {
    size: usize,
    bytes: usize,
    depth: usize,
}

impl Totals {
    const EMPTY: Totals = Totals {
        size: 1,
        bytes: NODE_BYTES,
        depth: 1,
    };

    fn add(&mut self, child: &Built) {
        self.size = self.size.saturating_add(child.size);
        self.bytes = self.bytes.saturating_add(child.bytes);
        self.depth = self.depth.max(child.depth + 1);
    }
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
        totals: Totals,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        /// The key waiting for its value, and whether it repeats an earlier key.
        key: Option<(String, Pos, bool)>,
        seen: HashMap<String, usize>,
        totals: Totals,
    },
}

struct Builder {
    limits: Limits,
    /// Anchors some alias refers to (see [`aliased_anchors`]).
    aliased: HashSet<usize>,
    stack: Vec<Frame>,
    /// Copies of the anchored values that aliases refer to.
    anchors: HashMap<usize, Built>,
    root: Option<Built>,
    duplicates: Vec<YamlError>,
    /// Nodes of the expanded document so far, copies kept for anchors included.
    nodes: usize,
    /// Bytes that aliases and the copies kept for them have added so far.
    alias_bytes: usize,
}

impl Builder {
    fn new(limits: Limits, aliased: HashSet<usize>) -> Self {
        Self {
            limits,
            aliased,
            stack: Vec::new(),
            anchors: HashMap::new(),
            root: None,
            duplicates: Vec::new(),
            nodes: 0,
            alias_bytes: 0,
        }
    }

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
                    self.count_nodes(1, pos)?;
                    let bytes = NODE_BYTES.saturating_add(text.len());
                    let scalar = scalar::resolve(text, style, tag.as_ref());
                    let built = Built {
                        node: Node {
                            kind: NodeKind::Scalar(scalar),
                            pos,
                        },
                        size: 1,
                        bytes,
                        depth: 0,
                    };
                    self.finish(built, anchor)?;
                }
                Event::Alias(id) => {
                    let built = self.expand(id, pos)?;
                    self.finish(built, 0)?;
                }
                Event::SequenceStart(anchor, _) => {
                    self.open(pos)?;
                    self.stack.push(Frame::Seq {
                        pos,
                        anchor,
                        items: Vec::new(),
                        totals: Totals::EMPTY,
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
                        totals: Totals::EMPTY,
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let Some(frame) = self.stack.pop() else {
                        continue;
                    };
                    let (built, anchor) = close(frame);
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

    /// A copy of the value anchor `id` names, placed at `pos`, once the limits allow it: the
    /// cost is counted before the copy is made.
    fn expand(&mut self, id: usize, pos: Pos) -> Result<Built, YamlError> {
        // An unknown anchor is a parser error, so the lookup only fails if the anchor names
        // a collection that is still open (a recursive alias).
        let Some(anchored) = self.anchors.get(&id) else {
            return Err(YamlError::Syntax {
                pos,
                message: "an alias may not refer to a collection that contains it".to_owned(),
            });
        };
        let (size, bytes) = (anchored.size, anchored.bytes);
        self.count_nodes(size, pos)?;
        self.count_alias_bytes(bytes, pos)?;
        let mut built = self.anchors[&id].clone();
        built.node.pos = pos;
        Ok(built)
    }

    /// Counts `n` more nodes in the expanded document.
    fn count_nodes(&mut self, n: usize, pos: Pos) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.limits.max_nodes {
            return Err(YamlError::TooLarge {
                pos,
                limit: self.limits.max_nodes,
            });
        }
        Ok(())
    }

    /// Counts `bytes` more added by an alias or kept for one.
    fn count_alias_bytes(&mut self, bytes: usize, pos: Pos) -> Result<(), YamlError> {
        self.alias_bytes = self.alias_bytes.saturating_add(bytes);
        if self.alias_bytes > self.limits.max_alias_bytes {
            return Err(YamlError::AliasesTooLarge {
                pos,
                limit: self.limits.max_alias_bytes,
            });
        }
        Ok(())
    }

    fn open(&mut self, pos: Pos) -> Result<(), YamlError> {
        self.count_nodes(1, pos)?;
        if self.stack.len() >= self.limits.max_depth {
            return Err(self.too_deep(pos));
        }
        Ok(())
    }

    fn too_deep(&self, pos: Pos) -> YamlError {
        YamlError::TooDeep {
            pos,
            limit: self.limits.max_depth,
        }
    }

    /// Hands a finished node to its parent (as an item, a key or a value), or makes it the root.
    fn finish(&mut self, built: Built, anchor: usize) -> Result<(), YamlError> {
        if built.depth + self.stack.len() > self.limits.max_depth {
            return Err(self.too_deep(built.node.pos));
        }
        if anchor != 0 && self.aliased.contains(&anchor) {
            // The copy kept for later aliases counts too, so that many anchors on large
            // nested collections cannot multiply memory past the limits.
            self.count_nodes(built.size, built.node.pos)?;
            self.count_alias_bytes(built.bytes, built.node.pos)?;
            self.anchors.insert(anchor, built.clone());
        }
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some(built);
            return Ok(());
        };
        match parent {
            Frame::Seq { items, totals, .. } => {
                totals.add(&built);
                items.push(built.node);
            }
            Frame::Map {
                entries,
                key,
                seen,
                totals,
                ..
            } => {
                // Keys count towards the map's size as much as values do.
                totals.add(&built);
                match key.take() {
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
                    // The first definition of a repeated key wins; later ones are reported.
                    Some((k, key_pos, duplicate)) => {
                        if !duplicate {
                            entries.push(Entry {
                                key: k,
                                key_pos,
                                value: built.node,
                            });
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// A collection whose end event came: its node, with the anchor it carries.
fn close(frame: Frame) -> (Built, usize) {
    match frame {
        Frame::Seq {
            pos,
            anchor,
            items,
            totals,
        } => {
            let pos = items.first().map_or(pos, |first| pos.min(first.pos));
            let node = Node {
                kind: NodeKind::Seq(items),
                pos,
            };
            (built(node, totals), anchor)
        }
        Frame::Map {
            pos,
            anchor,
            entries,
            totals,
            ..
        } => {
            // A block mapping's start event comes after its first key; the first key is
            // where a reader sees the mapping begin.
            let pos = entries.first().map_or(pos, |first| pos.min(first.key_pos));
            let node = Node {
                kind: NodeKind::Map(entries),
                pos,
            };
            (built(node, totals), anchor)
        }
    }
}

fn built(node: Node, totals: Totals) -> Built {
    Built {
        node,
        size: totals.size,
        bytes: totals.bytes,
        depth: totals.depth,
    }
}
