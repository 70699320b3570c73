//! TLS to PostgreSQL with libpq's `sslmode` and `sslrootcert`, on rustls with the ring
//! provider (no OpenSSL, no process-wide default provider).
//!
//! tokio-postgres knows only `sslmode=disable|prefer|require` and rejects `sslrootcert`, so
//! [`take_tls_params`] reads both out of the connection string (URL query or `key=value`
//! form) and hands the rest on; [`Tls::new`] then sets the driver's mode and builds the rustls
//! client for it:
//!
//! - `disable`: never TLS.
//! - `allow`, `prefer` (the default): TLS if the server offers it, plaintext otherwise; the
//!   certificate is checked as under `require`.
//! - `require`: TLS or no connection; the certificate chain is checked against `sslrootcert`
//!   if one is given (libpq does so when a root certificate file is present), else not at
//!   all.
//! - `verify-ca`: TLS, and the chain must lead to a CA in `sslrootcert` (without it: the
//!   public CAs of webpki-roots); the host name is not checked.
//! - `verify-full`: as `verify-ca`, and the certificate must name the host connected to.
//!
//! `require` without `sslrootcert` encrypts but does not authenticate the server (libpq's
//! behaviour): it stops eavesdropping, not impersonation. `verify-full` is the one to use.
//!
//! Where this differs from libpq: `allow` tries TLS first, as `prefer` does; a TLS handshake
//! that fails under `prefer` is an error, not a retry in plaintext; the verify modes without
//! `sslrootcert` use the public CA set compiled in (webpki-roots; libpq wants
//! `~/.postgresql/root.crt`), which `sslrootcert=system` also names; client certificates
//! (`sslcert`, `sslkey`) and revocation lists are not supported. As in libpq, connections over
//! a Unix-domain socket never use TLS.
//!
//! `verify-full` uses rustls's own webpki verifier; every other mode uses [`Relaxed`], which
//! skips only what the mode says (the host name, or with no `sslrootcert` under
//! `allow`/`prefer`/`require` the whole certificate check). The handshake's signatures are
//! verified with the provider's algorithms whatever the mode: they bind the session to the
//! certificate's key.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use postgres::config::{Host, SslMode as DriverMode};
use postgres::error::SqlState;
use postgres::tls::MakeTlsConnect;
use postgres::{Client, Config, NoTls, Socket};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::BoxError;

mod params;

pub(super) use params::{TlsParams, take_tls_params};

/// Libpq's `sslmode` values.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

const MODES: [(&str, Mode); 6] = [
    ("disable", Mode::Disable),
    ("allow", Mode::Allow),
    ("prefer", Mode::Prefer),
    ("require", Mode::Require),
    ("verify-ca", Mode::VerifyCa),
    ("verify-full", Mode::VerifyFull),
];

impl Mode {
    fn parse(text: &str) -> Option<Mode> {
        MODES
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, m)| *m)
    }

    fn name(self) -> &'static str {
        MODES
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("?", |(n, _)| n)
    }

    /// Whether the connection must be encrypted.
    fn mandatory(self) -> bool {
        matches!(self, Mode::Require | Mode::VerifyCa | Mode::VerifyFull)
    }
}

/// A TLS setting that cannot be used, or a connection failure explained in its terms. The
/// message names settings and file paths, never credentials.
#[derive(Debug)]
pub(super) struct TlsError(String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

/// Where trusted CA certificates come from.
enum Roots {
    File(PathBuf),
    Public,
}

/// How one store connects: plaintext or rustls, and what to say when that fails.
pub(super) struct Tls {
    mode: Mode,
    roots: Option<Roots>,
    /// `None`: plaintext only (`sslmode=disable`, or Unix-domain sockets only).
    connector: Option<MakeTls>,
}

impl Tls {
    /// Checks `params`, loads `sslrootcert`, and sets `config`'s driver-level mode.
    pub(super) fn new(params: TlsParams, config: &mut Config) -> Result<Tls, TlsError> {
        if let Some(name) = params.unsupported {
            return Err(TlsError(format!(
                "{name} is not supported (no client certificates or revocation lists yet): \
                 remove it from the connection string"
            )));
        }
        let mode = match params.sslmode.as_deref() {
            None => Mode::Prefer,
            Some(text) => Mode::parse(text).ok_or_else(|| {
                TlsError(format!(
                    "sslmode={text} is not a valid mode: use disable, allow, prefer, require, \
                     verify-ca or verify-full (recommended)"
                ))
            })?,
        };
        let roots = match params.sslrootcert.as_deref() {
            _ if mode == Mode::Disable => None,
            Some("system") => Some(Roots::Public),
            Some(path) => Some(Roots::File(PathBuf::from(path))),
            None if matches!(mode, Mode::VerifyCa | Mode::VerifyFull) => Some(Roots::Public),
            None => None,
        };
        // Unix-domain sockets never use TLS (libpq ignores sslmode there too).
        let socket_only = config
            .get_hosts()
            .iter()
            .all(|host| !matches!(host, Host::Tcp(_)));
        let connector = if mode == Mode::Disable || socket_only {
            config.ssl_mode(DriverMode::Disable);
            None
        } else {
            config.ssl_mode(if mode.mandatory() {
                DriverMode::Require
            } else {
                DriverMode::Prefer
            });
            let store = roots
                .as_ref()
                .map(|roots| load_roots(roots, mode))
                .transpose()?;
            let check = match (mode, store) {
                (Mode::VerifyFull, Some(store)) => Check::ChainAndName(store),
                (_, store) => Check::Relaxed(store),
            };
            Some(MakeTls(MakeRustlsConnect::new(client_config(check)?)))
        };
        Ok(Tls {
            mode,
            roots,
            connector,
        })
    }

    /// Opens one connection, explaining a TLS failure in terms of the settings.
    pub(super) fn connect(&self, config: &Config) -> Result<Client, BoxError> {
        let result = match &self.connector {
            None => config.connect(NoTls),
            Some(make) => config.connect(make.clone()),
        };
        result.map_err(|err| match self.explain(&err) {
            Some(message) => Box::new(TlsError(message)) as BoxError,
            None => Box::new(err),
        })
    }

    fn explain(&self, err: &postgres::Error) -> Option<String> {
        let mode = self.mode.name();
        if let Some(tls) = rustls_error(err) {
            let rustls::Error::InvalidCertificate(cert) = tls else {
                return Some(format!("sslmode={mode}: the TLS handshake failed ({tls})"));
            };
            let what = match cert {
                CertificateError::UnknownIssuer => match &self.roots {
                    Some(Roots::File(path)) => format!(
                        "the server's certificate is not signed by a CA in sslrootcert={}: \
                         give the CA that signed it (e.g. your provider's CA bundle) as \
                         sslrootcert",
                        path.display()
                    ),
                    _ => "the server's certificate is not signed by a public CA (what is \
                          trusted without sslrootcert, or with sslrootcert=system): give the CA \
                          that signed it (e.g. your provider's CA bundle) as sslrootcert"
                        .to_owned(),
                },
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => format!(
                    "the server's certificate does not name the host connected to ({tls}): \
                     connect by a name it lists, or use sslmode=verify-ca to check only the CA"
                ),
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => format!(
                    "the server's certificate is outside its validity period ({tls}): renew \
                     it, or check this machine's clock"
                ),
                _ => format!("the server's certificate was rejected ({tls})"),
            };
            return Some(format!("sslmode={mode}: {what}"));
        }
        let source = std::error::Error::source(err).map(ToString::to_string);
        if self.mode.mandatory() && source.as_deref() == Some("server does not support TLS") {
            return Some(format!(
                "sslmode={mode} requires TLS, but the server does not accept TLS connections: \
                 turn ssl on in the server's configuration (on a network you trust, \
                 sslmode=prefer connects without it)"
            ));
        }
        if source.as_deref() == Some("no hostname provided for TLS handshake") {
            return Some(format!(
                "sslmode={mode}: TLS needs the server's host name: give host, not only hostaddr"
            ));
        }
        // pg_hba.conf's `hostnossl ... reject`, or no `host` line for a plain connection.
        let refused = err
            .as_db_error()
            .filter(|db| *db.code() == SqlState::INVALID_AUTHORIZATION_SPECIFICATION)
            .filter(|db| db.message().ends_with("no encryption"))?;
        (self.mode == Mode::Disable).then(|| {
            format!(
                "sslmode=disable: the server refused a connection without TLS ({refused}): \
                 use sslmode=verify-full"
            )
        })
    }
}

/// The rustls error behind a failed connection, if TLS failed: tokio-rustls hands it up
/// inside an `io::Error`, whose `source` skips it, so each link is looked into.
fn rustls_error(err: &postgres::Error) -> Option<&rustls::Error> {
    let mut link: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = link {
        if let Some(found) = current.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>()
            && let Some(found) = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>())
        {
            return Some(found);
        }
        link = current.source();
    }
    None
}

fn load_roots(roots: &Roots, mode: Mode) -> Result<RootCertStore, TlsError> {
    let path = match roots {
        Roots::Public => {
            return Ok(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            });
        }
        Roots::File(path) => path,
    };
    let fail = |what: String| {
        TlsError(format!(
            "sslmode={}: sslrootcert={} {what}",
            mode.name(),
            path.display()
        ))
    };
    let pem = std::fs::read(path).map_err(|e| {
        fail(format!(
            "cannot be read ({e}): give the path of a PEM file of CA certificates"
        ))
    })?;
    let mut store = RootCertStore::empty();
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        count += 1;
        let cert = cert.map_err(|e| fail(format!("is not a valid PEM file ({e})")))?;
        store.add(cert).map_err(|e| {
            fail(format!(
                "holds an unusable certificate (number {count}): {e}"
            ))
        })?;
    }
    if count == 0 {
        return Err(fail(
            "holds no certificate: it must be PEM, with -----BEGIN CERTIFICATE----- blocks"
                .to_owned(),
        ));
    }
    Ok(store)
}

/// What the server's certificate is checked for.
enum Check {
    /// Chain to these roots and the host name: the standard webpki verifier.
    ChainAndName(RootCertStore),
    /// Chain to these roots if any, never the host name.
    Relaxed(Option<RootCertStore>),
}

fn client_config(check: Check) -> Result<ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(format!("cannot set up TLS: {e}")))?;
    let builder = match check {
        // The builder's provider verifies (not the process default).
        Check::ChainAndName(roots) => builder.with_root_certificates(roots),
        Check::Relaxed(roots) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Relaxed { roots, provider })),
    };
    let mut config = builder.with_no_client_auth();
    // What libpq sends; PostgreSQL 17 requires it for a direct TLS handshake.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(config)
}

/// The verifier of `require` and `verify-ca`: the certificate chain is checked against
/// `roots` when there are any (and not at all otherwise), the host name never; the handshake
/// signatures always are.
#[derive(Debug)]
struct Relaxed {
    roots: Option<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Relaxed {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.provider.signature_verification_algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// tokio-postgres-rustls's connector, with a stand-in name for the empty one tokio-postgres
/// passes for a Unix-domain socket or a bare `hostaddr`: no handshake follows there (the
/// server declines TLS on a socket, and tokio-postgres refuses TLS without a host name).
#[derive(Clone)]
struct MakeTls(MakeRustlsConnect);

impl MakeTlsConnect<Socket> for MakeTls {
    type Stream = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream;
    type TlsConnect = <MakeRustlsConnect as MakeTlsConnect<Socket>>::TlsConnect;
    type Error = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Self::TlsConnect, Self::Error> {
        let domain = if domain.is_empty() {
            "localhost"
        } else {
            domain
        };
        <MakeRustlsConnect as MakeTlsConnect<Socket>>::make_tls_connect(&mut self.0, domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_value_wins_and_unsupported_settings_are_refused_by_name() {
        let (_, found) = take_tls_params(
            "postgres://h/db?sslmode=disable&sslmode=verify-full&sslpassword=hunter2",
        );
        assert_eq!(found.sslmode.as_deref(), Some("verify-full"));
        let mut config: Config = "host=h".parse().unwrap();
        let err = Tls::new(found, &mut config).err().unwrap().to_string();
        assert!(err.contains("sslpassword is not supported"), "{err}");
        assert!(!err.contains("hunter2"));
    }

    #[test]
    fn modes_map_to_the_driver_and_unknown_ones_are_named() {
        for (text, driver) in [
            (None, DriverMode::Prefer),
            (Some("allow"), DriverMode::Prefer),
            (Some("disable"), DriverMode::Disable),
            (Some("require"), DriverMode::Require),
            (Some("verify-ca"), DriverMode::Require),
            (Some("verify-full"), DriverMode::Require),
        ] {
            let mut config: Config = "host=db.example".parse().unwrap();
            let tls = Tls::new(TlsParams::of(text, None), &mut config).unwrap();
            assert_eq!(config.get_ssl_mode(), driver, "{text:?}");
            assert_eq!(tls.connector.is_none(), driver == DriverMode::Disable);
        }
        let mut config: Config = "host=h".parse().unwrap();
        let err = Tls::new(TlsParams::of(Some("verify_full"), None), &mut config)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("sslmode=verify_full is not a valid mode: use disable,"),
            "{err}"
        );
    }

    #[test]
    fn a_socket_never_uses_tls() {
        let mut config: Config = "host=/run/postgresql".parse().unwrap();
        let tls = Tls::new(TlsParams::of(Some("verify-full"), None), &mut config).unwrap();
        assert!(tls.connector.is_none());
        assert_eq!(config.get_ssl_mode(), DriverMode::Disable);
    }
}
