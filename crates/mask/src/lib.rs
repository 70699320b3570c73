//! Secret masking, and nothing else: given secret values, hide them — and
//! every common encoding of them — in text, whole or streamed.
//!
//! This crate knows nothing of flows, executions or storage. Callers build a
//! [`MaskSet`] from the values they must hide (the engine keeps one per
//! execution, grown through [`SharedMaskSet`]), then mask text with
//! [`MaskSet::mask`], process output with [`StreamMasker`] or
//! [`LineMasker`], and whole pipes with [`mask_stream`].
//!
//! What is masked: each value; its base64 (standard and URL-safe, at the
//! three byte offsets, with and without padding), URL, JSON, XML, shell and
//! hex forms; each line of a multi-line value; the string leaves of a JSON
//! value (see the `variants` module for the exact list and its limits). Every
//! byte covered by any of these is hidden, overlapping occurrences included,
//! and each hidden run becomes [`MASK`], which does not reveal its length.
//!
//! Values shorter than the minimum length ([`DEFAULT_MIN_LEN`] characters
//! unless configured) are not masked inside text, only as whole values
//! ([`MaskSet::mask_value`], whole lines in [`LineMasker`]); the builder
//! records a [`MaskWarning`] for each.
//!
//! Secret material is kept in buffers wiped on drop, and no `Debug` output
//! of this crate shows a value.

mod index;
mod secret;
mod set;
mod shared;
mod sources;
mod stream;
mod variants;

#[cfg(test)]
mod proptests;

pub use secret::Secret;
pub use set::{MaskSet, MaskSetBuilder, MaskWarning, WarningKind};
pub use shared::SharedMaskSet;
pub use sources::{SourceError, secrets_from_env, secrets_from_file, secrets_from_vars};
pub use stream::{LineMasker, StreamMasker, mask_stream};

/// What a masked run is replaced with.
pub const MASK: &str = "****";

/// Default minimum length, in characters, of what is masked inside text.
pub const DEFAULT_MIN_LEN: usize = 4;
