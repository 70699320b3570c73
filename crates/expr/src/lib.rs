//! saker-expr (being written).
