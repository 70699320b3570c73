//! saker-store (being written).
