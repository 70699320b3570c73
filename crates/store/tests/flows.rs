//! Flow revisions: saving, deduplication, deletion as history, listing by namespace, on
//! SQLite (the assertions are shared with PostgreSQL in `common::contract`).

mod common;

use std::collections::BTreeMap;

use common::contract;

use proptest::prelude::*;
use saker_store::{SqliteStore, Store};

fn store() -> SqliteStore {
    SqliteStore::open_in_memory().unwrap()
}

#[test]
fn saving_creates_revisions_and_skips_identical_sources() {
    contract::flows::saving_creates_revisions_and_skips_identical_sources(&store());
}

#[test]
fn the_source_is_kept_verbatim() {
    contract::flows::the_source_is_kept_verbatim(&store());
}

#[test]
fn tenants_and_namespaces_are_separate_flows() {
    contract::flows::tenants_and_namespaces_are_separate_flows(&store());
}

#[test]
fn deleting_keeps_history_and_hides_the_flow() {
    contract::flows::deleting_keeps_history_and_hides_the_flow(&store());
}

#[test]
fn listing_returns_latest_revisions_below_a_namespace() {
    contract::flows::listing_returns_latest_revisions_below_a_namespace(&store());
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
