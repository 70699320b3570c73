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
