//! The namespace backend rows contract, for every backend: a sealed configuration per
//! (tenant, namespace), replaced by a second put, removed once.

use chrono::Utc;
use saker_store::NamespaceBackendRows;

pub fn a_configuration_is_set_replaced_and_removed(s: &dyn NamespaceBackendRows) {
    assert_eq!(s.namespace_backend("main", "company").unwrap(), None);
    s.put_namespace_backend("main", "company", b"\x00sealed-one", Utc::now())
        .unwrap();
    s.put_namespace_backend("main", "company", b"\x00sealed-two", Utc::now())
        .unwrap();
    assert_eq!(
        s.namespace_backend("main", "company").unwrap(),
        Some(b"\x00sealed-two".to_vec())
    );
    // Exactly that tenant and namespace: no inheritance at this level.
    assert_eq!(s.namespace_backend("other", "company").unwrap(), None);
    assert_eq!(s.namespace_backend("main", "company.team").unwrap(), None);
    assert!(s.delete_namespace_backend("main", "company").unwrap());
    assert!(!s.delete_namespace_backend("main", "company").unwrap());
    assert_eq!(s.namespace_backend("main", "company").unwrap(), None);
}
