//! Flow `listeners` (Kestra's deprecated but still run form of `afterExecution`): tasks run
//! once the execution has ended, when every condition of the listener holds.

use serde::Serialize;

use crate::condition::{Condition, ConditionScope, parse_conditions};
use crate::diagnostic::{index, join};
use crate::read::{self, Fields};
use crate::task::{TaskDef, parse_tasks};
use crate::validate::Ctx;
use crate::yaml::Node;

/// One listener of a flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listener {
    pub description: Option<String>,
    /// Tested against the ended execution; all must hold (none: always).
    pub conditions: Vec<Condition>,
    /// Run in the execution after it ended. Their ids are part of the flow's ids.
    pub tasks: Vec<TaskDef>,
}

/// Reads `listeners`.
pub(crate) fn parse_listeners(ctx: &mut Ctx<'_>, node: &Node, path: &str) -> Vec<Listener> {
    let Some(items) = read::seq(&mut ctx.diags, node, path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = index(path, i);
        let owner = format!("the listener at {item_path}");
        let allowed = &["description", "conditions", "tasks"];
        let mut f = Fields::new(&mut ctx.diags, item, &item_path, owner, allowed);
        let description = f.text("description");
        let conditions = match f.get("conditions") {
            Some(n) => parse_conditions(f.d, n, &f.key_path("conditions"), ConditionScope::Any),
            None => Vec::new(),
        };
        let tasks_node = f.get("tasks");
        if tasks_node.is_none_or(|n| n.as_seq().is_some_and(<[Node]>::is_empty)) {
            let message = format!("{} needs 'tasks' (at least one task to run)", f.owner);
            f.d.error(item.pos, &join(&item_path, "tasks"), message);
        }
        let tasks = match tasks_node {
            Some(n) => parse_tasks(ctx, n, &join(&item_path, "tasks")),
            None => Vec::new(),
        };
        out.push(Listener {
            description,
            conditions,
            tasks,
        });
    }
    out
}
