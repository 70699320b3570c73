//! The TLS parameters in a connection string: tokio-postgres rejects `sslrootcert` and
//! libpq's stronger `sslmode` values, so they are cut out of the string (URL query or
//! `key=value` form, tokenized as tokio-postgres does) before it is parsed, and the rest is
//! handed on unchanged, credentials included.

/// libpq's TLS settings that Saker refuses rather than ignores (by name only: `sslpassword`'s
/// value is a secret).
const UNSUPPORTED: [&str; 5] = ["sslcert", "sslkey", "sslpassword", "sslcrl", "sslcrldir"];

/// The connection-string parameters Saker handles itself, as written.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct TlsParams {
    pub(super) sslmode: Option<String>,
    pub(super) sslrootcert: Option<String>,
    pub(super) unsupported: Option<&'static str>,
}

impl TlsParams {
    /// Parameters as if written in a connection string (tests).
    #[cfg(test)]
    pub(super) fn of(sslmode: Option<&str>, sslrootcert: Option<&str>) -> TlsParams {
        TlsParams {
            sslmode: sslmode.map(str::to_owned),
            sslrootcert: sslrootcert.map(str::to_owned),
            unsupported: None,
        }
    }

    /// Keeps `key`'s value if it is one of ours; false for anything else.
    fn take(&mut self, key: &str, value: impl FnOnce() -> String) -> bool {
        match key {
            "sslmode" => self.sslmode = Some(value()),
            "sslrootcert" => self.sslrootcert = Some(value()),
            _ => match UNSUPPORTED.iter().find(|name| **name == key) {
                Some(name) => {
                    self.unsupported.get_or_insert(name);
                }
                None => return false,
            },
        }
        true
    }
}

/// Splits a connection string into what tokio-postgres parses and the TLS parameters Saker
/// handles (the last of each wins, as in libpq). A string that does not tokenize is handed on
/// whole, for tokio-postgres to report.
pub(crate) fn take_tls_params(conn: &str) -> (String, TlsParams) {
    let mut params = TlsParams::default();
    let rest = ["postgres://", "postgresql://"]
        .iter()
        .find(|prefix| conn.starts_with(**prefix))
        .map(|prefix| take_from_url(conn, prefix.len(), &mut params))
        .or_else(|| take_from_pairs(conn, &mut params));
    match rest {
        Some(rest) => (rest, params),
        None => (conn.to_owned(), TlsParams::default()),
    }
}

/// The query of a URL, split as tokio-postgres splits it: the credentials end at the first
/// `@`, the query starts at the next `?`, pairs are separated by `&`.
fn take_from_url(url: &str, after_scheme: usize, params: &mut TlsParams) -> String {
    let rest = &url[after_scheme..];
    let credentials = rest.find('@').map_or(0, |at| at + 1);
    let Some(question) = rest[credentials..].find('?') else {
        return url.to_owned();
    };
    let query_at = after_scheme + credentials + question;
    let kept: Vec<&str> = url[query_at + 1..]
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            !params.take(&percent_decode(key), || percent_decode(value))
        })
        .collect();
    let mut out = url[..query_at].to_owned();
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    out
}

/// A `key=value` connection string, tokenized as tokio-postgres does (values bare or in
/// single quotes, backslash escapes); our pairs are cut out, the rest is kept verbatim.
fn take_from_pairs(conn: &str, params: &mut TlsParams) -> Option<String> {
    let mut cursor = Cursor { s: conn, at: 0 };
    let mut out = String::new();
    let mut copied = 0;
    loop {
        cursor.skip_while(char::is_whitespace);
        let start = cursor.at;
        let keyword = cursor.skip_while(|c| !c.is_whitespace() && c != '=');
        if keyword.is_empty() {
            break;
        }
        cursor.skip_while(char::is_whitespace);
        if !cursor.eat('=') {
            return None;
        }
        cursor.skip_while(char::is_whitespace);
        let value = cursor.value()?;
        if params.take(keyword, || value) {
            out.push_str(&conn[copied..start]);
            copied = cursor.at;
        }
    }
    out.push_str(&conn[copied..]);
    Some(out)
}

struct Cursor<'a> {
    s: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.s[self.at..].chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, want: char) -> bool {
        let found = self.peek() == Some(want);
        if found {
            self.next();
        }
        found
    }

    fn skip_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let start = self.at;
        while self.peek().is_some_and(&keep) {
            self.next();
        }
        &self.s[start..self.at]
    }

    /// A value, unescaped; `None` when tokio-postgres would reject it (empty, unterminated).
    fn value(&mut self) -> Option<String> {
        let quoted = self.eat('\'');
        let mut value = String::new();
        loop {
            match self.peek() {
                Some('\'') if quoted => {
                    self.next();
                    return Some(value);
                }
                Some(c) if !quoted && c.is_whitespace() => break,
                None if quoted => return None,
                None => break,
                Some(_) => match self.next()? {
                    '\\' => value.extend(self.next()),
                    c => value.push(c),
                },
            }
        }
        (!value.is_empty()).then_some(value)
    }
}

/// `%XX` escapes decoded; anything malformed kept as written.
fn percent_decode(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let byte = text.as_bytes()[i];
        let escaped = (byte == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                i += 3;
            }
            None => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use postgres::Config;

    use super::*;

    #[test]
    fn a_url_loses_only_the_tls_parameters() {
        let (rest, found) = take_tls_params(
            "postgres://u:p%3Fw@db.example:6432/saker?sslmode=verify-full&connect_timeout=3\
             &sslrootcert=%2Fetc%2Fca%20bundle.pem&application_name=saker",
        );
        assert_eq!(
            rest,
            "postgres://u:p%3Fw@db.example:6432/saker?connect_timeout=3&application_name=saker"
        );
        assert_eq!(
            found,
            TlsParams::of(Some("verify-full"), Some("/etc/ca bundle.pem"))
        );
        let config: Config = rest.parse().unwrap();
        assert_eq!(config.get_password(), Some(&b"p?w"[..]));
    }

    #[test]
    fn a_url_with_only_tls_parameters_keeps_no_query() {
        let (rest, found) = take_tls_params("postgresql://h/db?sslmode=require&sslrootcert=ca.pem");
        assert_eq!(rest, "postgresql://h/db");
        assert_eq!(found, TlsParams::of(Some("require"), Some("ca.pem")));
        let (rest, found) = take_tls_params("postgresql://u@h:5432/db");
        assert_eq!(rest, "postgresql://u@h:5432/db");
        assert_eq!(found, TlsParams::default());
    }

    #[test]
    fn a_question_mark_in_the_credentials_is_not_the_query() {
        let (rest, found) = take_tls_params("postgres://u:a?b@h/db?sslmode=disable");
        assert_eq!(rest, "postgres://u:a?b@h/db");
        assert_eq!(found, TlsParams::of(Some("disable"), None));
    }

    #[test]
    fn key_value_strings_lose_only_the_tls_pairs() {
        let (rest, found) = take_tls_params(
            "host=h sslrootcert = '/etc/my ca\\'s.pem' user=u sslmode=verify-ca \
             password='a b' dbname=saker",
        );
        assert_eq!(
            found,
            TlsParams::of(Some("verify-ca"), Some("/etc/my ca's.pem"))
        );
        let config: Config = rest.parse().unwrap();
        assert_eq!(config.get_user(), Some("u"));
        assert_eq!(config.get_password(), Some(&b"a b"[..]));
        assert_eq!(config.get_dbname(), Some("saker"));
    }

    #[test]
    fn a_malformed_key_value_string_is_left_to_the_driver() {
        let conn = "host=h sslmode='verify-full";
        let (rest, found) = take_tls_params(conn);
        assert_eq!(rest, conn);
        assert_eq!(found, TlsParams::default());
        assert!(rest.parse::<Config>().is_err());
    }

    #[test]
    fn percent_escapes_decode_and_malformed_ones_stay() {
        assert_eq!(percent_decode("a%2Fb%20c"), "a/b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%C3%A9t%C3%A9"), "été");
    }
}
