//! Secret masking, and nothing else: given secret values, hide them — and
//! every common encoding of them — in text, whole or streamed.
//!
//! This crate knows nothing of flows, executions or storage. Callers build a
//! [`MaskSet`] from the values they must hide (the engine keeps one per
//! execution, grown through [`SharedMaskSet`] and dropped when the execution
//! ends, and a [`BoundedMaskSet`] of the secrets the process resolved
//! recently), then mask text with [`MaskSet::mask`] (or
//! [`MaskSet::mask_with`] over several sets in one pass), process output
//! with [`StreamMasker`] or [`LineMasker`], and whole pipes with
//! [`mask_stream`].
//!
//! What is masked: each value; its base64 (standard and URL-safe, at the
//! three byte offsets, with and without padding), URL, JSON, XML, shell and
//! hex forms; its lower- and upper-case forms, reversal and ROT13; its base32
//! (at the five byte offsets, padded and unpadded); its UTF-16LE and
//! UTF-16BE encodings (raw, hex, and base64 of UTF-16LE); its MD5, SHA-1,
//! SHA-256 and SHA-512 hex digests; each line of a multi-line value; the
//! string leaves of a JSON value (see the `variants` module for the exact
//! list and its limits). Every byte covered by any of these is hidden,
//! overlapping occurrences included, and each hidden run becomes [`MASK`],
//! which does not reveal its length.
//!
//! Values shorter than the minimum length ([`DEFAULT_MIN_LEN`] characters
//! unless configured) are not masked inside text, only as whole values
//! ([`MaskSet::mask_value`], whole lines in [`LineMasker`]), and none of
//! their forms is; the builder records a [`MaskWarning`] for each.
//!
//! Sets are incremental: adding a value costs its forms (about 60 patterns
//! for a 30-character token; adding and removing one took about 80 µs in a
//! set of 10,000 values as in one of 100,000 on the bench machine), and so
//! does removing it, whatever the set holds; nothing is rebuilt. Clones share their contents and copy them on
//! the first change (snapshots stay as they were).
//!
//! Secret material is kept in buffers wiped when removed or dropped, and no
//! `Debug` output of this crate shows a value.
//!
//! ```
//! use saker_mask::{MaskSetBuilder, SharedMaskSet, MASK};
//!
//! let mut builder = MaskSetBuilder::new();
//! builder.add_labeled("API_TOKEN", "tok_9f8e7d6c5b4a").add_labeled("PIN", "123");
//! assert_eq!(builder.warnings().len(), 1); // PIN is too short to mask inside text
//! let set = builder.build();
//!
//! assert_eq!(set.mask("Bearer tok_9f8e7d6c5b4a"), "Bearer ****");
//! // `echo -n tok_9f8e7d6c5b4a | base64`
//! assert_eq!(set.mask("dG9rXzlmOGU3ZDZjNWI0YQ=="), MASK);
//! assert_eq!(set.mask_value("123"), MASK);
//!
//! // A secret split across two reads of a process's output.
//! let mut lines = Vec::new();
//! let mut masker = set.lines(64 * 1024);
//! masker.push(b"token is tok_9f8e", &mut lines);
//! masker.push(b"7d6c5b4a\nnext\n", &mut lines);
//! masker.finish(&mut lines);
//! assert_eq!(lines, ["token is ****", "next"]);
//!
//! // One growing set per scope, shared between threads.
//! let shared = SharedMaskSet::new(set);
//! shared.add_labeled("DB_PASSWORD", "correct horse");
//! assert_eq!(shared.mask("pw=correct+horse"), "pw=****");
//! ```

mod bounded;
mod emit;
mod filter;
mod index;
mod secret;
mod set;
mod shared;
mod sources;
mod store;
mod stream;
mod table;
mod variants;
mod warning;

#[cfg(test)]
mod proptests;

pub use bounded::{BoundedMaskSet, MaskLimits};
pub use secret::Secret;
pub use set::{MaskSet, MaskSetBuilder};
pub use shared::SharedMaskSet;
pub use sources::{SourceError, secrets_from_env, secrets_from_file, secrets_from_vars};
pub use stream::{LineMasker, StreamMasker, mask_stream};
pub use warning::{MaskWarning, WarningKind};

/// What a masked run is replaced with.
pub const MASK: &str = "****";

/// Default minimum length, in characters, of what is masked inside text.
pub const DEFAULT_MIN_LEN: usize = 4;
