//! Which Saker services may resolve secrets (`secret.isolation`).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// A Saker service (role). Every caller of the secret service names its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// REST API, UI, webhooks.
    Webserver,
    /// Execution state machine and flowable tasks.
    Executor,
    /// Runs tasks.
    Worker,
    /// Triggers.
    Scheduler,
}

impl Service {
    /// Every service.
    pub const ALL: [Service; 4] = [
        Service::Webserver,
        Service::Executor,
        Service::Worker,
        Service::Scheduler,
    ];

    /// The upper-case name used in configuration (`WORKER`).
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Webserver => "WEBSERVER",
            Service::Executor => "EXECUTOR",
            Service::Worker => "WORKER",
            Service::Scheduler => "SCHEDULER",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A service name that is none of the four. Does not repeat the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown service: use WEBSERVER, EXECUTOR, WORKER or SCHEDULER")]
pub struct UnknownService;

impl FromStr for Service {
    type Err = UnknownService;
    /// Case-insensitive, surrounding whitespace ignored.
    fn from_str(text: &str) -> Result<Self, UnknownService> {
        let text = text.trim();
        Service::ALL
            .into_iter()
            .find(|service| service.as_str().eq_ignore_ascii_case(text))
            .ok_or(UnknownService)
    }
}

/// `secret.isolation`: services listed in `denied-services` cannot resolve any secret while
/// `enabled` is true. Independently of configuration the WEBSERVER never resolves secrets:
/// through it values are write-only (DESIGN invariant 5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IsolationConfig {
    /// Whether `denied_services` applies.
    pub enabled: bool,
    /// Services that may not resolve secrets.
    pub denied_services: BTreeSet<Service>,
}

/// A service tried to resolve a secret it may not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IsolationDenied {
    /// The webserver asked.
    #[error("the WEBSERVER service never resolves secrets: values are write-only through the API")]
    Webserver,
    /// Configuration denies this service.
    #[error(
        "the {0} service may not resolve secrets: secret isolation denies it \
         (secret.isolation.denied-services)"
    )]
    Configured(Service),
}

impl IsolationConfig {
    /// Whether `service` may resolve secrets, and if not, why.
    pub fn check(&self, service: Service) -> Result<(), IsolationDenied> {
        if service == Service::Webserver {
            return Err(IsolationDenied::Webserver);
        }
        if self.enabled && self.denied_services.contains(&service) {
            return Err(IsolationDenied::Configured(service));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_case_insensitively() {
        assert_eq!("WORKER".parse(), Ok(Service::Worker));
        assert_eq!(" executor ".parse(), Ok(Service::Executor));
        assert_eq!("Scheduler".parse(), Ok(Service::Scheduler));
        assert_eq!("INDEXER".parse::<Service>(), Err(UnknownService));
        assert!(!UnknownService.to_string().contains("INDEXER"));
    }

    #[test]
    fn denial_rules() {
        let off = IsolationConfig::default();
        assert_eq!(off.check(Service::Worker), Ok(()));
        assert_eq!(off.check(Service::Executor), Ok(()));
        assert_eq!(
            off.check(Service::Webserver),
            Err(IsolationDenied::Webserver)
        );

        let on = IsolationConfig {
            enabled: true,
            denied_services: [Service::Executor].into(),
        };
        let err = on.check(Service::Executor).unwrap_err();
        assert_eq!(err, IsolationDenied::Configured(Service::Executor));
        assert!(err.to_string().contains("EXECUTOR"));
        assert!(err.to_string().contains("isolation"));
        assert_eq!(on.check(Service::Worker), Ok(()));
        assert_eq!(on.check(Service::Scheduler), Ok(()));
    }
}
