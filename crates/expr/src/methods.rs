//! Java-style method calls (`name.toUpperCase()`, `list.size()`, `map.containsKey('k')`),
//! which Pebble allows on the objects it renders and Kestra flows sometimes use. Only the
//! common read-only methods of strings, lists and maps are provided.

use crate::error::ErrorKind;
use crate::filters::article;
use crate::ops::contains;
use crate::print::to_text;
use crate::value::Value;

pub(crate) fn call(obj: &Value, name: &str, args: &[Value]) -> Result<Value, ErrorKind> {
    let arity = |n: usize| -> Result<(), ErrorKind> {
        if args.len() == n {
            Ok(())
        } else {
            Err(ErrorKind::Argument(format!(
                "method '{name}' takes {n} argument{}, got {}",
                if n == 1 { "" } else { "s" },
                args.len()
            )))
        }
    };
    let int_arg = |i: usize| -> Result<i64, ErrorKind> {
        args.get(i).and_then(Value::as_i64).ok_or_else(|| {
            ErrorKind::Argument(format!("method '{name}' expects an integer argument"))
        })
    };
    let text_arg = |i: usize| args.get(i).map(to_text).unwrap_or_default();
    let size = |n: usize| Value::from(i64::try_from(n).unwrap_or(i64::MAX));
    match (obj, name) {
        (_, "toString") => arity(0).map(|_| Value::string(to_text(obj))),
        (_, "equals") => arity(1).map(|_| Value::from(args.first() == Some(obj))),
        (Value::String(s, _), _) => {
            let chars = || s.chars().count();
            match name {
                "length" => arity(0).map(|_| size(chars())),
                "isEmpty" => arity(0).map(|_| Value::from(s.is_empty())),
                "isBlank" => arity(0).map(|_| Value::from(s.trim().is_empty())),
                "toUpperCase" => arity(0).map(|_| Value::string(s.to_uppercase())),
                "toLowerCase" => arity(0).map(|_| Value::string(s.to_lowercase())),
                "trim" | "strip" => arity(0).map(|_| Value::string(s.trim())),
                "contains" => arity(1).map(|_| Value::from(s.contains(text_arg(0).as_str()))),
                "startsWith" => arity(1).map(|_| Value::from(s.starts_with(text_arg(0).as_str()))),
                "endsWith" => arity(1).map(|_| Value::from(s.ends_with(text_arg(0).as_str()))),
                "equalsIgnoreCase" => {
                    arity(1).map(|_| Value::from(s.to_lowercase() == text_arg(0).to_lowercase()))
                }
                "concat" => arity(1).map(|_| Value::string(format!("{s}{}", text_arg(0)))),
                "replace" => arity(2).map(|_| {
                    let from = text_arg(0);
                    if from.is_empty() {
                        Value::string(s.as_ref())
                    } else {
                        Value::string(s.replace(from.as_str(), &text_arg(1)))
                    }
                }),
                "indexOf" | "lastIndexOf" => arity(1).map(|_| {
                    let needle = text_arg(0);
                    let byte = if name == "indexOf" {
                        s.find(needle.as_str())
                    } else {
                        s.rfind(needle.as_str())
                    };
                    byte.map_or(Value::from(-1), |b| size(s[..b].chars().count()))
                }),
                "charAt" => {
                    arity(1)?;
                    let i = int_arg(0)?;
                    usize::try_from(i)
                        .ok()
                        .and_then(|i| s.chars().nth(i))
                        .map(|c| Value::string(c.to_string()))
                        .ok_or_else(|| out_of_range(name, i, chars()))
                }
                "substring" => {
                    let len = chars();
                    let from = int_arg(0)?;
                    let to = if args.len() > 1 {
                        int_arg(1)?
                    } else {
                        len as i64
                    };
                    if args.is_empty() || args.len() > 2 {
                        return Err(ErrorKind::Argument(
                            "method 'substring' takes 1 or 2 arguments".into(),
                        ));
                    }
                    let ok = |i: i64| usize::try_from(i).ok().filter(|i| *i <= len);
                    match (ok(from), ok(to)) {
                        (Some(a), Some(b)) if a <= b => Ok(Value::string(
                            s.chars().skip(a).take(b - a).collect::<String>(),
                        )),
                        _ => Err(out_of_range(
                            name,
                            if ok(from).is_none() { from } else { to },
                            len,
                        )),
                    }
                }
                "split" => arity(1).map(|_| {
                    let sep = text_arg(0);
                    if sep.is_empty() {
                        Value::list(s.chars().map(|c| Value::string(c.to_string())))
                    } else {
                        Value::list(s.split(sep.as_str()).map(Value::string))
                    }
                }),
                _ => Err(unknown(obj, name)),
            }
        }
        (Value::List(items, t), _) => match name {
            "size" => arity(0).map(|_| size(items.len())),
            "isEmpty" => arity(0).map(|_| Value::from(items.is_empty())),
            "contains" => arity(1).map(|_| Value::from(contains(obj, &args[0]))),
            "indexOf" => arity(1).map(|_| {
                items
                    .iter()
                    .position(|x| *x == args[0])
                    .map_or(Value::from(-1), size)
            }),
            "get" => {
                arity(1)?;
                let i = int_arg(0)?;
                usize::try_from(i)
                    .ok()
                    .and_then(|i| items.get(i))
                    .map(|v| v.clone().with_taint(*t))
                    .ok_or_else(|| out_of_range(name, i, items.len()))
            }
            _ => Err(unknown(obj, name)),
        },
        (Value::Map(map, t), _) => match name {
            "size" => arity(0).map(|_| size(map.len())),
            "isEmpty" => arity(0).map(|_| Value::from(map.is_empty())),
            "containsKey" => arity(1).map(|_| Value::from(map.contains_key(text_arg(0).as_str()))),
            "containsValue" => arity(1).map(|_| Value::from(map.values().any(|v| *v == args[0]))),
            "get" => arity(1).map(|_| {
                map.get(text_arg(0).as_str())
                    .cloned()
                    .unwrap_or_default()
                    .with_taint(*t)
            }),
            "getOrDefault" => arity(2).map(|_| match map.get(text_arg(0).as_str()) {
                Some(v) => v.clone().with_taint(*t),
                None => args[1].clone(),
            }),
            "keySet" => arity(0)
                .map(|_| Value::list(map.keys().map(|k| Value::string(k.as_str()))).with_taint(*t)),
            "values" => arity(0).map(|_| Value::list(map.values().cloned()).with_taint(*t)),
            _ => Err(unknown(obj, name)),
        },
        _ => Err(unknown(obj, name)),
    }
}

fn unknown(obj: &Value, name: &str) -> ErrorKind {
    ErrorKind::UndefinedAttribute(format!(
        "method '{name}' does not exist on {}",
        article(obj.type_name())
    ))
}

fn out_of_range(name: &str, i: i64, len: usize) -> ErrorKind {
    ErrorKind::Argument(format!(
        "method '{name}': index {i} is out of range (length {len})"
    ))
}
