//! Finding Kestra's conformance corpora for the tests that read them.

use std::path::PathBuf;

/// The flow files of corpus `name` (`kestra-flows`, `kestra-flows-2`), sorted, from
/// `$SAKER_CONFORMANCE_DIR/<name>` (by default `../shared/conformance` beside the
/// repository). `None`, after saying so on stderr, when the corpus is absent: a clone without
/// `shared/` (a user's) skips these tests.
pub fn corpus(name: &str) -> Option<Vec<PathBuf>> {
    let base = std::env::var_os("SAKER_CONFORMANCE_DIR").map_or_else(
        // crates/model -> the workspace -> its parent, where shared/ sits beside the repository.
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
        PathBuf::from,
    );
    let dir = base.join(name);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "SKIPPED: the {name} conformance corpus is absent ({}); set SAKER_CONFORMANCE_DIR \
             to run this test",
            dir.display()
        );
        return None;
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")))
        .collect();
    files.sort();
    Some(files)
}
