//! saker-secrets: everything about secret values except where the bytes finally live.
//!
//! One purpose: give the rest of Saker one way to store and resolve secrets: the
//! [`SecretService`] every caller goes through (isolation, namespace inheritance, cache,
//! default tags, audit), the [`SecretStore`] trait its backends implement (the
//! [`EnvSecretStore`] and the encrypted [`JdbcSecretStore`] over the repository database),
//! namespace inheritance and the rule for naming other namespaces ([`namespace`]), resolution
//! with the lifecycle ([`resolve()`]), isolation between services ([`isolation`]), the words of
//! the audit trail ([`audit`]), random values ([`generate`]), the typed `secret:`
//! configuration ([`config`]) and the `.env` encoder of `saker secret encode-env` ([`dotenv`]).
//!
//! It must not know about flows, templates, executions or HTTP: callers pass a tenant, a
//! namespace and a key, and get a [`SecretValue`] or an error that names them. Secret values
//! are [`SecretValue`]s from the moment they are read: zeroed on drop, `[REDACTED]` in
//! `Debug` and `Display`, never in an error message, a warning or a log line.

pub mod audit;
#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "azure")]
pub mod azure;
#[cfg(feature = "remote")]
mod bridge;
mod cache;
#[cfg(feature = "cloud")]
mod cloud;
pub mod config;
#[cfg(feature = "doppler")]
pub mod doppler;
pub mod dotenv;
pub mod duration;
#[cfg(feature = "elasticsearch")]
pub mod elasticsearch;
pub mod env;
pub mod filter;
#[cfg(feature = "gcp")]
pub mod gcp;
pub mod generate;
#[cfg(feature = "remote")]
mod http;
pub mod isolation;
pub mod jdbc;
#[cfg(any(
    feature = "elasticsearch",
    feature = "onepassword",
    feature = "doppler"
))]
mod json_api;
pub mod metadata;
pub mod namespace;
pub mod namespace_backend;
#[cfg(feature = "onepassword")]
pub mod onepassword;
pub mod read_only;
mod remote;
mod resolve;
mod service;
pub mod store;
mod value;
#[cfg(feature = "vault")]
pub mod vault;

pub use audit::{Accessor, AuditAction, AuditOutcome};
pub use cache::LookupCache;
pub use filter::{FilteredStore, SecretFilter};
pub use generate::{BadLength, Charset, UnknownCharset, generate_value};
pub use jdbc::JdbcSecretStore;
pub use namespace_backend::{
    BackendSettings, NamespaceBackendConfig, NamespaceBackendError, NamespaceBackends,
};
pub use read_only::ReadOnlyStore;
pub use remote::{apply_read_only, open_remote};
pub use service::{
    Clock, ExpiryWarning, GenerateSpec, Resolution, SecretService, ServiceError, VisibleSecret,
};

pub use config::{BackendKind, CacheConfig, ConfigError, JdbcConfig, SecretConfig};
pub use env::{EnvProblem, EnvSecretStore, EnvWarning};
pub use isolation::{IsolationConfig, IsolationDenied, Service, UnknownService};
pub use metadata::{MetadataUpdate, SecretMetadata, SecretState, SecretVersion, SecretWrite};
pub use namespace::{
    AccessDenied, NameError, Namespace, NamespaceAccess, NamespaceGrant, SecretNotFound,
};
pub use resolve::{ResolveError, Resolved, resolve};
pub use store::{
    Capabilities, Lookup, Operation, RekeyFailure, RekeyReport, SecretStore, StoreError,
};
pub use value::{NotUtf8, SecretValue};

/// The tenant of single-tenant installations, as in Kestra.
pub const DEFAULT_TENANT: &str = "main";
