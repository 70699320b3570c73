//! Random identifiers and secrets from the operating system's generator.

use crate::error::{AuthError, Result};

/// `n` random bytes as lowercase hex (`2 * n` characters).
pub(crate) fn hex(n: usize) -> Result<String> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|_| AuthError::Random)?;
    let text = hex::encode(&buf);
    zeroize::Zeroize::zeroize(&mut buf);
    Ok(text)
}

/// A random identifier (128 bits, hex).
pub(crate) fn id() -> Result<String> {
    hex(16)
}
