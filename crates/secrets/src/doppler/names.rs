//! Saker's tenant, namespace and key as one Doppler secret name. Doppler names hold only
//! upper-case letters, digits and `_`, and do not start with a digit; Saker's hold lower-case
//! letters, `.` and `-` too. The encoding is reversible, so a listing of the config gives back
//! exactly the (tenant, namespace, key) that were written:
//!
//! `<secretNamePrefix><TENANT>__<NAMESPACE>__<KEY>`, each part encoded character by character:
//! - digits as they are; `_` as `_U`, `.` as `_D`, `-` as `_H`;
//! - in the tenant and the namespace (lower case by Saker's rules) a lower-case letter as its
//!   upper case, an upper-case one as `_C` and the letter;
//! - in the key (upper case by convention) an upper-case letter as it is, a lower-case one as
//!   `_L` and its upper case.
//!
//! So `main` / `company.team` / `API_KEY` with prefix `SAKER_` is
//! `SAKER_MAIN__COMPANY_DTEAM__API_UKEY`. Every `_` inside a part starts a two- or
//! three-character escape whose second character is a letter, so `__` only ever separates
//! parts.

/// How letters of a part are written.
#[derive(Clone, Copy)]
enum Case {
    /// Lower case is the plain form (tenant, namespace).
    Lower,
    /// Upper case is the plain form (key).
    Upper,
}

fn encode_part(text: &str, case: Case, out: &mut String) -> Result<(), char> {
    for c in text.chars() {
        match (c, case) {
            ('0'..='9', _) => out.push(c),
            ('_', _) => out.push_str("_U"),
            ('.', _) => out.push_str("_D"),
            ('-', _) => out.push_str("_H"),
            ('a'..='z', Case::Lower) | ('A'..='Z', Case::Upper) => out.push(c.to_ascii_uppercase()),
            ('A'..='Z', Case::Lower) => {
                out.push_str("_C");
                out.push(c);
            }
            ('a'..='z', Case::Upper) => {
                out.push_str("_L");
                out.push(c.to_ascii_uppercase());
            }
            _ => return Err(c),
        }
    }
    Ok(())
}

fn decode_part(text: &str, case: Case) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '0'..='9' => out.push(c),
            'A'..='Z' => out.push(match case {
                Case::Lower => c.to_ascii_lowercase(),
                Case::Upper => c,
            }),
            '_' => match (chars.next()?, case) {
                ('U', _) => out.push('_'),
                ('D', _) => out.push('.'),
                ('H', _) => out.push('-'),
                ('C', Case::Lower) => out.push(chars.next().filter(char::is_ascii_uppercase)?),
                ('L', Case::Upper) => out.push(
                    chars
                        .next()
                        .filter(char::is_ascii_uppercase)?
                        .to_ascii_lowercase(),
                ),
                _ => return None,
            },
            _ => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The Doppler name of `key` in `namespace` of `tenant`; `Err` names the character of the
/// tenant that Doppler cannot hold (namespaces and keys are always encodable).
pub(crate) fn encode(
    prefix: &str,
    tenant: &str,
    namespace: &str,
    key: &str,
) -> Result<String, char> {
    let mut name = String::from(prefix);
    encode_part(tenant, Case::Lower, &mut name)?;
    name.push_str("__");
    encode_part(namespace, Case::Lower, &mut name)?;
    name.push_str("__");
    encode_part(key, Case::Upper, &mut name)?;
    Ok(name)
}

/// The start of every name in `namespace` of `tenant` (for listing).
pub(crate) fn directory(prefix: &str, tenant: &str, namespace: &str) -> Result<String, char> {
    let mut name = String::from(prefix);
    encode_part(tenant, Case::Lower, &mut name)?;
    name.push_str("__");
    encode_part(namespace, Case::Lower, &mut name)?;
    name.push_str("__");
    Ok(name)
}

/// The key a name under `directory` encodes, `None` for names Saker did not write there.
pub(crate) fn key_in(directory: &str, name: &str) -> Option<String> {
    let rest = name.strip_prefix(directory)?;
    if rest.contains("__") {
        return None;
    }
    decode_part(rest, Case::Upper)
}

/// `(tenant, namespace, key)` of a name, for documentation and tests.
#[cfg(test)]
fn decode(prefix: &str, name: &str) -> Option<(String, String, String)> {
    let mut parts = name.strip_prefix(prefix)?.split("__");
    let tenant = decode_part(parts.next()?, Case::Lower)?;
    let namespace = decode_part(parts.next()?, Case::Lower)?;
    let key = decode_part(parts.next()?, Case::Upper)?;
    parts.next().is_none().then_some((tenant, namespace, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_documented_example() {
        let name = encode("SAKER_", "main", "company.team", "API_KEY").unwrap();
        assert_eq!(name, "SAKER_MAIN__COMPANY_DTEAM__API_UKEY");
        assert_eq!(
            key_in(&directory("SAKER_", "main", "company.team").unwrap(), &name).as_deref(),
            Some("API_KEY")
        );
        assert_eq!(
            encode("", "Main", "a-b", "db.x").unwrap(),
            "_CMAIN__A_HB___LD_LB_D_LX"
        );
        // A child namespace's names are not the parent's.
        let child = encode("", "main", "company.team.x", "K").unwrap();
        assert_eq!(
            key_in(&directory("", "main", "company.team").unwrap(), &child),
            None
        );
    }

    proptest! {
        #[test]
        fn names_round_trip_within_dopplers_rules(
            tenant in "[a-zA-Z0-9_-]{1,12}",
            namespace in "[a-z0-9][a-z0-9_-]{0,6}(\\.[a-z0-9][a-z0-9_-]{0,6}){0,3}",
            key in "[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}",
        ) {
            let name = encode("P_", &tenant, &namespace, &key).unwrap();
            prop_assert!(name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'));
            prop_assert_eq!(decode("P_", &name), Some((tenant, namespace, key)));
        }
    }
}
