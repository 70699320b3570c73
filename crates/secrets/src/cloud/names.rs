//! Saker's tenant, namespace and key as one cloud secret name, reversibly: Google allows
//! `[A-Za-z0-9_-]` (255 characters), Azure `[A-Za-z0-9-]` (127) and compares names without
//! regard to case. Each part is encoded on its own and the parts are joined by `--`:
//!
//! - letters and digits stay (and `_` where the service allows it);
//! - any other byte is `-` and its two lower-case hex digits (`.` is `-2e`, `-` is `-2d`);
//! - for a case-blind service (Azure) letters are written in lower case and `-u` switches
//!   between lower and upper case (every part starts in lower case), so `API_KEY` is
//!   `-uapi-5fkey` and cannot meet `api_key` (`api-5fkey`).
//!
//! Inside a part `-` is always followed by a hex digit or `u`, never by `-`, so the `--`
//! between parts is unambiguous; a configured prefix comes first, followed by `--`. A name
//! decodes only when encoding its decoding gives it back, so two names never claim the same
//! secret.

use std::fmt::Write;

/// One service's rules.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NameRules {
    /// Whether `_` may stay as is.
    pub underscore: bool,
    /// Whether the service compares names without regard to case.
    pub case_blind: bool,
    /// Longest name the service accepts.
    pub max_len: usize,
}

pub(crate) const SEPARATOR: &str = "--";

fn encode_part(rules: NameRules, part: &str, out: &mut String) {
    let mut upper = false;
    for byte in part.bytes() {
        let c = byte as char;
        if c.is_ascii_alphabetic() && rules.case_blind {
            if c.is_ascii_uppercase() != upper {
                upper = !upper;
                out.push_str("-u");
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() || (c == '_' && rules.underscore) {
            out.push(c);
        } else {
            let _ = write!(out, "-{byte:02x}");
        }
    }
}

/// The name of `parts` under `prefix`, or why it cannot be one (too long).
pub(crate) fn encode(
    rules: NameRules,
    prefix: Option<&str>,
    parts: &[&str],
) -> Result<String, String> {
    let mut name = String::new();
    if let Some(prefix) = prefix {
        name.push_str(prefix);
        name.push_str(SEPARATOR);
    }
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            name.push_str(SEPARATOR);
        }
        encode_part(rules, part, &mut name);
    }
    if name.len() > rules.max_len {
        return Err(format!(
            "its encoded name is {} characters long, more than the {} the service allows: \
             use a shorter prefix, namespace or key",
            name.len(),
            rules.max_len
        ));
    }
    Ok(name)
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn decode_parts(rules: NameRules, text: &str) -> Option<Vec<String>> {
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    let mut part = Vec::new();
    let mut upper = false;
    let mut at = 0;
    while at < bytes.len() {
        let c = bytes[at];
        if c != b'-' {
            let c = if rules.case_blind {
                c.to_ascii_lowercase()
            } else {
                c
            };
            part.push(if upper { c.to_ascii_uppercase() } else { c });
            at += 1;
            continue;
        }
        match bytes.get(at + 1).map(|b| b.to_ascii_lowercase()) {
            Some(b'-') => {
                parts.push(String::from_utf8(std::mem::take(&mut part)).ok()?);
                upper = false;
                at += 2;
            }
            Some(b'u') if rules.case_blind => {
                upper = !upper;
                at += 2;
            }
            Some(high) => {
                let low = bytes.get(at + 2)?.to_ascii_lowercase();
                part.push(hex(high)? * 16 + hex(low)?);
                at += 3;
            }
            None => return None,
        }
    }
    parts.push(String::from_utf8(part).ok()?);
    Some(parts)
}

/// The parts `name` encodes under `prefix`, `None` when it is not a name Saker writes.
pub(crate) fn decode(rules: NameRules, prefix: Option<&str>, name: &str) -> Option<Vec<String>> {
    let rest = match prefix {
        Some(prefix) => {
            let head = format!("{prefix}{SEPARATOR}");
            let matches = if rules.case_blind {
                name.len() >= head.len()
                    && name.is_char_boundary(head.len())
                    && name[..head.len()].eq_ignore_ascii_case(&head)
            } else {
                name.starts_with(&head)
            };
            if !matches {
                return None;
            }
            &name[head.len()..]
        }
        None => name,
    };
    let parts = decode_parts(rules, rest)?;
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    let again = encode(rules, None, &refs).ok()?;
    let canonical = if rules.case_blind {
        again.eq_ignore_ascii_case(rest)
    } else {
        again == rest
    };
    canonical.then_some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GCP: NameRules = NameRules {
        underscore: true,
        case_blind: false,
        max_len: 255,
    };
    const AZURE: NameRules = NameRules {
        underscore: false,
        case_blind: true,
        max_len: 127,
    };

    #[test]
    fn examples_of_each_service() {
        assert_eq!(
            encode(GCP, Some("saker"), &["main", "company.team", "API_KEY"]).unwrap(),
            "saker--main--company-2eteam--API_KEY"
        );
        assert_eq!(
            encode(AZURE, Some("saker"), &["main", "company.team", "API_KEY"]).unwrap(),
            "saker--main--company-2eteam---uapi-5fkey"
        );
        assert_eq!(
            encode(AZURE, None, &["main", "a-b", "Db.Pass"]).unwrap(),
            "main--a-2db---ud-ub-2e-up-uass"
        );
    }

    #[test]
    fn round_trips_and_no_collisions() {
        let keys = [
            "API_KEY", "api_key", "Api_Key", "a-b", "a--b", "a.b", "a_b", "A", "a", "x-2e", "x.2e",
            "-u", "_", "9", "AbC", "aBc", "ABC", "abc", "a-u", "u",
        ];
        let namespaces = ["company", "company.team", "a-b_c.d9", "a", "a.b", "a-2e"];
        for rules in [GCP, AZURE] {
            let mut seen = std::collections::HashMap::new();
            for ns in namespaces {
                for key in keys {
                    let name = encode(rules, Some("p-x"), &["main", ns, key]).unwrap();
                    assert!(name.len() <= rules.max_len);
                    assert!(name.chars().all(|c| c.is_ascii_alphanumeric()
                        || c == '-'
                        || (c == '_' && rules.underscore)));
                    let folded = if rules.case_blind {
                        name.to_ascii_lowercase()
                    } else {
                        name.clone()
                    };
                    if let Some(other) = seen.insert(folded, (ns, key)) {
                        panic!("{ns}/{key} and {other:?} share the name {name}");
                    }
                    let back = decode(rules, Some("p-x"), &name).unwrap();
                    assert_eq!(back, ["main", ns, key], "{name}");
                    if rules.case_blind {
                        let back = decode(rules, Some("P-X"), &name.to_ascii_uppercase());
                        assert_eq!(back.unwrap(), ["main", ns, key], "{name}");
                    }
                }
            }
        }
    }

    #[test]
    fn foreign_and_non_canonical_names_do_not_decode() {
        assert_eq!(decode(GCP, Some("saker"), "other--main--x--K"), None);
        assert_eq!(decode(GCP, None, "main--x--K-"), None);
        assert_eq!(decode(GCP, None, "main--x--K-zz"), None);
        // `-41` is an `A` written the long way: not a name Saker writes.
        assert_eq!(decode(GCP, None, "main--x---41"), None);
        assert_eq!(decode(AZURE, None, "main--x---u-ua"), None);
        assert_eq!(decode(GCP, None, "main--x--K").unwrap(), ["main", "x", "K"]);
    }

    #[test]
    fn too_long_names_say_so() {
        let key = "K".repeat(200);
        let err = encode(AZURE, None, &["main", "company", &key]).unwrap_err();
        assert!(err.contains("127"), "{err}");
        assert!(encode(GCP, None, &["main", "company", &key]).is_ok());
    }
}
