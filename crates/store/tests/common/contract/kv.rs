//! The KV store contract, for every backend: round trips of values, types and the sealed
//! flag, overwrite or not, separate tenants and namespaces, sorted listings with a prefix,
//! deletion, and expiry (an expired entry reads as missing everywhere and is removed).

use chrono::TimeDelta;
use saker_store::{KvEntry, KvPut, KvStore, KvType};

/// A live STRING entry of tenant `main` written now.
pub fn entry(namespace: &str, key: &str, value: &str) -> KvEntry {
    KvEntry::new("main", namespace, key, KvType::String, value)
}

fn get(s: &dyn KvStore, e: &KvEntry) -> Option<KvEntry> {
    s.get_kv(&e.tenant, &e.namespace, &e.key).unwrap()
}

fn keys(s: &dyn KvStore, namespace: &str, prefix: Option<&str>) -> Vec<String> {
    s.list_kv("main", namespace, prefix)
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .collect()
}

pub fn an_entry_round_trips_with_its_type_description_and_sealed_flag(s: &dyn KvStore) {
    assert_eq!(s.get_kv("main", "company", "missing").unwrap(), None);
    let mut plain = entry("company", "count", "42");
    plain.kv_type = KvType::Number;
    plain.description = Some("how many".into());
    plain.expires_at = Some(plain.updated_at + TimeDelta::hours(1));
    assert_eq!(s.put_kv(&plain, true).unwrap(), KvPut::Created);
    assert_eq!(get(s, &plain), Some(plain.clone()));

    let mut sealed = entry("company", "copied", r#"{"$sealed":"v1.opaque-ciphertext"}"#);
    sealed.sealed = true;
    s.put_kv(&sealed, true).unwrap();
    let back = get(s, &sealed).unwrap();
    assert!(back.sealed);
    assert_eq!(
        back.value, sealed.value,
        "the sealed document is kept verbatim"
    );
}

pub fn overwrite_replaces_the_value_and_keeps_the_creation_date(s: &dyn KvStore) {
    let first = entry("company", "k", "\"one\"");
    s.put_kv(&first, true).unwrap();
    let mut second = entry("company", "k", "\"two\"");
    second.created_at = first.created_at + TimeDelta::seconds(5);
    second.updated_at = second.created_at;
    second.kv_type = KvType::Json;

    assert_eq!(s.put_kv(&second, false).unwrap(), KvPut::Kept);
    assert_eq!(get(s, &first).unwrap().value, "\"one\"");

    assert_eq!(s.put_kv(&second, true).unwrap(), KvPut::Replaced);
    let back = get(s, &first).unwrap();
    assert_eq!(back.value, "\"two\"");
    assert_eq!(back.kv_type, KvType::Json);
    assert_eq!(
        back.created_at, first.created_at,
        "the key's creation is kept"
    );
    assert_eq!(back.updated_at, second.updated_at);
}

pub fn tenants_and_namespaces_are_separate(s: &dyn KvStore) {
    let a = entry("company", "k", "\"a\"");
    let mut b = entry("company.team", "k", "\"b\"");
    let mut c = entry("company", "k", "\"c\"");
    c.tenant = "other".into();
    for e in [&a, &b, &c] {
        s.put_kv(e, true).unwrap();
    }
    assert_eq!(get(s, &a).unwrap().value, "\"a\"");
    assert_eq!(get(s, &b).unwrap().value, "\"b\"");
    assert_eq!(get(s, &c).unwrap().value, "\"c\"");
    assert_eq!(keys(s, "company", None), ["k"]);
    assert!(s.delete_kv("main", "company.team", "k").unwrap());
    b.value = "\"b\"".into();
    assert_eq!(get(s, &b), None);
    assert!(get(s, &a).is_some() && get(s, &c).is_some());
}

pub fn listing_is_sorted_by_key_and_filtered_by_prefix(s: &dyn KvStore) {
    for key in ["report_b", "Zeta", "report_a", "other", "report"] {
        s.put_kv(&entry("company", key, "1"), true).unwrap();
    }
    s.put_kv(&entry("company.team", "report_c", "1"), true)
        .unwrap();
    assert_eq!(
        keys(s, "company", None),
        ["Zeta", "other", "report", "report_a", "report_b"],
        "bytewise order, one namespace only"
    );
    assert_eq!(
        keys(s, "company", Some("report_")),
        ["report_a", "report_b"]
    );
    assert!(keys(s, "nowhere", None).is_empty());
}

pub fn deleting_says_whether_there_was_an_entry(s: &dyn KvStore) {
    let e = entry("company", "k", "1");
    assert!(!s.delete_kv("main", "company", "k").unwrap());
    s.put_kv(&e, true).unwrap();
    assert!(s.delete_kv("main", "company", "k").unwrap());
    assert!(!s.delete_kv("main", "company", "k").unwrap());
    assert_eq!(get(s, &e), None);
}

pub fn an_expired_entry_reads_as_missing_everywhere(s: &dyn KvStore) {
    let mut gone = entry("company", "gone", "\"old\"");
    gone.expires_at = Some(gone.updated_at - TimeDelta::seconds(1));
    let mut live = entry("company", "live", "1");
    live.expires_at = Some(live.updated_at + TimeDelta::hours(1));
    s.put_kv(&gone, true).unwrap();
    s.put_kv(&live, true).unwrap();

    assert_eq!(get(s, &gone), None);
    assert_eq!(keys(s, "company", None), ["live"]);
    assert!(
        !s.delete_kv("main", "company", "gone").unwrap(),
        "nothing live was deleted"
    );

    // An expired key is free again, even for a put that may not overwrite.
    s.put_kv(&gone, true).unwrap();
    let fresh = entry("company", "gone", "\"new\"");
    assert_eq!(s.put_kv(&fresh, false).unwrap(), KvPut::Created);
    let back = get(s, &fresh).unwrap();
    assert_eq!(back.value, "\"new\"");
    assert_eq!(back.expires_at, None);
    assert_eq!(
        back.created_at, fresh.created_at,
        "a new entry, not the expired one"
    );
}
