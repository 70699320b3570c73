//! String filters: case, trimming, searching, splitting, replacing, escaping.
//!
//! Pebble passes null through string filters; other non-strings are converted to their printed
//! text first.

use std::sync::Arc;

use super::{Args, Filter, text};
use crate::error::ErrorKind;
use crate::value::{Map, Taint, Value};

pub(super) fn apply(f: Filter, input: &Value, a: &Args<'_>) -> Result<Value, ErrorKind> {
    if input.is_null() {
        return Ok(match f {
            Filter::StartsWith | Filter::EndsWith => Value::from(false),
            _ => Value::null(),
        });
    }
    if f == Filter::EscapeChar {
        return escape_char(input, a);
    }
    let s = text(input);
    let s = s.as_ref();
    let out: String = match f {
        Filter::Upper => s.to_uppercase(),
        Filter::Lower => s.to_lowercase(),
        Filter::Capitalize => capitalize(s),
        Filter::Title => title(s),
        Filter::Trim => s.trim_matches(|c: char| c <= ' ').to_string(),
        Filter::Abbreviate => abbreviate(s, a)?,
        Filter::Replace => replace(s, a)?,
        Filter::Split => return split(s, a),
        Filter::StartsWith | Filter::EndsWith => {
            let needle = a.str(0, "value")?.unwrap_or("");
            let hit = if f == Filter::StartsWith {
                s.starts_with(needle)
            } else {
                s.ends_with(needle)
            };
            return Ok(Value::from(hit));
        }
        Filter::SubstringBefore => {
            let sep = a.str(0, "separator")?.unwrap_or("");
            if sep.is_empty() {
                String::new()
            } else {
                s.find(sep).map_or(s, |i| &s[..i]).to_string()
            }
        }
        Filter::SubstringAfter => {
            let sep = a.str(0, "separator")?.unwrap_or("");
            if sep.is_empty() {
                s.to_string()
            } else {
                s.find(sep).map_or("", |i| &s[i + sep.len()..]).to_string()
            }
        }
        Filter::SubstringBeforeLast => {
            let sep = a.str(0, "separator")?.unwrap_or("");
            if sep.is_empty() {
                s.to_string()
            } else {
                s.rfind(sep).map_or(s, |i| &s[..i]).to_string()
            }
        }
        Filter::SubstringAfterLast => {
            let sep = a.str(0, "separator")?.unwrap_or("");
            if sep.is_empty() {
                String::new()
            } else {
                s.rfind(sep).map_or("", |i| &s[i + sep.len()..]).to_string()
            }
        }
        Filter::Slugify => slugify(s),
        Filter::Indent | Filter::Nindent => indent(s, a, f == Filter::Nindent)?,
        _ => s.to_string(),
    };
    Ok(Value::string(out))
}

fn capitalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut done = false;
    for c in s.chars() {
        if !done && !c.is_whitespace() {
            out.extend(c.to_uppercase());
            done = true;
        } else {
            out.push(c);
        }
    }
    out
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if c.is_whitespace() {
            start = true;
            out.push(c);
        } else if start {
            out.extend(c.to_uppercase());
            start = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Pebble's `abbreviate(length)`: cut to `length` characters, the last three being "...".
fn abbreviate(s: &str, a: &Args<'_>) -> Result<String, ErrorKind> {
    let max = a.int(0, "length")?.unwrap_or(0);
    if max < 0 {
        return Err(a.fail("length must not be negative"));
    }
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    let len = s.chars().count();
    if len <= max {
        return Ok(s.to_string());
    }
    if max <= 3 {
        return Ok(s.chars().take(max).collect());
    }
    let mut out: String = s.chars().take(max - 3).collect();
    out.push_str("...");
    Ok(out)
}

/// `replace({'a': 'b', ...})` (Pebble), `replace({...}, regexp=true)` (Kestra), and the
/// shorthand `replace('a', 'b')`.
fn replace(s: &str, a: &Args<'_>) -> Result<String, ErrorKind> {
    match (a.get(0), a.get(1)) {
        (Some(Value::Map(pairs, t)), regexp) => {
            let regexp = matches!(regexp, Some(Value::Bool(true, _)));
            let mut out = s.to_string();
            for (from, to) in pairs.iter() {
                let to = text(to);
                out = if regexp {
                    let re = regex_bites::Regex::new(from).map_err(|_| {
                        if t.is_secret() {
                            a.fail("invalid regular expression (a secret value)")
                        } else {
                            a.fail(format!("invalid regular expression '{from}'"))
                        }
                    })?;
                    re.replace_all(&out, to.as_ref()).into_owned()
                } else if from.is_empty() {
                    out
                } else {
                    out.replace(from.as_str(), &to)
                };
            }
            Ok(out)
        }
        (Some(Value::String(from, _)), Some(to)) if !matches!(to, Value::Bool(..)) => {
            if from.is_empty() {
                return Ok(s.to_string());
            }
            Ok(s.replace(from.as_ref(), &text(to)))
        }
        (Some(other), _) => Err(a.bad_arg("replace_pairs", "a map", other)),
        (None, _) => Err(a.fail("expects an argument 'replace_pairs'")),
    }
}

/// Java's `String.split` on a literal delimiter: a positive limit caps the number of parts,
/// no limit drops trailing empty parts, a negative limit keeps them.
fn split(s: &str, a: &Args<'_>) -> Result<Value, ErrorKind> {
    let delim = a.str(0, "delimiter")?.unwrap_or("");
    let limit = a.int(1, "limit")?.unwrap_or(0);
    let mut parts: Vec<&str> = if delim.is_empty() {
        s.char_indices()
            .map(|(i, c)| &s[i..i + c.len_utf8()])
            .collect()
    } else if limit > 0 {
        s.splitn(usize::try_from(limit).unwrap_or(usize::MAX), delim)
            .collect()
    } else {
        s.split(delim).collect()
    };
    if limit == 0 {
        while parts.len() > 1 && parts.last() == Some(&"") {
            parts.pop();
        }
        if parts == [""] {
            parts.clear();
            parts.push("");
        }
    }
    Ok(Value::list(parts.into_iter().map(Value::string)))
}

fn slugify(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// Kestra's `indent(amount, prefix=" ")` (lines after the first) and `nindent` (a newline,
/// then every line).
fn indent(s: &str, a: &Args<'_>, leading_newline: bool) -> Result<String, ErrorKind> {
    let amount = a.int(0, "amount")?.unwrap_or(0);
    let amount = usize::try_from(amount).map_err(|_| a.fail("amount must not be negative"))?;
    if amount > 1024 {
        return Err(a.fail("amount must be at most 1024"));
    }
    let prefix = a.str(1, "prefix")?.unwrap_or(" ").repeat(amount);
    let mut out = String::with_capacity(s.len() + prefix.len() * 4);
    if leading_newline {
        out.push('\n');
        out.push_str(&prefix);
    }
    for (i, line) in s.split_inclusive('\n').enumerate() {
        if i > 0 {
            out.push_str(&prefix);
        }
        out.push_str(line);
    }
    Ok(out)
}

/// Kestra's `escapeChar('single'|'double'|'shell')`, also through lists and maps.
fn escape_char(v: &Value, a: &Args<'_>) -> Result<Value, ErrorKind> {
    let kind = a.str(0, "type")?.unwrap_or("").to_ascii_lowercase();
    let (from, to) = match kind.as_str() {
        "single" => ("'", "\\'"),
        "double" => ("\"", "\\\""),
        "shell" => ("'", "'\\''"),
        _ => {
            return Err(a.fail("the value of 'type' must be either 'single', 'double', or 'shell'"));
        }
    };
    Ok(escape_deep(v, from, to))
}

fn escape_deep(v: &Value, from: &str, to: &str) -> Value {
    match v {
        Value::List(items, t) => Value::List(
            Arc::new(items.iter().map(|x| escape_deep(x, from, to)).collect()),
            *t,
        ),
        Value::Map(map, t) => Value::Map(
            Arc::new(
                map.iter()
                    .map(|(k, x)| (k.clone(), escape_deep(x, from, to)))
                    .collect::<Map>(),
            ),
            *t,
        ),
        Value::Null(_) => v.clone(),
        other => Value::String(text(other).replace(from, to).into(), Taint::Clean),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: Filter, input: &str, args: &[Value]) -> Value {
        let a = Args {
            name: f.name(),
            args,
        };
        apply(f, &Value::from(input), &a).expect("filter succeeds")
    }

    #[test]
    fn java_split_semantics() {
        let parts = |v: Value| v.to_json();
        assert_eq!(
            parts(run(Filter::Split, "a,b,,", &[",".into()])),
            serde_json::json!(["a", "b"])
        );
        assert_eq!(
            parts(run(Filter::Split, "a,b,c", &[",".into(), 2.into()])),
            serde_json::json!(["a", "b,c"])
        );
        assert_eq!(
            parts(run(Filter::Split, "a,,", &[",".into(), (-1).into()])),
            serde_json::json!(["a", "", ""])
        );
    }

    #[test]
    fn substring_family_follows_commons_lang() {
        let s = |f, sep: &str| run(f, "a.b.c", &[sep.into()]).as_str().map(String::from);
        assert_eq!(s(Filter::SubstringBefore, ".").as_deref(), Some("a"));
        assert_eq!(s(Filter::SubstringAfter, ".").as_deref(), Some("b.c"));
        assert_eq!(s(Filter::SubstringBeforeLast, ".").as_deref(), Some("a.b"));
        assert_eq!(s(Filter::SubstringAfterLast, ".").as_deref(), Some("c"));
        assert_eq!(s(Filter::SubstringBefore, "x").as_deref(), Some("a.b.c"));
        assert_eq!(s(Filter::SubstringAfter, "x").as_deref(), Some(""));
    }

    #[test]
    fn abbreviate_and_indent() {
        let v = run(Filter::Abbreviate, "this is a long sentence.", &[7.into()]);
        assert_eq!(v.as_str(), Some("this..."));
        let v = run(Filter::Nindent, "a\nb", &[2.into()]);
        assert_eq!(v.as_str(), Some("\n  a\n  b"));
    }
}
