//! Splitting multi-document texts: one pass, documents borrowed from the text (no copy, so no
//! memory that grows with the square of the text, as padding each document with the blank
//! lines before it did), true first lines, and a bound on the number of documents.

use std::ops::Range;

use saker_model::{Document, DocumentsError, MAX_DOCUMENTS, parse_flow, split_documents};

/// Where `document` lies in `text`, asserting that it is a slice of `text` rather than a copy.
fn range_in(text: &str, document: &Document<'_>) -> Range<usize> {
    let whole = text.as_bytes().as_ptr_range();
    let part = document.text.as_bytes().as_ptr_range();
    assert!(
        whole.start <= part.start && part.end <= whole.end,
        "document at line {} is not a slice of the text",
        document.first_line
    );
    let start = part.start as usize - whole.start as usize;
    start..start + document.text.len()
}

#[test]
fn a_hundred_thousand_markers_split_without_copying() {
    let text = "---\n".repeat(100_000);
    let documents = split_documents(&text).expect("blank documents do not count");
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0].first_line, 1);
    assert_eq!(range_in(&text, &documents[0]), 0..0);
}

#[test]
fn the_most_documents_allowed_each_borrow_their_own_part_of_the_text() {
    // Each flow follows a hundred markers: 100,000 markers in all.
    let flow = "id: f\nnamespace: company.team\n";
    let text = format!("{}{flow}", "---\n".repeat(100)).repeat(MAX_DOCUMENTS);
    let documents = split_documents(&text).expect("exactly the limit");
    assert_eq!(documents.len(), MAX_DOCUMENTS);
    let mut end = 0;
    for (i, document) in documents.iter().enumerate() {
        let range = range_in(&text, document);
        assert!(range.start >= end, "documents do not overlap");
        end = range.end;
        assert_eq!(document.text, format!("---\n{flow}"));
        assert_eq!(document.first_line, i * 102 + 100);
    }
    let total: usize = documents.iter().map(|d| d.text.len()).sum();
    assert!(total <= text.len());
}

#[test]
fn one_document_more_than_the_limit_is_refused_where_it_starts() {
    let text = "id: f\n---\n".repeat(MAX_DOCUMENTS + 1);
    let err = split_documents(&text).unwrap_err();
    assert_eq!(
        err,
        DocumentsError::TooMany {
            line: 2 * MAX_DOCUMENTS,
            limit: MAX_DOCUMENTS
        }
    );
    assert_eq!(
        err.to_string(),
        "2000:1: the text holds more than 1000 YAML documents; send or validate them in parts \
         of at most 1000"
    );
}

#[test]
fn diagnostics_of_a_later_document_carry_lines_of_the_whole_text() {
    let text = "id: ok\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n---\n# second\nid: bad id\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let documents = split_documents(text).unwrap();
    assert_eq!(documents.len(), 2);
    assert!(parse_flow(documents[0].text).is_ok());
    let diagnostics = documents[1].place(parse_flow(documents[1].text).unwrap_err());
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!((diagnostics[0].line, diagnostics[0].column), (9, 5));
    assert!(diagnostics[0].message.contains("bad id"), "{diagnostics:?}");
}
