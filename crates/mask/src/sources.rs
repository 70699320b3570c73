//! Reading secret values for `saker mask`: from a file (one per line, or a
//! JSON array of strings) and from environment variables holding base64, as
//! the environment secret backend reads them.
//!
//! Errors name the file, the line or the variable, never a value.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use zeroize::Zeroizing;

use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read secrets file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file starts with `[` but is not a JSON array of strings. The
    /// parser's own message is not kept: it can quote the offending value.
    #[error("secrets file {path} is not a JSON array of strings (line {line}, column {column})")]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    #[error("secrets file {path} is not valid UTF-8 JSON")]
    NotUtf8 { path: PathBuf },
    /// Failing rather than skipping: a filter that silently drops a secret
    /// would let it through.
    #[error("environment variable(s) not holding valid base64: {}", names.join(", "))]
    UndecodableEnv { names: Vec<String> },
}

/// Reads secrets from `path`: a JSON array of strings if the file's first
/// non-blank character is `[`, else one secret per line (line ends `\n` or
/// `\r\n` are not part of the secret; empty lines are skipped).
pub fn secrets_from_file(path: &Path) -> Result<Vec<Secret>, SourceError> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|source| SourceError::Read {
        path: path.to_owned(),
        source,
    })?);
    parse_secrets(&bytes).map_err(|e| match e {
        ParseError::Json { line, column } => SourceError::Json {
            path: path.to_owned(),
            line,
            column,
        },
        ParseError::NotUtf8 => SourceError::NotUtf8 {
            path: path.to_owned(),
        },
    })
}

enum ParseError {
    Json { line: usize, column: usize },
    NotUtf8,
}

fn parse_secrets(bytes: &[u8]) -> Result<Vec<Secret>, ParseError> {
    let body = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    if body.trim_ascii_start().first() == Some(&b'[') {
        let text = std::str::from_utf8(body).map_err(|_| ParseError::NotUtf8)?;
        let values: Vec<String> = serde_json::from_str(text).map_err(|e| ParseError::Json {
            line: e.line(),
            column: e.column(),
        })?;
        return Ok(values
            .into_iter()
            .enumerate()
            .map(|(i, v)| Secret::new(format!("item {}", i + 1), v))
            .collect());
    }
    Ok(body
        .split(|&b| b == b'\n')
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            (!line.is_empty()).then(|| Secret::new(format!("line {}", i + 1), line))
        })
        .collect())
}

/// Reads secrets from the environment variables whose name starts with
/// `prefix` (e.g. `SECRET_`); see [`secrets_from_vars`].
pub fn secrets_from_env(prefix: &str) -> Result<Vec<Secret>, SourceError> {
    secrets_from_vars(prefix, std::env::vars_os())
}

/// Decodes the variables of `vars` whose name starts with `prefix`: each
/// value is base64 (standard or URL-safe alphabet, padding optional, line
/// breaks and other whitespace ignored). Secrets are labelled with the
/// variable's name. If any value does not decode, fails naming all such
/// variables.
pub fn secrets_from_vars<I>(prefix: &str, vars: I) -> Result<Vec<Secret>, SourceError>
where
    I: IntoIterator<Item = (OsString, OsString)>,
{
    let mut secrets = Vec::new();
    let mut bad = Vec::new();
    for (name, value) in vars {
        let name = name.to_string_lossy().into_owned();
        if !name.starts_with(prefix) {
            continue;
        }
        let value = Zeroizing::new(value.into_encoded_bytes());
        match decode_base64(&value) {
            Some(decoded) => secrets.push(Secret::new(name, decoded)),
            None => bad.push(name),
        }
    }
    if bad.is_empty() {
        Ok(secrets)
    } else {
        bad.sort();
        Err(SourceError::UndecodableEnv { names: bad })
    }
}

fn decode_base64(value: &[u8]) -> Option<Vec<u8>> {
    let mut compact = Zeroizing::new(Vec::with_capacity(value.len()));
    compact.extend(value.iter().copied().filter(|b| !b.is_ascii_whitespace()));
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let engines = [
        GeneralPurpose::new(&base64::alphabet::STANDARD, config),
        GeneralPurpose::new(&base64::alphabet::URL_SAFE, config),
    ];
    engines.iter().find_map(|e| e.decode(&*compact).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(s: &[Secret]) -> Vec<&[u8]> {
        s.iter().map(Secret::expose).collect()
    }

    #[test]
    fn lines_and_json() {
        let s = parse_secrets(b"first\r\n\nsecond line \nthird").unwrap_or_default();
        assert_eq!(values(&s), [&b"first"[..], b"second line ", b"third"]);
        assert_eq!(s[1].label(), "line 3");

        let s = parse_secrets(b"  [\"a\\nb\", \"c\"]\n").unwrap_or_default();
        assert_eq!(values(&s), [&b"a\nb"[..], b"c"]);
    }

    #[test]
    fn bad_json_reports_position_only() {
        match parse_secrets(b"[\"ok\", 12345678]") {
            Err(ParseError::Json { line, column }) => assert_eq!((line, column), (1, 15)),
            _ => panic!("expected a JSON error"),
        }
    }

    #[test]
    fn env_values_are_base64_with_line_breaks() {
        let vars = [
            ("SECRET_A", "c2VjcmV0LWE="),
            ("SECRET_B", "c2Vj\ncmV0\r\nLWI"),
            ("SECRET_C", "-_8"),
            ("OTHER", "!!!"),
        ]
        .map(|(n, v)| (OsString::from(n), OsString::from(v)));
        let s = secrets_from_vars("SECRET_", vars).unwrap_or_default();
        assert_eq!(values(&s), [&b"secret-a"[..], b"secret-b", &[0xfb, 0xff]]);
        assert_eq!(s[0].label(), "SECRET_A");
    }

    #[test]
    fn undecodable_env_is_named_not_shown() {
        let vars = [("SECRET_BAD", "not base64 at all!"), ("SECRET_OK", "b2s=")]
            .map(|(n, v)| (OsString::from(n), OsString::from(v)));
        let err = secrets_from_vars("SECRET_", vars).err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("SECRET_BAD"), "{msg}");
        assert!(!msg.contains("not base64"), "{msg}");
        assert!(!msg.contains("SECRET_OK"), "{msg}");
    }
}
