//! Cheap transforms of a whole value that scripts apply by hand or by
//! accident: case changes, reversal, ROT13, base32, UTF-16 and hex digests.
//!
//! Decisions worth knowing:
//! - Case: Unicode lower and upper case of a UTF-8 value (Python's
//!   `.lower()`), and ASCII-only case (`tr a-z A-Z`) when they differ;
//!   bytes that are not UTF-8 get ASCII case only. Reversal is by
//!   characters (`rev`), by bytes when the value is not UTF-8.
//! - Base32 is RFC 4648's standard alphabet (`base32`, Python's
//!   `b32encode`), padded and unpadded, at the five byte offsets a secret
//!   can have inside a longer encoded blob, like base64: only the
//!   characters fully determined by the secret's bits form the embedded
//!   pattern, plus tail forms for a secret that ends the blob. The
//!   standalone encoding is also cut at 76 characters, where `base32`
//!   wraps. The lower-case alphabet and base32hex are not generated.
//! - UTF-16: a value read as UTF-8 is re-encoded as UTF-16LE and UTF-16BE.
//!   Written raw to a log, these hold NUL bytes; masking works on bytes, so
//!   the raw forms are caught in streams ([`crate::StreamMasker`],
//!   [`crate::LineMasker`]) and in any text that carries the NULs. Their hex
//!   forms (both cases) are generated for both byte orders, and base64 for
//!   UTF-16LE (PowerShell's `-EncodedCommand`, .NET `Encoding.Unicode`) at
//!   the three offsets, standard alphabet. These are not cut at wrapping
//!   widths, nor given the URL-safe alphabet: every form costs index room
//!   and insertion time, and these combinations are rare. A value that is
//!   not UTF-8 has no UTF-16 form.
//! - Digests: MD5, SHA-1, SHA-256 and SHA-512 of the value in lower- and
//!   upper-case hex, and of the value followed by a newline (`echo "$S" |
//!   sha256sum`, which prints lower case) in lower case. A digest shows that
//!   two runs used the same secret and lets an attacker test guesses
//!   offline; it is hidden like the value.
//! - A derived form shorter than 12 bytes (the long band's lower bound, see
//!   the `index` module) is not kept: it would join the few short patterns
//!   that force dense sampling of every text, and slow every scan for the
//!   sake of a short value's twin. So the case, reversed, ROT13, base32 and
//!   raw UTF-16 forms of values under about 12 characters are not masked;
//!   their encodings and digests are.

use md5::Md5;
use sha1::Sha1;
use sha2::digest::{Digest, Output};
use sha2::{Sha256, Sha512};
use zeroize::{Zeroize, Zeroizing};

use super::{Expansion, hex_of};
use crate::index::LONG;
use crate::secret::{Bytes, append_wiped, bytes_of};

/// Width at which `base32` wraps its output.
const BASE32_WRAP: usize = 76;

impl Expansion {
    /// Every cheap transform of `v` (a whole value, trimmed or not).
    pub(super) fn derived(&mut self, v: &[u8]) {
        let before = self.patterns.len();
        self.case_and_order(v);
        self.base32(v);
        self.utf16(v);
        self.digests(v);
        let mut i = before;
        while i < self.patterns.len() {
            if self.patterns.get(i).is_some_and(|p| p.len() < LONG) {
                self.patterns.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }

    fn case_and_order(&mut self, v: &[u8]) {
        let rot13 = v.iter().map(|&b| rot13(b));
        self.pattern(collect(rot13, v.len()));
        self.pattern(collect(v.iter().map(u8::to_ascii_lowercase), v.len()));
        self.pattern(collect(v.iter().map(u8::to_ascii_uppercase), v.len()));
        let Ok(s) = std::str::from_utf8(v) else {
            self.pattern(collect(v.iter().rev().copied(), v.len()));
            return;
        };
        if !s.is_ascii() {
            self.pattern(chars(s.chars().flat_map(char::to_lowercase)));
            self.pattern(chars(s.chars().flat_map(char::to_uppercase)));
        }
        self.pattern(chars(s.chars().rev()));
    }

    fn base32(&mut self, v: &[u8]) {
        for offset in 0..5usize {
            let mut buf = Zeroizing::new(Vec::with_capacity(offset + v.len()));
            buf.resize(offset, 0);
            buf.extend_from_slice(v);
            let enc = Zeroizing::new(data_encoding::BASE32.encode(&buf).into_bytes());
            let bits = 8 * buf.len();
            // Characters before `start` mix in bits of the bytes before the
            // secret; from `stable_end` on they mix in the bytes after.
            let start = (8 * offset).div_ceil(5);
            let stable_end = bits / 5;
            let unpadded_end = bits.div_ceil(5);
            if offset == 0 {
                self.wrapped(&enc, &[BASE32_WRAP]);
            }
            for range in [start..stable_end, start..unpadded_end, start..enc.len()] {
                if let Some(s) = enc.get(range) {
                    self.pattern(bytes_of(s));
                }
            }
        }
    }

    fn utf16(&mut self, v: &[u8]) {
        let Ok(s) = std::str::from_utf8(v) else {
            return;
        };
        let units = s.encode_utf16().count();
        let mut le = Zeroizing::new(Vec::with_capacity(2 * units));
        let mut be = Zeroizing::new(Vec::with_capacity(2 * units));
        for unit in s.encode_utf16() {
            le.extend_from_slice(&unit.to_le_bytes());
            be.extend_from_slice(&unit.to_be_bytes());
        }
        for form in [&le, &be] {
            self.pattern(hex_of(form, false));
            self.pattern(hex_of(form, true));
        }
        self.base64_forms(&le, false);
        self.pattern(le);
        self.pattern(be);
    }

    fn digests(&mut self, v: &[u8]) {
        let mut line = Zeroizing::new(Vec::with_capacity(v.len() + 1));
        line.extend_from_slice(v);
        line.push(b'\n');
        for (input, upper) in [(v, true), (&line[..], false)] {
            self.digest::<Md5>(input, upper);
            self.digest::<Sha1>(input, upper);
            self.digest::<Sha256>(input, upper);
            self.digest::<Sha512>(input, upper);
        }
    }

    /// The lower-case hex digest of `input`, and the upper-case one too if
    /// `upper`.
    fn digest<D: Digest>(&mut self, input: &[u8], upper: bool) {
        let mut out: Output<D> = D::digest(input);
        self.pattern(hex_of(&out, false));
        if upper {
            self.pattern(hex_of(&out, true));
        }
        out.as_mut_slice().zeroize();
    }
}

fn rot13(b: u8) -> u8 {
    match b {
        b'a'..=b'z' => (b - b'a' + 13) % 26 + b'a',
        b'A'..=b'Z' => (b - b'A' + 13) % 26 + b'A',
        _ => b,
    }
}

fn collect(bytes: impl Iterator<Item = u8>, len: usize) -> Bytes {
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    out.extend(bytes);
    out
}

/// Characters encoded as UTF-8 into a buffer that is wiped, growth
/// included.
fn chars(cs: impl Iterator<Item = char>) -> Bytes {
    let mut out = Zeroizing::new(Vec::new());
    for c in cs {
        let mut buf = [0u8; 4];
        append_wiped(&mut out, c.encode_utf8(&mut buf).as_bytes());
        buf.zeroize();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms(v: &str) -> Vec<Vec<u8>> {
        let mut x = Expansion::new(4);
        x.add_value(v.as_bytes());
        x.patterns.iter().map(|p| p.to_vec()).collect()
    }

    fn has(forms: &[Vec<u8>], p: impl AsRef<[u8]>) -> bool {
        forms.iter().any(|f| f[..] == *p.as_ref())
    }

    #[test]
    fn case_reversal_and_rot13() {
        let f = forms("Tok3n-Ünïcode");
        for p in [
            "tok3n-ünïcode",
            "TOK3N-ÜNÏCODE",
            "tok3n-Ünïcode",
            "TOK3N-ÜNïCODE",
            "edocïnÜ-n3koT",
            "Gbx3a-Üaïpbqr",
        ] {
            assert!(has(&f, p), "missing {p}");
        }
    }

    #[test]
    fn base32_standalone_padded_and_unpadded() {
        // `printf secret1 | base32` = ONSWG4TFOQYQ====
        let f = forms("secret1");
        assert!(has(&f, "ONSWG4TFOQYQ===="));
        assert!(has(&f, "ONSWG4TFOQYQ"));
    }

    #[test]
    fn utf16_raw_hex_and_base64() {
        let f = forms("pw-ä1");
        let le: Vec<u8> = "pw-ä1".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert!(
            !has(&f, &le),
            "raw UTF-16 of 5 characters is too short to keep"
        );
        let f = forms("pw-ä1-longer");
        let le: Vec<u8> = "pw-ä1-longer"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let be: Vec<u8> = "pw-ä1-longer"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        assert!(has(&f, &le) && has(&f, &be));
        assert!(has(&f, hex::encode(&le)) && has(&f, hex::encode_upper(&be)));
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&le);
        assert!(has(&f, b64), "PowerShell -EncodedCommand form");
    }

    #[test]
    fn digests_of_the_value_and_of_the_value_with_a_newline() {
        let f = forms("hunter2-secret");
        // `printf hunter2-secret | sha256sum` and `echo hunter2-secret | md5sum`.
        let sha256 = hex::encode(Sha256::digest(b"hunter2-secret"));
        let md5_line = hex::encode(Md5::digest(b"hunter2-secret\n"));
        assert!(has(&f, &sha256) && has(&f, sha256.to_uppercase()));
        assert!(has(&f, &md5_line));
        assert!(has(&f, hex::encode(Sha1::digest(b"hunter2-secret"))));
        assert!(has(&f, hex::encode(Sha512::digest(b"hunter2-secret\n"))));
    }

    #[test]
    fn short_forms_are_dropped() {
        // Every form, encodings and transforms, has the minimum length.
        let mut x = Expansion::new(10);
        x.add_value(b"abcdefghij\nxy");
        assert!(x.patterns.iter().all(|p| crate::secret::char_len(p) >= 10));
    }

    #[test]
    fn bytes_that_are_not_utf8_get_byte_forms_only() {
        let mut x = Expansion::new(4);
        x.add_value(b"abcdefgh\xffijklmn");
        let f: Vec<Vec<u8>> = x.patterns.iter().map(|p| p.to_vec()).collect();
        assert!(has(&f, b"nmlkji\xffhgfedcba"));
        assert!(has(&f, b"ABCDEFGH\xffIJKLMN"));
        assert!(!f.iter().any(|p| p.contains(&0)), "no UTF-16 form");
    }
}
