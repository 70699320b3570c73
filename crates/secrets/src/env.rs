//! The env backend, Kestra's open-source mode (seed 002), and the `envs` template map.
//!
//! Secrets are environment variables `SECRET_<KEY>` whose values are base64 (line breaks and
//! other whitespace tolerated, padding optional); `secret('MYPASSWORD')` finds
//! `SECRET_MYPASSWORD`. Keys are matched case-insensitively, as Kestra does (it upper-cases
//! both sides); the `SECRET_` prefix itself is case-sensitive, also as in Kestra. The
//! backend is read-only and namespace-independent: every namespace and tenant sees every
//! env secret.
//!
//! A variable that cannot be used (not base64, not UTF-8 once decoded, empty, or two
//! variables naming the same key) makes that secret absent and yields an [`EnvWarning`]
//! naming the variable, never its value, for the caller to print at start-up.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use zeroize::Zeroizing;

use crate::metadata::SecretMetadata;
use crate::namespace::{Namespace, check_secret_key};
use crate::store::{Capabilities, Lookup, Operation, SecretStore, StoreError};
use crate::value::SecretValue;

/// Prefix of secret variables.
pub const SECRET_ENV_PREFIX: &str = "SECRET_";

/// Default of `variables.env-vars-prefix`.
pub const DEFAULT_ENV_VARS_PREFIX: &str = "ENV_";

/// Variables that never appear in `envs`, whatever the configured prefix (compared
/// case-insensitively): secrets, Saker's own configuration, and Kestra's, since Saker reads
/// Kestra configuration too and `KESTRA_CONFIGURATION` can hold a whole config file.
pub const RESERVED_ENV_PREFIXES: [&str; 3] = [SECRET_ENV_PREFIX, "SAKER_", "KESTRA_"];

/// What a refused write is told to do instead.
pub const READ_ONLY_HINT: &str = "set SECRET_<KEY> in the server's environment instead";

/// Lenient base64 as operators write it by hand: padding optional, stray trailing bits
/// ignored. The URL-safe alphabet is accepted as a fallback.
const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Why a `SECRET_` variable was ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvProblem {
    /// The variable's name or value is not valid Unicode.
    NotUnicode,
    /// Nothing follows `SECRET_`.
    NoKey,
    /// The key breaks the naming rules.
    InvalidKey,
    /// The value is not base64.
    NotBase64,
    /// The value decodes to bytes that are not UTF-8 text.
    DecodedNotUtf8,
    /// The value is empty (or decodes to nothing).
    Empty,
    /// Another variable names the same key in another case.
    SameKeyAs(String),
}

impl fmt::Display for EnvProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvProblem::NotUnicode => f.write_str("its name or value is not valid Unicode"),
            EnvProblem::NoKey => f.write_str("it names no key after SECRET_"),
            EnvProblem::InvalidKey => f.write_str(
                "its key may only hold letters, digits, '_', '.' and '-', starting with a \
                 letter, a digit or '_'",
            ),
            EnvProblem::NotBase64 => f.write_str(
                "its value is not valid base64 (encode it with `echo -n VALUE | base64` or \
                 `saker secret encode-env`)",
            ),
            EnvProblem::DecodedNotUtf8 => f.write_str("its value does not decode to UTF-8 text"),
            EnvProblem::Empty => f.write_str("its value is empty"),
            EnvProblem::SameKeyAs(other) => write!(
                f,
                "{other} names the same secret (keys are case-insensitive); neither is used"
            ),
        }
    }
}

/// A `SECRET_` variable that was ignored. Names the variable only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {variable} is ignored: {problem}")]
pub struct EnvWarning {
    /// The variable's name.
    pub variable: String,
    /// What is wrong with it.
    pub problem: EnvProblem,
}

/// The env secret backend: an immutable snapshot taken at start-up.
pub struct EnvSecretStore {
    /// Keyed by upper-cased key.
    secrets: BTreeMap<String, SecretValue>,
    warnings: Vec<EnvWarning>,
}

impl EnvSecretStore {
    /// Builds the store from `(name, value)` pairs; variables without the `SECRET_` prefix
    /// are ignored. Tests pass their own pairs; the server passes the process environment
    /// through [`EnvSecretStore::from_process_env`].
    pub fn from_vars<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let mut warnings = Vec::new();
        // Upper-cased key -> every (variable name, raw value) naming it.
        let mut by_key: BTreeMap<String, Vec<(String, Zeroizing<String>)>> = BTreeMap::new();
        for (name, value) in vars {
            let name_lossy = name.as_ref().to_string_lossy();
            if !name_lossy.starts_with(SECRET_ENV_PREFIX) {
                continue;
            }
            let (Some(name), Some(value)) = (name.as_ref().to_str(), value.as_ref().to_str())
            else {
                warnings.push(warn(&name_lossy, EnvProblem::NotUnicode));
                continue;
            };
            let key = name[SECRET_ENV_PREFIX.len()..].to_ascii_uppercase();
            if key.is_empty() {
                warnings.push(warn(name, EnvProblem::NoKey));
            } else if check_secret_key(&key).is_err() {
                warnings.push(warn(name, EnvProblem::InvalidKey));
            } else {
                by_key
                    .entry(key)
                    .or_default()
                    .push((name.to_owned(), Zeroizing::new(value.to_owned())));
            }
        }

        let mut secrets = BTreeMap::new();
        for (key, mut named) in by_key {
            named.sort_by(|a, b| a.0.cmp(&b.0));
            if let [first, second, ..] = named.as_slice() {
                for (name, _) in &named {
                    let other = if name == &first.0 {
                        &second.0
                    } else {
                        &first.0
                    };
                    warnings.push(warn(name, EnvProblem::SameKeyAs(other.clone())));
                }
                continue;
            }
            let Some((name, raw)) = named.pop() else {
                continue;
            };
            match decode_value(&raw) {
                Ok(value) => {
                    secrets.insert(key, value);
                }
                Err(problem) => warnings.push(warn(&name, problem)),
            }
        }
        warnings.sort_by(|a, b| a.variable.cmp(&b.variable));
        Self { secrets, warnings }
    }

    /// Builds the store from this process's environment (non-Unicode variables included, as
    /// warnings, rather than the panic `std::env::vars` would raise).
    pub fn from_process_env() -> Self {
        Self::from_vars(std::env::vars_os())
    }

    /// Variables that were ignored, sorted by name, for the caller to print at start-up.
    pub fn warnings(&self) -> &[EnvWarning] {
        &self.warnings
    }

    /// Number of usable secrets.
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// True when no usable secret was found.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    fn metadata_for(key: &str) -> SecretMetadata {
        SecretMetadata::new(key, None)
    }
}

impl fmt::Debug for EnvSecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvSecretStore")
            .field("keys", &self.secrets.keys().collect::<Vec<_>>())
            .field("warnings", &self.warnings.len())
            .finish()
    }
}

impl SecretStore for EnvSecretStore {
    fn backend_name(&self) -> &'static str {
        "env"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::read_only()
    }

    fn get(&self, _tenant: &str, _namespace: &Namespace, key: &str) -> Result<Lookup, StoreError> {
        let key = key.to_ascii_uppercase();
        Ok(match self.secrets.get(&key) {
            Some(value) => Lookup::Found {
                value: value.clone(),
                metadata: Self::metadata_for(&key),
            },
            None => Lookup::Absent,
        })
    }

    fn metadata(
        &self,
        _tenant: &str,
        _namespace: &Namespace,
        key: &str,
    ) -> Result<Option<SecretMetadata>, StoreError> {
        let key = key.to_ascii_uppercase();
        Ok(self
            .secrets
            .contains_key(&key)
            .then(|| Self::metadata_for(&key)))
    }

    fn list(
        &self,
        _tenant: &str,
        _namespace: &Namespace,
    ) -> Result<Vec<SecretMetadata>, StoreError> {
        Ok(self
            .secrets
            .keys()
            .map(|key| Self::metadata_for(key))
            .collect())
    }

    fn refusal(&self, _operation: Operation) -> StoreError {
        StoreError::ReadOnly {
            backend: self.backend_name(),
            hint: READ_ONLY_HINT,
        }
    }
}

/// Decodes a `SECRET_` value: whitespace (line breaks from `base64` without `-w0`) removed,
/// then lenient base64, then UTF-8.
pub(crate) fn decode_value(raw: &str) -> Result<SecretValue, EnvProblem> {
    let compact: Zeroizing<String> =
        Zeroizing::new(raw.chars().filter(|c| !c.is_ascii_whitespace()).collect());
    if compact.is_empty() {
        return Err(EnvProblem::Empty);
    }
    let bytes = STANDARD_LENIENT
        .decode(compact.as_bytes())
        .or_else(|_| URL_SAFE_LENIENT.decode(compact.as_bytes()))
        .map(Zeroizing::new)
        .map_err(|_| EnvProblem::NotBase64)?;
    if bytes.is_empty() {
        return Err(EnvProblem::Empty);
    }
    SecretValue::from_utf8(bytes).map_err(|_| EnvProblem::DecodedNotUtf8)
}

fn warn(variable: &str, problem: EnvProblem) -> EnvWarning {
    EnvWarning {
        variable: variable.to_owned(),
        problem,
    }
}

/// The `envs` map for templates (`{{ envs.my_var }}`): variables whose name starts with
/// `prefix` (Kestra's `variables.env-vars-prefix`, default [`DEFAULT_ENV_VARS_PREFIX`]),
/// prefix stripped, rest lower-cased. Variables matching [`RESERVED_ENV_PREFIXES`] never
/// appear, even with an empty prefix; nor do non-Unicode ones. If two names lower-case to
/// the same entry, the one sorting first by name wins, so the result does not depend on
/// the environment's order.
pub fn envs_map<I, K, V>(vars: I, prefix: &str) -> BTreeMap<String, String>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<OsStr>,
    V: AsRef<OsStr>,
{
    let mut usable: Vec<(String, String)> = vars
        .into_iter()
        .filter_map(|(name, value)| {
            let name = name.as_ref().to_str()?;
            let value = value.as_ref().to_str()?;
            Some((name.to_owned(), value.to_owned()))
        })
        .filter(|(name, _)| !is_reserved(name))
        .filter(|(name, _)| name.starts_with(prefix) && name.len() > prefix.len())
        .collect();
    usable.sort();
    let mut map = BTreeMap::new();
    for (name, value) in usable {
        map.entry(name[prefix.len()..].to_lowercase())
            .or_insert(value);
    }
    map
}

/// [`envs_map`] over this process's environment.
pub fn envs_map_from_process(prefix: &str) -> BTreeMap<String, String> {
    envs_map(std::env::vars_os(), prefix)
}

fn is_reserved(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    RESERVED_ENV_PREFIXES
        .iter()
        .any(|reserved| upper.starts_with(reserved))
}
