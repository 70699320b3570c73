//! Property tests against a naive oracle, inside the crate because the
//! oracle needs the set's patterns (which the public API never shows).

use proptest::prelude::*;

use crate::{MASK, MaskSet, MaskSetBuilder};

/// Every pattern of `set`, found at every position by brute force; the
/// hidden bytes are their union, and each hidden run becomes `MASK`.
fn oracle(set: &MaskSet, text: &[u8]) -> Vec<u8> {
    let hidden = hidden(set, text);
    let mut out = Vec::new();
    for (i, &b) in text.iter().enumerate() {
        if !hidden[i] {
            out.push(b);
        } else if i == 0 || !hidden[i - 1] {
            out.extend_from_slice(MASK.as_bytes());
        }
    }
    out
}

/// Which bytes of `text` the set hides, by brute force.
fn hidden(set: &MaskSet, text: &[u8]) -> Vec<bool> {
    let mut hidden = vec![false; text.len()];
    for class in set.classes() {
        for p in class.patterns() {
            if p.is_empty() || p.len() > text.len() {
                continue;
            }
            for start in 0..=text.len() - p.len() {
                if &text[start..start + p.len()] == p {
                    hidden[start..start + p.len()]
                        .iter_mut()
                        .for_each(|h| *h = true);
                }
            }
        }
    }
    hidden
}

fn stream(set: &MaskSet, text: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut m = set.stream();
    let mut out = Vec::new();
    let mut prev = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (text.len() + 1)).collect();
    points.sort_unstable();
    for p in points.into_iter().chain([text.len()]) {
        m.push(&text[prev..p], &mut out);
        prev = p;
    }
    m.finish(&mut out);
    out
}

/// Secrets over a small alphabet, so that they overlap, share prefixes and
/// occur inside each other's encodings often.
fn secrets() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        prop::collection::vec(prop::sample::select(b"abcAB01+/= _\"'&\n".to_vec()), 1..40),
        1..5,
    )
}

/// One of the cheap transforms of `s` (see `variants::derived`), chosen by
/// `which`, inside a blob with `pad` bytes before it where the transform
/// encodes a blob.
fn transformed(s: &[u8], which: usize, pad: usize) -> Vec<u8> {
    use sha2::Digest as _;
    let text = String::from_utf8_lossy(s);
    let mut blob = vec![b'q'; pad % 5];
    blob.extend_from_slice(s);
    match which % 8 {
        0 => s.to_ascii_lowercase(),
        1 => s.to_ascii_uppercase(),
        2 => text.chars().rev().collect::<String>().into_bytes(),
        3 => s
            .iter()
            .map(|&b| match b {
                b'a'..=b'z' => (b - b'a' + 13) % 26 + b'a',
                b'A'..=b'Z' => (b - b'A' + 13) % 26 + b'A',
                b => b,
            })
            .collect(),
        4 => data_encoding::BASE32.encode(&blob).into_bytes(),
        5 => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        6 => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        _ => hex::encode(sha2::Sha256::digest(s)).into_bytes(),
    }
}

/// Text made of random characters, whole secrets, their pieces, their
/// base64 forms and their other transforms.
fn text_for(secrets: Vec<Vec<u8>>) -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<u8>)> {
    let n = secrets.len();
    let part = (0..5u8, 0..n, 0..64usize, 0..64usize);
    prop::collection::vec(part, 0..30).prop_map(move |parts| {
        use base64::Engine as _;
        let mut text = Vec::new();
        for (kind, i, a, b) in parts {
            let s = &secrets[i];
            match kind {
                0 => text.extend_from_slice(&b"abc xyz:AB01/\n"[..(a % 14) + 1]),
                1 => text.extend_from_slice(s),
                2 => {
                    let (lo, hi) = (a.min(b) % (s.len() + 1), a.max(b) % (s.len() + 1));
                    text.extend_from_slice(&s[lo.min(hi)..hi.max(lo)]);
                }
                3 => text.extend_from_slice(&transformed(s, a, b)),
                _ => {
                    let mut blob = vec![b'q'; a % 3];
                    blob.extend_from_slice(s);
                    let enc = base64::engine::general_purpose::STANDARD.encode(blob);
                    text.extend_from_slice(enc.as_bytes());
                }
            }
        }
        (secrets.clone(), text)
    })
}

fn case() -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<u8>)> {
    secrets().prop_flat_map(text_for)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn whole_text_masking_matches_the_oracle((secrets, text) in case(), min in 1..8usize) {
        let mut b = MaskSetBuilder::with_min_len(min);
        b.extend(&secrets);
        let set = b.build();
        prop_assert_eq!(set.mask_bytes(&text).into_owned(), oracle(&set, &text));
    }

    #[test]
    fn streaming_equals_whole_text(
        (secrets, text) in case(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let set = MaskSet::from_values(&secrets);
        let whole = set.mask_bytes(&text).into_owned();
        prop_assert_eq!(stream(&set, &text, &cuts), whole);
    }

}

// Slower per case (one push per byte, line splitting): fewer cases.
proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn byte_by_byte_streaming_equals_whole_text((secrets, text) in case()) {
        let set = MaskSet::from_values(&secrets);
        let cuts: Vec<usize> = (0..text.len()).collect();
        prop_assert_eq!(stream(&set, &text, &cuts), set.mask_bytes(&text).into_owned());
    }

    #[test]
    fn lines_equal_whole_text_lines((secrets, text) in case(), size in 1..50usize) {
        let set = MaskSet::from_values(&secrets);
        let mut lm = set.lines(1 << 20);
        let mut lines = Vec::new();
        for chunk in text.chunks(size) {
            lm.push(chunk, &mut lines);
        }
        lm.finish(&mut lines);
        let whole = String::from_utf8_lossy(&set.mask_bytes(&text)).into_owned();
        let mut expected: Vec<String> = whole.split('\n').map(|l| {
            let l = l.strip_suffix('\r').unwrap_or(l);
            if set.is_short_value(l.as_bytes()) { MASK.to_owned() } else { l.to_owned() }
        }).collect();
        if whole.ends_with('\n') || whole.is_empty() {
            expected.pop();
        }
        prop_assert_eq!(lines, expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// The characters of a blob's base64 that depend only on the secret's
    /// bits are all hidden, whatever the secret's offset and neighbours.
    #[test]
    fn base64_of_a_secret_inside_a_blob_is_hidden(
        secret in prop::collection::vec(any::<u8>(), 4..48),
        before in prop::collection::vec(any::<u8>(), 0..12),
        after in prop::collection::vec(any::<u8>(), 0..12),
        url_safe in any::<bool>(),
    ) {
        use base64::Engine as _;
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        prop_assume!(crate::secret::char_len(&secret) >= crate::DEFAULT_MIN_LEN);
        let set = MaskSet::from_values([&secret]);
        let mut blob = before.clone();
        blob.extend_from_slice(&secret);
        blob.extend_from_slice(&after);
        let enc = if url_safe { URL_SAFE_NO_PAD.encode(&blob) } else { STANDARD.encode(&blob) };
        let start = (8 * before.len()).div_ceil(6);
        let end = 8 * (before.len() + secret.len()) / 6;
        let hidden = hidden(&set, enc.as_bytes());
        prop_assert!(hidden[start..end].iter().all(|&h| h), "{} {}..{}", enc, start, end);
        prop_assert!(!set.mask(&enc).contains(&enc[start..end]));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// The characters of a blob's base32 that depend only on the secret's
    /// bits are all hidden, whatever the secret's offset and neighbours.
    #[test]
    fn base32_of_a_secret_inside_a_blob_is_hidden(
        secret in prop::collection::vec(any::<u8>(), 8..48),
        before in prop::collection::vec(any::<u8>(), 0..12),
        after in prop::collection::vec(any::<u8>(), 0..12),
        padded in any::<bool>(),
    ) {
        prop_assume!(crate::secret::char_len(&secret) >= crate::DEFAULT_MIN_LEN);
        let set = MaskSet::from_values([&secret]);
        let mut blob = before.clone();
        blob.extend_from_slice(&secret);
        blob.extend_from_slice(&after);
        let enc = if padded {
            data_encoding::BASE32.encode(&blob)
        } else {
            data_encoding::BASE32_NOPAD.encode(&blob)
        };
        let start = (8 * before.len()).div_ceil(5);
        let end = 8 * (before.len() + secret.len()) / 5;
        // Shorter derived forms are not kept (see `variants::derived`).
        prop_assume!(end - start >= crate::index::LONG);
        let hidden = hidden(&set, enc.as_bytes());
        prop_assert!(hidden[start..end].iter().all(|&h| h), "{} {}..{}", enc, start, end);
        prop_assert!(!set.mask(&enc).contains(&enc[start..end]));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Each cheap transform of a secret, alone, is hidden whole.
    #[test]
    fn transforms_of_a_secret_are_hidden(
        secret in prop::collection::vec(prop::sample::select(b"abcAB01+/= _\"'&".to_vec()), 12..40),
        which in 0..8usize,
    ) {
        let set = MaskSet::from_values([&secret]);
        let form = transformed(&secret, which, 0);
        // Shorter derived forms are not kept (see `variants::derived`).
        prop_assume!(form.len() >= crate::index::LONG);
        prop_assert_eq!(set.mask_bytes(&form).into_owned(), MASK.as_bytes());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// A set extended value by value, with other values added and removed
    /// on the way, masks like the set built at once, and holds no trace of
    /// the removed values.
    #[test]
    fn incremental_set_equals_set_built_at_once(
        (secrets, text) in case(),
        others in prop::collection::vec(
            prop::collection::vec(prop::sample::select(b"abcAB01+/= _".to_vec()), 1..30),
            0..4,
        ),
        min in 1..8usize,
    ) {
        let mut b = MaskSetBuilder::with_min_len(min);
        b.extend(&secrets);
        let built = b.build();

        let mut grown = MaskSetBuilder::with_min_len(min).build();
        for i in 0..secrets.len().max(others.len()) {
            for v in [others.get(i), secrets.get(i)].into_iter().flatten() {
                grown.insert(v);
            }
        }
        let mut gone: Vec<&Vec<u8>> = others.iter().filter(|o| !secrets.contains(o)).collect();
        gone.sort();
        gone.dedup();
        for o in &gone {
            prop_assert!(grown.remove(o));
            prop_assert!(!grown.contains_value(o));
            prop_assert!(!grown.remove(o));
        }
        // Values added after some were removed reuse their room.
        let mut regrown = grown.clone();
        for o in &gone {
            regrown.insert(o);
            regrown.remove(o);
        }
        prop_assert_eq!(grown.len(), built.len());
        prop_assert_eq!(grown.pattern_count(), built.pattern_count());
        let expected = built.mask_bytes(&text).into_owned();
        prop_assert_eq!(&grown.mask_bytes(&text).into_owned(), &expected);
        prop_assert_eq!(&regrown.mask_bytes(&text).into_owned(), &expected);
        prop_assert_eq!(oracle(&grown, &text), expected);
        for s in &secrets {
            prop_assert_eq!(grown.is_short_value(s), built.is_short_value(s));
        }
    }
}

#[test]
fn set_can_be_swapped_mid_stream() {
    let small = MaskSet::from_values(["first-secret"]);
    let big = small.with_added(["second-secret"]);
    let mut m = small.stream();
    let mut out = Vec::new();
    m.push(b"a first-secret b ", &mut out);
    m.set_mask_set(big);
    m.push(b"second-secret c first-secret", &mut out);
    m.finish(&mut out);
    assert_eq!(out, b"a **** b **** c ****");
}
