//! saker-mask (being written).
