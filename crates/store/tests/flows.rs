//! Flow revisions: saving, deduplication, deletion as history, listing by namespace.

use std::collections::BTreeMap;

use proptest::prelude::*;
use saker_store::{SqliteStore, Store};

fn store() -> SqliteStore {
    SqliteStore::open_in_memory().unwrap()
}

#[test]
fn saving_creates_revisions_and_skips_identical_sources() {
    let s = store();
    let first = s.save_flow("main", "company.team", "hello", "v1").unwrap();
    assert!(first.created);
    assert_eq!(first.flow.revision, 1);
    assert!(!first.flow.deleted);

    let same = s.save_flow("main", "company.team", "hello", "v1").unwrap();
    assert!(!same.created);
    assert_eq!(
        same.flow, first.flow,
        "the unchanged revision is returned as stored"
    );

    let second = s.save_flow("main", "company.team", "hello", "v2").unwrap();
    assert!(second.created);
    assert_eq!(second.flow.revision, 2);
    assert_eq!(second.flow.source, "v2");

    // Going back to an older source is still a change.
    let third = s.save_flow("main", "company.team", "hello", "v1").unwrap();
    assert!(third.created);
    assert_eq!(third.flow.revision, 3);

    let latest = s
        .get_flow("main", "company.team", "hello", None)
        .unwrap()
        .unwrap();
    assert_eq!(latest, third.flow);
    let old = s
        .get_flow("main", "company.team", "hello", Some(2))
        .unwrap()
        .unwrap();
    assert_eq!(old, second.flow);
    assert_eq!(
        s.get_flow("main", "company.team", "hello", Some(9))
            .unwrap(),
        None
    );
    assert_eq!(
        s.get_flow("main", "company.team", "nope", None).unwrap(),
        None
    );

    let revisions: Vec<u32> = s
        .flow_revisions("main", "company.team", "hello")
        .unwrap()
        .iter()
        .map(|f| f.revision)
        .collect();
    assert_eq!(revisions, [1, 2, 3]);
}

#[test]
fn the_source_is_kept_verbatim() {
    let s = store();
    let source = "id: hello # comment\nnamespace: company.team\n\ttasks: []\r\n\u{e9}\u{1F600}\n";
    s.save_flow("main", "company.team", "hello", source)
        .unwrap();
    let got = s
        .get_flow("main", "company.team", "hello", None)
        .unwrap()
        .unwrap();
    assert_eq!(got.source, source);
}

#[test]
fn tenants_and_namespaces_are_separate_flows() {
    let s = store();
    s.save_flow("main", "a", "f", "x").unwrap();
    s.save_flow("main", "a", "f", "y").unwrap();
    let other_tenant = s.save_flow("acme", "a", "f", "x").unwrap();
    let other_ns = s.save_flow("main", "b", "f", "x").unwrap();
    assert_eq!(other_tenant.flow.revision, 1);
    assert_eq!(other_ns.flow.revision, 1);
    assert_eq!(
        s.get_flow("acme", "a", "f", None).unwrap().unwrap().source,
        "x"
    );
    assert_eq!(
        s.get_flow("main", "a", "f", None).unwrap().unwrap().source,
        "y"
    );
    assert_eq!(s.list_flows("acme", None).unwrap().len(), 1);
    assert_eq!(s.list_flows("nobody", None).unwrap(), []);
}

#[test]
fn deleting_keeps_history_and_hides_the_flow() {
    let s = store();
    s.save_flow("main", "ns", "f", "v1").unwrap();
    s.save_flow("main", "ns", "f", "v2").unwrap();
    assert!(s.delete_flow("main", "ns", "f").unwrap());

    assert_eq!(s.get_flow("main", "ns", "f", None).unwrap(), None);
    assert_eq!(s.list_flows("main", None).unwrap(), []);
    // Earlier revisions stay readable by number (executions of them can still be shown)...
    assert_eq!(
        s.get_flow("main", "ns", "f", Some(1))
            .unwrap()
            .unwrap()
            .source,
        "v1"
    );
    // ...but never the tombstone.
    assert_eq!(s.get_flow("main", "ns", "f", Some(3)).unwrap(), None);

    let history = s.flow_revisions("main", "ns", "f").unwrap();
    let summary: Vec<(u32, bool)> = history.iter().map(|f| (f.revision, f.deleted)).collect();
    assert_eq!(summary, [(1, false), (2, false), (3, true)]);
    assert_eq!(
        history[2].source, "v2",
        "the tombstone carries the last source"
    );

    assert!(
        !s.delete_flow("main", "ns", "f").unwrap(),
        "already deleted"
    );
    assert!(!s.delete_flow("main", "ns", "unknown").unwrap());

    // Saving again revives it with the next revision, even with the same source.
    let revived = s.save_flow("main", "ns", "f", "v2").unwrap();
    assert!(revived.created);
    assert_eq!(revived.flow.revision, 4);
    assert_eq!(
        s.get_flow("main", "ns", "f", None)
            .unwrap()
            .unwrap()
            .revision,
        4
    );
}

#[test]
fn listing_returns_latest_revisions_below_a_namespace() {
    let s = store();
    for ns in [
        "company",
        "company.team",
        "company.team.sub",
        "companyx",
        "other",
        "company_",
    ] {
        s.save_flow("main", ns, "f", "v1").unwrap();
    }
    s.save_flow("main", "company.team", "f", "v2").unwrap();
    s.save_flow("main", "company.team", "a", "v1").unwrap();
    s.save_flow("main", "company", "gone", "v1").unwrap();
    s.delete_flow("main", "company", "gone").unwrap();

    let listed: Vec<(String, String, u32)> = s
        .list_flows("main", Some("company"))
        .unwrap()
        .into_iter()
        .map(|f| (f.namespace, f.id, f.revision))
        .collect();
    let expected = [
        ("company", "f", 1),
        ("company.team", "a", 1),
        ("company.team", "f", 2),
        ("company.team.sub", "f", 1),
    ]
    .map(|(ns, id, rev)| (ns.to_owned(), id.to_owned(), rev));
    assert_eq!(listed, expected);

    assert_eq!(
        s.list_flows("main", Some("company.team.sub"))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(s.list_flows("main", Some("comp")).unwrap(), []);
    // `_` and `%` are not wildcards.
    assert_eq!(s.list_flows("main", Some("company_")).unwrap().len(), 1);
    assert_eq!(s.list_flows("main", Some("%")).unwrap(), []);
    assert_eq!(s.list_flows("main", None).unwrap().len(), 7);
}

/// What the flow repository should hold, computed the obvious way.
#[derive(Default)]
struct Model {
    /// (namespace, id) -> revisions as (source, deleted), oldest first.
    flows: BTreeMap<(String, String), Vec<(String, bool)>>,
}

impl Model {
    fn save(&mut self, ns: &str, id: &str, source: &str) -> (u32, bool) {
        let revs = self.flows.entry((ns.into(), id.into())).or_default();
        if let Some((last, false)) = revs.last()
            && last == source
        {
            return (revs.len() as u32, false);
        }
        revs.push((source.into(), false));
        (revs.len() as u32, true)
    }

    fn delete(&mut self, ns: &str, id: &str) -> bool {
        match self.flows.get_mut(&(ns.into(), id.into())) {
            Some(revs) => match revs.last().cloned() {
                Some((source, false)) => {
                    revs.push((source, true));
                    true
                }
                _ => false,
            },
            None => false,
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Save(usize, usize, usize),
    Delete(usize, usize),
}

const NAMESPACES: [&str; 3] = ["a", "a.b", "ab"];
const IDS: [&str; 2] = ["f", "g"];
const SOURCES: [&str; 3] = ["s1", "s2", "s3"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..NAMESPACES.len(), 0..IDS.len(), 0..SOURCES.len())
            .prop_map(|(n, i, s)| Op::Save(n, i, s)),
        1 => (0..NAMESPACES.len(), 0..IDS.len()).prop_map(|(n, i)| Op::Delete(n, i)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn revisions_follow_the_model(ops in prop::collection::vec(op(), 1..40)) {
        let s = store();
        let mut model = Model::default();
        for op in &ops {
            match *op {
                Op::Save(n, i, src) => {
                    let saved = s.save_flow("main", NAMESPACES[n], IDS[i], SOURCES[src]).unwrap();
                    let (revision, created) = model.save(NAMESPACES[n], IDS[i], SOURCES[src]);
                    prop_assert_eq!(saved.flow.revision, revision);
                    prop_assert_eq!(saved.created, created);
                }
                Op::Delete(n, i) => {
                    prop_assert_eq!(
                        s.delete_flow("main", NAMESPACES[n], IDS[i]).unwrap(),
                        model.delete(NAMESPACES[n], IDS[i])
                    );
                }
            }
        }
        for ((ns, id), revs) in &model.flows {
            let history = s.flow_revisions("main", ns, id).unwrap();
            let got: Vec<(String, bool)> =
                history.into_iter().map(|f| (f.source, f.deleted)).collect();
            prop_assert_eq!(&got, revs);
            let latest = s.get_flow("main", ns, id, None).unwrap();
            match revs.last() {
                Some((source, false)) => {
                    prop_assert_eq!(latest.map(|f| f.source), Some(source.clone()))
                }
                _ => prop_assert!(latest.is_none()),
            }
        }
        let mut expected_a: Vec<(String, String)> = model
            .flows
            .iter()
            .filter(|((ns, _), revs)| {
                (ns == "a" || ns.starts_with("a.")) && matches!(revs.last(), Some((_, false)))
            })
            .map(|(key, _)| key.clone())
            .collect();
        expected_a.sort();
        let listed: Vec<(String, String)> = s
            .list_flows("main", Some("a"))
            .unwrap()
            .into_iter()
            .map(|f| (f.namespace, f.id))
            .collect();
        prop_assert_eq!(listed, expected_a);
    }
}
