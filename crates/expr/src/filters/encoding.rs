//! Encodings and digests: base64, URL encoding (Java's `URLEncoder`/`URLDecoder`), SHA and MD5.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::Digest as _;

use super::{Args, Filter, text};
use crate::error::ErrorKind;
use crate::value::Value;

pub(super) fn apply(f: Filter, input: &Value, a: &Args<'_>) -> Result<Value, ErrorKind> {
    if input.is_null() {
        return Ok(Value::null());
    }
    let s = text(input);
    let bytes = s.as_bytes();
    let out = match f {
        Filter::Base64Encode => STANDARD.encode(bytes),
        Filter::Base64Decode => {
            let raw = STANDARD
                .decode(s.trim())
                .map_err(|_| a.fail("the input is not valid base64"))?;
            String::from_utf8_lossy(&raw).into_owned()
        }
        Filter::UrlEncode => url_encode(&s),
        Filter::UrlDecode => {
            url_decode(&s).ok_or_else(|| a.fail("the input is not valid URL encoding"))?
        }
        Filter::Sha1 => hex(&sha1::Sha1::digest(bytes)),
        Filter::Sha256 => hex(&sha2::Sha256::digest(bytes)),
        Filter::Sha512 => hex(&sha2::Sha512::digest(bytes)),
        _ => hex(&md5::Md5::digest(bytes)),
    };
    Ok(Value::string(out))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// `URLEncoder.encode(s, UTF_8)`: letters, digits and `.-*_` stay, space becomes `+`, every
/// other byte `%XX`.
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(DIGITS[usize::from(b >> 4)]));
                out.push(char::from(DIGITS[usize::from(b & 15)]));
            }
        }
    }
    out
}

/// `URLDecoder.decode(s, UTF_8)`: `+` is a space, `%XX` a byte; a malformed escape fails.
pub(crate) fn url_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoding_is_javas() {
        assert_eq!(url_encode("a b&c=d/é*"), "a+b%26c%3Dd%2F%C3%A9*");
        assert_eq!(
            url_decode("a+b%26c%3Dd%2F%C3%A9*").as_deref(),
            Some("a b&c=d/é*")
        );
        assert_eq!(url_decode("%zz"), None);
        assert_eq!(url_decode("%4"), None);
    }

    #[test]
    fn digests_are_lowercase_hex() {
        assert_eq!(
            hex(&md5::Md5::digest(b"")),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(
            hex(&sha2::Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
