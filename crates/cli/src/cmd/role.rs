//! `saker role`: the roles of a tenant, without a UI. A role is a name, a description and
//! Kestra's permission map (`FLOW: [CREATE, READ]`, ...); `saker user bind` gives one to a
//! user. `admin` (every permission) is built in, and `security.default-role` belongs to the
//! configuration: neither can be created or deleted here.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use saker_auth::{Action, AuthError, Permission, Permissions, Role};

use crate::app::Globals;
use crate::cmd::user::open_auth_service;

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// List the roles of a tenant with their permissions.
    List {
        #[arg(long, default_value = saker_auth::DEFAULT_TENANT)]
        tenant: String,
    },
    /// Create a role.
    Create {
        name: String,
        /// What the role is for.
        #[arg(long, default_value = "")]
        description: String,
        /// A permission and its actions, e.g. `FLOW=CREATE,READ` or `SECRET=READ`; repeat
        /// for each permission. `FLOW=ALL` means every action.
        #[arg(
            long = "permission",
            value_name = "PERMISSION=ACTIONS",
            required = true
        )]
        permissions: Vec<String>,
        #[arg(long, default_value = saker_auth::DEFAULT_TENANT)]
        tenant: String,
    },
    /// Delete a role. A role still bound to users is refused unless `--force`, which
    /// removes those bindings too.
    Delete {
        name: String,
        /// Also remove the bindings that give this role.
        #[arg(long)]
        force: bool,
        #[arg(long, default_value = saker_auth::DEFAULT_TENANT)]
        tenant: String,
    },
}

/// Parses repeated `PERMISSION=ACTION,ACTION` arguments into a permission map.
fn parse_permission_args(args: &[String]) -> anyhow::Result<Permissions> {
    let names = |all: &[&str]| all.join(", ");
    let mut permissions = Permissions::new();
    for arg in args {
        let (permission, actions) = arg.split_once('=').with_context(|| {
            format!("--permission {arg}: write PERMISSION=ACTIONS, e.g. FLOW=CREATE,READ")
        })?;
        let permission =
            Permission::parse(&permission.trim().to_ascii_uppercase()).with_context(|| {
                format!(
                    "--permission {arg}: unknown permission; expected one of {}",
                    names(&Permission::ALL.map(Permission::as_str))
                )
            })?;
        let entry = permissions.entry(permission).or_default();
        for action in actions.split(',').map(|a| a.trim().to_ascii_uppercase()) {
            if action == "ALL" {
                entry.extend(permission.allowed_actions().iter().copied());
                continue;
            }
            let action = Action::parse(&action).with_context(|| {
                format!(
                    "--permission {arg}: unknown action; expected {} or ALL",
                    names(&Action::ALL.map(Action::as_str))
                )
            })?;
            entry.insert(action);
        }
    }
    Ok(permissions)
}

/// `FLOW=CREATE,READ SECRET=READ`: the argument syntax of `create`, so a listing can be
/// pasted back.
fn format_permissions(permissions: &Permissions) -> String {
    permissions
        .iter()
        .map(|(permission, actions)| {
            let actions: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
            format!("{permission}={}", actions.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn run(globals: &Globals, command: RoleCommand) -> anyhow::Result<ExitCode> {
    let app = globals.app()?;
    let service = open_auth_service(&app, app.open_store()?)?;
    match command {
        RoleCommand::List { tenant } => {
            for role in service.list_roles(&tenant)? {
                println!(
                    "{:<20}  {:<40}  {}",
                    role.name(),
                    role.description(),
                    format_permissions(role.permissions())
                );
            }
        }
        RoleCommand::Create {
            name,
            description,
            permissions,
            tenant,
        } => {
            let role = Role::new(name, description, parse_permission_args(&permissions)?)?;
            service.create_role(&tenant, &role)?;
            eprintln!(
                "created role {} in tenant {tenant}: {}",
                role.name(),
                format_permissions(role.permissions())
            );
        }
        RoleCommand::Delete {
            name,
            force,
            tenant,
        } => {
            service.ensure_role_is_editable(&tenant, &name)?;
            let bound = service
                .list_bindings(&tenant)?
                .into_iter()
                .filter(|b| b.role == name)
                .count();
            let deleted = if force {
                service.delete_role(&tenant, &name)?
            } else {
                match service.delete_unbound_role(&tenant, &name) {
                    Err(AuthError::Conflict { reason }) => {
                        anyhow::bail!("{reason}, or pass --force to remove them with the role")
                    }
                    other => other?,
                }
            };
            anyhow::ensure!(deleted, "no role named {name} in tenant {tenant}");
            if force && bound > 0 {
                eprintln!("deleted role {name} of tenant {tenant} and its {bound} binding(s)");
            } else {
                eprintln!("deleted role {name} of tenant {tenant}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn permission_arguments() {
        let parsed =
            parse_permission_args(&args(&["FLOW=create, read", "SECRET=READ", "flow=UPDATE"]))
                .unwrap();
        assert_eq!(
            format_permissions(&parsed),
            "FLOW=CREATE,READ,UPDATE SECRET=READ"
        );
        let all = parse_permission_args(&args(&["AUDITLOG=ALL", "ROLE=ALL"])).unwrap();
        assert_eq!(
            format_permissions(&all),
            "AUDITLOG=READ ROLE=CREATE,READ,UPDATE,DELETE"
        );
        for bad in ["FLOW", "FLOWS=READ", "FLOW=RUN", "FLOW=", "=READ"] {
            let err = parse_permission_args(&args(&[bad]))
                .unwrap_err()
                .to_string();
            assert!(err.contains("--permission"), "{bad}: {err}");
        }
    }
}
