//! What validation reports: one finding with its place in the file and in the flow.

use serde::Serialize;

use crate::yaml::{Pos, YamlError};

/// One problem found in a flow. `Display` gives `LINE:COL: message`; the CLI puts the file
/// name in front.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct Diagnostic {
    /// 1-based line of the key or value at fault.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Where in the flow, as in `tasks[1].type` (empty for the document itself).
    pub path: String,
    pub message: String,
}

impl Diagnostic {
    pub fn new(pos: Pos, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            line: pos.line,
            column: pos.column,
            path: path.into(),
            message: message.into(),
        }
    }
}

impl From<YamlError> for Diagnostic {
    fn from(e: YamlError) -> Self {
        Diagnostic::new(e.pos(), "", e.message())
    }
}

/// Collects diagnostics during one validation pass.
#[derive(Debug, Default)]
pub(crate) struct Diags {
    found: Vec<Diagnostic>,
    /// Things accepted that the user should know of (a property Saker ignores); they do not
    /// make the flow invalid.
    warnings: Vec<Diagnostic>,
    /// Findings folded into an earlier one (a second use of the same unknown type): not
    /// listed again, but counted by [`Diags::len`], so a reader that refused a part can tell
    /// that it was reported.
    folded: usize,
}

impl Diags {
    pub(crate) fn warn(&mut self, pos: Pos, path: &str, message: impl Into<String>) {
        self.warnings.push(Diagnostic::new(pos, path, message));
    }

    /// The warnings, in file order.
    pub(crate) fn take_warnings(&mut self) -> Vec<Diagnostic> {
        let mut warnings = std::mem::take(&mut self.warnings);
        warnings.sort();
        warnings.dedup();
        warnings
    }

    pub(crate) fn error(&mut self, pos: Pos, path: &str, message: impl Into<String>) {
        self.found.push(Diagnostic::new(pos, path, message));
    }

    /// Records a finding and returns its index, for [`Diags::append`].
    pub(crate) fn error_indexed(
        &mut self,
        pos: Pos,
        path: &str,
        message: impl Into<String>,
    ) -> usize {
        self.error(pos, path, message);
        self.found.len() - 1
    }

    /// Adds `more` to the message of the finding at `index` (as returned by
    /// [`Diags::error_indexed`]).
    pub(crate) fn append(&mut self, index: usize, more: &str) {
        if let Some(found) = self.found.get_mut(index) {
            found.message.push_str(more);
        }
    }

    /// Counts a finding folded into an earlier one instead of recording it again.
    pub(crate) fn fold(&mut self) {
        self.folded += 1;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// How many findings were made, counting those folded into earlier ones.
    pub(crate) fn len(&self) -> usize {
        self.found.len() + self.folded
    }

    /// The findings in file order, each once: defaults merged into several tasks would
    /// otherwise report the same mistake once per task.
    pub(crate) fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.found.sort_by(|a, b| {
            (a.line, a.column, &a.message, &a.path).cmp(&(b.line, b.column, &b.message, &b.path))
        });
        self.found
            .dedup_by(|a, b| a.line == b.line && a.column == b.column && a.message == b.message);
        self.found
    }
}

/// `parent.child`, or `child` at the top.
pub(crate) fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_owned()
    } else {
        format!("{parent}.{child}")
    }
}

/// `parent[index]`.
pub(crate) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_line_column_message() {
        let d = Diagnostic::new(Pos { line: 3, column: 7 }, "tasks[0]", "boom");
        assert_eq!(d.to_string(), "3:7: boom");
    }

    #[test]
    fn sorted_and_deduplicated() {
        let mut diags = Diags::default();
        let p = |line| Pos { line, column: 1 };
        diags.error(p(5), "tasks[1].x", "same");
        diags.error(p(2), "a", "first");
        diags.error(p(5), "tasks[0].x", "same");
        let out = diags.into_sorted();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].message, "first");
    }

    #[test]
    fn paths() {
        assert_eq!(join("", "id"), "id");
        assert_eq!(join(&index("tasks", 1), "type"), "tasks[1].type");
    }
}
