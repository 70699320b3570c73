//! saker-engine (being written).
