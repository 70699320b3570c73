//! Kestra's Ion files, read and written as `serde_json` values.
//!
//! Kestra stores the rows that its tasks exchange (`serdes.*` conversions, query results
//! fetched with `STORE`, `ForEachItem` batches) as Amazon Ion text, one top-level value per
//! row and one row per line. This crate is that format and nothing else: [`IonWriter`]
//! writes JSON values as Ion rows, [`read_rows`] streams Ion text rows back as JSON values.
//! Binary Ion is refused: ion-rs parses nesting recursively, and only text can be checked
//! for depth before it parses (`depth.rs`).
//!
//! Both sides are bounded by [`Limits`]: the bytes read or written, and how deeply values
//! nest, so a hostile file ends in an [`IonError`] rather than exhausting memory or stack.
//!
//! Ion types that JSON lacks are mapped as Kestra's Jackson mapper hands them to a JSON
//! writer: timestamps become ISO 8601 text (a day-precision timestamp a plain date),
//! decimals numbers, symbols strings, blobs base64 text, clobs text, s-expressions arrays,
//! annotations are dropped, and typed nulls are `null`.

mod depth;
mod error;
mod read;
mod write;

pub use error::IonError;
pub use read::{IonRows, read_rows, read_rows_with};
pub use write::IonWriter;

/// Bounds on one file, read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes of Ion read from, or written to, one file.
    pub max_bytes: u64,
    /// The most levels of nested lists and structs in one row (a scalar row is depth 0).
    pub max_depth: usize,
}

impl Limits {
    /// The defaults: 1 GiB and 64 levels, beyond any row Kestra's own tasks write.
    pub const DEFAULT: Limits = Limits {
        max_bytes: 1 << 30,
        max_depth: 64,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

#[cfg(test)]
mod tests;
