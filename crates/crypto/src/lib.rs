//! saker-crypto (being written).
