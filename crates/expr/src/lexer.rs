//! Splits a template into text and the tokens of its `{{ }}`, `{% %}` and `{# #}` parts.
//!
//! Whitespace control (`{{-`, `-}}`, `{%-`, `-%}`, `{#-`, `-#}`) is applied here, on the byte
//! ranges of the text tokens, so the renderer only copies slices. `{% raw %}` (and Pebble's
//! `{% verbatim %}`) bodies become a single [`Tok::Raw`] without being tokenized.

use crate::error::{ErrorKind, Fail};

/// One token, with the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token<'s> {
    pub tok: Tok<'s>,
    pub pos: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'s> {
    /// Literal text between tags: a byte range of the source.
    Text(u32, u32),
    /// The body of a `{% raw %}` block.
    Raw(u32, u32),
    PrintOpen,
    PrintClose,
    TagOpen,
    TagClose,
    /// A name, borrowed from the source.
    Name(&'s str),
    Int(i64),
    Float(f64),
    Str(String),
    /// A double-quoted string with `#{...}` interpolations.
    Interp(Vec<InterpPart<'s>>),
    /// Operators and punctuation.
    Op(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum InterpPart<'s> {
    Lit(String),
    /// The tokens of one `#{...}`, ending with a synthetic [`Tok::PrintClose`].
    Expr(Vec<Token<'s>>),
}

/// Longest first, so `???` wins over `??` and `?`.
const OPS: [&str; 28] = [
    "???", "??", "==", "!=", "<=", ">=", "..", "-", "+", "*", "/", "%", "~", "|", "(", ")", "[",
    "]", "{", "}", ",", ":", ".", "?", "=", "<", ">", "!",
];

/// Deepest bracket nesting accepted, which also bounds the parser's recursion.
pub(crate) const MAX_NESTING: usize = 64;

pub(crate) fn tokenize(src: &str) -> Result<Vec<Token<'_>>, Fail> {
    let mut lx = Lexer {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        out: Vec::new(),
        trim_next: false,
    };
    lx.run()?;
    Ok(lx.out)
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    out: Vec<Token<'a>>,
    /// The previous closing delimiter had a `-`: trim the start of the next text.
    trim_next: bool,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

fn at(pos: usize) -> u32 {
    u32::try_from(pos).unwrap_or(u32::MAX)
}

fn syntax(pos: usize, msg: impl Into<String>) -> Fail {
    Fail::new(at(pos), ErrorKind::Syntax(msg.into()))
}

impl<'a> Lexer<'a> {
    fn run(&mut self) -> Result<(), Fail> {
        while self.pos < self.bytes.len() {
            let start = self.pos;
            let next = find_open(self.bytes, start);
            let text_end = next.unwrap_or(self.bytes.len());
            self.push_text(start, text_end);
            let Some(open) = next else {
                self.pos = self.bytes.len();
                break;
            };
            let kind = self.bytes[open + 1];
            if let Some(len) = raw_open(&self.src[open..]) {
                self.pos = open + len;
                self.raw_body(open)?;
                continue;
            }
            let trim_before = self.bytes.get(open + 2) == Some(&b'-');
            if trim_before {
                self.trim_previous_text();
            }
            self.pos = open + 2 + usize::from(trim_before);
            match kind {
                b'#' => self.comment(open)?,
                b'{' => {
                    self.push(Tok::PrintOpen, open);
                    self.expression(open, b'}')?;
                }
                _ => {
                    self.push(Tok::TagOpen, open);
                    self.expression(open, b'%')?;
                }
            }
        }
        Ok(())
    }

    fn push(&mut self, tok: Tok<'a>, pos: usize) {
        self.out.push(Token { tok, pos: at(pos) });
    }

    fn push_text(&mut self, mut start: usize, end: usize) {
        if std::mem::take(&mut self.trim_next) {
            while start < end && is_ws(self.bytes[start]) {
                start += 1;
            }
        }
        if start < end {
            self.push(Tok::Text(at(start), at(end)), start);
        }
    }

    fn trim_previous_text(&mut self) {
        if let Some(Token {
            tok: Tok::Text(s, e),
            ..
        }) = self.out.last_mut()
        {
            while *e > *s && is_ws(self.bytes[*e as usize - 1]) {
                *e -= 1;
            }
            if s == e {
                self.out.pop();
            }
        }
    }

    fn comment(&mut self, open: usize) -> Result<(), Fail> {
        let rest = &self.src[self.pos..];
        let Some(i) = rest.find("#}") else {
            return Err(syntax(open, "unclosed comment: '{#' without '#}'"));
        };
        let close = self.pos + i;
        self.trim_next = close > self.pos && self.bytes[close - 1] == b'-';
        self.pos = close + 2;
        Ok(())
    }

    /// The body of a raw block whose opening tag ends at `self.pos`, up to its end tag.
    fn raw_body(&mut self, open: usize) -> Result<(), Fail> {
        let body_start = self.pos;
        let mut search = self.pos;
        loop {
            let Some(tag) = find_from(self.bytes, search, b"{%") else {
                return Err(syntax(open, "unclosed raw block: expected '{% endraw %}'"));
            };
            match raw_close(&self.src[tag..]) {
                Some(len) => {
                    // Whatever the text around, Kestra keeps the body verbatim.
                    self.trim_next = false;
                    self.push(Tok::Raw(at(body_start), at(tag)), open);
                    self.pos = tag + len;
                    return Ok(());
                }
                None => search = tag + 2,
            }
        }
    }

    /// Tokens up to the closing `}}` (`close` = b'}') or `%}` (`close` = b'%').
    fn expression(&mut self, open: usize, close: u8) -> Result<(), Fail> {
        let mut depth: Vec<u8> = Vec::new();
        loop {
            while self.pos < self.bytes.len() && is_ws(self.bytes[self.pos]) {
                self.pos += 1;
            }
            if self.pos >= self.bytes.len() {
                let what = if close == b'}' {
                    "'{{' without '}}'"
                } else {
                    "'{%' without '%}'"
                };
                return Err(syntax(open, format!("unclosed {what}")));
            }
            if depth.is_empty() {
                let rest = &self.bytes[self.pos..];
                let trim = rest.first() == Some(&b'-');
                let r = &rest[usize::from(trim)..];
                if r.len() >= 2 && r[0] == close && r[1] == b'}' {
                    let tok = if close == b'}' {
                        Tok::PrintClose
                    } else {
                        Tok::TagClose
                    };
                    self.push(tok, self.pos);
                    self.pos += usize::from(trim) + 2;
                    self.trim_next = trim;
                    return Ok(());
                }
            }
            let tok = self.token(&mut depth)?;
            self.out.push(tok);
        }
    }

    /// One token at `self.pos`; tracks bracket nesting in `depth`.
    fn token(&mut self, depth: &mut Vec<u8>) -> Result<Token<'a>, Fail> {
        let start = self.pos;
        let b = self.bytes[start];
        let tok = if b.is_ascii_alphabetic() || b == b'_' {
            let end = self.scan(start, |c| c.is_ascii_alphanumeric() || c == b'_');
            Tok::Name(&self.src[start..end])
        } else if b.is_ascii_digit() {
            self.number(start)?
        } else if b == b'\'' || b == b'"' {
            self.string(start)?
        } else if let Some(op) = OPS.iter().find(|op| self.src[start..].starts_with(**op)) {
            self.pos = start + op.len();
            match *op {
                "(" | "[" | "{" => {
                    if depth.len() >= MAX_NESTING {
                        return Err(syntax(start, "expression nested too deeply"));
                    }
                    depth.push(op.as_bytes()[0]);
                }
                ")" | "]" | "}" => {
                    let want = match *op {
                        ")" => b'(',
                        "]" => b'[',
                        _ => b'{',
                    };
                    let open = depth.pop();
                    if open != Some(want) {
                        let found = if self.src[start..].starts_with("}}") {
                            "}}"
                        } else {
                            op
                        };
                        let msg = match open {
                            Some(b'(') => format!("unexpected '{found}', expected ')'"),
                            Some(b'[') => format!("unexpected '{found}', expected ']'"),
                            Some(_) => format!("unexpected '{found}', expected '}}'"),
                            None => format!("unexpected '{found}'"),
                        };
                        return Err(syntax(start, msg));
                    }
                }
                _ => {}
            }
            Tok::Op(op)
        } else {
            let c = self.src[start..].chars().next().unwrap_or('?');
            return Err(syntax(start, format!("unexpected character '{c}'")));
        };
        Ok(Token {
            tok,
            pos: at(start),
        })
    }

    fn scan(&mut self, from: usize, keep: impl Fn(u8) -> bool) -> usize {
        let mut end = from;
        while end < self.bytes.len() && keep(self.bytes[end]) {
            end += 1;
        }
        self.pos = end;
        end
    }

    fn number(&mut self, start: usize) -> Result<Tok<'a>, Fail> {
        let mut end = self.scan(start, |c| c.is_ascii_digit());
        // `1.5` is a float, `1..3` a range, `list.0.name` an index chain.
        let is_float = self.bytes.get(end) == Some(&b'.')
            && self.bytes.get(end + 1).is_some_and(u8::is_ascii_digit)
            && !matches!(
                self.out.last(),
                Some(Token {
                    tok: Tok::Op("."),
                    ..
                })
            );
        if is_float {
            end = self.scan(end + 1, |c| c.is_ascii_digit());
            let text = &self.src[start..end];
            return text
                .parse::<f64>()
                .map(Tok::Float)
                .map_err(|_| syntax(start, format!("invalid number '{text}'")));
        }
        let text = &self.src[start..end];
        text.parse::<i64>()
            .map(Tok::Int)
            .map_err(|_| syntax(start, format!("integer '{text}' is too large")))
    }

    fn string(&mut self, start: usize) -> Result<Tok<'a>, Fail> {
        let quote = self.bytes[start];
        let mut parts = Vec::new();
        let mut buf = String::new();
        let mut i = start + 1;
        loop {
            let Some(c) = self.src[i..].chars().next() else {
                return Err(syntax(start, "unclosed string literal"));
            };
            match c {
                c if c as u32 == u32::from(quote) => {
                    i += 1;
                    break;
                }
                '\\' => {
                    let Some(e) = self.src[i + 1..].chars().next() else {
                        return Err(syntax(start, "unclosed string literal"));
                    };
                    i += 1 + e.len_utf8();
                    match e {
                        'n' => buf.push('\n'),
                        't' => buf.push('\t'),
                        'r' => buf.push('\r'),
                        'b' => buf.push('\u{8}'),
                        'f' => buf.push('\u{c}'),
                        '\\' | '\'' | '"' | '#' => buf.push(e),
                        'u' => {
                            let hex = self.src.get(i..i + 4).unwrap_or("");
                            let ch = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
                            let Some(ch) = ch.filter(|_| hex.len() == 4) else {
                                return Err(syntax(i - 2, "invalid \\u escape in string"));
                            };
                            buf.push(ch);
                            i += 4;
                        }
                        // Unknown escapes stay as written (Windows paths, regexes).
                        other => {
                            buf.push('\\');
                            buf.push(other);
                        }
                    }
                }
                '#' if quote == b'"' && self.bytes.get(i + 1) == Some(&b'{') => {
                    if !buf.is_empty() {
                        parts.push(InterpPart::Lit(std::mem::take(&mut buf)));
                    }
                    let (tokens, end) = self.interpolation(i + 2)?;
                    parts.push(InterpPart::Expr(tokens));
                    i = end + 1;
                }
                other => {
                    buf.push(other);
                    i += other.len_utf8();
                }
            }
        }
        self.pos = i;
        if parts.is_empty() {
            return Ok(Tok::Str(buf));
        }
        if !buf.is_empty() {
            parts.push(InterpPart::Lit(buf));
        }
        Ok(Tok::Interp(parts))
    }

    /// Tokens of `#{ ... }` starting at `from`; returns them and the offset of the closing `}`.
    fn interpolation(&mut self, from: usize) -> Result<(Vec<Token<'a>>, usize), Fail> {
        let saved = std::mem::take(&mut self.out);
        self.pos = from;
        let mut depth = Vec::new();
        let result = loop {
            while self.pos < self.bytes.len() && is_ws(self.bytes[self.pos]) {
                self.pos += 1;
            }
            if self.pos >= self.bytes.len() {
                break Err(syntax(from - 2, "unclosed '#{' in string"));
            }
            if depth.is_empty() && self.bytes[self.pos] == b'}' {
                let end = self.pos;
                self.push(Tok::PrintClose, end);
                break Ok(end);
            }
            match self.token(&mut depth) {
                Ok(t) => self.out.push(t),
                Err(e) => break Err(e),
            }
        };
        let tokens = std::mem::replace(&mut self.out, saved);
        result.map(|end| (tokens, end))
    }
}

/// Length of a `{% raw %}` (or `{% verbatim %}`) tag at the start of `s`. As Kestra's own
/// pattern `\{%-*\s*raw\s*-*%}` does, dashes are accepted and trim nothing.
fn raw_open(s: &str) -> Option<usize> {
    tag_named(s, &["raw", "verbatim"])
}

fn raw_close(s: &str) -> Option<usize> {
    tag_named(s, &["endraw", "endverbatim"])
}

fn tag_named(s: &str, names: &[&str]) -> Option<usize> {
    let rest = s.strip_prefix("{%")?;
    let rest = rest.trim_start_matches('-');
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let name = names.iter().find(|n| {
        rest.starts_with(**n)
            && !rest[n.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
    })?;
    let rest = &rest[name.len()..];
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let rest = rest.trim_start_matches('-');
    let rest = rest.strip_prefix("%}")?;
    Some(s.len() - rest.len())
}

/// Next `{{`, `{%` or `{#` at or after `from`.
fn find_open(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(p) = memchr_brace(bytes, i) {
        if matches!(bytes.get(p + 1), Some(b'{' | b'%' | b'#')) {
            return Some(p);
        }
        i = p + 1;
    }
    None
}

fn memchr_brace(bytes: &[u8], from: usize) -> Option<usize> {
    bytes
        .get(from..)?
        .iter()
        .position(|&b| b == b'{')
        .map(|p| p + from)
}

fn find_from(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok<'_>> {
        tokenize(src)
            .expect("lexes")
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn splits_text_and_expressions() {
        assert_eq!(
            kinds("a {{ x.y }} b"),
            vec![
                Tok::Text(0, 2),
                Tok::PrintOpen,
                Tok::Name("x"),
                Tok::Op("."),
                Tok::Name("y"),
                Tok::PrintClose,
                Tok::Text(11, 13),
            ]
        );
    }

    #[test]
    fn whitespace_control_trims_text_ranges() {
        assert_eq!(
            kinds("a  {{- 1 -}}  b"),
            vec![
                Tok::Text(0, 1),
                Tok::PrintOpen,
                Tok::Int(1),
                Tok::PrintClose,
                Tok::Text(14, 15)
            ]
        );
    }

    #[test]
    fn map_literal_braces_do_not_close_the_print() {
        let toks = kinds("{{ {'a': {'b': 1}} }}");
        assert_eq!(toks.last(), Some(&Tok::PrintClose));
        assert_eq!(toks.iter().filter(|t| **t == Tok::Op("}")).count(), 2);
    }

    #[test]
    fn raw_blocks_are_not_tokenized() {
        assert_eq!(kinds("{% raw %}{{ x }}{% endraw %}"), vec![Tok::Raw(9, 16)]);
    }

    #[test]
    fn numbers_ranges_and_strings() {
        assert_eq!(
            kinds("{{ 1..3 }}")[1..4],
            [Tok::Int(1), Tok::Op(".."), Tok::Int(3)]
        );
        assert_eq!(kinds("{{ 2.5 }}")[1], Tok::Float(2.5));
        assert_eq!(kinds(r#"{{ 'a\'b\n' }}"#)[1], Tok::Str("a'b\n".into()));
    }

    #[test]
    fn unclosed_parts_are_errors() {
        assert!(tokenize("{{ x").is_err());
        assert!(tokenize("{# x").is_err());
        assert!(tokenize("{{ 'x }}").is_err());
        assert!(tokenize("{% raw %}x").is_err());
    }
}
