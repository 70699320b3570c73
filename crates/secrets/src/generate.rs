//! Random secret values for `saker secret generate`: uniform over a character set, drawn from
//! the operating system's generator by rejection sampling (no modulo bias).

use std::fmt;
use std::str::FromStr;

use zeroize::Zeroizing;

use crate::value::SecretValue;

/// Shortest value `generate` makes: shorter values are guessable and, below 4 characters,
/// too short for masking to catch as a substring.
pub const MIN_LENGTH: usize = 8;

/// Longest value `generate` makes.
pub const MAX_LENGTH: usize = 4096;

/// The characters a generated value is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// `A-Z a-z 0-9`.
    Alnum,
    /// `0-9 a-f`.
    Hex,
    /// The base64 alphabet `A-Z a-z 0-9 + /`, without padding.
    Base64,
    /// Printable ASCII without space (`!` to `~`).
    Ascii,
}

impl Charset {
    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Charset::Alnum => "alnum",
            Charset::Hex => "hex",
            Charset::Base64 => "base64",
            Charset::Ascii => "ascii",
        }
    }

    fn alphabet(self) -> Vec<u8> {
        const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        match self {
            Charset::Alnum => ALNUM.to_vec(),
            Charset::Hex => b"0123456789abcdef".to_vec(),
            Charset::Base64 => [ALNUM, b"+/"].concat(),
            Charset::Ascii => (b'!'..=b'~').collect(),
        }
    }
}

impl fmt::Display for Charset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A character set name that is none of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown character set: use alnum, hex, base64 or ascii")]
pub struct UnknownCharset;

impl FromStr for Charset {
    type Err = UnknownCharset;
    fn from_str(text: &str) -> Result<Self, UnknownCharset> {
        [
            Charset::Alnum,
            Charset::Hex,
            Charset::Base64,
            Charset::Ascii,
        ]
        .into_iter()
        .find(|charset| charset.as_str().eq_ignore_ascii_case(text.trim()))
        .ok_or(UnknownCharset)
    }
}

/// A length outside [`MIN_LENGTH`]..=[`MAX_LENGTH`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a generated secret must be {MIN_LENGTH} to {MAX_LENGTH} characters long, not {0}")]
pub struct BadLength(pub usize);

/// A random value of `length` characters from `charset`.
///
/// # Panics
/// If the operating system's random generator fails: no value can be made safely then.
pub fn generate_value(length: usize, charset: Charset) -> Result<SecretValue, BadLength> {
    if !(MIN_LENGTH..=MAX_LENGTH).contains(&length) {
        return Err(BadLength(length));
    }
    let alphabet = charset.alphabet();
    // The largest multiple of the alphabet's size that fits in a byte: bytes at or above it
    // are drawn again, so every character is equally likely.
    let limit = 256 - (256 % alphabet.len());
    let mut out = Zeroizing::new(String::with_capacity(length));
    let mut pool = Zeroizing::new(vec![0u8; 64]);
    while out.len() < length {
        if let Err(err) = getrandom::fill(&mut pool) {
            panic!("the operating system's random number generator failed: {err}");
        }
        for &byte in pool.iter() {
            if usize::from(byte) < limit && out.len() < length {
                out.push(char::from(alphabet[usize::from(byte) % alphabet.len()]));
            }
        }
    }
    Ok(SecretValue::new(std::mem::take(&mut *out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_have_the_length_and_alphabet_asked_for() {
        for charset in [
            Charset::Alnum,
            Charset::Hex,
            Charset::Base64,
            Charset::Ascii,
        ] {
            let alphabet = charset.alphabet();
            let value = generate_value(40, charset).unwrap();
            assert_eq!(value.len(), 40);
            assert!(
                value.expose().bytes().all(|b| alphabet.contains(&b)),
                "{charset}"
            );
        }
        assert_eq!(Charset::Ascii.alphabet().len(), 94);
        assert_eq!(Charset::Base64.alphabet().len(), 64);
    }

    #[test]
    fn values_differ() {
        let a = generate_value(32, Charset::Alnum).unwrap();
        let b = generate_value(32, Charset::Alnum).unwrap();
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn every_hex_digit_shows_up() {
        let value = generate_value(MAX_LENGTH, Charset::Hex).unwrap();
        for digit in "0123456789abcdef".chars() {
            assert!(value.expose().contains(digit), "{digit}");
        }
    }

    #[test]
    fn lengths_and_names_are_checked() {
        assert_eq!(generate_value(3, Charset::Hex).unwrap_err(), BadLength(3));
        assert!(generate_value(MAX_LENGTH + 1, Charset::Hex).is_err());
        assert_eq!("HEX".parse(), Ok(Charset::Hex));
        assert_eq!("emoji".parse::<Charset>(), Err(UnknownCharset));
    }
}
