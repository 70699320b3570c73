//! saker-secrets (being written).
