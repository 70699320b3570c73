//! The task catalog, as Kestra's `GET /plugins` lists it: the types this server runs, one
//! entry per plugin group (`io.kestra.plugin.core`, `io.kestra.plugin.scripts`, ...), with
//! each type's aliases and properties. Any authenticated caller may read it: it is the same
//! for everyone and reads nothing stored.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::Path;
use serde_json::{Value, json};
use utoipa_axum::routes;

use crate::doc::Unauthorized;
use crate::openapi::ApiRouter;
use crate::routes::MaybeCaller;
use crate::schema::PluginView;

pub(crate) fn routes() -> ApiRouter {
    ApiRouter::new().routes(routes!(list_plugins))
}

/// The task and trigger types this server runs, by plugin group, with their properties.
#[utoipa::path(
    get,
    path = "/api/v1/{tenant}/plugins",
    tag = "Plugins",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "One entry per plugin group", body = Vec<PluginView>),
        Unauthorized,
    )
)]
async fn list_plugins(_who: MaybeCaller, Path(_tenant): Path<String>) -> Json<Vec<PluginView>> {
    let catalog = saker_model::Catalog::builtin();
    let mut groups: BTreeMap<String, PluginView> = BTreeMap::new();
    for task in catalog.tasks() {
        let plugin = entry(&mut groups, task.name);
        plugin.tasks.push(task.name.to_owned());
        plugin.aliases[task.name] = json!(task.aliases);
        plugin.properties[task.name] = json!(task.props);
    }
    for trigger in catalog.triggers() {
        let plugin = entry(&mut groups, trigger.name);
        plugin.triggers.push(trigger.name.to_owned());
        plugin.aliases[trigger.name] = json!(trigger.aliases);
        plugin.properties[trigger.name] = json!(
            trigger
                .required
                .iter()
                .map(|name| json!({"name": name, "required": true}))
                .collect::<Vec<_>>()
        );
    }
    Json(groups.into_values().collect())
}

/// The entry of `name`'s plugin group, made empty the first time.
fn entry<'a>(groups: &'a mut BTreeMap<String, PluginView>, name: &str) -> &'a mut PluginView {
    let group = group_of(name);
    groups.entry(group.clone()).or_insert_with(|| PluginView {
        name: group.rsplit('.').next().unwrap_or_default().to_owned(),
        group,
        tasks: Vec::new(),
        triggers: Vec::new(),
        aliases: Value::Object(Default::default()),
        properties: Value::Object(Default::default()),
    })
}

/// `io.kestra.plugin.core` of `io.kestra.plugin.core.log.Log`: the first four segments.
fn group_of(name: &str) -> String {
    name.split('.').take(4).collect::<Vec<_>>().join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_group_lists_its_types_with_aliases_and_properties() {
        let Json(plugins) = list_plugins(MaybeCaller::no_users(), Path("main".to_owned())).await;
        let group = |name: &str| plugins.iter().find(|p| p.group == name).unwrap();
        let core = group("io.kestra.plugin.core");
        assert_eq!(core.name, "core");
        assert!(
            core.tasks
                .iter()
                .any(|t| t == "io.kestra.plugin.core.log.Log")
        );
        assert!(
            core.triggers
                .iter()
                .any(|t| t == "io.kestra.plugin.core.trigger.Schedule")
        );
        assert!(
            core.aliases["io.kestra.plugin.core.log.Log"]
                .as_array()
                .unwrap()
                .contains(&json!("io.kestra.core.tasks.log.Log"))
        );
        let scripts = group("io.kestra.plugin.scripts");
        let script = scripts.properties["io.kestra.plugin.scripts.python.Script"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "script")
            .unwrap();
        assert_eq!(script["required"], true);
        // Every type is listed once, under its own group.
        let listed: usize = plugins
            .iter()
            .map(|p| p.tasks.len() + p.triggers.len())
            .sum();
        let catalog = saker_model::Catalog::builtin();
        assert_eq!(listed, catalog.tasks().len() + catalog.triggers().len());
    }
}
