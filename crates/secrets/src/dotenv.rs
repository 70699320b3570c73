//! `.env` parsing for `saker secret encode-env FILE`, which turns a `.env` file into the
//! `SECRET_<KEY>=<base64>` form the env backend reads (seed 002), correctly where the seed's
//! `while IFS='=' read` loop is not.
//!
//! Syntax (Docker Compose's `env_file`, which is where the output goes):
//!
//! * blank lines and lines starting with `#` are skipped; `\r\n` line ends are accepted and
//!   the last line needs no newline;
//! * `export ` before a key is ignored; the key is `[A-Za-z_][A-Za-z0-9_]*`, and whitespace
//!   around `=` is ignored;
//! * the value runs to the end of the line; everything after the first `=` belongs to it, so
//!   values may contain `=`; an unquoted value ends at ` #` (a comment) and is trimmed;
//! * `'single-quoted'` values are literal; `"double-quoted"` values understand `\\`, `\"`,
//!   `\'`, `\$`, `\n`, `\r` and `\t` (any other backslash is kept as is); both may span
//!   lines and may be followed by a comment; `$VARS` are not expanded;
//! * a value written exactly as `{{ "literal" | base64encode }}` (single quotes allowed,
//!   whitespace free) stands for its literal; any other `{{ ... }}` value is an error rather
//!   than being encoded as text by mistake.
//!
//! Encoding: a key without the `SECRET_` prefix gets it and its value is base64-encoded. A
//! key that already has it is taken as already encoded, so running the command on its own
//! output changes nothing: its value is checked (the env backend must accept it) and
//! normalised, unless it is a `base64encode` macro, whose literal is encoded. An empty value
//! is skipped with a warning (the env backend ignores empty secrets). Keys must be unique,
//! case-insensitively, since the env backend matches them that way.
//!
//! Errors and warnings name the line and the key, never the value.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::env::{EnvProblem, SECRET_ENV_PREFIX, decode_value};
use crate::value::SecretValue;

/// How a value was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueForm {
    /// Unquoted or quoted text.
    Text,
    /// `{{ "literal" | base64encode }}`; the entry's value is the literal.
    Base64Macro,
}

/// One `KEY=value` assignment.
#[derive(Debug, Clone)]
pub struct DotenvEntry {
    /// 1-based line of the key.
    pub line: usize,
    /// The key as written (without `export `).
    pub key: String,
    /// The value, unquoted and unescaped, or the macro's literal.
    pub value: SecretValue,
    /// How it was written.
    pub form: ValueForm,
}

/// What is wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DotenvProblem {
    /// No `=`.
    #[error("expected KEY=VALUE")]
    MissingEquals,
    /// Bad key.
    #[error("the key must be letters, digits and '_', not starting with a digit")]
    InvalidKey,
    /// `SECRET_` and nothing else.
    #[error("SECRET_ must be followed by a key")]
    EmptySecretKey,
    /// A quote that never closes.
    #[error("the quoted value is never closed")]
    UnterminatedQuote,
    /// Text after a closing quote.
    #[error("unexpected characters after the closing quote")]
    TrailingCharacters,
    /// `{{ ... }}` other than the `base64encode` macro.
    #[error(r#"unsupported template: only {{{{ "value" | base64encode }}}} is recognised"#)]
    UnsupportedTemplate,
    /// A `SECRET_` key whose value is not what the env backend accepts.
    #[error(
        "{key} already has the SECRET_ prefix, so its value must already be base64 of UTF-8 \
         text; remove the prefix to have it encoded"
    )]
    NotEncoded {
        /// The key.
        key: String,
    },
    /// The same key twice (case-insensitively).
    #[error("{key} is already defined on line {first_line}")]
    Duplicate {
        /// The key.
        key: String,
        /// Where it was first defined.
        first_line: usize,
    },
}

/// A `.env` file that cannot be encoded: which line, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct DotenvError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub problem: DotenvProblem,
}

/// An entry left out of the output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {key} has an empty value and was skipped")]
pub struct DotenvWarning {
    /// 1-based line number.
    pub line: usize,
    /// The key.
    pub key: String,
}

/// The result of [`encode_env`].
#[derive(Debug)]
pub struct EncodedEnv {
    /// `SECRET_<KEY>=<base64>` lines, each ending in a newline. Wiped on drop: base64 is not
    /// encryption.
    pub text: Zeroizing<String>,
    /// Entries left out.
    pub warnings: Vec<DotenvWarning>,
}

/// Parses a `.env` file (see the module documentation for the syntax).
pub fn parse(input: &str) -> Result<Vec<DotenvEntry>, DotenvError> {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let lines: Vec<&str> = input
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .collect();
    let mut entries = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line = index + 1;
        let text = lines[index].trim_start();
        index += 1;
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let fail = |problem| DotenvError { line, problem };
        let text = strip_export(text);
        let (key, rest) = text
            .split_once('=')
            .ok_or_else(|| fail(DotenvProblem::MissingEquals))?;
        let key = key.trim_end();
        if !is_valid_key(key) {
            return Err(fail(DotenvProblem::InvalidKey));
        }
        let (value, form) = parse_value(rest, &lines, &mut index).map_err(fail)?;
        entries.push(DotenvEntry {
            line,
            key: key.to_owned(),
            value,
            form,
        });
    }
    Ok(entries)
}

/// Encodes a `.env` file into `SECRET_<KEY>=<base64>` lines.
pub fn encode_env(input: &str) -> Result<EncodedEnv, DotenvError> {
    let mut text = Zeroizing::new(String::new());
    let mut warnings = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for entry in parse(input)? {
        let fail = |problem| DotenvError {
            line: entry.line,
            problem,
        };
        let prefixed = entry.key.starts_with(SECRET_ENV_PREFIX);
        let name = if prefixed {
            entry.key.clone()
        } else {
            format!("{SECRET_ENV_PREFIX}{}", entry.key)
        };
        if name.len() == SECRET_ENV_PREFIX.len() {
            return Err(fail(DotenvProblem::EmptySecretKey));
        }
        if let Some(&first_line) = seen.get(&name.to_ascii_uppercase()) {
            return Err(fail(DotenvProblem::Duplicate {
                key: entry.key.clone(),
                first_line,
            }));
        }
        seen.insert(name.to_ascii_uppercase(), entry.line);

        let plaintext = if prefixed && entry.form == ValueForm::Text {
            match decode_value(entry.value.expose()) {
                Ok(decoded) => decoded,
                // Skipped with a warning below, like any empty value.
                Err(EnvProblem::Empty) => SecretValue::new(""),
                Err(_) => {
                    return Err(fail(DotenvProblem::NotEncoded {
                        key: entry.key.clone(),
                    }));
                }
            }
        } else {
            entry.value.clone()
        };
        if plaintext.is_empty() {
            warnings.push(DotenvWarning {
                line: entry.line,
                key: entry.key.clone(),
            });
            continue;
        }
        text.push_str(&name);
        text.push('=');
        text.push_str(&Zeroizing::new(STANDARD.encode(plaintext.expose())));
        text.push('\n');
    }
    Ok(EncodedEnv { text, warnings })
}

fn strip_export(text: &str) -> &str {
    match text.strip_prefix("export") {
        Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
        _ => text,
    }
}

fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses the value after `=`; quoted values may consume following lines.
fn parse_value(
    rest: &str,
    lines: &[&str],
    index: &mut usize,
) -> Result<(SecretValue, ValueForm), DotenvProblem> {
    let trimmed = rest.trim_start();
    if let Some(quote @ ('"' | '\'')) = trimmed.chars().next() {
        let value = parse_quoted(&trimmed[1..], quote, lines, index)?;
        return Ok((value, ValueForm::Text));
    }
    if trimmed.starts_with("{{") {
        let literal = parse_macro(trimmed).ok_or(DotenvProblem::UnsupportedTemplate)?;
        return Ok((literal, ValueForm::Base64Macro));
    }
    Ok((
        SecretValue::new(strip_comment(rest).trim()),
        ValueForm::Text,
    ))
}

/// Cuts an unquoted value at a `#` that follows whitespace.
fn strip_comment(value: &str) -> &str {
    let mut previous_blank = false;
    for (at, c) in value.char_indices() {
        if c == '#' && previous_blank {
            return &value[..at];
        }
        previous_blank = c == ' ' || c == '\t';
    }
    value
}

/// After a closing quote only blanks or a comment may follow.
fn is_blank_or_comment(tail: &str) -> bool {
    let tail = tail.trim_start();
    tail.is_empty() || tail.starts_with('#')
}

fn parse_quoted(
    first: &str,
    quote: char,
    lines: &[&str],
    index: &mut usize,
) -> Result<SecretValue, DotenvProblem> {
    let mut out = Zeroizing::new(String::new());
    let mut current = first;
    loop {
        let mut chars = current.char_indices();
        while let Some((at, c)) = chars.next() {
            if c == quote {
                let tail = &current[at + 1..];
                if !is_blank_or_comment(tail) {
                    return Err(DotenvProblem::TrailingCharacters);
                }
                return Ok(SecretValue::new(std::mem::take(&mut *out)));
            }
            if c == '\\' && quote == '"' {
                match chars.next().map(|(_, next)| next) {
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some('t') => out.push('\t'),
                    Some(next @ ('\\' | '"' | '\'' | '$')) => out.push(next),
                    Some(other) => {
                        out.push('\\');
                        out.push(other);
                    }
                    None => out.push('\\'),
                }
                continue;
            }
            out.push(c);
        }
        // The quote continues on the next line.
        let Some(next) = lines.get(*index) else {
            return Err(DotenvProblem::UnterminatedQuote);
        };
        *index += 1;
        out.push('\n');
        current = next;
    }
}

/// Recognises `{{ "literal" | base64encode }}` (or `'literal'`), optionally followed by a
/// comment, and returns the literal.
fn parse_macro(text: &str) -> Option<SecretValue> {
    let inner = text.strip_prefix("{{")?.trim_start();
    let quote = inner.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let mut literal = Zeroizing::new(String::new());
    let mut chars = inner[1..].char_indices();
    let after_literal = loop {
        let (at, c) = chars.next()?;
        match c {
            '\\' => {
                let (_, next) = chars.next()?;
                if next != quote && next != '\\' {
                    literal.push('\\');
                }
                literal.push(next);
            }
            c if c == quote => break &inner[1 + at + 1..],
            c => literal.push(c),
        }
    };
    let tail = after_literal
        .trim_start()
        .strip_prefix('|')?
        .trim_start()
        .strip_prefix("base64encode")?
        .trim_start()
        .strip_prefix("}}")?;
    is_blank_or_comment(tail).then(|| SecretValue::new(std::mem::take(&mut *literal)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(input: &str) -> DotenvEntry {
        let mut entries = parse(input).unwrap();
        assert_eq!(entries.len(), 1, "{input:?}");
        entries.remove(0)
    }

    #[test]
    fn value_forms() {
        assert_eq!(one("A=b=c==").value.expose(), "b=c==");
        assert_eq!(one("A = spaced value  ").value.expose(), "spaced value");
        assert_eq!(one("A=v # comment").value.expose(), "v");
        assert_eq!(one("A=v#not-a-comment").value.expose(), "v#not-a-comment");
        assert_eq!(
            parse("A='it''s'").unwrap_err().problem,
            DotenvProblem::TrailingCharacters
        );
        assert_eq!(one(r#"A='lit\n $X'"#).value.expose(), r"lit\n $X");
        assert_eq!(one(r#"A="a\"b\\c\nd\q""#).value.expose(), "a\"b\\c\nd\\q");
        assert_eq!(one("A=\"x\" # c").value.expose(), "x");
        assert_eq!(one("export A=1").key, "A");
        assert_eq!(one("exportA=1").key, "exportA");
        assert_eq!(one("A=").value.expose(), "");
    }

    #[test]
    fn multi_line_quotes() {
        let entries = parse("A=\"one\ntwo\"\nB=3").unwrap();
        assert_eq!(entries[0].value.expose(), "one\ntwo");
        assert_eq!(entries[1].line, 3);
        let err = parse("A=1\nB='never closed\nC=2").unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(err.problem, DotenvProblem::UnterminatedQuote);
    }

    #[test]
    fn macro_form() {
        let entry = one(r#"SECRET_A={{ "password" | base64encode }}"#);
        assert_eq!(entry.form, ValueForm::Base64Macro);
        assert_eq!(entry.value.expose(), "password");
        assert_eq!(one(r#"A={{'p"w'|base64encode}}"#).value.expose(), "p\"w");
        assert_eq!(
            one(r#"A={{ "a\"b" | base64encode }} # c"#).value.expose(),
            "a\"b"
        );
        for bad in [
            r#"A={{ "p" | base64decode }}"#,
            r#"A={{ "p" }}"#,
            r#"A={{ p | base64encode }}"#,
            r#"A={{ "p" | base64encode }} trailing"#,
            r#"A={{ "p" | base64encode "#,
        ] {
            assert_eq!(
                parse(bad).unwrap_err().problem,
                DotenvProblem::UnsupportedTemplate,
                "{bad}"
            );
        }
    }

    #[test]
    fn never_echoes_values_in_errors() {
        for input in [
            "A='topsecret",
            "A=\"topsecret\" junk",
            "SECRET_A=topsecret!!",
            "A={{ \"topsecret\" }}",
        ] {
            let err = match parse(input) {
                Err(err) => err,
                Ok(_) => encode_env(input).unwrap_err(),
            };
            assert!(!err.to_string().contains("topsecret"), "{err}");
            assert!(!format!("{err:?}").contains("topsecret"), "{err:?}");
        }
    }
}
