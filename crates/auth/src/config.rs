//! Configuration: the `security:` subtree ([`SecurityConfig`]) and `server.basic-auth`
//! ([`BootstrapAdmin`]). Errors name the key and how to fix it, never the value found there
//! (it may be a password).

use chrono::Duration;
use serde_json::{Map, Value};

use crate::error::{AuthError, Result};
use crate::password::{Password, PasswordPolicy};
use crate::permission::{ADMIN_ROLE, Role, parse_permissions};

/// The tenant of a single-tenant installation.
pub const DEFAULT_TENANT: &str = "main";

/// `security.super-admin`.
#[derive(Debug)]
pub struct SuperAdminConfig {
    pub username: String,
    pub password: Password,
    /// Tenants where the super-admin is also a tenant administrator.
    pub tenant_admin_access: Vec<String>,
}

/// `security.default-role`: bound to every new user.
#[derive(Debug, Clone)]
pub struct DefaultRoleConfig {
    pub role: Role,
    /// `tenant-id`; `None` for the default tenant.
    pub tenant: Option<String>,
}

/// The `security:` subtree.
#[derive(Debug)]
pub struct SecurityConfig {
    pub super_admin: Option<SuperAdminConfig>,
    pub default_role: Option<DefaultRoleConfig>,
    /// `security.invitations.expire-after`, P7D by default.
    pub invitation_expiry: Duration,
    /// `security.basic-auth.password-regexp`.
    pub password_policy: PasswordPolicy,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            super_admin: None,
            default_role: None,
            invitation_expiry: Duration::days(7),
            password_policy: PasswordPolicy::default(),
        }
    }
}

/// `server.basic-auth.{username,password}`: the administrator created at first start.
#[derive(Debug)]
pub struct BootstrapAdmin {
    pub username: String,
    pub password: Password,
}

fn err(key: &str, fix: impl Into<String>) -> AuthError {
    AuthError::Config {
        key: key.to_owned(),
        fix: fix.into(),
    }
}

/// The map at `key`, refusing keys it does not know. `Null` reads as empty.
fn object<'a>(
    value: &'a Value,
    key: &str,
    known: &[&str],
) -> Result<Option<&'a Map<String, Value>>> {
    let map = match value {
        Value::Null => return Ok(None),
        Value::Object(map) => map,
        _ => return Err(err(key, "must be a map")),
    };
    if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(err(
            &format!("{key}.{unknown}"),
            format!("unknown key; the known keys are {}", known.join(", ")),
        ));
    }
    Ok(Some(map))
}

fn string(map: &Map<String, Value>, parent: &str, name: &str) -> Result<Option<String>> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => {
            Err(err(&format!("{parent}.{name}"), "must not be empty"))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(err(&format!("{parent}.{name}"), "must be a string")),
    }
}

fn required(map: &Map<String, Value>, parent: &str, name: &str) -> Result<String> {
    string(map, parent, name)?.ok_or_else(|| err(&format!("{parent}.{name}"), "is required"))
}

fn string_list(map: &Map<String, Value>, parent: &str, name: &str) -> Result<Vec<String>> {
    let key = format!("{parent}.{name}");
    match map.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v.as_str() {
                Some(s) if !s.trim().is_empty() => Ok(s.to_owned()),
                _ => Err(err(&key, "must be a list of non-empty strings")),
            })
            .collect(),
        Some(_) => Err(err(&key, "must be a list of strings")),
    }
}

impl SecurityConfig {
    /// Reads the `security:` subtree (`Null` when absent).
    pub fn from_value(value: &Value) -> Result<Self> {
        let mut config = SecurityConfig::default();
        let Some(root) = object(
            value,
            "security",
            &["super-admin", "default-role", "invitations", "basic-auth"],
        )?
        else {
            return Ok(config);
        };
        let null = Value::Null;
        let sub = |name: &str| root.get(name).unwrap_or(&null);

        if let Some(map) = object(
            sub("super-admin"),
            "security.super-admin",
            &["username", "password", "tenant-admin-access"],
        )? {
            let p = "security.super-admin";
            config.super_admin = Some(SuperAdminConfig {
                username: required(map, p, "username")?,
                password: Password::new(required(map, p, "password")?),
                tenant_admin_access: string_list(map, p, "tenant-admin-access")?,
            });
        }

        if let Some(map) = object(
            sub("default-role"),
            "security.default-role",
            &["name", "description", "permissions", "tenant-id"],
        )? {
            let p = "security.default-role";
            let name = required(map, p, "name")?;
            let description = string(map, p, "description")?.unwrap_or_default();
            let permissions = match map.get("permissions") {
                None | Some(Value::Null) => {
                    return Err(err(
                        &format!("{p}.permissions"),
                        "is required, e.g. {FLOW: [READ]}",
                    ));
                }
                Some(v) => {
                    parse_permissions(v).map_err(|fix| err(&format!("{p}.permissions"), fix))?
                }
            };
            if name == ADMIN_ROLE {
                return Err(err(
                    &format!("{p}.name"),
                    "admin is the built-in role with every permission; choose another name",
                ));
            }
            let role = Role::new(name, description, permissions).map_err(|e| match e {
                AuthError::InvalidName { .. } => err(&format!("{p}.name"), e.to_string()),
                _ => err(&format!("{p}.permissions"), e.to_string()),
            })?;
            config.default_role = Some(DefaultRoleConfig {
                role,
                tenant: string(map, p, "tenant-id")?,
            });
        }

        if let Some(map) = object(
            sub("invitations"),
            "security.invitations",
            &["expire-after"],
        )? && let Some(text) = string(map, "security.invitations", "expire-after")?
        {
            config.invitation_expiry = parse_iso_duration(&text).ok_or_else(|| {
                err(
                    "security.invitations.expire-after",
                    "must be a positive ISO-8601 duration such as P7D, P30D or PT12H",
                )
            })?;
        }

        if let Some(map) = object(
            sub("basic-auth"),
            "security.basic-auth",
            &["password-regexp"],
        )? && let Some(pattern) = string(map, "security.basic-auth", "password-regexp")?
        {
            config.password_policy = PasswordPolicy::from_regexp(&pattern)?;
        }
        Ok(config)
    }
}

impl BootstrapAdmin {
    /// Reads `server.basic-auth` (`Null` when absent). `None` unless both username and
    /// password are set; one without the other is an error. `open-urls` belongs to the HTTP
    /// layer and is accepted here without being read.
    pub fn from_value(value: &Value) -> Result<Option<Self>> {
        let p = "server.basic-auth";
        let Some(map) = object(value, p, &["username", "password", "open-urls"])? else {
            return Ok(None);
        };
        match (string(map, p, "username")?, string(map, p, "password")?) {
            (Some(username), Some(password)) => Ok(Some(BootstrapAdmin {
                username,
                password: Password::new(password),
            })),
            (None, None) => Ok(None),
            (Some(_), None) => Err(err(
                &format!("{p}.password"),
                "is required when username is set",
            )),
            (None, Some(_)) => Err(err(
                &format!("{p}.username"),
                "is required when password is set",
            )),
        }
    }
}

/// Parses an ISO-8601 duration of days and smaller units (`P7D`, `PT12H`, `P1DT30M`, `P2W`),
/// as Java's `Duration.parse` accepts plus weeks. `None` for anything else, zero or negative.
pub fn parse_iso_duration(text: &str) -> Option<Duration> {
    let rest = text.strip_prefix('P').or_else(|| text.strip_prefix('p'))?;
    let (date, time) = match rest.split_once(['T', 't']) {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut total = Duration::zero();
    let mut any = false;
    let mut add = |part: &str, units: &[(char, i64)]| -> Option<()> {
        let mut number = String::new();
        let mut last_unit = 0usize;
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let c = c.to_ascii_uppercase();
            let index = units.iter().position(|(u, _)| *u == c)?;
            // Units in order, each once, each with a number.
            if index < last_unit || number.is_empty() {
                return None;
            }
            last_unit = index + 1;
            let n: i64 = number.parse().ok()?;
            let secs = n.checked_mul(units[index].1)?;
            total = total.checked_add(&Duration::try_seconds(secs)?)?;
            number.clear();
            any = true;
        }
        number.is_empty().then_some(())
    };
    add(date, &[('W', 7 * 86_400), ('D', 86_400)])?;
    if let Some(time) = time {
        add(time, &[('H', 3_600), ('M', 60), ('S', 1)])?;
    }
    (any && total > Duration::zero()).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permission::{Action, Permission};
    use serde_json::json;

    #[test]
    fn durations() {
        assert_eq!(parse_iso_duration("P7D"), Some(Duration::days(7)));
        assert_eq!(parse_iso_duration("P30D"), Some(Duration::days(30)));
        assert_eq!(parse_iso_duration("PT12H"), Some(Duration::hours(12)));
        assert_eq!(
            parse_iso_duration("P1DT2H3M4S"),
            Some(Duration::seconds(86_400 + 7_200 + 180 + 4))
        );
        assert_eq!(parse_iso_duration("P2W"), Some(Duration::days(14)));
        for bad in [
            "",
            "P",
            "PT",
            "7D",
            "P0D",
            "PD",
            "P1H",
            "PT1D",
            "P1D2",
            "P-1D",
            "PT1M1H",
            "P1Y",
            "P99999999999999999D",
        ] {
            assert_eq!(parse_iso_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn absent_means_defaults() {
        let c = SecurityConfig::from_value(&Value::Null).unwrap();
        assert!(c.super_admin.is_none() && c.default_role.is_none());
        assert_eq!(c.invitation_expiry, Duration::days(7));
    }

    #[test]
    fn the_seed_example_parses() {
        let c = SecurityConfig::from_value(&json!({
            "super-admin": {"username": "root", "password": "S3cret-value!", "tenant-admin-access": ["main"]},
            "default-role": {
                "name": "default", "description": "Default role",
                "permissions": {"FLOW": ["CREATE", "READ", "UPDATE", "DELETE"]},
                "tenant-id": "staging"
            },
            "invitations": {"expire-after": "P30D"},
            "basic-auth": {"password-regexp": "[A-Za-z0-9!-]{8,}"}
        }))
        .unwrap();
        let admin = c.super_admin.as_ref().unwrap();
        assert_eq!(admin.username, "root");
        assert_eq!(admin.tenant_admin_access, ["main"]);
        let role = c.default_role.as_ref().unwrap();
        assert!(role.role.allows(Permission::Flow, Action::Delete));
        assert_eq!(role.tenant.as_deref(), Some("staging"));
        assert_eq!(c.invitation_expiry, Duration::days(30));
        assert!(
            !format!("{c:?}").contains("S3cret-value!"),
            "Debug redacts the password"
        );
    }

    #[test]
    fn errors_name_the_key_never_the_value() {
        let cases = [
            (
                json!({"super-admin": {"username": "root"}}),
                "security.super-admin.password",
            ),
            (
                json!({"super-admin": {"password": "Hidden-Value-1"}}),
                "security.super-admin.username",
            ),
            (
                json!({"invitations": {"expire-after": "Hidden-Value-1"}}),
                "security.invitations.expire-after",
            ),
            (
                json!({"basic-auth": {"password-regexp": "(Hidden-Value-1"}}),
                "security.basic-auth.password-regexp",
            ),
            (
                json!({"default-role": {"name": "d", "permissions": {"Hidden-Value-1": ["READ"]}}}),
                "security.default-role.permissions",
            ),
            (
                json!({"default-role": {"name": "d", "permissions": {"AUDITLOG": ["DELETE"]}}}),
                "security.default-role.permissions",
            ),
            (
                json!({"default-role": {"name": "d"}}),
                "security.default-role.permissions",
            ),
            (
                json!({"default-role": {"name": "admin", "permissions": {"FLOW": ["READ"]}}}),
                "security.default-role.name",
            ),
            (
                json!({"default-role": {"name": "a/b", "permissions": {"FLOW": ["READ"]}}}),
                "security.default-role.name",
            ),
            (json!({"superadmin": {}}), "security.superadmin"),
            (
                json!({"super-admin": {"username": 3, "password": "Hidden-Value-1"}}),
                "security.super-admin.username",
            ),
            (json!("Hidden-Value-1"), "security"),
        ];
        for (value, key) in cases {
            let err = SecurityConfig::from_value(&value).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, AuthError::Config { .. }));
            assert!(text.contains(key), "error should name {key}");
            assert!(
                !text.contains("Hidden-Value-1"),
                "error for {key} echoes the value"
            );
        }
    }

    #[test]
    fn bootstrap_admin() {
        assert!(BootstrapAdmin::from_value(&Value::Null).unwrap().is_none());
        let admin = BootstrapAdmin::from_value(&json!({
            "username": "admin@kestra.io", "password": "change-me",
            "open-urls": ["/api/v1/main/executions/webhook/"]
        }))
        .unwrap()
        .unwrap();
        assert_eq!(admin.username, "admin@kestra.io");
        let err = BootstrapAdmin::from_value(&json!({"username": "a"})).unwrap_err();
        assert!(err.to_string().contains("server.basic-auth.password"));
        let err = BootstrapAdmin::from_value(&json!({"password": "Hidden-Value-1"})).unwrap_err();
        assert!(err.to_string().contains("server.basic-auth.username"));
        assert!(!err.to_string().contains("Hidden-Value-1"));
    }
}
