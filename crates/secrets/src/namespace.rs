//! Namespaces, the inheritance chain, and which namespaces a flow may read secrets from.
//!
//! # The rule for `secret('X')` and `secret('X', namespace='N')`
//!
//! Secrets are scoped to a tenant and a namespace; lookups never cross tenants. For a flow in
//! namespace `F`:
//!
//! * `secret('X')` looks in `F`, then each parent of `F` up to the root
//!   (`company.team.project`, `company.team`, `company`); the first (lowest) namespace that
//!   holds `X` wins.
//! * `secret('X', namespace='N')` is allowed when `N` is `F` itself or an ancestor of `F`:
//!   `F` inherits those secrets anyway, so naming `N` only pins where the lookup starts.
//! * Any other `N` (a child of `F`, a sibling, an unrelated namespace) is allowed only when
//!   configuration grants it explicitly: an entry of `secret.namespace-grants` whose
//!   `namespace` is `N` and whose `flows` lists `F` or an ancestor of `F`. A parent flow does
//!   not see its children's secrets, because children are where narrower secrets belong
//!   (seed 000: store secrets at the lowest namespace level necessary).
//! * An allowed lookup in `N` walks `N` and its parents, skipping every namespace that `F`
//!   could not name itself. So a grant of `shared.db` does not open `shared`'s own secrets.
//!
//! Denied lookups fail with [`AccessDenied`]; the caller audits them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest namespace accepted, as in Kestra and `saker-model`.
pub const MAX_NAMESPACE_LEN: usize = 150;

/// Longest secret key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// A namespace or key name that breaks the naming rules. Messages name the rule and at most
/// one offending character.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty name.
    #[error("{what} must not be empty")]
    Empty {
        /// `"namespace"` or `"secret key"`.
        what: &'static str,
    },
    /// Too long.
    #[error("{what} is {len} characters long, at most {max} are allowed")]
    TooLong {
        /// `"namespace"` or `"secret key"`.
        what: &'static str,
        /// Length found.
        len: usize,
        /// Maximum.
        max: usize,
    },
    /// A character outside the allowed set, or in a position where it is not allowed.
    #[error("{what} {rule}; found '{found}'")]
    BadChar {
        /// `"namespace"` or `"secret key"`.
        what: &'static str,
        /// The rule that was broken.
        rule: &'static str,
        /// The offending character.
        found: char,
    },
    /// `a..b`, `a.`, `.a`.
    #[error(
        "namespace has an empty segment: segments are separated by single dots and none may \
         be empty"
    )]
    EmptySegment,
}

/// A validated namespace: dot-separated, non-empty segments of `[a-z0-9._-]`, starting with
/// a lower-case letter or digit, at most 150 characters (the rules of `saker-model`, which are
/// Kestra's without empty segments).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Namespace(String);

impl Namespace {
    /// Validates and wraps a namespace.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        const WHAT: &str = "namespace";
        let mut chars = text.chars();
        let first = chars.next().ok_or(NameError::Empty { what: WHAT })?;
        let lower_or_digit = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
        if !lower_or_digit(first) {
            return Err(NameError::BadChar {
                what: WHAT,
                rule: "must start with a lower-case letter or a digit",
                found: first,
            });
        }
        if let Some(bad) = chars.find(|&c| !(lower_or_digit(c) || "._-".contains(c))) {
            return Err(NameError::BadChar {
                what: WHAT,
                rule: "may only hold lower-case letters, digits, '.', '_' and '-'",
                found: bad,
            });
        }
        let len = text.chars().count();
        if len > MAX_NAMESPACE_LEN {
            return Err(NameError::TooLong {
                what: WHAT,
                len,
                max: MAX_NAMESPACE_LEN,
            });
        }
        if text.split('.').any(str::is_empty) {
            return Err(NameError::EmptySegment);
        }
        Ok(Self(text.to_owned()))
    }

    /// The namespace as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parent namespace (`company.team` for `company.team.project`), `None` at the root.
    pub fn parent(&self) -> Option<Namespace> {
        self.0.rfind('.').map(|dot| Self(self.0[..dot].to_owned()))
    }

    /// This namespace and its parents, nearest first:
    /// `company.team.project` → `[company.team.project, company.team, company]`.
    pub fn chain(&self) -> Vec<Namespace> {
        let mut chain = vec![self.clone()];
        while let Some(parent) = chain.last().and_then(Namespace::parent) {
            chain.push(parent);
        }
        chain
    }

    /// True when `self` is a strict ancestor of `other` (`company` of `company.team`, but not
    /// of `company2` or of itself).
    pub fn is_ancestor_of(&self, other: &Namespace) -> bool {
        other.0.len() > self.0.len()
            && other.0.starts_with(&self.0)
            && other.0.as_bytes()[self.0.len()] == b'.'
    }

    /// True when `self` is `other` or one of its ancestors.
    pub fn is_self_or_ancestor_of(&self, other: &Namespace) -> bool {
        self == other || self.is_ancestor_of(other)
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Namespace({})", self.0)
    }
}

impl TryFrom<String> for Namespace {
    type Error = NameError;
    fn try_from(text: String) -> Result<Self, NameError> {
        Self::parse(&text)
    }
}

impl From<Namespace> for String {
    fn from(namespace: Namespace) -> String {
        namespace.0
    }
}

impl std::str::FromStr for Namespace {
    type Err = NameError;
    fn from_str(text: &str) -> Result<Self, NameError> {
        Self::parse(text)
    }
}

/// Checks a secret key: letters, digits, `_`, `.` and `-`, starting with a letter, digit or
/// `_`, at most 255 characters. Keys meant for the env backend should stick to letters,
/// digits and `_`, which every environment can hold.
pub fn check_secret_key(key: &str) -> Result<(), NameError> {
    const WHAT: &str = "secret key";
    let mut chars = key.chars();
    let first = chars.next().ok_or(NameError::Empty { what: WHAT })?;
    if !(first.is_ascii_alphanumeric() || first == '_') {
        return Err(NameError::BadChar {
            what: WHAT,
            rule: "must start with a letter, a digit or '_'",
            found: first,
        });
    }
    if let Some(bad) = chars.find(|&c| !(c.is_ascii_alphanumeric() || "_.-".contains(c))) {
        return Err(NameError::BadChar {
            what: WHAT,
            rule: "may only hold letters, digits, '_', '.' and '-'",
            found: bad,
        });
    }
    let len = key.chars().count();
    if len > MAX_KEY_LEN {
        return Err(NameError::TooLong {
            what: WHAT,
            len,
            max: MAX_KEY_LEN,
        });
    }
    Ok(())
}

/// A secret was found in no namespace of the chain. Its message is exactly
/// `secret 'X' not found in company.team.project, company.team, company`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secret '{key}' not found in {}", join(.searched))]
pub struct SecretNotFound {
    /// The key looked up.
    pub key: String,
    /// The namespaces searched, nearest first.
    pub searched: Vec<Namespace>,
}

fn join(namespaces: &[Namespace]) -> String {
    let names: Vec<&str> = namespaces.iter().map(Namespace::as_str).collect();
    names.join(", ")
}

/// Configuration entry (`secret.namespace-grants`) letting flows outside a namespace's
/// subtree name it in `secret('X', namespace='…')`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a map with `namespace` and `flows`")]
pub struct NamespaceGrant {
    /// The namespace whose secrets become readable.
    pub namespace: Namespace,
    /// Flows in these namespaces, or below them, may read it.
    pub flows: Vec<Namespace>,
}

/// A flow named a namespace it may not read secrets from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a flow in {flow_namespace} may not read secrets of {requested}: secret(..., namespace=...) \
     may name the flow's own namespace or its ancestors, or a namespace that \
     secret.namespace-grants grants to it"
)]
pub struct AccessDenied {
    /// The calling flow's namespace.
    pub flow_namespace: Namespace,
    /// The namespace it named.
    pub requested: Namespace,
}

/// Applies the rule in the module documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceAccess {
    grants: Vec<NamespaceGrant>,
}

impl NamespaceAccess {
    /// The rule with these configured grants (none: only ancestors may be named).
    pub fn new(grants: Vec<NamespaceGrant>) -> Self {
        Self { grants }
    }

    /// Whether a flow in `flow_namespace` may name `requested`.
    pub fn may_name(&self, flow_namespace: &Namespace, requested: &Namespace) -> bool {
        requested.is_self_or_ancestor_of(flow_namespace)
            || self.grants.iter().any(|grant| {
                grant.namespace == *requested
                    && grant
                        .flows
                        .iter()
                        .any(|allowed| allowed.is_self_or_ancestor_of(flow_namespace))
            })
    }

    /// The namespaces to search, nearest first, for a flow in `flow_namespace` calling
    /// `secret('X')` (`requested` = `None`) or `secret('X', namespace=requested)`.
    pub fn lookup_chain(
        &self,
        flow_namespace: &Namespace,
        requested: Option<&Namespace>,
    ) -> Result<Vec<Namespace>, AccessDenied> {
        let Some(requested) = requested else {
            return Ok(flow_namespace.chain());
        };
        if !self.may_name(flow_namespace, requested) {
            return Err(AccessDenied {
                flow_namespace: flow_namespace.clone(),
                requested: requested.clone(),
            });
        }
        Ok(requested
            .chain()
            .into_iter()
            .filter(|namespace| self.may_name(flow_namespace, namespace))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(text: &str) -> Namespace {
        Namespace::parse(text).unwrap()
    }

    #[test]
    fn parse_accepts_and_rejects_like_the_model() {
        for ok in ["io.kestra.tests", "company.team", "a", "a-b_c.d9", "9lives"] {
            assert!(Namespace::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            Namespace::parse(""),
            Err(NameError::Empty { what: "namespace" })
        );
        assert!(
            Namespace::parse("Company")
                .unwrap_err()
                .to_string()
                .contains("lower-case")
        );
        assert!(
            Namespace::parse("company.Team")
                .unwrap_err()
                .to_string()
                .contains("found 'T'")
        );
        assert_eq!(Namespace::parse("a..b"), Err(NameError::EmptySegment));
        assert_eq!(Namespace::parse("a."), Err(NameError::EmptySegment));
        assert!(Namespace::parse(".a").is_err());
        assert!(matches!(
            Namespace::parse(&"a".repeat(151)),
            Err(NameError::TooLong { len: 151, .. })
        ));
    }

    #[test]
    fn chain_is_nearest_first() {
        assert_eq!(
            ns("company.team.project").chain(),
            vec![
                ns("company.team.project"),
                ns("company.team"),
                ns("company")
            ]
        );
        assert_eq!(ns("company").chain(), vec![ns("company")]);
        assert_eq!(ns("company").parent(), None);
    }

    #[test]
    fn ancestry_respects_segment_boundaries() {
        assert!(ns("company").is_ancestor_of(&ns("company.team")));
        assert!(!ns("company").is_ancestor_of(&ns("company2.team")));
        assert!(!ns("company").is_ancestor_of(&ns("company")));
        assert!(ns("company").is_self_or_ancestor_of(&ns("company")));
        assert!(!ns("company.team").is_ancestor_of(&ns("company")));
    }

    #[test]
    fn not_found_message_is_exact() {
        let err = SecretNotFound {
            key: "X".into(),
            searched: ns("company.team.project").chain(),
        };
        assert_eq!(
            err.to_string(),
            "secret 'X' not found in company.team.project, company.team, company"
        );
    }

    #[test]
    fn secret_keys() {
        for ok in ["MYPASSWORD", "api_token", "_x", "a.b-c", "9"] {
            assert_eq!(check_secret_key(ok), Ok(()), "{ok}");
        }
        for bad in ["", "-x", ".x", "a b", "a/b", "é"] {
            assert!(check_secret_key(bad).is_err(), "{bad}");
        }
        assert!(check_secret_key(&"K".repeat(256)).is_err());
    }

    #[test]
    fn ancestors_allowed_others_denied_without_grants() {
        let access = NamespaceAccess::default();
        let flow = ns("company.team.project");
        for allowed in ["company.team.project", "company.team", "company"] {
            assert!(access.may_name(&flow, &ns(allowed)), "{allowed}");
        }
        for denied in [
            "company.team.project.sub",
            "company.other",
            "other",
            "company.tea",
        ] {
            let err = access.lookup_chain(&flow, Some(&ns(denied))).unwrap_err();
            assert_eq!(err.requested, ns(denied));
            assert!(err.to_string().contains("secret.namespace-grants"));
        }
        assert_eq!(
            access
                .lookup_chain(&flow, Some(&ns("company.team")))
                .unwrap(),
            vec![ns("company.team"), ns("company")]
        );
        assert_eq!(access.lookup_chain(&flow, None).unwrap(), flow.chain());
    }

    #[test]
    fn grants_open_exactly_the_granted_namespace_to_the_listed_subtrees() {
        let access = NamespaceAccess::new(vec![NamespaceGrant {
            namespace: ns("shared.db"),
            flows: vec![ns("company.team")],
        }]);
        let inside = ns("company.team.project");
        assert!(access.may_name(&inside, &ns("shared.db")));
        assert!(access.may_name(&ns("company.team"), &ns("shared.db")));
        assert!(!access.may_name(&ns("company.other"), &ns("shared.db")));
        assert!(!access.may_name(&inside, &ns("shared")));
        assert!(!access.may_name(&inside, &ns("shared.db.sub")));
        // The granted namespace's parent is skipped: it was not granted.
        assert_eq!(
            access
                .lookup_chain(&inside, Some(&ns("shared.db")))
                .unwrap(),
            vec![ns("shared.db")]
        );
    }

    #[test]
    fn serde_round_trip_validates() {
        let parsed: Namespace = serde_json::from_str("\"company.team\"").unwrap();
        assert_eq!(parsed, ns("company.team"));
        assert_eq!(serde_json::to_string(&parsed).unwrap(), "\"company.team\"");
        assert!(serde_json::from_str::<Namespace>("\"Bad\"").is_err());
    }
}
