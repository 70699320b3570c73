//! Streaming: chunk boundaries, bounded memory, lines, and `mask_stream`.

use std::io::{self, Read};

use proptest::prelude::*;
use saker_mask::{MASK, MaskSet, MaskSetBuilder, mask_stream};

const TOKEN: &str = "tok_9f8e7d6c5b4a3210";

#[test]
fn token_split_across_two_writes_is_masked() {
    let set = MaskSet::from_values([TOKEN]);
    for cut in 0..=TOKEN.len() {
        let mut m = set.stream();
        let mut out = Vec::new();
        m.push(format!("a {}", &TOKEN[..cut]).as_bytes(), &mut out);
        m.push(format!("{} b\n", &TOKEN[cut..]).as_bytes(), &mut out);
        m.finish(&mut out);
        assert_eq!(out, b"a **** b\n", "cut at {cut}");
    }
}

#[test]
fn memory_stays_bounded_on_a_line_without_newline() {
    let set = MaskSet::from_values([TOKEN, "another-much-longer-secret-value-for-the-test"]);
    let bound = set.max_pattern_len() + 8;
    let mut m = set.stream();
    let mut out = Vec::new();
    let chunk: Vec<u8> = b"abcdefghij"
        .iter()
        .copied()
        .cycle()
        .take(1 << 20)
        .collect();
    let mut total_out = 0;
    for _ in 0..16 {
        m.push(&chunk, &mut out);
        assert!(m.buffered() <= bound, "{} > {bound}", m.buffered());
        total_out += out.len();
        out.clear();
    }
    m.finish(&mut out);
    total_out += out.len();
    assert_eq!(total_out, 16 << 20);
}

#[test]
fn empty_set_passes_through_without_holding_back() {
    let mut m = MaskSet::empty().stream();
    let mut out = Vec::new();
    m.push(b"abc", &mut out);
    assert_eq!(out, b"abc");
    assert_eq!(m.buffered(), 0);
}

fn lines_of(set: &MaskSet, max: usize, chunks: &[&[u8]]) -> Vec<String> {
    let mut lm = set.lines(max);
    let mut lines = Vec::new();
    for c in chunks {
        lm.push(c, &mut lines);
    }
    lm.finish(&mut lines);
    lines
}

#[test]
fn lines_are_masked_and_split() {
    let set = MaskSet::from_values([TOKEN]);
    let lines = lines_of(
        &set,
        1024,
        &[b"one\r\ntw", format!("o {TOKEN}\nthr").as_bytes(), b"ee"],
    );
    assert_eq!(lines, ["one", "two ****", "three"]);

    // A secret across the cut of a long line is still masked.
    let long = format!("{}{TOKEN}{}", "x".repeat(20), "y".repeat(20));
    let lines = lines_of(&set, 24, &[long.as_bytes(), b"\n"]);
    assert!(lines.iter().all(|l| l.len() <= 24), "{lines:?}");
    assert_eq!(
        lines.concat(),
        format!("{}****{}", "x".repeat(20), "y".repeat(20))
    );
}

#[test]
fn long_lines_are_cut_at_character_boundaries() {
    let text = "é".repeat(40);
    let lines = lines_of(&MaskSet::empty(), 17, &[text.as_bytes()]);
    assert!(
        lines
            .iter()
            .all(|l| l.len() <= 17 && !l.contains('\u{fffd}'))
    );
    assert_eq!(lines.concat(), text);
}

#[test]
fn short_secret_alone_on_a_line_is_masked() {
    let mut b = MaskSetBuilder::new();
    b.add("42x");
    let set = b.build();
    assert_eq!(lines_of(&set, 100, &[b"42x\nthe 42x\n"]), [MASK, "the 42x"]);
}

/// A reader that hands out a few bytes at a time and is sometimes
/// interrupted, as pipes are.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
    calls: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(5) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "again"));
        }
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn mask_stream_equals_whole_text() {
    let set = MaskSet::from_values([TOKEN, "pass word"]);
    let text = format!("a {TOKEN} b pass+word c {TOKEN}{TOKEN}\n").repeat(50);
    for step in [1, 3, 7, 64, 100_000] {
        let mut out = Vec::new();
        let reader = Trickle {
            data: text.as_bytes(),
            step,
            calls: 0,
        };
        let written = mask_stream(reader, &mut out, &set);
        assert_eq!(written.ok(), Some(out.len() as u64));
        assert_eq!(out, set.mask(&text).as_bytes());
    }
}

#[test]
fn mask_stream_reports_read_errors() {
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }
    let err = mask_stream(Broken, Vec::new(), &MaskSet::empty()).err();
    assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::Other));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// However a secret is cut and wherever it sits, no output contains it.
    #[test]
    fn no_output_contains_a_secret(
        secrets in prop::collection::vec("[a-zA-Z0-9_./+=-]{4,30}", 1..6),
        parts in prop::collection::vec((0..6usize, "[a-z .=/\n]{0,8}"), 1..20),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let set = MaskSet::from_values(&secrets);
        let mut text = String::new();
        for (i, filler) in &parts {
            text.push_str(filler);
            text.push_str(secrets.get(*i).map_or("", String::as_str));
        }
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (text.len() + 1)).collect();
        points.sort_unstable();
        let mut m = set.stream();
        let mut out = Vec::new();
        let mut prev = 0;
        for p in points.into_iter().chain([text.len()]) {
            m.push(&text.as_bytes()[prev..p], &mut out);
            prev = p;
        }
        m.finish(&mut out);
        let out = String::from_utf8_lossy(&out);
        for s in &secrets {
            prop_assert!(!out.contains(s.as_str()), "{} in {}", s, out);
        }
    }
}
