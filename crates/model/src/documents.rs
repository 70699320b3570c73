//! A multi-document YAML text (flows separated by `---` lines, as `POST …/flows/validate`
//! takes them) split into its documents in one pass, without copying: each document is a
//! slice of the text with the line it starts on, so that diagnostics keep the line numbers of
//! the whole text ([`Document::place`]).
//!
//! A separator is a line that starts with `---` followed by the end of the line, a space or a
//! tab (YAML's document marker); the marker line belongs to the document it opens, so text
//! after the marker (`--- # comment`) is parsed with it. Documents with nothing but blank
//! space are skipped. At most [`MAX_DOCUMENTS`] documents are accepted: each one is parsed
//! and answered separately, so their number bounds the work a single text can ask for.

use crate::diagnostic::Diagnostic;

/// Most documents [`split_documents`] accepts in one text.
pub const MAX_DOCUMENTS: usize = 1_000;

/// One document of a multi-document text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Document<'a> {
    /// The document's text, a slice of the whole text; it starts at the beginning of a line
    /// (with the `---` marker, if one opened the document).
    pub text: &'a str,
    /// The line of the whole text that the document's first line is (from 1).
    pub first_line: usize,
}

impl<'a> Document<'a> {
    /// The flow's source to store: the text without its opening `---` line when that line
    /// holds nothing else, so that the same flow has the same source (and keeps its revision)
    /// wherever it stands in a multi-document text.
    pub fn source(&self) -> &'a str {
        match self.text.split_once('\n') {
            Some((first, rest)) if first.trim_end() == "---" => rest,
            _ => self.text,
        }
    }

    /// Diagnostics found in this document's text, moved to the lines of the whole text.
    /// Columns stay: a document starts at the beginning of a line.
    pub fn place(&self, mut diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
        for d in &mut diagnostics {
            d.line += self.first_line - 1;
        }
        diagnostics
    }
}

/// Why a text could not be split into documents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentsError {
    #[error(
        "{line}:1: the text holds more than {limit} YAML documents; send or validate them in \
         parts of at most {limit}"
    )]
    TooMany { line: usize, limit: usize },
}

/// The documents of `text`, at most [`MAX_DOCUMENTS`]. A text without any document gives one
/// empty document at line 1, so that a caller reports an empty flow rather than nothing.
pub fn split_documents(text: &str) -> Result<Vec<Document<'_>>, DocumentsError> {
    split_documents_with(text, MAX_DOCUMENTS)
}

/// [`split_documents`] accepting at most `max_documents` documents. Time and memory are
/// linear in the length of `text`.
pub fn split_documents_with(
    text: &str,
    max_documents: usize,
) -> Result<Vec<Document<'_>>, DocumentsError> {
    let mut split = Split {
        text,
        max_documents,
        documents: Vec::new(),
    };
    let (mut start, mut first_line) = (0, 1);
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if is_marker(line) {
            split.push(start, offset, first_line)?;
            (start, first_line) = (offset, index + 1);
        }
        offset += line.len();
    }
    split.push(start, text.len(), first_line)?;
    if split.documents.is_empty() {
        split.documents.push(Document {
            text: &text[..0],
            first_line: 1,
        });
    }
    Ok(split.documents)
}

/// The documents found so far.
struct Split<'a> {
    text: &'a str,
    max_documents: usize,
    documents: Vec<Document<'a>>,
}

impl<'a> Split<'a> {
    /// Keeps the document `text[start..end]` unless it holds nothing but blank space.
    fn push(&mut self, start: usize, end: usize, first_line: usize) -> Result<(), DocumentsError> {
        let document = &self.text[start..end];
        let content = if is_marker(document) {
            &document[3..]
        } else {
            document
        };
        if content.trim().is_empty() {
            return Ok(());
        }
        if self.documents.len() == self.max_documents {
            return Err(DocumentsError::TooMany {
                line: first_line,
                limit: self.max_documents,
            });
        }
        self.documents.push(Document {
            text: document,
            first_line,
        });
        Ok(())
    }
}

/// Whether `line` (with or without its line break) is a document marker: `---` at the start,
/// then the end of the line, a space or a tab.
fn is_marker(line: &str) -> bool {
    line.strip_prefix("---")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::Pos;

    fn texts(text: &str) -> Vec<(&str, usize)> {
        split_documents(text)
            .expect("within the limit")
            .iter()
            .map(|d| (d.text, d.first_line))
            .collect()
    }

    #[test]
    fn a_documents_source_is_the_same_wherever_it_stands() {
        let first = "id: a\nnamespace: x\n";
        let text = format!("{first}---\n{first}--- # kept\n{first}");
        let documents = split_documents(&text).unwrap();
        assert_eq!(documents[0].source(), first);
        assert_eq!(documents[1].source(), first);
        // A marker line holding more than the marker stays with its document.
        assert_eq!(documents[2].source(), format!("--- # kept\n{first}"));
    }

    #[test]
    fn documents_keep_their_first_line_and_their_marker() {
        assert_eq!(
            texts("id: a\n---\nid: b\nnamespace: x\n---\n"),
            vec![("id: a\n", 1), ("---\nid: b\nnamespace: x\n", 2)]
        );
        assert_eq!(
            texts("a: 1\n---\nb: 2\n--- # third\nc: 3"),
            vec![("a: 1\n", 1), ("---\nb: 2\n", 2), ("--- # third\nc: 3", 4)]
        );
    }

    #[test]
    fn blank_documents_are_skipped_and_nothing_gives_one_empty_document() {
        assert_eq!(
            texts("---\n\n---  \n---\nid: a\n---\n"),
            vec![("---\nid: a\n", 4)]
        );
        assert_eq!(texts(""), vec![("", 1)]);
        assert_eq!(texts("---\n---\n"), vec![("", 1)]);
    }

    #[test]
    fn only_a_marker_at_the_start_of_a_line_separates() {
        let text = "script: |\n  ---\n  echo\nname: ----\n---x: 1\n";
        assert_eq!(texts(text), vec![(text, 1)]);
        assert_eq!(
            texts("a: 1\r\n---\r\nb: 2\r\n"),
            vec![("a: 1\r\n", 1), ("---\r\nb: 2\r\n", 2)]
        );
    }

    #[test]
    fn more_documents_than_the_limit_are_refused_with_the_line_of_the_first_too_many() {
        let three = "a: 1\n---\nb: 2\n---\nc: 3\n";
        assert_eq!(split_documents_with(three, 3).map(|d| d.len()), Ok(3));
        let err = split_documents_with(three, 2).unwrap_err();
        assert_eq!(err, DocumentsError::TooMany { line: 4, limit: 2 });
        assert!(
            err.to_string()
                .starts_with("4:1: the text holds more than 2 YAML documents")
        );
    }

    #[test]
    fn diagnostics_move_to_the_lines_of_the_whole_text() {
        let documents = split_documents("a: 1\n---\nb: 2\n").unwrap();
        let found = vec![Diagnostic::new(Pos { line: 2, column: 4 }, "b", "bad")];
        let placed = documents[1].place(found);
        assert_eq!((placed[0].line, placed[0].column), (3, 4));
        assert_eq!(documents[0].place(placed.clone()), placed);
    }
}
