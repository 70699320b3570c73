//! The PostgreSQL connection URL from Kestra's `datasources.postgres` keys: a JDBC URL
//! (`jdbc:postgresql://host:port/db?…`) or a plain `postgres://` one, with the username and
//! password put in. pgjdbc's own SSL parameters are translated to libpq's `sslmode`, which
//! the store understands, so a Kestra configuration keeps working unchanged. The pool's
//! bounds come from the keys Kestra hands HikariCP ([`pool_settings`]).

use std::time::Duration;

use anyhow::bail;
use saker_store::PoolSettings;

use crate::config::Config;

/// The connection URL of `datasources.postgres`: Kestra's `jdbc:postgresql://…` or a plain
/// `postgres://…` URL, with `username` and `password` put in (percent-encoded).
pub(crate) fn postgres_url(config: &Config) -> anyhow::Result<String> {
    let url = config.get_str("datasources.postgres.url").ok_or_else(|| {
        anyhow::anyhow!(
            "repository.type postgres needs datasources.postgres.url, e.g. \
             jdbc:postgresql://localhost:5432/saker"
        )
    })?;
    let jdbc = url.starts_with("jdbc:");
    let url = url.strip_prefix("jdbc:").unwrap_or(&url);
    let rest = url
        .strip_prefix("postgresql://")
        .or_else(|| url.strip_prefix("postgres://"))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "datasources.postgres.url must start with jdbc:postgresql:// or postgres://"
            )
        })?;
    let user = config.get_str("datasources.postgres.username");
    let password = config.get_str("datasources.postgres.password");
    let credentials = match (user, password) {
        (Some(user), Some(password)) => format!("{}:{}@", encode(&user), encode(&password)),
        (Some(user), None) => format!("{}@", encode(&user)),
        (None, Some(_)) => bail!("datasources.postgres.password is set without a username"),
        (None, None) => String::new(),
    };
    let rest = if jdbc {
        jdbc_ssl_params(rest)?
    } else {
        rest.to_owned()
    };
    Ok(format!("postgresql://{credentials}{rest}"))
}

/// The connection pool of `datasources.postgres`: `maximum-pool-size` (connections, default
/// 10) and `connection-timeout` (milliseconds a call waits for a free connection, default
/// 30000) as Kestra configures HikariCP, and Saker's `statement-timeout` (milliseconds one
/// statement may run, default 30000; a statement stuck behind a lock then fails instead of
/// hanging).
pub(crate) fn pool_settings(config: &Config) -> anyhow::Result<PoolSettings> {
    let defaults = PoolSettings::default();
    let max_size = positive(config, "maximum-pool-size", defaults.max_size.into())?;
    Ok(PoolSettings {
        max_size: u32::try_from(max_size).map_err(|_| {
            anyhow::anyhow!("datasources.postgres.maximum-pool-size is too large: {max_size}")
        })?,
        wait: Duration::from_millis(positive(
            config,
            "connection-timeout",
            millis(defaults.wait),
        )?),
        statement_timeout: Duration::from_millis(positive(
            config,
            "statement-timeout",
            millis(defaults.statement_timeout),
        )?),
    })
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// `datasources.postgres.<name>`: a whole number above zero, or `default` when unset.
fn positive(config: &Config, name: &str, default: u64) -> anyhow::Result<u64> {
    Ok(whole_above_zero(config, &format!("datasources.postgres.{name}"))?.unwrap_or(default))
}

/// The setting `key` as a whole number above zero (`None` when unset), or an error naming
/// the key.
pub(crate) fn whole_above_zero(config: &Config, key: &str) -> anyhow::Result<Option<u64>> {
    config
        .get_str(key)
        .map(|text| {
            text.trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    anyhow::anyhow!("{key} must be a whole number above zero, not `{text}`")
                })
        })
        .transpose()
}

/// Percent-encodes all but unreserved URL characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// pgjdbc's `ssl` and `sslfactory` as libpq's `sslmode` (the store reads `sslmode` and
/// `sslrootcert`, which pgjdbc shares): `ssl=true` verifies the certificate and the host name
/// as pgjdbc does (`verify-full`), `sslfactory=org.postgresql.ssl.NonValidatingFactory`
/// encrypts without verifying (`require`). An explicit `sslmode` wins. Another factory
/// cannot be honoured, and says so.
fn jdbc_ssl_params(rest: &str) -> anyhow::Result<String> {
    let Some((base, query)) = rest.split_once('?') else {
        return Ok(rest.to_owned());
    };
    let mut kept = Vec::new();
    let mut ssl = None;
    let mut non_validating = false;
    let mut has_mode = false;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "ssl" => ssl = Some(value.eq_ignore_ascii_case("true")),
            "sslfactory" if value == "org.postgresql.ssl.NonValidatingFactory" => {
                non_validating = true;
            }
            "sslfactory" => bail!(
                "datasources.postgres.url: sslfactory={value} is a Java class Saker cannot \
                 load; use sslmode=verify-full with sslrootcert=/path/to/ca.pem instead"
            ),
            _ => {
                has_mode |= key == "sslmode";
                kept.push(pair.to_owned());
            }
        }
    }
    if !has_mode {
        if non_validating {
            kept.push("sslmode=require".to_owned());
        } else if ssl == Some(true) {
            kept.push("sslmode=verify-full".to_owned());
        }
    }
    Ok(if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> Config {
        Config::from_yaml(yaml)
    }

    #[test]
    fn the_postgres_url_takes_kestra_jdbc_urls_and_encoded_credentials() {
        let c = config(
            "saker: {}\ndatasources:\n  postgres:\n    url: jdbc:postgresql://db:5432/kestra\n    username: ke stra\n    password: p@ss:w/rd\n",
        );
        assert_eq!(
            postgres_url(&c).unwrap(),
            "postgresql://ke%20stra:p%40ss%3Aw%2Frd@db:5432/kestra"
        );
        let plain = config("saker: {}\ndatasources:\n  postgres:\n    url: postgres://db/s\n");
        assert_eq!(postgres_url(&plain).unwrap(), "postgresql://db/s");
        let missing = postgres_url(&config("saker: {}\n")).unwrap_err();
        assert!(
            missing.to_string().contains("datasources.postgres.url"),
            "{missing}"
        );
        let wrong = config("saker: {}\ndatasources:\n  postgres:\n    url: mysql://db/s\n");
        assert!(postgres_url(&wrong).is_err());
    }

    #[test]
    fn the_pool_takes_hikari_keys_and_refuses_nonsense() {
        let defaults = pool_settings(&config(
            "saker: {}
",
        ))
        .unwrap();
        assert_eq!(defaults, PoolSettings::default());
        let set = pool_settings(&config(
            "saker: {}\ndatasources:\n  postgres:\n    maximum-pool-size: 3\n    connection-timeout: 250\n    statement-timeout: \"1500\"\n",
        ))
        .unwrap();
        assert_eq!(set.max_size, 3);
        assert_eq!(set.wait, Duration::from_millis(250));
        assert_eq!(set.statement_timeout, Duration::from_millis(1500));
        for bad in [
            "maximum-pool-size: 0",
            "connection-timeout: soon",
            "statement-timeout: -1",
        ] {
            let err = pool_settings(&config(&format!(
                "saker: {{}}\ndatasources:\n  postgres:\n    {bad}\n"
            )))
            .unwrap_err()
            .to_string();
            let key = bad.split(':').next().unwrap();
            assert!(err.contains(key) && err.contains("above zero"), "{err}");
        }
    }

    #[test]
    fn pgjdbc_ssl_settings_become_sslmode() {
        let url = |u: &str| {
            postgres_url(&config(&format!(
                "saker: {{}}\ndatasources:\n  postgres:\n    url: \"{u}\"\n"
            )))
        };
        assert_eq!(
            url("jdbc:postgresql://db/k?ssl=true").unwrap(),
            "postgresql://db/k?sslmode=verify-full"
        );
        assert_eq!(
            url("jdbc:postgresql://db/k?ssl=true&sslrootcert=/ca.pem&currentSchema=x").unwrap(),
            "postgresql://db/k?sslrootcert=/ca.pem&currentSchema=x&sslmode=verify-full"
        );
        assert_eq!(
            url(
                "jdbc:postgresql://db/k?ssl=true&sslfactory=org.postgresql.ssl.NonValidatingFactory"
            )
            .unwrap(),
            "postgresql://db/k?sslmode=require"
        );
        // An explicit sslmode wins; ssl=false alone changes nothing.
        assert_eq!(
            url("jdbc:postgresql://db/k?ssl=true&sslmode=verify-ca").unwrap(),
            "postgresql://db/k?sslmode=verify-ca"
        );
        assert_eq!(
            url("jdbc:postgresql://db/k?ssl=false").unwrap(),
            "postgresql://db/k"
        );
        let err = url("jdbc:postgresql://db/k?sslfactory=com.example.MyFactory").unwrap_err();
        assert!(err.to_string().contains("sslfactory"), "{err}");
        // A plain postgres:// URL is libpq's already: left as written.
        assert_eq!(
            url("postgres://db/k?sslmode=require").unwrap(),
            "postgresql://db/k?sslmode=require"
        );
    }
}
