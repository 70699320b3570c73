//! The tasks a flowable task holds: child lists (`tasks`, `then`, `else`, `defaults`,
//! `errors`, `finally`), one child (Pause's `onPause`), Switch's `cases`, Dag's
//! `{task, dependsOn}` wrappers, and Pause's `onResume` input declarations.
//!
//! Children are read with the same reader as top-level tasks, so they are checked at every
//! depth with their own positions, and their ids join the flow-wide duplicate check.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;

use crate::catalog::PropSpec;
use crate::diagnostic::{index, join};
use crate::input::{InputDef, parse_inputs};
use crate::read;
use crate::shape::Shape;
use crate::task::{TaskDef, parse_task, parse_tasks};
use crate::validate::Ctx;
use crate::yaml::{Node, Pos};

/// What one flowable task holds, as read from its properties.
#[derive(Debug, Default)]
pub(crate) struct Children {
    pub(crate) subtasks: IndexMap<String, Vec<TaskDef>>,
    pub(crate) cases: IndexMap<String, Vec<TaskDef>>,
    pub(crate) on_resume: Vec<InputDef>,
    /// Properties read here, for the required-property check.
    present: HashSet<String>,
}

impl Children {
    /// Reads property `key` (not null) of a shape that [`Shape::holds_children`]. False when
    /// anything in it was reported.
    pub(crate) fn read(
        &mut self,
        ctx: &mut Ctx<'_>,
        spec: &PropSpec,
        value: &Node,
        path: &str,
    ) -> bool {
        let before = ctx.diags.len();
        let key = spec.name;
        self.present.insert(key.to_owned());
        // Kestra's required child lists are `@NotEmpty`: an If without `then` tasks, a
        // Parallel without branches, has nothing to do and is a mistake.
        if spec.required && value.as_seq().is_some_and(<[Node]>::is_empty) {
            ctx.diags.error(
                value.pos,
                path,
                format!("'{key}' must hold at least one task"),
            );
        }
        match spec.shape {
            Shape::Tasks => {
                let tasks = parse_tasks(ctx, value, path);
                self.subtasks.insert(key.to_owned(), tasks);
            }
            Shape::Task => {
                let task = match value.as_map() {
                    Some(_) => parse_task(ctx, value, path),
                    None => {
                        ctx.diags.error(
                            value.pos,
                            path,
                            format!(
                                "'{key}' must be one task (a map with 'id' and 'type'), got {}",
                                value.describe()
                            ),
                        );
                        None
                    }
                };
                self.subtasks
                    .insert(key.to_owned(), task.into_iter().collect());
            }
            Shape::TaskCases => self.cases = read_cases(ctx, value, path),
            Shape::DagTasks => {
                let tasks = read_dag(ctx, value, path);
                self.subtasks.insert(key.to_owned(), tasks);
            }
            Shape::Inputs => self.on_resume = parse_inputs(&mut ctx.diags, value, path),
            _ => unreachable_shape(ctx, key, value, path),
        }
        ctx.diags.len() == before
    }

    /// True if property `key` was read here.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.present.contains(key)
    }
}

/// A shape this module does not read reached it: a catalog mistake, reported rather than
/// dropped so that the flow is refused instead of run without the property.
fn unreachable_shape(ctx: &mut Ctx<'_>, key: &str, value: &Node, path: &str) {
    ctx.diags.error(
        value.pos,
        path,
        format!("property '{key}' could not be read (internal error; please report it)"),
    );
}

/// Switch's `cases`: each key a case value (as text), each value a list of tasks.
fn read_cases(ctx: &mut Ctx<'_>, node: &Node, path: &str) -> IndexMap<String, Vec<TaskDef>> {
    let Some(entries) = read::map(&mut ctx.diags, node, path) else {
        return IndexMap::new();
    };
    entries
        .iter()
        .map(|e| {
            let tasks = parse_tasks(ctx, &e.value, &join(path, &e.key));
            (e.key.clone(), tasks)
        })
        .collect()
}

/// One `dependsOn` entry, kept with its place for diagnostics.
#[derive(Clone)]
struct Dependency {
    name: String,
    pos: Pos,
    path: String,
}

/// Dag's `tasks`: each entry `{task, dependsOn}`; the tasks come back unwrapped with
/// `depends_on` set. Every `dependsOn` must name another task of the same Dag, and the
/// dependencies must not form a cycle.
fn read_dag(ctx: &mut Ctx<'_>, node: &Node, path: &str) -> Vec<TaskDef> {
    let Some(items) = read::seq(&mut ctx.diags, node, path) else {
        return Vec::new();
    };
    let mut tasks = Vec::new();
    // Every entry's id as written, even of a task that failed to read, so that a dependency on
    // it is not also reported as naming nothing.
    let mut declared: HashMap<String, (Pos, String)> = HashMap::new();
    let mut edges: Vec<(String, Vec<Dependency>)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = index(path, i);
        let Some(entries) = read::map(&mut ctx.diags, item, &item_path) else {
            continue;
        };
        read::check_keys(
            &mut ctx.diags,
            entries,
            &["task", "dependsOn"],
            &item_path,
            "a Dag entry",
        );
        let depends = read_depends_on(ctx, item, &item_path);
        let Some(task_node) = item.get("task").filter(|n| !n.is_null()) else {
            if !read::misspelt(item, "task", &["task", "dependsOn"]) {
                ctx.diags.error(
                    item.pos,
                    &join(&item_path, "task"),
                    "a Dag entry needs 'task' (the task to run) and may have 'dependsOn' \
                     (ids of the tasks of this Dag that must end first)",
                );
            }
            continue;
        };
        let task_path = join(&item_path, "task");
        if let Some(id) = task_node.get("id").and_then(Node::as_text) {
            declared.insert(id.to_owned(), (task_node.pos, join(&task_path, "id")));
            edges.push((id.to_owned(), depends.clone()));
        }
        if let Some(mut task) = parse_task(ctx, task_node, &task_path) {
            task.depends_on = depends.into_iter().map(|d| d.name).collect();
            tasks.push(task);
        }
    }
    check_dependencies(ctx, &declared, &edges);
    tasks
}

fn read_depends_on(ctx: &mut Ctx<'_>, item: &Node, item_path: &str) -> Vec<Dependency> {
    let Some(node) = item.get("dependsOn").filter(|n| !n.is_null()) else {
        return Vec::new();
    };
    let list_path = join(item_path, "dependsOn");
    let Some(names) = read::seq(&mut ctx.diags, node, &list_path) else {
        return Vec::new();
    };
    names
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            let path = index(&list_path, i);
            read::string(&mut ctx.diags, n, &path).map(|name| Dependency {
                name,
                pos: n.pos,
                path,
            })
        })
        .collect()
}

/// Reports dependencies on ids that are not tasks of this Dag, then one cycle if there is any.
fn check_dependencies(
    ctx: &mut Ctx<'_>,
    declared: &HashMap<String, (Pos, String)>,
    edges: &[(String, Vec<Dependency>)],
) {
    let mut siblings: Vec<&str> = declared.keys().map(String::as_str).collect();
    siblings.sort_unstable();
    for (id, deps) in edges {
        for dep in deps {
            if !declared.contains_key(&dep.name) {
                ctx.diags.error(
                    dep.pos,
                    &dep.path,
                    format!(
                        "task '{id}' depends on '{}', which is not a task of this Dag \
                         (its tasks: {})",
                        dep.name,
                        siblings.join(", ")
                    ),
                );
            }
        }
    }
    let graph: IndexMap<&str, Vec<&str>> = edges
        .iter()
        .map(|(id, deps)| {
            let known = deps
                .iter()
                .map(|d| d.name.as_str())
                .filter(|n| declared.contains_key(*n))
                .collect();
            (id.as_str(), known)
        })
        .collect();
    if let Some(cycle) = find_cycle(&graph) {
        let (pos, path) = &declared[cycle[0]];
        ctx.diags.error(
            *pos,
            path,
            format!(
                "the Dag's dependencies form a cycle: {} (each of these waits for the next, \
                 so none can start)",
                cycle.join(" -> ")
            ),
        );
    }
}

/// One cycle of `graph` (task -> the tasks it depends on), as the ids along it with the first
/// repeated at the end; `None` when the graph is acyclic. Depth first with an explicit stack,
/// so a deep chain cannot overflow the call stack.
fn find_cycle<'a>(graph: &IndexMap<&'a str, Vec<&'a str>>) -> Option<Vec<&'a str>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut mark: HashMap<&str, Mark> = graph.keys().map(|k| (*k, Mark::New)).collect();
    for &start in graph.keys() {
        if mark[start] != Mark::New {
            continue;
        }
        // (node, index of its next dependency to visit)
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        mark.insert(start, Mark::OnPath);
        while let Some(top) = stack.last_mut() {
            let node = top.0;
            let deps = graph.get(node).map(Vec::as_slice).unwrap_or_default();
            if let Some(&dep) = deps.get(top.1) {
                top.1 += 1;
                match mark.get(dep).copied().unwrap_or(Mark::Done) {
                    Mark::New => {
                        mark.insert(dep, Mark::OnPath);
                        stack.push((dep, 0));
                    }
                    Mark::OnPath => {
                        let from = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                        let mut cycle: Vec<&str> = stack[from..].iter().map(|(n, _)| *n).collect();
                        cycle.push(dep);
                        return Some(cycle);
                    }
                    Mark::Done => {}
                }
            } else {
                mark.insert(node, Mark::Done);
                stack.pop();
            }
        }
    }
    None
}

/// The properties under which Kestra's flowable tasks hold child tasks.
const CHILD_LISTS: &[&str] = &["tasks", "then", "else", "defaults", "errors", "finally"];

/// For a task whose type is unknown (already reported): its child tasks are still checked, so
/// that a user who fixes the type does not meet a second layer of mistakes. Only lists whose
/// items look like tasks (maps with a `type`) are read, since an unknown type's property may
/// mean something else.
pub(crate) fn check_children_of_unknown(ctx: &mut Ctx<'_>, node: &Node, path: &str) {
    for entry in node.as_map().unwrap_or_default() {
        let entry_path = join(path, &entry.key);
        if CHILD_LISTS.contains(&entry.key.as_str()) && looks_like_tasks(&entry.value) {
            parse_tasks(ctx, &entry.value, &entry_path);
        } else if entry.key == "cases" {
            for case in entry.value.as_map().unwrap_or_default() {
                if looks_like_tasks(&case.value) {
                    parse_tasks(ctx, &case.value, &join(&entry_path, &case.key));
                }
            }
        }
    }
}

fn looks_like_tasks(node: &Node) -> bool {
    node.as_seq().is_some_and(|items| {
        !items.is_empty() && items.iter().all(|item| item.get("type").is_some())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph<'a>(edges: &[(&'a str, &[&'a str])]) -> IndexMap<&'a str, Vec<&'a str>> {
        edges.iter().map(|(k, v)| (*k, v.to_vec())).collect()
    }

    #[test]
    fn acyclic_graphs_have_no_cycle() {
        let g = graph(&[("a", &[]), ("b", &["a"]), ("c", &["a", "b"]), ("d", &["c"])]);
        assert_eq!(find_cycle(&g), None);
    }

    #[test]
    fn cycles_are_named_along_their_path() {
        let g = graph(&[("a", &[]), ("b", &["a", "d"]), ("c", &["b"]), ("d", &["c"])]);
        assert_eq!(find_cycle(&g), Some(vec!["b", "d", "c", "b"]));
        let g = graph(&[("self", &["self"])]);
        assert_eq!(find_cycle(&g), Some(vec!["self", "self"]));
    }

    #[test]
    fn a_long_chain_does_not_overflow() {
        let names: Vec<String> = (0..100_000).map(|i| format!("t{i}")).collect();
        let g: IndexMap<&str, Vec<&str>> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let deps = if i > 0 {
                    vec![names[i - 1].as_str()]
                } else {
                    vec![]
                };
                (n.as_str(), deps)
            })
            .collect();
        assert_eq!(find_cycle(&g), None);
    }
}
