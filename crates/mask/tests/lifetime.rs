//! Sets with a lifetime: growing one value at a time, removing values, the
//! bounded set of a process's recent secrets, and the forms of a secret that
//! a script produces by hand (case, reversal, ROT13, base32, UTF-16,
//! digests), through the public API.

use saker_mask::{BoundedMaskSet, MASK, MaskLimits, MaskSet, SharedMaskSet, WarningKind};
use sha2::Digest as _;

const TOKEN: &str = "Tok_9f8e7d6c5b4a3210";

fn limits(max_values: usize, max_bytes: usize) -> MaskLimits {
    MaskLimits {
        max_values,
        max_bytes,
    }
}

#[test]
fn script_made_forms_of_a_token_are_masked() {
    let set = MaskSet::from_values([TOKEN]);
    let le: Vec<u8> = TOKEN.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let be: Vec<u8> = TOKEN.encode_utf16().flat_map(u16::to_be_bytes).collect();
    use base64::Engine as _;
    let cases: Vec<(&str, String)> = vec![
        ("lower", TOKEN.to_lowercase()),
        ("upper", TOKEN.to_uppercase()),
        ("rev", TOKEN.chars().rev().collect()),
        ("rot13", "Gbx_9s8r7q6p5o4n3210".to_owned()),
        ("base32", data_encoding::BASE32.encode(TOKEN.as_bytes())),
        (
            "base32 nopad",
            data_encoding::BASE32_NOPAD.encode(TOKEN.as_bytes()),
        ),
        ("utf16le hex", hex::encode(&le)),
        ("utf16be HEX", hex::encode_upper(&be)),
        (
            "powershell",
            base64::engine::general_purpose::STANDARD.encode(&le),
        ),
        ("md5", hex::encode(md5::Md5::digest(TOKEN))),
        ("sha1", hex::encode_upper(sha1::Sha1::digest(TOKEN))),
        ("sha256", hex::encode(sha2::Sha256::digest(TOKEN))),
        (
            "echo | sha512sum",
            hex::encode(sha2::Sha512::digest(format!("{TOKEN}\n"))),
        ),
    ];
    for (name, form) in cases {
        assert_eq!(set.mask(&format!("[{form}]")), "[****]", "{name}: {form}");
    }
    // Inside a longer base32 blob, at an odd offset.
    let blob = data_encoding::BASE32.encode(format!("user:{TOKEN}:end").as_bytes());
    let masked = set.mask(&blob);
    assert!(masked.contains(MASK), "{masked}");
    assert!(masked.len() < blob.len() / 2, "{blob} -> {masked}");
}

#[test]
fn raw_utf16_output_is_masked_in_lines() {
    let set = MaskSet::from_values([TOKEN]);
    let mut out: Vec<u8> = "token=".encode_utf16().flat_map(u16::to_le_bytes).collect();
    out.extend(TOKEN.encode_utf16().flat_map(u16::to_le_bytes));
    out.extend_from_slice(b"\n");
    let mut lines = Vec::new();
    let mut masker = set.lines(1024);
    for chunk in out.chunks(7) {
        masker.push(chunk, &mut lines);
    }
    masker.finish(&mut lines);
    // The UTF-16BE form matches too, one byte earlier (from the NUL after
    // `=`): every byte either covers is hidden.
    assert_eq!(lines, ["t\0o\0k\0e\0n\0=****"]);
}

#[test]
fn a_short_secret_gets_no_forms() {
    let mut set = MaskSet::empty();
    let warnings = set.insert("Ab1");
    assert_eq!(warnings[0].kind, WarningKind::TooShort { min_len: 4 });
    assert_eq!(set.pattern_count(), 0);
    assert_eq!(set.mask_value("Ab1"), MASK);
    let sha = hex::encode(sha2::Sha256::digest("Ab1"));
    assert_eq!(
        set.mask(&sha),
        sha,
        "a digest of a short value is not hidden"
    );
}

#[test]
fn removed_values_are_neither_masked_nor_held() {
    let mut set = MaskSet::from_values(["first-secret-value", "second-secret-value", "PIN"]);
    let before = set.pattern_count();
    assert!(set.remove("first-secret-value"));
    assert!(!set.contains_value("first-secret-value"));
    assert!(!set.remove("first-secret-value"));
    assert_eq!(set.mask("first-secret-value"), "first-secret-value");
    assert_eq!(
        set.mask(&data_encoding::BASE32.encode(b"first-secret-value")),
        data_encoding::BASE32.encode(b"first-secret-value")
    );
    assert_eq!(set.mask("second-secret-value"), MASK);
    assert!(set.pattern_count() < before);
    // Short values and their warnings go too.
    assert_eq!(set.warnings().len(), 1);
    assert!(set.remove("PIN"));
    assert_eq!(set.mask_value("PIN"), "PIN");
    assert!(set.warnings().is_empty());
    assert_eq!(set.len(), 1);
}

#[test]
fn a_form_shared_by_two_values_stays_until_both_are_removed() {
    // The upper-case form of one is the other value.
    let mut set = MaskSet::from_values(["shared-form-value", "SHARED-FORM-VALUE"]);
    assert!(set.remove("SHARED-FORM-VALUE"));
    assert_eq!(
        set.mask("SHARED-FORM-VALUE"),
        MASK,
        "still a form of the first"
    );
    assert!(set.remove("shared-form-value"));
    assert_eq!(set.mask("SHARED-FORM-VALUE"), "SHARED-FORM-VALUE");
    assert_eq!(set.pattern_count(), 0);
    assert_eq!(set.held_bytes(), 0);
}

#[test]
fn snapshots_keep_what_they_were_given() {
    let mut set = MaskSet::from_values(["kept-by-the-snapshot"]);
    let snapshot = set.clone();
    set.remove("kept-by-the-snapshot");
    set.insert("only-in-the-new-set");
    assert_eq!(snapshot.mask("kept-by-the-snapshot"), MASK);
    assert_eq!(snapshot.mask("only-in-the-new-set"), "only-in-the-new-set");
    assert_eq!(set.mask("kept-by-the-snapshot"), "kept-by-the-snapshot");

    let shared = SharedMaskSet::default();
    shared.add("execution-secret-1");
    let before = shared.snapshot();
    assert!(shared.remove("execution-secret-1"));
    assert_eq!((shared.len(), before.len()), (0, 1));
    assert!(!shared.contains_value("execution-secret-1"));
}

#[test]
fn bounded_set_evicts_the_least_recent_values() {
    let recent = BoundedMaskSet::new(limits(3, usize::MAX));
    for i in 0..5 {
        recent.insert(format!("recent-secret-{i}"));
    }
    assert_eq!(recent.len(), 3);
    for i in 0..2 {
        assert!(!recent.contains_value(format!("recent-secret-{i}")), "{i}");
        let text = format!("recent-secret-{i}");
        assert_eq!(recent.mask(&text), text);
    }
    // Inserting a held value makes it the most recent.
    recent.insert("recent-secret-2");
    recent.insert("recent-secret-5");
    assert!(recent.contains_value("recent-secret-2"));
    assert!(!recent.contains_value("recent-secret-3"));
    assert_eq!(recent.mask("recent-secret-5 recent-secret-4"), "**** ****");
    assert_eq!(recent.limits(), limits(3, usize::MAX));
}

#[test]
fn bounded_set_keeps_to_its_bytes() {
    let probe = MaskSet::from_values(["bytes-secret-00"]);
    let per_value = probe.held_bytes();
    let bound = 4 * per_value + per_value / 2;
    let recent = BoundedMaskSet::new(limits(1000, bound));
    for i in 0..10 {
        recent.insert(format!("bytes-secret-{i:02}"));
        assert!(recent.held_bytes() <= bound);
    }
    assert_eq!(recent.len(), 4);
    assert!(recent.contains_value("bytes-secret-09"));
    // One value larger than the bound is still kept, alone.
    let huge = "x".repeat(per_value * 8);
    recent.insert(&huge);
    assert_eq!(recent.len(), 1);
    assert!(recent.contains_value(&huge));
}

#[test]
fn bounded_set_removes_revoked_values_and_masks_with_another_set() {
    let recent = BoundedMaskSet::new(MaskLimits::default());
    recent.insert("revoked-secret-value");
    recent.insert("process-secret-value");
    assert!(recent.remove("revoked-secret-value"));
    assert!(!recent.remove("revoked-secret-value"));
    assert!(!recent.contains_value("revoked-secret-value"));
    assert_eq!(recent.mask("revoked-secret-value"), "revoked-secret-value");

    let execution = MaskSet::from_values(["execution-secret-value", "PIN"]);
    assert_eq!(
        recent.mask_with(&execution, "execution-secret-value process-secret-value"),
        "**** ****"
    );
    assert_eq!(recent.mask_value_with(&execution, " PIN "), MASK);
    let shown = format!("{recent:?}");
    assert!(!shown.contains("process-secret"), "{shown}");
}

#[test]
fn bounded_set_is_shared_between_threads() {
    // 160: a value is evicted only after 160 newer ones, more than the
    // other threads insert, so each thread sees its own value masked.
    let recent = std::sync::Arc::new(BoundedMaskSet::new(limits(160, usize::MAX)));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let recent = recent.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let v = format!("thread-{t}-secret-{i}");
                    recent.insert(&v);
                    assert_eq!(recent.mask(&v), MASK);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
    }
    assert_eq!(recent.len(), 160);
}
