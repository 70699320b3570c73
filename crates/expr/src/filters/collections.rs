//! List and map filters.
//!
//! These are structural (see [`Filter::is_structural`]): an element taken out of a container
//! carries its own taint plus the container's, so `{{ outputs | keys }}` stays readable when
//! one output is a secret, while the keys of a secret map stay secret.

use std::cmp::Ordering;
use std::sync::Arc;

use super::{Args, Filter};
use crate::error::ErrorKind;
use crate::ops::compare;
use crate::print::to_text;
use crate::value::{Map, Taint, Value};

pub(super) fn apply(f: Filter, input: &Value, a: &Args<'_>) -> Result<Value, ErrorKind> {
    let t = input.taint();
    match f {
        Filter::Default => Ok(match a.get(0) {
            Some(d) if input.is_empty() => d.clone().with_taint(t),
            _ if input.is_empty() => Value::null(),
            _ => input.clone(),
        }),
        Filter::Length => {
            let n = match input {
                Value::Null(_) => 0,
                Value::String(s, _) => s.chars().count(),
                Value::List(items, _) => items.len(),
                Value::Map(map, _) => map.len(),
                _ => 0,
            };
            Ok(Value::Int(i64::try_from(n).unwrap_or(i64::MAX), t))
        }
        Filter::First | Filter::Last => first_last(f == Filter::First, input, a),
        Filter::Join => join(input, a),
        Filter::Slice => slice(input, a),
        Filter::Reverse => match input {
            Value::Null(_) => Ok(input.clone()),
            Value::String(s, _) => Ok(Value::String(s.chars().rev().collect::<String>().into(), t)),
            Value::List(items, _) => Ok(list(items.iter().rev(), t)),
            other => Err(a.bad_input("a list or a string", other)),
        },
        Filter::Sort | Filter::Rsort => sort(f == Filter::Rsort, input, a),
        Filter::Keys => match input {
            Value::Null(_) => Ok(input.clone()),
            Value::Map(map, _) => Ok(Value::List(
                Arc::new(
                    map.keys()
                        .map(|k| Value::String(k.as_str().into(), t))
                        .collect(),
                ),
                t,
            )),
            Value::List(items, _) => Ok(Value::List(
                Arc::new((0..items.len()).map(|i| Value::Int(i as i64, t)).collect()),
                t,
            )),
            other => Err(a.bad_input("a map", other)),
        },
        Filter::Values => match input {
            Value::Null(_) => Ok(input.clone()),
            Value::Map(map, _) => Ok(list(map.values(), t)),
            Value::List(..) => Ok(input.clone()),
            other => Err(a.bad_input("a map", other)),
        },
        Filter::Merge => merge(input, a),
        Filter::Distinct => match input {
            Value::Null(_) => Ok(input.clone()),
            Value::List(items, _) => {
                let mut seen: Vec<&Value> = Vec::new();
                for item in items.iter() {
                    if !seen.contains(&item) {
                        seen.push(item);
                    }
                }
                Ok(list(seen.into_iter(), t))
            }
            other => Err(a.bad_input("a list", other)),
        },
        Filter::Flatten => match input {
            Value::Null(_) => Ok(input.clone()),
            Value::List(items, _) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items.iter() {
                    match item {
                        Value::List(inner, it) => {
                            out.extend(inner.iter().map(|x| x.clone().with_taint(*it | t)))
                        }
                        other => out.push(other.clone().with_taint(t)),
                    }
                }
                Ok(Value::List(Arc::new(out), t))
            }
            other => Err(a.bad_input("a list", other)),
        },
        Filter::Chunk => chunk(input, a),
        _ => Err(a.fail("is not a collection filter")),
    }
}

/// A list of clones of `items`, each with the container's taint added.
fn list<'v>(items: impl Iterator<Item = &'v Value>, t: Taint) -> Value {
    Value::List(
        Arc::new(items.map(|v| v.clone().with_taint(t)).collect()),
        t,
    )
}

fn first_last(first: bool, input: &Value, a: &Args<'_>) -> Result<Value, ErrorKind> {
    let t = input.taint();
    match input {
        Value::Null(_) => Ok(input.clone()),
        Value::List(items, _) => {
            let item = if first { items.first() } else { items.last() };
            Ok(item.cloned().unwrap_or_default().with_taint(t))
        }
        Value::String(s, _) => {
            let c = if first {
                s.chars().next()
            } else {
                s.chars().next_back()
            };
            Ok(c.map_or_else(Value::null, |c| Value::String(c.to_string().into(), t)))
        }
        Value::Map(map, _) => {
            let item = if first { map.first() } else { map.last() };
            Ok(item
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
                .with_taint(t))
        }
        other => Err(a.bad_input("a list or a string", other)),
    }
}

fn join(input: &Value, a: &Args<'_>) -> Result<Value, ErrorKind> {
    let sep = a.str(0, "separator")?.unwrap_or("");
    match input {
        Value::Null(_) => Ok(input.clone()),
        Value::List(items, _) => {
            let parts: Vec<String> = items.iter().map(to_text).collect();
            Ok(Value::string(parts.join(sep)))
        }
        other => Ok(Value::string(to_text(other))),
    }
}

fn index(a: &Args<'_>, i: usize, param: &str, default: usize) -> Result<usize, ErrorKind> {
    match a.int(i, param)? {
        None => Ok(default),
        Some(n) => usize::try_from(n).map_err(|_| a.fail(format!("{param} must not be negative"))),
    }
}

/// Pebble's `slice(fromIndex=0, toIndex=length)`, on lists and strings.
fn slice(input: &Value, a: &Args<'_>) -> Result<Value, ErrorKind> {
    let t = input.taint();
    let len = match input {
        Value::Null(_) => return Ok(input.clone()),
        Value::List(items, _) => items.len(),
        Value::String(s, _) => s.chars().count(),
        other => return Err(a.bad_input("a list or a string", other)),
    };
    let from = index(a, 0, "fromIndex", 0)?;
    let to = index(a, 1, "toIndex", len)?;
    if to > len {
        return Err(a.fail(format!("toIndex {to} is past the end (length {len})")));
    }
    if from > to {
        return Err(a.fail(format!("fromIndex {from} is after toIndex {to}")));
    }
    Ok(match input {
        Value::List(items, _) => list(items[from..to].iter(), t),
        Value::String(s, _) => Value::String(
            s.chars()
                .skip(from)
                .take(to - from)
                .collect::<String>()
                .into(),
            t,
        ),
        _ => Value::null(),
    })
}

fn sort(descending: bool, input: &Value, a: &Args<'_>) -> Result<Value, ErrorKind> {
    let t = input.taint();
    let Value::List(items, _) = input else {
        return match input {
            Value::Null(_) => Ok(input.clone()),
            other => Err(a.bad_input("a list", other)),
        };
    };
    let mut sorted: Vec<Value> = items.iter().map(|v| v.clone().with_taint(t)).collect();
    let mut failed = None;
    sorted.sort_by(|x, y| {
        compare(x, y).unwrap_or_else(|| {
            failed.get_or_insert((x.type_name(), y.type_name()));
            Ordering::Equal
        })
    });
    if let Some((x, y)) = failed {
        return Err(a.fail(format!("cannot compare {x} with {y}")));
    }
    if descending {
        sorted.reverse();
    }
    Ok(Value::List(Arc::new(sorted), t))
}

/// Pebble's `merge`: lists are concatenated, maps merged (the argument wins).
fn merge(input: &Value, a: &Args<'_>) -> Result<Value, ErrorKind> {
    let other = a.get(0).cloned().unwrap_or_default();
    match (input, &other) {
        (Value::List(x, tx), Value::List(y, ty)) => {
            let items = x
                .iter()
                .map(|v| v.clone().with_taint(*tx))
                .chain(y.iter().map(|v| v.clone().with_taint(*ty)));
            Ok(Value::List(Arc::new(items.collect()), *tx | *ty))
        }
        (Value::List(x, tx), single) => {
            let mut items: Vec<Value> = x.iter().map(|v| v.clone().with_taint(*tx)).collect();
            items.push(single.clone());
            Ok(Value::List(Arc::new(items), *tx))
        }
        (Value::Map(x, tx), Value::Map(y, ty)) => {
            let mut map: Map = x
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().with_taint(*tx)))
                .collect();
            for (k, v) in y.iter() {
                map.insert(k.clone(), v.clone().with_taint(*ty));
            }
            Ok(Value::Map(Arc::new(map), *tx | *ty))
        }
        (Value::Null(_), _) => Ok(other),
        (x, y) => Err(a.fail(format!(
            "cannot merge {} with {}",
            x.type_name(),
            y.type_name()
        ))),
    }
}

fn chunk(input: &Value, a: &Args<'_>) -> Result<Value, ErrorKind> {
    let t = input.taint();
    let size = a.int(0, "size")?.unwrap_or(0);
    let size = usize::try_from(size)
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| a.fail("size must be positive"))?;
    match input {
        Value::Null(_) => Ok(input.clone()),
        Value::List(items, _) => Ok(Value::List(
            Arc::new(items.chunks(size).map(|c| list(c.iter(), t)).collect()),
            t,
        )),
        other => Err(a.bad_input("a list", other)),
    }
}
