//! "Did you mean ...?": the known names closest to a misspelt one.

/// Edit distance counting insertions, deletions, substitutions and swaps of two neighbouring
/// characters (optimal string alignment), so `Lgo` is one edit from `Log`.
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    // Three rows are enough: the swap looks two rows back.
    let mut before: Vec<usize> = vec![0; width];
    let mut previous: Vec<usize> = (0..width).collect();
    let mut current: Vec<usize> = vec![0; width];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..width {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// The candidates close enough to `wanted` to be what was meant, closest first (at most
/// three). Case differences count as one edit in total, so `io.kestra.plugin.core.log.log`
/// still finds `io.kestra.plugin.core.log.Log`.
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    // A third of the length, at least 1: enough for typos (a swap of two letters counts as
    // one edit), too little for short words to match anything.
    let limit = (wanted.chars().count() / 3).max(1);
    let lower = wanted.to_lowercase();
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter_map(|c| {
            // The distance is at least the difference in length: skipping those keeps a huge
            // misspelt name from costing a quadratic comparison.
            if wanted.chars().count().abs_diff(c.chars().count()) > limit {
                return None;
            }
            let exact = distance(wanted, c);
            let folded = distance(&lower, &c.to_lowercase()) + 1;
            let d = exact.min(folded);
            (d <= limit).then_some((d, c))
        })
        .collect();
    scored.sort_by_key(|(d, c)| (*d, *c));
    scored.dedup_by_key(|(_, c)| *c);
    let best = scored.first().map_or(0, |(d, _)| *d);
    // Only names as close as the best one, so one clear match is not drowned by weak ones.
    scored
        .into_iter()
        .take_while(|(d, _)| *d <= best + 1)
        .take(3)
        .map(|(_, c)| c)
        .collect()
}

/// The known type names close enough to `wanted` (a dotted type name or a short alias) to be
/// what was meant, closest first (at most three).
///
/// A type name is a package and a class name. Edit distance over the whole name would find
/// `io.kestra.plugin.scripts.python.Script` for `io.kestra.plugin.scripts.r.Script` (another
/// plugin, not a typo) and, for short names, anything of about the same length. So the class
/// names (last segments) must be close relative to their length (at most a third of the
/// longer one is edited), and the packages nearly equal (two edits at most, and at most an
/// eighth of the package): a typo is suggested, a different type is not.
pub fn closest_type<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Vec<&'a str> {
    let (package, class) = split_type(wanted);
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter_map(|candidate| {
            let (their_package, their_class) = split_type(candidate);
            let class_len = class.chars().count().max(their_class.chars().count());
            let class_distance = folded_distance(class, their_class);
            if class_distance * 3 > class_len {
                return None;
            }
            let package_len = package.chars().count().max(their_package.chars().count());
            // The length difference bounds the distance from below: far packages are skipped
            // without computing it.
            if package
                .chars()
                .count()
                .abs_diff(their_package.chars().count())
                > 2
            {
                return None;
            }
            let package_distance = folded_distance(package, their_package);
            if package_distance > 2 || package_distance * 8 > package_len {
                return None;
            }
            Some((class_distance + package_distance, candidate))
        })
        .collect();
    scored.sort_by_key(|(d, c)| (*d, *c));
    scored.dedup_by_key(|(_, c)| *c);
    let best = scored.first().map_or(0, |(d, _)| *d);
    scored
        .into_iter()
        .take_while(|(d, _)| *d <= best + 1)
        .take(3)
        .map(|(_, c)| c)
        .collect()
}

/// `(package, class)`: `io.kestra.plugin.core.log.Log` is `("io.kestra.plugin.core.log",
/// "Log")`, a short alias `("", "Log")`.
fn split_type(name: &str) -> (&str, &str) {
    name.rsplit_once('.').unwrap_or(("", name))
}

/// Edit distance where a difference of case only, anywhere, costs one edit in total.
fn folded_distance(a: &str, b: &str) -> usize {
    if a == b {
        return 0;
    }
    distance(a, b).min(distance(&a.to_lowercase(), &b.to_lowercase()) + 1)
}

/// `, did you mean 'a'?` / `, did you mean 'a' or 'b'?`, or nothing when there is no match.
pub fn did_you_mean(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => format!(", did you mean '{one}'?"),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(|n| format!("'{n}'")).collect();
            format!(", did you mean {} or '{last}'?", init.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("mesage", "message"), 1);
        assert_eq!(distance("Lgo", "Log"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("abc", ""), 3);
    }

    #[test]
    fn closest_names() {
        let names = ["message", "level", "description", "disabled"];
        assert_eq!(closest("mesage", names), vec!["message"]);
        assert_eq!(closest("levle", names), vec!["level"]);
        assert!(closest("zzzzzzzz", names).is_empty());
        assert_eq!(
            closest(
                "io.kestra.plugin.core.log.log",
                ["io.kestra.plugin.core.log.Log"]
            ),
            vec!["io.kestra.plugin.core.log.Log"]
        );
    }

    const TYPES: [&str; 6] = [
        "io.kestra.plugin.core.log.Log",
        "Log",
        "io.kestra.plugin.core.flow.ForEach",
        "io.kestra.plugin.scripts.python.Script",
        "io.kestra.plugin.scripts.node.Commands",
        "io.kestra.plugin.core.trigger.Schedule",
    ];

    #[test]
    fn near_type_names_are_suggested() {
        for (wanted, expected) in [
            (
                "io.kestra.plugin.core.log.Logg",
                "io.kestra.plugin.core.log.Log",
            ),
            (
                "io.kestra.plugin.core.log.log",
                "io.kestra.plugin.core.log.Log",
            ),
            (
                "io.kestra.plugin.core.flow.Foreach",
                "io.kestra.plugin.core.flow.ForEach",
            ),
            (
                "io.kestra.plugin.core.flow.ForEch",
                "io.kestra.plugin.core.flow.ForEach",
            ),
            (
                "io.kestra.plugin.core.flows.ForEach",
                "io.kestra.plugin.core.flow.ForEach",
            ),
            (
                "io.kestra.plugins.scripts.python.Script",
                "io.kestra.plugin.scripts.python.Script",
            ),
            (
                "io.kestra.plugin.core.trigger.Schedul",
                "io.kestra.plugin.core.trigger.Schedule",
            ),
            ("Lgo", "Log"),
        ] {
            assert_eq!(closest_type(wanted, TYPES), vec![expected], "{wanted}");
        }
    }

    #[test]
    fn far_type_names_get_no_suggestion() {
        for wanted in [
            // Other types of the same plugin, or another plugin: not typos.
            "io.kestra.plugin.scripts.r.Script",
            "io.kestra.plugin.scripts.go.Commands",
            "io.kestra.plugin.scripts.ruby.Commands",
            "io.kestra.plugin.core.flow.ForEachItem",
            "io.kestra.plugin.core.flow.Subflow",
            "io.kestra.plugin.core.log.Fetch",
            "io.kestra.plugin.gcp.bigquery.Query",
            "ForEach",
            "Fail",
            "something.else.Entirely",
        ] {
            assert_eq!(closest_type(wanted, TYPES), Vec::<&str>::new(), "{wanted}");
        }
    }

    #[test]
    fn phrases() {
        assert_eq!(did_you_mean(&[]), "");
        assert_eq!(did_you_mean(&["a"]), ", did you mean 'a'?");
        assert_eq!(
            did_you_mean(&["a", "b", "c"]),
            ", did you mean 'a', 'b' or 'c'?"
        );
    }
}
