//! Namespace coverage: a binding on `company.team` covers `company.team` and every namespace
//! below it (`company.team.x`), never a sibling that merely shares a prefix (`company.teamx`).

/// True if a binding on `scope` covers `namespace`: equal, or a child at a `.` boundary.
pub fn covers(scope: &str, namespace: &str) -> bool {
    match namespace.strip_prefix(scope) {
        Some("") => true,
        Some(rest) => rest.starts_with('.') && !scope.is_empty(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert!(covers("company.team", "company.team"));
        assert!(covers("company.team", "company.team.x"));
        assert!(covers("company.team", "company.team.x.y"));
        assert!(!covers("company.team", "company.teamx"));
        assert!(!covers("company.team", "company.other"));
        assert!(!covers("company.team", "company"));
        assert!(!covers("company.team.x", "company.team"));
        assert!(!covers("", "company"), "an empty scope covers nothing");
    }

    fn segment() -> impl Strategy<Value = String> {
        // A small alphabet so that shared prefixes (team / teamx) come up often.
        "[ab_-]{1,3}"
    }

    fn namespace() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(segment(), 1..4)
    }

    proptest! {
        /// Coverage holds exactly when the scope's segments are a prefix of the namespace's
        /// segments: prefix at a dot boundary, nothing else.
        #[test]
        fn coverage_is_segment_prefix(scope in namespace(), ns in namespace()) {
            let expected = scope.len() <= ns.len() && ns[..scope.len()] == scope[..];
            prop_assert_eq!(covers(&scope.join("."), &ns.join(".")), expected);
        }

        #[test]
        fn a_scope_covers_itself_and_its_children(scope in namespace(), child in namespace()) {
            let scope = scope.join(".");
            prop_assert!(covers(&scope, &scope));
            let below = format!("{scope}.{}", child.join("."));
            prop_assert!(covers(&scope, &below));
            let glued = format!("{scope}{}", child.join("."));
            prop_assert!(!covers(&scope, &glued));
        }
    }
}
