//! Whole-text masking through the public API: the leaks named in the issue
//! and seed 000, warnings, growth and `Debug` hygiene.

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use saker_mask::{MASK, MaskSet, MaskSetBuilder, SharedMaskSet, WarningKind};

const TOKEN: &str = "tok_9f8e7d6c5b4a3210";

fn set_of(values: &[&str]) -> MaskSet {
    MaskSet::from_values(values)
}

#[test]
fn seed_jq_example_is_masked() {
    let set = set_of(&[r#"{"token": "SUPER_SECRET", "user": "admin"}"#]);
    assert_eq!(
        set.mask("You can see my secret token SUPER_SECRET"),
        "You can see my secret token ****"
    );
    assert_eq!(set.mask("user admin logged in"), "user **** logged in");
}

#[test]
fn printf_and_encodings_of_a_token_are_masked() {
    let set = set_of(&[TOKEN]);
    let hex: String = TOKEN.bytes().map(|b| format!("{b:02x}")).collect();
    let cases = [
        format!("prefix-{TOKEN}-suffix"),
        STANDARD.encode(TOKEN),                // echo -n "$TOKEN" | base64
        STANDARD.encode(format!("{TOKEN}\n")), // echo "$TOKEN" | base64
        URL_SAFE_NO_PAD.encode(format!("x{TOKEN}")), // URL-safe, offset 1
        format!(
            "Authorization: Basic {}",
            STANDARD.encode(format!("bob:{TOKEN}"))
        ),
        hex.clone(),
        hex.to_uppercase(),
        format!("{{\"token\":\"{TOKEN}\"}}"),
    ];
    for text in cases {
        let masked = set.mask(&text);
        assert!(masked.contains(MASK), "not masked: {text}");
        assert!(!masked.contains(TOKEN), "{masked}");
    }
    let header = format!("Basic {}", STANDARD.encode(format!("bob:{TOKEN}")));
    let basic = set.mask(&header);
    assert_eq!(basic.matches(MASK).count(), 1, "{basic}");
}

#[test]
fn escaped_forms_of_a_password_are_masked() {
    let pw = r#"p@ss w/rd"<'&>"#;
    let set = set_of(&[pw]);
    for text in [
        "p%40ss%20w%2Frd%22%3C%27%26%3E",
        "p%40ss+w%2frd%22%3c%27%26%3e",
        r#"{"pw":"p@ss w/rd\"<'&>"}"#,
        r#"{"pw":"p@ss w/rd\"\u003c'\u0026\u003e"}"#,
        "<pw>p@ss w/rd&quot;&lt;&apos;&amp;&gt;</pw>",
        r#"sh -c 'echo p@ss w/rd"<'\''&>'"#,
    ] {
        let masked = set.mask(text);
        assert!(masked.contains(MASK), "not masked: {text} -> {masked}");
        assert!(!masked.contains("p@ss"), "{masked}");
    }
}

#[test]
fn pem_key_printed_line_by_line_is_masked() {
    let pem = "-----BEGIN PRIVATE KEY-----\n\
               MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n\
               MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n\
               NMoSfm76oqFvAp8Gy0iz5sxjZmSnXyCdPEovGhLa0VzMaQ8s+CLOyS56YyCFGeJZ\n\
               -----END PRIVATE KEY-----\n";
    let set = set_of(&[pem]);
    for line in pem.lines() {
        let masked = set.mask(line);
        if line.starts_with("-----") {
            assert_eq!(masked, line, "armour lines are not secret");
        } else {
            assert_eq!(masked, MASK);
        }
    }
    let json_log = format!(
        "{{\"key\":{}}}",
        serde_json::to_string(pem).unwrap_or_default()
    );
    assert!(!set.mask(&json_log).contains("MIIEvQ"));
}

#[test]
fn replacement_does_not_reveal_length_and_runs_collapse() {
    let set = set_of(&["short-one", "a-much-longer-secret-value"]);
    assert_eq!(
        set.mask("[short-one] [a-much-longer-secret-value]"),
        "[****] [****]"
    );
    assert_eq!(set.mask("short-onea-much-longer-secret-value!"), "****!");
    // Overlapping secrets: the union is hidden, no tail left behind.
    let set = set_of(&["abcdefgh", "efghijkl"]);
    assert_eq!(set.mask("<abcdefghijkl>"), "<****>");
}

#[test]
fn nothing_to_mask_borrows() {
    let set = set_of(&[TOKEN]);
    assert!(matches!(set.mask("plain log line"), Cow::Borrowed(_)));
    assert!(matches!(MaskSet::empty().mask(TOKEN), Cow::Borrowed(_)));
}

#[test]
fn short_values_warn_and_mask_only_whole_values() {
    let mut b = MaskSetBuilder::new();
    b.add_labeled("PIN", "123")
        .add_labeled("EMPTY", "")
        .add("long-enough");
    let warnings = b.warnings().to_vec();
    assert_eq!(warnings.len(), 2);
    assert_eq!(warnings[0].label.as_deref(), Some("PIN"));
    assert_eq!(warnings[0].kind, WarningKind::TooShort { min_len: 4 });
    assert_eq!(warnings[1].kind, WarningKind::Empty);
    assert!(!warnings[0].to_string().contains("123"));
    let set = b.build();
    assert_eq!(set.len(), 3);
    assert_eq!(set.mask("code 1234 and 123"), "code 1234 and 123");
    assert_eq!(set.mask_value(" 123\n"), MASK);
    assert_eq!(set.mask_value("1234"), "1234");
    assert!(set.contains_secret(b"123"));
    assert!(!set.contains_secret(b"1234"));
}

#[test]
fn min_len_is_configurable() {
    let mut b = MaskSetBuilder::with_min_len(2);
    b.add("ab");
    let set = b.build();
    assert!(set.warnings().is_empty());
    assert_eq!(set.mask("xaby"), "x****y");
}

#[test]
fn json_leaves_shorter_than_min_are_reported() {
    let mut b = MaskSetBuilder::new();
    b.add_labeled("creds", r#"{"user":"bob","password":"correct horse"}"#);
    let w = b.warnings();
    assert_eq!(w.len(), 1);
    assert_eq!(
        w[0].kind,
        WarningKind::ShortJsonLeaves {
            count: 1,
            min_len: 4
        }
    );
    let set = b.build();
    assert_eq!(set.mask("password=correct horse"), "password=****");
    assert_eq!(set.mask_value("bob"), MASK);
}

#[test]
fn sets_grow_and_deduplicate() {
    let set = set_of(&["first-secret"]);
    let bigger = set.with_added(["second-secret", "first-secret"]);
    assert_eq!(set.len(), 1);
    assert_eq!(bigger.len(), 2);
    assert!(bigger.contains_value("second-secret"));
    assert_eq!(set.mask("first-secret second-secret"), "**** second-secret");
    assert_eq!(bigger.mask("first-secret second-secret"), "**** ****");
    let rebuilt = MaskSetBuilder::from_set(&bigger).build();
    assert_eq!(rebuilt.pattern_count(), bigger.pattern_count());
}

#[test]
fn shared_set_grows_from_many_threads() {
    let shared = Arc::new(SharedMaskSet::default());
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                shared.add_labeled(&format!("S{i}"), format!("secret-number-{i}"));
            })
        })
        .collect();
    for h in handles {
        assert!(h.join().is_ok());
    }
    let set = shared.snapshot();
    assert_eq!(set.len(), 8);
    for i in 0..8 {
        assert_eq!(shared.mask(&format!("v=secret-number-{i}")), "v=****");
    }
    assert!(shared.add("secret-number-3").is_empty());
    let w = shared.add_labeled("X", "xy");
    assert_eq!(w.len(), 1);
    assert_eq!(shared.mask_value("xy"), MASK);
}

#[test]
fn mask_json_masks_strings_and_keys() {
    let set = set_of(&[TOKEN]);
    let mut v = serde_json::json!({
        "out": format!("Bearer {TOKEN}"),
        "list": [1, TOKEN, "fine"],
        TOKEN: "key is secret",
        "****": "literal",
    });
    assert!(set.mask_json(&mut v));
    let text = v.to_string();
    assert!(!text.contains(TOKEN), "{text}");
    assert_eq!(v["out"], "Bearer ****");
    assert_eq!(v["list"][1], MASK);
    assert_eq!(v["list"][2], "fine");
    assert_eq!(v.as_object().map(|m| m.len()), Some(4));
    let mut clean = serde_json::json!({"a": "b"});
    assert!(!set.mask_json(&mut clean));
}

#[test]
fn binary_secret_never_yields_invalid_utf8() {
    let secret = [b'k', b'e', b'y', 0xC3];
    let set = MaskSet::from_values([&secret[..]]);
    let text = String::from_utf8(b"a key\xC3\xA9 b".to_vec()).unwrap_or_default();
    let masked = set.mask(&text);
    assert!(masked.starts_with("a ****"), "{masked}");
    assert!(!masked.contains("key"));
}

#[test]
fn debug_output_never_shows_a_secret() {
    let mut b = MaskSetBuilder::new();
    b.add(TOKEN).add("abc");
    let builder_dbg = format!("{b:?}");
    let set = b.build();
    let shared = SharedMaskSet::new(set.clone());
    let mut stream = set.stream();
    let mut out = Vec::new();
    stream.push(&TOKEN.as_bytes()[..6], &mut out);
    let lines = set.lines(100);
    for shown in [
        builder_dbg,
        format!("{set:?}"),
        format!("{set:#?}"),
        format!("{shared:?}"),
        format!("{stream:?}"),
        format!("{lines:?}"),
        format!("{:?}", set.warnings()),
    ] {
        assert!(!shown.contains("tok_") && !shown.contains("abc"), "{shown}");
    }
}

#[test]
fn mask_sets_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>(_: &T) {}
    let set = set_of(&[TOKEN]);
    assert_send_sync(&set);
    let other = set.clone();
    let t = std::thread::spawn(move || other.mask(&format!("x {TOKEN}")).into_owned());
    assert_eq!(t.join().unwrap_or_default(), "x ****");
}

#[test]
fn text_masking_equals_byte_masking_even_when_a_binary_secret_cuts_a_character() {
    // The second byte of "é" (0xC3 0xA9) starts this binary secret.
    let set = MaskSet::from_values([b"\xa9abcdefghijk".as_slice(), b"tok-secret-value"]);
    for text in [
        "caf\u{e9}abcdefghijk and tok-secret-value",
        "tok-secret-valuetok-secret-value \u{e9}t\u{e9}",
        "\u{e9}tok-secret-value\u{e9}",
        "nothing here",
    ] {
        let bytes = set.mask_bytes(text.as_bytes());
        assert_eq!(set.mask(text), String::from_utf8_lossy(&bytes), "{text}");
    }
    assert_eq!(
        set.mask("caf\u{e9}abcdefghijk!"),
        "caf\u{fffd}****!",
        "the stray first byte of the cut character is replaced"
    );
}
