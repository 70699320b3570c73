//! Loading secrets for `saker mask` from files.

use std::io::Write;

use saker_mask::{MaskSet, MaskSetBuilder, SourceError, secrets_from_file};

fn file_with(content: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(content).expect("write temp file");
    f
}

#[test]
fn one_secret_per_line() {
    let f = file_with(b"alpha-secret\r\n\nbeta secret\n");
    let secrets = secrets_from_file(f.path()).expect("readable");
    let values: Vec<&[u8]> = secrets.iter().map(|s| s.expose()).collect();
    assert_eq!(values, [&b"alpha-secret"[..], b"beta secret"]);
    let mut b = MaskSetBuilder::new();
    for s in &secrets {
        b.add_secret(s);
    }
    assert_eq!(b.build().mask("x alpha-secret beta+secret"), "x **** ****");
}

#[test]
fn json_array_of_strings() {
    let f = file_with(b"\xEF\xBB\xBF [\"multi\\nline secret\", \"other-one\"]");
    let secrets = secrets_from_file(f.path()).expect("readable");
    assert_eq!(secrets.len(), 2);
    assert_eq!(secrets[0].expose(), b"multi\nline secret");
    let set = MaskSet::from_values(secrets.iter().map(|s| s.expose()));
    assert_eq!(set.mask("line secret"), "****");
}

#[test]
fn errors_name_the_file_never_a_value() {
    let f = file_with(b"[\"fine\", {\"value\": \"leaky-value\"}]");
    let err = secrets_from_file(f.path()).err();
    assert!(
        matches!(err, Some(SourceError::Json { line: 1, .. })),
        "{err:?}"
    );
    let msg = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(!msg.contains("leaky") && !msg.contains("fine"), "{msg}");
    assert!(msg.contains(&f.path().display().to_string()));

    let missing = f.path().with_extension("missing");
    let err = secrets_from_file(&missing).err();
    assert!(matches!(err, Some(SourceError::Read { .. })), "{err:?}");
}
