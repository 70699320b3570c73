//! How far one YAML document may grow while it is read, so that hostile text cannot exhaust
//! the process: nesting depth, nodes, and the bytes that aliases copy.
//!
//! An alias stands for a whole copy of the value its anchor names, so a short text can stand
//! for a huge tree: an anchor on a 100 KB string used ten thousand times, or anchors on lists
//! of aliases of anchors ("billion laughs"). The tree is built by copying, so every copy is
//! counted *before* it is made:
//!
//! - **Nesting** ([`MAX_DEPTH`], 128 levels): every map and list counts, after aliases are
//!   expanded; recursive walks of the tree stay safe.
//! - **Nodes** ([`MAX_NODES`], 1,000,000): every scalar, list and map of the expanded
//!   document, including the copies aliases make and those kept for anchors.
//! - **Alias bytes** ([`MAX_ALIAS_BYTES`], 1 MiB): what aliases add to the document. Each use
//!   of an alias adds the size of the value it expands to, and each anchor that some alias
//!   uses adds the size of the copy kept for it. A value's size is the length of its text
//!   (scalars and map keys, in bytes) plus [`NODE_BYTES`] for each node in it, containers
//!   counted recursively; it is computed once, when the value is built. Flows that use
//!   anchors to share a task or a retry policy add a few kilobytes; the limit stops aliases
//!   long before they cost the process noticeable memory.
//!
//! [`Limits::default`] holds these values; `yaml::parse_with` takes others.

/// Deepest nesting accepted by default, counting every map and list after aliases are
/// expanded. Flows nest a handful of levels.
pub const MAX_DEPTH: usize = 128;

/// Most nodes a document may expand to by default (an alias counts as many nodes as it
/// stands for).
pub const MAX_NODES: usize = 1_000_000;

/// Most bytes aliases may add to a document by default (see the module documentation for
/// what a value's size is): 1 MiB.
pub const MAX_ALIAS_BYTES: usize = 1024 * 1024;

/// What one node counts for in a value's size besides its text: about what a node takes in
/// memory, so that an alias of a list of ten thousand empty strings costs what it weighs.
pub const NODE_BYTES: usize = 64;

/// The limits one parse applies; [`Limits::default`] gives [`MAX_DEPTH`], [`MAX_NODES`] and
/// [`MAX_ALIAS_BYTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of maps and lists, after aliases are expanded.
    pub max_depth: usize,
    /// Most nodes of the expanded document.
    pub max_nodes: usize,
    /// Most bytes that aliases (and the copies kept for their anchors) may add.
    pub max_alias_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: MAX_DEPTH,
            max_nodes: MAX_NODES,
            max_alias_bytes: MAX_ALIAS_BYTES,
        }
    }
}
