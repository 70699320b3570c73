//! The SQL text of a JDBC task: split into statements at the semicolons that end them, and
//! Kestra's named parameters (`:name`) turned into the database's numbered parameters (`$1`, `?1`).
//!
//! Both read the text as the SQL lexer does, so that a `;` or `:x` inside a string literal
//! ('...'), a quoted identifier ("..."), a dollar-quoted body ($$...$$, $tag$...$tag$) or a
//! comment (-- ..., /* ... */) is left alone, and a PostgreSQL cast (`::int`) is never taken
//! for a parameter. Kestra itself splits on `;` followed by anything but a quote, and
//! replaces every `:\w+`; this is the same where Kestra is right.

use std::ops::Range;

/// One piece of SQL text, as the lexer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    /// Plain SQL (keywords, names, operators, numbers).
    Code,
    /// A literal, a quoted identifier or a comment: never rewritten, never split.
    Opaque,
}

/// The text cut into [`Piece`]s, as byte ranges in order.
fn pieces(sql: &str) -> Vec<(Piece, Range<usize>)> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut code_start = 0;
    while i < bytes.len() {
        let end = match bytes[i] {
            b'\'' => Some(quoted(bytes, i, b'\'')),
            b'"' => Some(quoted(bytes, i, b'"')),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                Some(sql[i..].find('\n').map_or(bytes.len(), |n| i + n + 1))
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => Some(block_comment(bytes, i)),
            b'$' => dollar_quoted(sql, i),
            _ => None,
        };
        match end {
            Some(end) => {
                if code_start < i {
                    out.push((Piece::Code, code_start..i));
                }
                out.push((Piece::Opaque, i..end));
                i = end;
                code_start = end;
            }
            None => i += 1,
        }
    }
    if code_start < bytes.len() {
        out.push((Piece::Code, code_start..bytes.len()));
    }
    out
}

/// The end of a literal opened by `quote` at `start` (a doubled quote is an escaped one); the
/// end of the text when it is never closed (the database then says what is wrong).
fn quoted(bytes: &[u8], start: usize, quote: u8) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// The end of a `/* ... */` comment at `start`; PostgreSQL nests them.
fn block_comment(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The end of a dollar-quoted string at `start` (`$$...$$` or `$tag$...$tag$`), or `None`
/// when the `$` opens none (a `$1` numbered parameter).
fn dollar_quoted(sql: &str, start: usize) -> Option<usize> {
    let rest = &sql[start + 1..];
    let tag_len = rest.find('$')?;
    let tag = &rest[..tag_len];
    let valid = tag
        .chars()
        .next()
        .is_none_or(|c| c.is_alphabetic() || c == '_')
        && tag.chars().all(|c| c.is_alphanumeric() || c == '_');
    if !valid {
        return None;
    }
    let delimiter = &sql[start..start + tag_len + 2];
    let body = start + delimiter.len();
    Some(
        sql[body..]
            .find(delimiter)
            .map_or(sql.len(), |n| body + n + delimiter.len()),
    )
}

/// The statements of `sql`, in order: cut at each `;` outside literals and comments, without
/// the `;`, trimmed; a piece holding no SQL (only blanks or comments) is left out.
pub(crate) fn split(sql: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut has_code = false;
    for (piece, range) in pieces(sql) {
        let text = &sql[range];
        if piece == Piece::Opaque {
            // A literal is SQL; a comment alone is not a statement.
            has_code |= !(text.starts_with("--") || text.starts_with("/*"));
            current.push_str(text);
            continue;
        }
        let mut parts = text.split(';');
        let first = parts.next().unwrap_or_default();
        has_code |= !first.trim().is_empty();
        current.push_str(first);
        for part in parts {
            if has_code {
                statements.push(current.trim().to_owned());
            }
            current = part.to_owned();
            has_code = !part.trim().is_empty();
        }
    }
    if has_code {
        statements.push(current.trim().to_owned());
    }
    statements
}

/// A statement whose named parameters became numbered ones (`$1`, `?1`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Bound {
    pub sql: String,
    /// The name each numbered parameter stands for: `names[0]` is parameter 1.
    pub names: Vec<String>,
}

/// Replaces every `:name` outside literals and comments whose name is one of `known` with
/// `placeholder(n)` (`$n` for PostgreSQL, `?n` for SQLite); a name used twice gets one
/// number. Other `:name`s stay as written (an array slice `a[1:2]`, a cast `::int`).
pub(crate) fn bind_named(
    statement: &str,
    known: &dyn Fn(&str) -> bool,
    placeholder: fn(usize) -> String,
) -> Bound {
    let mut sql = String::with_capacity(statement.len());
    let mut names: Vec<String> = Vec::new();
    for (piece, range) in pieces(statement) {
        let text = &statement[range];
        if piece == Piece::Opaque {
            sql.push_str(text);
            continue;
        }
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b':' && bytes.get(i + 1) == Some(&b':') {
                sql.push_str("::");
                i += 2;
                continue;
            }
            if bytes[i] == b':' {
                let name_len = text[i + 1..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(text.len() - i - 1);
                let name = &text[i + 1..i + 1 + name_len];
                if name_len > 0 && known(name) {
                    let index = match names.iter().position(|n| n == name) {
                        Some(at) => at + 1,
                        None => {
                            names.push(name.to_owned());
                            names.len()
                        }
                    };
                    sql.push_str(&placeholder(index));
                    i += 1 + name_len;
                    continue;
                }
            }
            let c = text[i..].chars().next().unwrap_or_default();
            sql.push(c);
            i += c.len_utf8().max(1);
        }
    }
    Bound { sql, names }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_cut_outside_literals_and_comments() {
        let sql = "CREATE TABLE t (a text);\n\
                   INSERT INTO t VALUES ('x;y'), ($$a;b$$), ($f$ ; $f$);\n\
                   -- a comment; with a semicolon\n\
                   /* another; /* nested; */ one */\n\
                   SELECT \"odd;name\" FROM t;;\n   ";
        assert_eq!(
            split(sql),
            vec![
                "CREATE TABLE t (a text)",
                "INSERT INTO t VALUES ('x;y'), ($$a;b$$), ($f$ ; $f$)",
                "-- a comment; with a semicolon\n/* another; /* nested; */ one */\nSELECT \"odd;name\" FROM t",
            ]
        );
        assert_eq!(split("SELECT 1"), vec!["SELECT 1"]);
        assert!(split("  -- nothing\n").is_empty());
        assert_eq!(split("SELECT 'it''s; fine'"), vec!["SELECT 'it''s; fine'"]);
    }

    #[test]
    fn named_parameters_become_placeholders_once_each() {
        let known = |n: &str| ["id", "name"].contains(&n);
        let bound = bind_named(
            "SELECT a::int, ':id', arr[1:2] FROM t WHERE id = :id AND n = :name OR m = :id -- :id",
            &known,
            |n| format!("${n}"),
        );
        assert_eq!(
            bound.sql,
            "SELECT a::int, ':id', arr[1:2] FROM t WHERE id = $1 AND n = $2 OR m = $1 -- :id"
        );
        assert_eq!(bound.names, vec!["id", "name"]);
        let sqlite = bind_named("VALUES (:name, :unknown)", &known, |n| format!("?{n}"));
        assert_eq!(sqlite.sql, "VALUES (?1, :unknown)");
        assert_eq!(
            bind_named("SELECT 'é', :id", &known, |n| format!("${n}")).sql,
            "SELECT 'é', $1"
        );
    }
}
