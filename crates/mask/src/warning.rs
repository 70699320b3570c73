//! Warnings about secrets that are masked less than they could be.

use std::fmt;

/// Why a secret is masked less than it could be. Never holds the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskWarning {
    /// The label given with the value, if any.
    pub label: Option<String>,
    pub kind: WarningKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningKind {
    /// The value is empty: there is nothing to mask.
    Empty,
    /// The value has fewer than `min_len` characters: it is masked only where
    /// it is a whole value (a whole log line, a whole output), never inside
    /// other text.
    TooShort { min_len: usize },
    /// The value is JSON and `count` of its string leaves have fewer than
    /// `min_len` characters: they are masked only as whole values.
    ShortJsonLeaves { count: usize, min_len: usize },
}

impl fmt::Display for MaskWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.label {
            Some(l) => write!(f, "secret {l}")?,
            None => f.write_str("a secret")?,
        }
        match self.kind {
            WarningKind::Empty => f.write_str(" is empty and masks nothing"),
            WarningKind::TooShort { min_len } => write!(
                f,
                " is shorter than {min_len} characters: it is masked only where it \
                 is a whole value, not inside other text"
            ),
            WarningKind::ShortJsonLeaves { count, min_len } => write!(
                f,
                " has {count} JSON string value(s) shorter than {min_len} characters: \
                 they are masked only where they are a whole value"
            ),
        }
    }
}
