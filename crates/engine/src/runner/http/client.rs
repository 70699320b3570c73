//! The reqwest client of one HTTP call, shared by `core.http.Request`/`Download` and the HTTP
//! polling trigger (`http_trigger`): Kestra's default timeouts, the TLS check (off only with
//! `sslOptions.insecureTrustAllCertificates`), and redirects followed at most
//! [`MAX_REDIRECTS`] times and, for a request holding a secret, only on its own origin (a
//! header or a credential would go along to wherever the server sends it).

use std::time::Duration;

use reqwest::Url;

/// How long establishing a connection may take when `options.connectTimeout` is not set.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the server may stay silent while answering when `options.readTimeout` is not
/// set (Kestra's default is 10 seconds too).
pub(crate) const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Redirects followed at most when `options.followRedirects` is true.
pub(crate) const MAX_REDIRECTS: usize = 10;

/// What the client of one call is built from.
pub(crate) struct ClientSettings<'a> {
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub follow_redirects: bool,
    /// Any certificate is accepted.
    pub insecure: bool,
    /// The URL called: a request holding a secret is redirected on its origin only.
    pub url: &'a Url,
    pub secret: bool,
    /// The error of a redirect to another origin refused for a secret's sake.
    pub cross_origin_refused: &'static str,
}

/// The client for one call.
pub(crate) fn client(settings: &ClientSettings<'_>) -> reqwest::Result<reqwest::Client> {
    let redirects = if settings.follow_redirects {
        let origin = settings.url.origin();
        let secret = settings.secret;
        let refused = settings.cross_origin_refused;
        reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
            } else if secret && attempt.url().origin() != origin {
                attempt.error(refused)
            } else {
                attempt.follow()
            }
        })
    } else {
        reqwest::redirect::Policy::none()
    };
    reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .read_timeout(settings.read_timeout)
        .redirect(redirects)
        .danger_accept_invalid_certs(settings.insecure)
        .build()
}
