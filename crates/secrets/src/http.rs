//! What the remote backends share about HTTP: one client with bounded waits (a backend that
//! does not answer fails the call instead of hanging it) and transport errors worded with
//! their causes (reqwest's own message is only "error sending request").

use std::time::Duration;

/// Connecting gives up after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A whole call gives up after this long.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A client with the bounded waits.
pub(crate) fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CALL_TIMEOUT)
        .build()
        .map_err(|err| err.to_string())
}

/// `err` and its causes, `: `-separated. Transport errors name URLs, never bodies.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A builder with the bounded waits, for clients that add to it (a CA file of the Google and
/// Azure backends).
#[cfg_attr(not(feature = "cloud"), allow(dead_code))]
pub(crate) fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CALL_TIMEOUT)
}
