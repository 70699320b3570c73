//! The forms in which a secret value can reach a log: the value itself, its
//! encodings and escapings, and the values derived from it (trimmed value,
//! lines, JSON string leaves).
//!
//! Every form is a literal pattern. Forms shorter than the minimum length are
//! dropped, because masking a three-letter string everywhere would destroy
//! logs while protecting nothing a guess could not find.
//!
//! Decisions worth knowing:
//! - Base64 is generated at all three byte offsets, because a secret inside a
//!   larger blob (`user:password` in a Basic auth header) is encoded with the
//!   alignment of its position. Only the characters fully determined by the
//!   secret's bits form the embedded pattern; the partial characters at both
//!   ends mix in the neighbours' bits and cannot be known in advance. When the
//!   secret ends the blob, its tail (with and without `=` padding) is
//!   determined too, so tail forms are added and the longest one wins.
//!   At most 4 bits of the first and last secret byte stay visible in the one
//!   mixed character at each end of an embedded encoding.
//! - The standalone base64 encoding (offset 0) is also cut at 76 and 64
//!   characters, the widths at which `base64`, MIME and PEM wrap lines, and
//!   the hex encoding at 60 characters, the width of `xxd -p`; a last line
//!   shorter than 16 characters is not masked (it would be a few bytes of
//!   the secret, and mask unrelated numbers everywhere).
//! - Lines of a multi-line value are trimmed; PEM armour lines (`-----BEGIN
//!   ...-----`) and lines without a letter or digit are skipped as they are
//!   common to every key and would mask unrelated text. Lines get the textual
//!   escapings (JSON, XML, URL, shell) but not base64 or hex: a whole value
//!   that is encoded is caught by the whole value's encodings.
//! - A value that parses as JSON contributes every string leaf (recursively,
//!   up to [`MAX_JSON_DEPTH`] levels of JSON inside JSON strings), each with
//!   all the forms of a value. Numbers, booleans and keys are not secrets.
//! - Whole values, trimmed values and JSON leaves also get the transforms of
//!   the `derived` module (case, reversal, ROT13, base32, UTF-16, digests).
//! - A value under the minimum length gets no form at all, digests included
//!   (trying every value that short reverses them: hiding them protects
//!   nothing).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::{Zeroize, Zeroizing};

use crate::secret::{Bytes, bytes_of, char_len};

mod derived;

/// Shortest last line of a wrapped encoding that is still masked.
const MIN_WRAPPED_TAIL: usize = 16;

/// How many levels of JSON nested in JSON strings are searched for leaves.
pub(crate) const MAX_JSON_DEPTH: usize = 4;

/// Characters kept as-is by the URL encoders that matter, besides letters and
/// digits: RFC 3986 (Rust, Go, .NET `EscapeDataString`), JavaScript
/// `encodeURIComponent`, Python `quote` (keeps `/`), and HTML forms / Java
/// `URLEncoder`.
const URL_KEEP: [&[u8]; 4] = [b"-._~", b"-._~!'()*", b"-._~/", b"*-._"];

/// JSON string escapers differ in hex case, in escaping non-ASCII (Python,
/// PHP), `/` (PHP) and `<>&` (Go's HTML-safe default).
#[derive(Clone, Copy)]
struct JsonStyle {
    upper: bool,
    ascii: bool,
    slash: bool,
    html: bool,
}

const fn style(upper: bool, ascii: bool, slash: bool, html: bool) -> JsonStyle {
    JsonStyle {
        upper,
        ascii,
        slash,
        html,
    }
}

const JSON_MINIMAL: JsonStyle = style(false, false, false, false);
const JSON_STYLES: [JsonStyle; 6] = [
    JSON_MINIMAL,
    style(true, false, false, false),
    style(false, true, false, false),
    style(true, true, false, false),
    style(false, true, true, false),
    style(false, false, false, true),
];

/// Replacements for `"` and `'` used by XML and HTML escapers (`&`, `<` and
/// `>` are always escaped); `None` leaves the quote as it is (text content).
type Quotes = (Option<&'static [u8]>, Option<&'static [u8]>);
const XML_QUOTES: [Quotes; 5] = [
    (None, None),
    (Some(b"&quot;"), Some(b"&apos;")),
    (Some(b"&quot;"), Some(b"&#39;")),
    (Some(b"&#34;"), Some(b"&#39;")),
    (Some(b"&quot;"), Some(b"&#x27;")),
];

/// Collects the patterns for secret values.
pub(crate) struct Expansion {
    min_len: usize,
    /// Patterns of at least `min_len` characters, possibly with duplicates.
    pub(crate) patterns: Vec<Bytes>,
    /// Derived values too short to be masked inside text; they are masked
    /// only where they are a whole value (a log line, an output).
    pub(crate) short: Vec<Bytes>,
    /// How many JSON leaves were too short to be masked inside text.
    pub(crate) short_leaves: usize,
}

impl Expansion {
    pub(crate) fn new(min_len: usize) -> Self {
        Self {
            min_len,
            patterns: Vec::new(),
            short: Vec::new(),
            short_leaves: 0,
        }
    }

    /// Adds every form of `value`, a secret of at least `min_len` characters.
    pub(crate) fn add_value(&mut self, value: &[u8]) {
        self.full(value, 0);
    }

    fn pattern(&mut self, p: Bytes) {
        if !p.is_empty() && char_len(&p) >= self.min_len {
            self.patterns.push(p);
        }
    }

    fn full(&mut self, v: &[u8], depth: usize) {
        let t = v.trim_ascii();
        if t.is_empty() {
            return;
        }
        self.encodings(v);
        // A secret read from a file often carries a newline that is not
        // there when the secret is used.
        if t.len() != v.len() {
            if char_len(t) >= self.min_len {
                self.encodings(t);
            } else {
                self.short.push(bytes_of(t));
            }
        }
        if t.contains(&b'\n') {
            self.lines(t);
        }
        if depth < MAX_JSON_DEPTH && matches!(t.first(), Some(b'{' | b'[' | b'"')) {
            self.json_leaves(t, depth);
        }
    }

    fn encodings(&mut self, v: &[u8]) {
        self.text_forms(v);
        self.base64(v);
        self.hex(v);
        self.derived(v);
    }

    /// The value and its escapings for text formats. Escapings that cannot
    /// change `v` (it has none of the characters they treat differently) are
    /// skipped: they would only add duplicates to sort away.
    fn text_forms(&mut self, v: &[u8]) {
        self.pattern(bytes_of(v));
        if v.iter().all(u8::is_ascii_alphanumeric) {
            return;
        }
        let has = |set: &[u8]| v.iter().any(|b| set.contains(b));
        let non_ascii = !v.is_ascii();

        // URL: keep-sets that treat v's characters alike give one form.
        let mut signatures = Vec::with_capacity(URL_KEEP.len());
        let pluses: &[bool] = if has(b" ") { &[false, true] } else { &[false] };
        for keep in URL_KEEP {
            let signature: Vec<bool> = v.iter().map(|b| keep.contains(b)).collect();
            if signatures.contains(&signature) {
                continue;
            }
            signatures.push(signature);
            for &plus in pluses {
                let upper = url_encode(v, keep, plus, true);
                let hex_letters = upper
                    .windows(3)
                    .any(|w| w[0] == b'%' && (w[1] > b'9' || w[2] > b'9'));
                if hex_letters {
                    self.pattern(url_encode(v, keep, plus, false));
                }
                self.pattern(upper);
            }
        }

        let controls = v.iter().any(|&b| b < 0x20);
        let u_escapes = non_ascii
            || v.iter()
                .any(|&b| b < 0x20 && !b"\x08\x0c\n\r\t".contains(&b));
        for (st, useful) in [
            (JSON_STYLES[0], controls || has(b"\"\\")),
            (JSON_STYLES[1], u_escapes),
            (JSON_STYLES[2], non_ascii),
            (JSON_STYLES[3], non_ascii),
            (JSON_STYLES[4], has(b"/")),
            (JSON_STYLES[5], non_ascii || has(b"<>&")),
        ] {
            if useful {
                self.pattern(json_escape(v, st));
            }
        }
        if controls || has(b"\"\\") {
            let once = json_escape(v, JSON_MINIMAL);
            self.pattern(json_escape(&once, JSON_MINIMAL));
        }

        if has(b"&<>\"'") {
            let quote_forms = if has(b"\"'") { XML_QUOTES.len() } else { 1 };
            for quotes in XML_QUOTES.into_iter().take(quote_forms) {
                self.pattern(xml_escape(v, quotes));
            }
        }

        if has(b"'") {
            self.pattern(replace_byte(v, b'\'', b"'\\''"));
            self.pattern(replace_byte(v, b'\'', b"'\"'\"'"));
        }
        if has(b"\\\"$`") {
            self.pattern(backslash_escape(v, |b| {
                matches!(b, b'\\' | b'"' | b'$' | b'`')
            }));
        }
        let printf_safe = |b: u8| b.is_ascii_alphanumeric() || b"_./:=@%+,-".contains(&b);
        if v.iter().all(|b| (0x20..0x7f).contains(b)) && !v.iter().all(|&b| printf_safe(b)) {
            self.pattern(backslash_escape(v, |b| !printf_safe(b)));
        }
    }

    fn base64(&mut self, v: &[u8]) {
        self.base64_forms(v, true);
    }

    /// At the three offsets; `all` adds wrapped lines and URL-safe forms.
    fn base64_forms(&mut self, v: &[u8], all: bool) {
        for offset in 0..3usize {
            let mut buf = Zeroizing::new(Vec::with_capacity(offset + v.len()));
            buf.resize(offset, 0);
            buf.extend_from_slice(v);
            let mut enc = Zeroizing::new(STANDARD.encode(&*buf).into_bytes());
            let bits = 8 * buf.len();
            // Characters before `start` mix in bits of the bytes before the
            // secret; from `stable_end` on they mix in the bytes after.
            let start = (8 * offset).div_ceil(6);
            let stable_end = bits / 6;
            let unpadded_end = bits.div_ceil(6);
            if offset == 0 && all {
                self.wrapped(&enc, &[76, 64]);
            }
            // The URL-safe alphabet differs only in `-_` for `+/`.
            let url_safe_differs = all && enc.iter().any(|&b| b == b'+' || b == b'/');
            for alphabet in 0..2 {
                if alphabet == 1 {
                    if !url_safe_differs {
                        break;
                    }
                    for b in enc.iter_mut() {
                        *b = match *b {
                            b'+' => b'-',
                            b'/' => b'_',
                            b => b,
                        };
                    }
                }
                for range in [start..stable_end, start..unpadded_end, start..enc.len()] {
                    if let Some(s) = enc.get(range) {
                        self.pattern(bytes_of(s));
                    }
                }
            }
        }
    }

    fn hex(&mut self, v: &[u8]) {
        for upper in [false, true] {
            let h = hex_of(v, upper);
            self.wrapped(&h, &[60]);
            self.pattern(h);
        }
    }

    /// Lines of an encoding wrapped at each width, for encoders that wrap.
    /// A short last line is skipped: a few base64 or hex characters (often
    /// digits only) would mask unrelated numbers everywhere, while hiding at
    /// most a few bytes' worth of the secret.
    fn wrapped(&mut self, enc: &[u8], widths: &[usize]) {
        for &w in widths {
            if enc.len() > w {
                for chunk in enc.chunks(w) {
                    if chunk.len() >= MIN_WRAPPED_TAIL.max(self.min_len) {
                        self.pattern(bytes_of(chunk));
                    }
                }
            }
        }
    }

    fn lines(&mut self, t: &[u8]) {
        for line in t.split(|&b| b == b'\n') {
            let l = line.trim_ascii();
            let armour = l.starts_with(b"-----") && l.ends_with(b"-----");
            if armour || !l.iter().any(u8::is_ascii_alphanumeric) {
                continue;
            }
            self.text_forms(l);
        }
    }

    fn json_leaves(&mut self, t: &[u8], depth: usize) {
        let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(t) else {
            return;
        };
        let mut leaves = Vec::new();
        collect_leaves(&value, &mut leaves);
        wipe(&mut value);
        for leaf in leaves {
            if char_len(&leaf) >= self.min_len {
                self.full(&leaf, depth + 1);
            } else if !leaf.is_empty() {
                self.short.push(leaf);
                self.short_leaves += 1;
            }
        }
    }
}

fn collect_leaves(v: &serde_json::Value, out: &mut Vec<Bytes>) {
    match v {
        serde_json::Value::String(s) => out.push(bytes_of(s.as_bytes())),
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_leaves(x, out)),
        serde_json::Value::Object(m) => m.values().for_each(|x| collect_leaves(x, out)),
        _ => {}
    }
}

/// Overwrites the strings of a parsed secret before it is dropped.
fn wipe(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => s.zeroize(),
        serde_json::Value::Array(a) => a.iter_mut().for_each(wipe),
        serde_json::Value::Object(m) => m.values_mut().for_each(wipe),
        _ => {}
    }
}

fn hex_digit(n: u8, upper: bool) -> u8 {
    let digits = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    digits[usize::from(n & 0xf)]
}

/// `v` in hex, in a buffer of exactly the right size.
fn hex_of(v: &[u8], upper: bool) -> Bytes {
    let mut h = Zeroizing::new(Vec::with_capacity(2 * v.len()));
    for &b in v {
        h.push(hex_digit(b >> 4, upper));
        h.push(hex_digit(b, upper));
    }
    h
}

fn url_encode(v: &[u8], keep: &[u8], plus: bool, upper: bool) -> Bytes {
    let mut out = Zeroizing::new(Vec::with_capacity(3 * v.len()));
    for &b in v {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(b);
        } else if b == b' ' && plus {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[b'%', hex_digit(b >> 4, upper), hex_digit(b, upper)]);
        }
    }
    out
}

fn json_escape(v: &[u8], st: JsonStyle) -> Bytes {
    // Worst cases: a control byte becomes 6 bytes; a 4-byte character
    // becomes two 6-byte `\u` escapes.
    let mut out = Zeroizing::new(Vec::with_capacity(6 * v.len()));
    let unicode = |out: &mut Vec<u8>, unit: u16| {
        out.extend_from_slice(b"\\u");
        for shift in [12, 8, 4, 0] {
            // Truncation keeps the nibble, which is what is wanted.
            out.push(hex_digit((unit >> shift) as u8, st.upper));
        }
    };
    for chunk in v.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '/' if st.slash => out.extend_from_slice(b"\\/"),
                '\u{8}' => out.extend_from_slice(b"\\b"),
                '\u{c}' => out.extend_from_slice(b"\\f"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                c if u32::from(c) < 0x20 => unicode(&mut out, c as u16),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' if st.html => {
                    unicode(&mut out, c as u16);
                }
                c if st.ascii && !c.is_ascii() => {
                    let mut units = [0u16; 2];
                    for &unit in c.encode_utf16(&mut units).iter() {
                        unicode(&mut out, unit);
                    }
                }
                c => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        // Bytes that are not UTF-8 cannot be escaped; encoders pass them on.
        out.extend_from_slice(chunk.invalid());
    }
    out
}

fn xml_escape(v: &[u8], (dq, sq): Quotes) -> Bytes {
    let mut out = Zeroizing::new(Vec::with_capacity(6 * v.len()));
    for &b in v {
        match (b, dq, sq) {
            (b'&', _, _) => out.extend_from_slice(b"&amp;"),
            (b'<', _, _) => out.extend_from_slice(b"&lt;"),
            (b'>', _, _) => out.extend_from_slice(b"&gt;"),
            (b'"', Some(r), _) | (b'\'', _, Some(r)) => out.extend_from_slice(r),
            _ => out.push(b),
        }
    }
    out
}

fn replace_byte(v: &[u8], from: u8, to: &[u8]) -> Bytes {
    let mut out = Zeroizing::new(Vec::with_capacity(to.len() * v.len()));
    for &b in v {
        if b == from {
            out.extend_from_slice(to);
        } else {
            out.push(b);
        }
    }
    out
}

fn backslash_escape(v: &[u8], special: impl Fn(u8) -> bool) -> Bytes {
    let mut out = Zeroizing::new(Vec::with_capacity(2 * v.len()));
    for &b in v {
        if special(b) {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE;

    fn forms(v: &str) -> Vec<String> {
        let mut x = Expansion::new(4);
        x.add_value(v.as_bytes());
        x.patterns
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect()
    }

    fn has(forms: &[String], p: &str) -> bool {
        forms.iter().any(|f| f == p)
    }

    #[test]
    fn basic_auth_password_is_caught_at_its_offset() {
        // base64("user:password") = dXNlcjpwYXNzd29yZA==; "password" starts at
        // byte 5, offset 2 in its group of three.
        let f = forms("password");
        let header = STANDARD.encode("user:password");
        assert!(
            f.iter()
                .any(|p| header.contains(p.as_str()) && p.len() >= 8),
            "{header}"
        );
    }

    #[test]
    fn embedded_base64_forms_are_substrings_at_every_offset() {
        let secret = b"s3cr3t-T0ken/with+odd?chars";
        let mut x = Expansion::new(4);
        x.add_value(secret);
        for engine in [&STANDARD, &URL_SAFE] {
            for pre in 0..3 {
                for post in 0..3 {
                    let mut blob = vec![b'x'; pre];
                    blob.extend_from_slice(secret);
                    blob.extend(std::iter::repeat_n(b'y', post));
                    let enc = engine.encode(&blob);
                    let hit = x.patterns.iter().any(|p| {
                        p.len() >= 30 && enc.as_bytes().windows(p.len()).any(|w| w == &p[..])
                    });
                    assert!(hit, "pre {pre} post {post}: {enc}");
                }
            }
        }
    }

    #[test]
    fn standalone_base64_with_and_without_padding() {
        let f = forms("abcde");
        assert!(has(&f, "YWJjZGU="));
        assert!(has(&f, "YWJjZGU"));
    }

    #[test]
    fn escapings() {
        let f = forms("a b/c\"d'e&f<g\nh");
        for p in [
            "a%20b%2Fc%22d%27e%26f%3Cg%0Ah",
            "a+b%2fc%22d%27e%26f%3cg%0ah",
            "a b/c\\\"d'e&f<g\\nh",
            "a b\\/c\\\"d'e&f<g\\nh",
            "a b/c\\\"d'e\\u0026f\\u003cg\\nh",
            "a b/c\\\\\\\"d'e&f<g\\\\nh",
            "a b/c&quot;d&apos;e&amp;f&lt;g\nh",
            "a b/c&#34;d&#39;e&amp;f&lt;g\nh",
            "a b/c\"d'\\''e&f<g\nh",
            "a b/c\\\"d'e&f<g\nh",
            "6120622f63",
            "6120622F63",
        ] {
            assert!(
                f.iter().any(|x| x.starts_with(p)),
                "missing {p:?} in {f:#?}"
            );
        }
    }

    #[test]
    fn non_ascii_json_escape_uses_utf16() {
        let f = forms("pässwörd😀");
        assert!(has(&f, "p\\u00e4ssw\\u00f6rd\\ud83d\\ude00"));
        assert!(has(&f, "p\\u00E4ssw\\u00F6rd\\uD83D\\uDE00"));
    }

    #[test]
    fn pem_lines_skip_armour() {
        let pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n";
        let f = forms(pem);
        assert!(has(&f, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"));
        assert!(has(&f, "BKcwggSjAgEAAoIBAQC7"));
        assert!(!has(&f, "-----BEGIN PRIVATE KEY-----"));
        assert!(!has(&f, "-----END PRIVATE KEY-----"));
    }

    #[test]
    fn trimmed_value_and_json_leaves() {
        let mut x = Expansion::new(4);
        x.add_value(br#"{"user":"bob","token":"SUPER_SECRET","nested":"{\"k\":\"inner-value\"}"}"#);
        let f: Vec<String> = x
            .patterns
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        assert!(has(&f, "SUPER_SECRET"));
        assert!(has(&f, "inner-value"));
        assert!(has(&f, &STANDARD.encode("SUPER_SECRET")));
        assert!(!has(&f, "bob"));
        assert_eq!(x.short_leaves, 1);
        assert_eq!(&x.short[0][..], b"bob");

        let f = forms("secret-with-newline\n");
        assert!(has(&f, "secret-with-newline"));
        assert!(has(&f, &STANDARD.encode("secret-with-newline")));
    }

    #[test]
    fn wrapped_encodings() {
        let long = "k".repeat(100);
        let f = forms(&long);
        let enc = STANDARD.encode(&long);
        assert!(has(&f, &enc[..76]));
        assert!(has(&f, &enc[76..]));
        assert!(has(&f, &enc[..64]));
        let hex: String = long.bytes().map(|b| format!("{b:02x}")).collect();
        assert!(has(&f, &hex[..60]));
    }
}
