//! Reading configuration text without ever repeating it: serde messages stripped of the
//! input they quote, secret strings wiped when dropped, and one backend section read with
//! errors named by their full key (`secret.vault.app-role.role-id`).

use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

use super::ConfigError;

/// Rewrites serde messages that quote the offending input (`invalid type: string "...",
/// expected ...`) so they keep only what was expected. Field names are kept.
pub(super) fn sanitize(message: &str) -> String {
    for (prefix, replacement) in [
        ("invalid type: ", "wrong type: expected "),
        ("invalid value: ", "invalid value: expected "),
        ("unknown variant ", "unknown value: expected "),
    ] {
        if message.starts_with(prefix) {
            return match message.rfind(", expected ") {
                Some(at) => {
                    let expected = match &message[at + ", expected ".len()..] {
                        "u64" | "u32" => "a whole number, 0 or more",
                        other => other,
                    };
                    format!("{replacement}{expected}")
                }
                None => "this value is not accepted here".to_owned(),
            };
        }
    }
    message.to_owned()
}

/// A passphrase, key or token straight from configuration, wiped when dropped.
pub(crate) struct SecretText(pub(crate) Zeroizing<String>);

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|text| SecretText(Zeroizing::new(text)))
    }
}

/// Reads one backend's section, errors named `{section}.{path}` and free of input values.
#[cfg_attr(not(feature = "remote"), allow(dead_code))]
pub(crate) fn deserialize_section<T: serde::de::DeserializeOwned>(
    section: &str,
    value: serde_json::Value,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let key = if path == "." {
            section.to_owned()
        } else {
            format!("{section}.{path}")
        };
        ConfigError::new(&key, sanitize(&err.into_inner().to_string()))
    })
}

/// [`deserialize_section`] of a section that may be absent (`null`: the defaults).
#[cfg(any(
    feature = "elasticsearch",
    feature = "onepassword",
    feature = "doppler"
))]
pub(crate) fn read_section<T: serde::de::DeserializeOwned + Default>(
    section: &str,
    value: &serde_json::Value,
) -> Result<T, ConfigError> {
    if value.is_null() {
        return Ok(T::default());
    }
    deserialize_section(section, value.clone())
}
