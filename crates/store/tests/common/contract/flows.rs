//! The flow revisions contract, for every backend.

use saker_store::Store;

pub fn saving_creates_revisions_and_skips_identical_sources(s: &dyn Store) {
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

pub fn the_source_is_kept_verbatim(s: &dyn Store) {
    let source = "id: hello # comment\nnamespace: company.team\n\ttasks: []\r\n\u{e9}\u{1F600}\n";
    s.save_flow("main", "company.team", "hello", source)
        .unwrap();
    let got = s
        .get_flow("main", "company.team", "hello", None)
        .unwrap()
        .unwrap();
    assert_eq!(got.source, source);
}

pub fn tenants_and_namespaces_are_separate_flows(s: &dyn Store) {
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

pub fn deleting_keeps_history_and_hides_the_flow(s: &dyn Store) {
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

pub fn listing_returns_latest_revisions_below_a_namespace(s: &dyn Store) {
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
