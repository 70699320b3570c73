//! Tenant-less paths: every route under `/api/v1/{tenant}/…` also answers at `/api/v1/…` for
//! the default tenant, as Kestra servers did before the tenant moved into the path. Kestra's
//! own clients (the `kestra` Python package by default, older CLIs, deploy actions) call
//! these paths.
//!
//! An alias is a rewrite of the request's path before routing, so it goes through the very
//! same route, authentication, authorization and masking as its tenant form and cannot
//! answer otherwise. Which first segments are resources (`executions`, `flows`, …) is read
//! from the OpenAPI document, so a new route gets its alias without a line here. A path whose
//! first segment is already a route of its own (`/api/v1/openapi.json`) is left alone.
//!
//! The OpenAPI document lists each alias as a deprecated operation of its own.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// The path prefix of tenant routes in the OpenAPI document.
const TENANT_PREFIX: &str = "/api/v1/{tenant}/";
const API_PREFIX: &str = "/api/v1/";

/// Which tenant-less paths are aliases, and of which tenant.
#[derive(Debug, Clone)]
pub(crate) struct TenantlessAliases {
    /// First segments of tenant routes (`executions`, `flows`, ...).
    resources: BTreeSet<String>,
    default_tenant: String,
}

impl TenantlessAliases {
    /// The aliases of the routes in `document` (an OpenAPI document as JSON), for
    /// `default_tenant`.
    pub(crate) fn from_document(document: &Value, default_tenant: &str) -> Self {
        let paths: Vec<&String> = document["paths"]
            .as_object()
            .map(|p| p.keys().collect())
            .unwrap_or_default();
        let mut resources = BTreeSet::new();
        let mut own = BTreeSet::new();
        for path in paths {
            if let Some(rest) = path.strip_prefix(TENANT_PREFIX) {
                resources.insert(first_segment(rest).to_owned());
            } else if let Some(rest) = path.strip_prefix(API_PREFIX) {
                own.insert(first_segment(rest).to_owned());
            }
        }
        resources.retain(|r| !r.is_empty() && !r.starts_with('{') && !own.contains(r));
        Self {
            resources,
            default_tenant: default_tenant.to_owned(),
        }
    }

    /// The tenant form of `path_and_query` when it is a tenant-less alias; `None` otherwise.
    pub(crate) fn rewrite(&self, path_and_query: &str) -> Option<String> {
        let rest = path_and_query.strip_prefix(API_PREFIX)?;
        rest.split(['/', '?'])
            .next()
            .filter(|s| self.resources.contains(*s))?;
        Some(format!("{API_PREFIX}{}/{rest}", self.default_tenant))
    }
}

fn first_segment(rest: &str) -> &str {
    rest.split('/').next().unwrap_or_default()
}

/// Adds to `document` each tenant route's alias: the same operations without the `tenant`
/// parameter, marked deprecated, with their own operation ids.
pub(crate) fn document_aliases(document: &mut Value, default_tenant: &str) {
    let Some(paths) = document["paths"].as_object_mut() else {
        return;
    };
    let mut added = Map::new();
    for (path, item) in paths.iter() {
        let Some(rest) = path.strip_prefix(TENANT_PREFIX) else {
            continue;
        };
        let alias_path = format!("{API_PREFIX}{rest}");
        if paths.contains_key(&alias_path) {
            continue;
        }
        let mut alias = item.clone();
        if let Some(operations) = alias.as_object_mut() {
            // Path-level parameters, if any, lose `tenant` too.
            drop_tenant_parameter(operations);
            for (method, operation) in operations.iter_mut() {
                if method == "parameters" {
                    continue;
                }
                let Some(operation) = operation.as_object_mut() else {
                    continue;
                };
                drop_tenant_parameter(operation);
                operation.insert("deprecated".into(), Value::Bool(true));
                if let Some(Value::String(id)) = operation.get_mut("operationId") {
                    id.push_str("_tenantless");
                }
                let note = format!(
                    "Alias of `{path}` for the default tenant (`{default_tenant}`), as Kestra \
                     servers before tenants in paths answer it."
                );
                let description = match operation.get("description").and_then(Value::as_str) {
                    Some(text) => format!("{note}\n\n{text}"),
                    None => note,
                };
                operation.insert("description".into(), Value::String(description));
            }
        }
        added.insert(alias_path, alias);
    }
    paths.extend(added);
}

fn drop_tenant_parameter(object: &mut Map<String, Value>) {
    if let Some(Value::Array(parameters)) = object.get_mut("parameters") {
        parameters.retain(|p| !(p["name"] == "tenant" && p["in"] == "path"));
        if parameters.is_empty() {
            object.remove("parameters");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document() -> Value {
        json!({"paths": {
            "/api/v1/{tenant}/executions/{id}": {"get": {
                "operationId": "get_execution",
                "parameters": [
                    {"name": "tenant", "in": "path", "required": true},
                    {"name": "id", "in": "path", "required": true}
                ]
            }},
            "/api/v1/{tenant}/flows": {"post": {"operationId": "create_flow",
                "parameters": [{"name": "tenant", "in": "path", "required": true}]}},
            "/api/v1/openapi.json": {"get": {}},
            "/api/v1/users": {"get": {}},
            "/api/v1/{tenant}/users": {"get": {}},
            "/health": {"get": {}}
        }})
    }

    #[test]
    fn resource_paths_are_rewritten_to_the_default_tenant() {
        let aliases = TenantlessAliases::from_document(&document(), "main");
        assert_eq!(
            aliases.rewrite("/api/v1/executions/abc?x=1").as_deref(),
            Some("/api/v1/main/executions/abc?x=1")
        );
        assert_eq!(
            aliases.rewrite("/api/v1/flows").as_deref(),
            Some("/api/v1/main/flows")
        );
        assert_eq!(
            aliases.rewrite("/api/v1/flows?x=1").as_deref(),
            Some("/api/v1/main/flows?x=1")
        );
        // Tenant paths, the server's own routes, and a resource with a route of its own.
        for path in [
            "/api/v1/main/executions/abc",
            "/api/v1/openapi.json",
            "/api/v1/users",
            "/health",
            "/api/v1/executionsx/abc",
        ] {
            assert_eq!(aliases.rewrite(path), None, "{path}");
        }
    }

    #[test]
    fn the_document_lists_each_alias_as_deprecated_without_the_tenant() {
        let mut doc = document();
        document_aliases(&mut doc, "main");
        let alias = &doc["paths"]["/api/v1/executions/{id}"]["get"];
        assert_eq!(alias["deprecated"], true);
        assert_eq!(alias["operationId"], "get_execution_tenantless");
        assert_eq!(
            alias["parameters"],
            json!([{"name": "id", "in": "path", "required": true}])
        );
        assert!(
            alias["description"]
                .as_str()
                .unwrap()
                .contains("/api/v1/{tenant}/executions/{id}")
        );
        let flows = &doc["paths"]["/api/v1/flows"]["post"];
        assert!(flows.get("parameters").is_none());
        // A path already served as is keeps its own operations.
        assert!(
            doc["paths"]["/api/v1/users"]["get"]
                .get("deprecated")
                .is_none()
        );
        // The tenant form is unchanged.
        assert!(
            doc["paths"]["/api/v1/{tenant}/flows"]["post"]
                .get("deprecated")
                .is_none()
        );
    }
}
