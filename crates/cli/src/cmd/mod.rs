//! One module per top-level subcommand.

pub mod audit;
pub mod bench;
pub mod execution;
pub mod expr;
pub mod flow;
pub mod flow_remote;
pub mod kv;
pub mod mask;
pub mod namespace;
pub mod namespace_secret_manager;
pub mod plugins;
mod plugins_docs;
pub mod role;
pub mod secret;
pub mod secrets_access;
pub mod server;
mod server_services;
pub mod service;
pub mod trigger;
pub mod user;
