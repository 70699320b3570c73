//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test file uses a different subset

use saker_secrets::{Namespace, SecretValue};

/// `text` as a namespace (test names are valid).
pub fn ns(text: &str) -> Namespace {
    Namespace::parse(text).unwrap()
}

/// Compares a value without ever showing it in an assertion message.
pub fn same(value: &SecretValue, expected: &str) -> bool {
    value.expose() == expected
}
