//! saker-server (being written).
