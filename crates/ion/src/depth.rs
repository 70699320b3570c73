//! A guard on how deeply Ion text nests, applied to the bytes before ion-rs parses them.
//!
//! ion-rs parses and builds nested values recursively, so a file of a few hundred thousand
//! `[` overflows the stack (an abort, not an error) before any depth check on the parsed
//! value could run. This scanner follows just enough of Ion's text syntax (strings, quoted
//! symbols, long strings, comments) to count open containers, and stops the read when the
//! count passes the limit.

/// Where the scanner is in Ion text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Normal,
    /// After a `/` in normal text: a comment may start.
    Slash,
    LineComment,
    BlockComment {
        star: bool,
    },
    /// Inside `"…"`.
    Text {
        escaped: bool,
    },
    /// `n` single quotes seen in a row from normal text: 1 opens a quoted symbol, 2 is an
    /// empty one, 3 opens a long string.
    Quotes(u8),
    Symbol {
        escaped: bool,
    },
    /// Inside `'''…'''`, with the quotes seen in a row so far.
    LongText {
        quotes: u8,
        escaped: bool,
    },
}

#[derive(Debug)]
pub(crate) struct DepthScanner {
    state: State,
    depth: usize,
    max_depth: usize,
}

impl DepthScanner {
    pub(crate) fn new(max_depth: usize) -> Self {
        DepthScanner {
            state: State::Normal,
            depth: 0,
            max_depth,
        }
    }

    /// Scans more bytes; `false` once the text has nested deeper than the limit. The scan
    /// allows one level more than rows may have (lobs `{{…}}` count as two), so a row just over
    /// the limit still parses and gets the precise [`crate::IonError::TooDeep`] naming it.
    pub(crate) fn scan(&mut self, bytes: &[u8]) -> bool {
        for &b in bytes {
            self.step(b);
            if self.depth > self.max_depth + 2 {
                return false;
            }
        }
        true
    }

    fn step(&mut self, b: u8) {
        self.state = match self.state {
            State::Normal => self.normal(b),
            State::Slash => match b {
                b'/' => State::LineComment,
                b'*' => State::BlockComment { star: false },
                _ => self.normal(b),
            },
            State::LineComment => match b {
                b'\n' | b'\r' => State::Normal,
                _ => State::LineComment,
            },
            State::BlockComment { star } => match b {
                b'/' if star => State::Normal,
                _ => State::BlockComment { star: b == b'*' },
            },
            State::Text { escaped } => match b {
                _ if escaped => State::Text { escaped: false },
                b'\\' => State::Text { escaped: true },
                b'"' => State::Normal,
                _ => State::Text { escaped: false },
            },
            State::Quotes(n) => match (n, b) {
                (1 | 2, b'\'') => State::Quotes(n + 1),
                (1, b'\\') => State::Symbol { escaped: true },
                (1, _) => State::Symbol { escaped: false },
                (2, _) => self.normal(b),
                (_, b'\\') => State::LongText {
                    quotes: 0,
                    escaped: true,
                },
                (_, b'\'') => State::LongText {
                    quotes: 1,
                    escaped: false,
                },
                _ => State::LongText {
                    quotes: 0,
                    escaped: false,
                },
            },
            State::Symbol { escaped } => match b {
                _ if escaped => State::Symbol { escaped: false },
                b'\\' => State::Symbol { escaped: true },
                b'\'' => State::Normal,
                _ => State::Symbol { escaped: false },
            },
            State::LongText { quotes, escaped } => match b {
                _ if escaped => State::LongText {
                    quotes: 0,
                    escaped: false,
                },
                b'\\' => State::LongText {
                    quotes: 0,
                    escaped: true,
                },
                b'\'' if quotes == 2 => State::Normal,
                b'\'' => State::LongText {
                    quotes: quotes + 1,
                    escaped: false,
                },
                _ => State::LongText {
                    quotes: 0,
                    escaped: false,
                },
            },
        };
    }

    fn normal(&mut self, b: u8) -> State {
        match b {
            b'[' | b'(' | b'{' => self.depth += 1,
            b']' | b')' | b'}' => self.depth = self.depth.saturating_sub(1),
            b'"' => return State::Text { escaped: false },
            b'\'' => return State::Quotes(1),
            b'/' => return State::Slash,
            _ => {}
        }
        State::Normal
    }
}

#[cfg(test)]
mod tests {
    use super::DepthScanner;

    fn within(text: &str, max: usize) -> bool {
        let mut scanner = DepthScanner::new(max);
        // Byte by byte, as a reader's buffers may split the text anywhere.
        text.as_bytes().chunks(1).all(|chunk| scanner.scan(chunk))
    }

    #[test]
    fn brackets_in_strings_symbols_long_strings_and_comments_do_not_count() {
        let text = r#"{a: "[[[[[\"[[[", b: '[[[[\'[[', c: '''it's [[[[[''', d: '' // [[[[[
/* [[[[[ */ e: [1]}"#;
        assert!(within(text, 1));
        assert!(!within("[[[[[[[[", 1));
        assert!(within(&format!("{}{}", "[".repeat(3), "]".repeat(3)), 1));
    }
}
