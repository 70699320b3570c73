//! pgjdbc's URL, `jdbc:postgresql://host[:port][,host2[:port2]]/database?name=value&...` (also
//! `jdbc:postgresql:database` and `jdbc:postgresql:/`), read into a tokio-postgres
//! configuration. The parameters Saker uses: `user`, `password`, `sslmode` and `ssl`,
//! `connectTimeout` (seconds, pgjdbc's default 10), `ApplicationName`, `options`,
//! `currentSchema`; pgjdbc's other parameters are tuning Saker has no use for and are
//! ignored.
//!
//! An error here never holds the URL nor any part of it: the URL is often built from a
//! secret. It names the part that is wrong.

use std::time::Duration;

use tokio_postgres::Config;

/// pgjdbc's default `connectTimeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a URL says.
pub(super) struct PgUrl {
    pub config: Config,
    /// `sslmode` (or `ssl=true`, which is `require`), lower case.
    pub ssl_mode: Option<String>,
    pub connect_timeout: Duration,
}

/// Reads `url`; `Err` says what is wrong without quoting it.
pub(super) fn parse(url: &str) -> Result<PgUrl, String> {
    let url = url.trim();
    let rest = strip_prefix_ignore_case(url, "jdbc:postgresql:").ok_or(
        "must start with 'jdbc:postgresql:' (a JDBC URL such as \
         jdbc:postgresql://localhost:5432/mydb)",
    )?;
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut config = Config::new();
    let database = match rest.strip_prefix("//") {
        Some(rest) => {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            hosts(authority, &mut config)?;
            path
        }
        None => {
            config.host("localhost").port(5432);
            rest.strip_prefix('/').unwrap_or(rest)
        }
    };
    if !database.is_empty() {
        config.dbname(decode(database));
    }
    let mut ssl_mode = None;
    let mut connect_timeout = DEFAULT_CONNECT_TIMEOUT;
    let mut options = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "user" => {
                config.user(value.as_ref());
            }
            "password" => {
                config.password(value.as_bytes());
            }
            "sslmode" => ssl_mode = Some(value.to_ascii_lowercase()),
            "ssl" if value.eq_ignore_ascii_case("true") && ssl_mode.is_none() => {
                ssl_mode = Some("require".into());
            }
            "connectTimeout" | "loginTimeout" => {
                let seconds: u64 = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("its parameter '{name}' is not a number of seconds"))?;
                // pgjdbc: 0 is no limit; Saker keeps one.
                if seconds > 0 {
                    connect_timeout = Duration::from_secs(seconds);
                }
            }
            "ApplicationName" | "applicationName" => {
                config.application_name(value.as_ref());
            }
            "options" => options.push(value.into_owned()),
            "currentSchema" => options.push(format!("-c search_path={value}")),
            _ => {}
        }
    }
    if !options.is_empty() {
        config.options(options.join(" "));
    }
    config.connect_timeout(connect_timeout);
    Ok(PgUrl {
        config,
        ssl_mode,
        connect_timeout,
    })
}

/// `host[:port]`, comma-separated; IPv6 addresses in brackets. No host is localhost.
fn hosts(authority: &str, config: &mut Config) -> Result<(), String> {
    if authority.contains('@') {
        return Err(
            "holds credentials before the host ('user:password@'): give them as \
                    'username' and 'password' (or ?user=...&password=...)"
                .into(),
        );
    }
    if authority.is_empty() {
        config.host("localhost").port(5432);
        return Ok(());
    }
    for host in authority.split(',') {
        let (name, port) = match host.strip_prefix('[') {
            Some(v6) => {
                let (address, after) = v6
                    .split_once(']')
                    .ok_or("has an IPv6 address without its closing ']'")?;
                (address, after.strip_prefix(':'))
            }
            None => match host.rsplit_once(':') {
                Some((name, port)) => (name, Some(port)),
                None => (host, None),
            },
        };
        let port = match port {
            None | Some("") => 5432,
            Some(port) => port
                .parse::<u16>()
                .map_err(|_| "has a port that is not a number from 1 to 65535".to_owned())?,
        };
        config
            .host(if name.is_empty() { "localhost" } else { name })
            .port(port);
    }
    Ok(())
}

fn decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_postgres::config::Host;

    #[test]
    fn jdbc_urls_are_read_as_pgjdbc_reads_them() {
        let url = parse(
            "jdbc:postgresql://db.example:6543,[::1]/my%20db?user=u&password=p%26q\
             &sslmode=DISABLE&connectTimeout=3&currentSchema=app&tcpKeepAlive=true",
        )
        .unwrap();
        let c = &url.config;
        assert_eq!(
            c.get_hosts(),
            &[Host::Tcp("db.example".into()), Host::Tcp("::1".into())]
        );
        assert_eq!(c.get_ports(), &[6543, 5432]);
        assert_eq!(c.get_dbname(), Some("my db"));
        assert_eq!(c.get_user(), Some("u"));
        assert_eq!(c.get_password(), Some(&b"p&q"[..]));
        assert_eq!(c.get_options(), Some("-c search_path=app"));
        assert_eq!(url.ssl_mode.as_deref(), Some("disable"));
        assert_eq!(url.connect_timeout, Duration::from_secs(3));
        let short = parse("jdbc:postgresql:mydb").unwrap();
        assert_eq!(short.config.get_dbname(), Some("mydb"));
        assert_eq!(short.config.get_hosts(), &[Host::Tcp("localhost".into())]);
    }

    #[test]
    fn bad_urls_are_refused_without_being_quoted() {
        for (url, says) in [
            (
                "postgres://u:hunter2@h/db",
                "must start with 'jdbc:postgresql:'",
            ),
            (
                "jdbc:postgresql://u:hunter2@h/db",
                "'username' and 'password'",
            ),
            ("jdbc:postgresql://h:hunter2/db", "port"),
            (
                "jdbc:postgresql://h/db?connectTimeout=hunter2",
                "connectTimeout",
            ),
        ] {
            let err = parse(url).err().unwrap();
            assert!(err.contains(says), "{url}: {err}");
            assert!(!err.contains("hunter2"), "{url}: {err}");
        }
    }
}
