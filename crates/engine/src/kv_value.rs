//! What a KV value is, the same for the kv.Set task, the API and the CLI: Kestra's key rule,
//! a value typed by `kvType` (or by its own JSON type when none is given), and the `ttl`.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use saker_store::KvType;
use serde_json::Value as Json;

/// Kestra's rule for a KV key: a letter or digit, then letters, digits, `.`, `_` or `-`.
pub fn validate_key(key: &str) -> Result<(), String> {
    let mut chars = key.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid && key.len() <= 255 {
        Ok(())
    } else {
        Err(format!(
            "'{key}' is not a valid KV key: use at most 255 letters, digits, '.', '_' or '-', \
             starting with a letter or digit"
        ))
    }
}

/// A namespace as Kestra writes them: dot-separated, non-empty segments of letters, digits,
/// `_` and `-`.
pub fn validate_namespace(namespace: &str) -> Result<(), String> {
    let valid = namespace.split('.').all(|segment| {
        !segment.is_empty()
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
    });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "'{namespace}' is not a valid namespace: use dot-separated segments of letters, \
             digits, '_' and '-'"
        ))
    }
}

/// The value to store and its type. With `kv_type`, the value is read as that type (a string
/// holding a number for NUMBER, JSON text for JSON, ...); without, the type is the value's own
/// (a string is STRING, an object or a list JSON). Errors name the type and why, never the
/// value (it may derive from a secret).
pub fn typed_value(value: Json, kv_type: Option<KvType>) -> Result<(KvType, Json), String> {
    let Some(kv_type) = kv_type else {
        let inferred = match &value {
            Json::Null => return Err("the value is null: give a value to store".into()),
            Json::String(_) => KvType::String,
            Json::Number(_) => KvType::Number,
            Json::Bool(_) => KvType::Boolean,
            Json::Array(_) | Json::Object(_) => KvType::Json,
        };
        return Ok((inferred, value));
    };
    let wrong = |expected: &str| format!("the value is not {expected}, as kvType {kv_type} needs");
    let typed = match (kv_type, value) {
        (_, Json::Null) => return Err("the value is null: give a value to store".into()),
        (KvType::String, Json::String(s)) => Json::String(s),
        (KvType::String, other) => Json::String(other.to_string()),
        (KvType::Number, Json::Number(n)) => Json::Number(n),
        (KvType::Number, Json::String(s)) => match serde_json::from_str::<Json>(s.trim()) {
            Ok(Json::Number(n)) => Json::Number(n),
            _ => return Err(wrong("a number")),
        },
        (KvType::Boolean, Json::Bool(b)) => Json::Bool(b),
        (KvType::Boolean, Json::String(s)) if s.trim().eq_ignore_ascii_case("true") => {
            Json::Bool(true)
        }
        (KvType::Boolean, Json::String(s)) if s.trim().eq_ignore_ascii_case("false") => {
            Json::Bool(false)
        }
        (KvType::DateTime, Json::String(s)) => match DateTime::parse_from_rfc3339(s.trim()) {
            Ok(date) => Json::String(
                date.with_timezone(&Utc)
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            ),
            Err(_) => return Err(wrong("an ISO-8601 date-time such as 2026-12-06T10:00:00Z")),
        },
        (KvType::Date, Json::String(s)) => match NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
            Ok(date) => Json::String(date.format("%Y-%m-%d").to_string()),
            Err(_) => return Err(wrong("an ISO-8601 date such as 2026-12-06")),
        },
        (KvType::Duration, Json::String(s)) => {
            match saker_model::duration::parse_iso8601(s.trim()) {
                Ok(_) => Json::String(s.trim().to_owned()),
                Err(_) => return Err(wrong("an ISO-8601 duration such as PT5M")),
            }
        }
        (KvType::Json, Json::String(s)) => {
            serde_json::from_str(&s).map_err(|_| wrong("valid JSON text"))?
        }
        (KvType::Json, other) => other,
        (KvType::Number, _) => return Err(wrong("a number")),
        (KvType::Boolean, _) => return Err(wrong("true or false")),
        (KvType::DateTime | KvType::Date | KvType::Duration, _) => return Err(wrong("a string")),
    };
    Ok((kv_type, typed))
}

/// A value given as text (the body of the API's PUT, the CLI's argument), as Kestra reads
/// it: JSON when it parses (`"text"`, `42`, `true`, `{...}`), else the text itself; a string
/// that is an ISO-8601 date-time, date or duration gets that type. With `kv_type`, the value
/// is read as that type instead (STRING keeps the text as given, unless it is a JSON string).
pub fn value_from_text(text: &str, kv_type: Option<KvType>) -> Result<(KvType, Json), String> {
    let parsed = serde_json::from_str::<Json>(text).ok();
    match kv_type {
        Some(KvType::String) => Ok((
            KvType::String,
            match parsed {
                Some(Json::String(s)) => Json::String(s),
                _ => Json::String(text.to_owned()),
            },
        )),
        Some(kv_type) => typed_value(
            parsed.unwrap_or_else(|| Json::String(text.to_owned())),
            Some(kv_type),
        ),
        None => {
            let value = parsed.unwrap_or_else(|| Json::String(text.to_owned()));
            let inferred = match &value {
                Json::String(s) => [KvType::DateTime, KvType::Date, KvType::Duration]
                    .into_iter()
                    .find(|t| typed_value(Json::String(s.clone()), Some(*t)).is_ok()),
                _ => None,
            };
            typed_value(value, inferred)
        }
    }
}

/// The expiry of an entry written at `now` with a `ttl`: ISO-8601 such as `PT1H` or `P7D`,
/// or the short form the flow validator also takes (`90s`, `1h`).
pub fn expiry(ttl: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let duration = saker_model::duration::parse(ttl)
        .map_err(|e| format!("ttl '{ttl}' is not a duration such as PT1H: {e}"))?;
    TimeDelta::from_std(duration)
        .ok()
        .and_then(|delta| now.checked_add_signed(delta))
        .ok_or_else(|| format!("ttl '{ttl}' is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_follow_kestra_rule() {
        for ok in ["a", "my_key", "report.2026-12", "0abc"] {
            assert!(validate_key(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".hidden", "has space", "a/b", "é", &"k".repeat(256)] {
            let err = validate_key(bad).unwrap_err();
            assert!(err.contains("not a valid KV key"), "{err}");
        }
    }

    #[test]
    fn namespaces_are_dotted_segments() {
        assert!(validate_namespace("company.team-a").is_ok());
        for bad in ["", "company.", ".company", "com pany", "a/b"] {
            assert!(validate_namespace(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_take_their_own_type_without_kv_type() {
        assert_eq!(
            typed_value(json!("x"), None).unwrap(),
            (KvType::String, json!("x"))
        );
        assert_eq!(typed_value(json!(4.5), None).unwrap().0, KvType::Number);
        assert_eq!(typed_value(json!(true), None).unwrap().0, KvType::Boolean);
        assert_eq!(typed_value(json!({"a": 1}), None).unwrap().0, KvType::Json);
        assert!(typed_value(Json::Null, None).is_err());
    }

    #[test]
    fn strings_are_read_as_the_given_type() {
        let t = |v: Json, k| typed_value(v, Some(k));
        assert_eq!(t(json!(" 42 "), KvType::Number).unwrap().1, json!(42));
        assert_eq!(t(json!("TRUE"), KvType::Boolean).unwrap().1, json!(true));
        assert_eq!(t(json!(7), KvType::String).unwrap().1, json!("7"));
        assert_eq!(
            t(json!(r#"{"a":[1]}"#), KvType::Json).unwrap().1,
            json!({"a": [1]})
        );
        assert_eq!(
            t(json!("2026-12-06T11:00:00+01:00"), KvType::DateTime)
                .unwrap()
                .1,
            json!("2026-12-06T10:00:00Z")
        );
        assert_eq!(
            t(json!("2026-12-06"), KvType::Date).unwrap().1,
            json!("2026-12-06")
        );
        assert_eq!(t(json!("PT5M"), KvType::Duration).unwrap().1, json!("PT5M"));
        for (value, kind) in [
            (json!("s3cr3t"), KvType::Number),
            (json!("s3cr3t"), KvType::Boolean),
            (json!("s3cr3t"), KvType::DateTime),
            (json!("s3cr3t"), KvType::Date),
            (json!("s3cr3t"), KvType::Duration),
            (json!("s3cr3t"), KvType::Json),
        ] {
            let err = t(value, kind).unwrap_err();
            assert!(
                err.contains(kind.as_str()) && !err.contains("s3cr3t"),
                "{err}"
            );
        }
    }

    #[test]
    fn text_is_read_as_json_or_as_itself() {
        let t = |text: &str| value_from_text(text, None).unwrap();
        assert_eq!(t("\"hi\""), (KvType::String, json!("hi")));
        assert_eq!(t("hi there"), (KvType::String, json!("hi there")));
        assert_eq!(t("42"), (KvType::Number, json!(42)));
        assert_eq!(t("false"), (KvType::Boolean, json!(false)));
        assert_eq!(t("{\"a\":1}"), (KvType::Json, json!({"a": 1})));
        assert_eq!(t("2026-12-06").0, KvType::Date);
        assert_eq!(t("\"2026-12-06T10:00:00Z\"").0, KvType::DateTime);
        assert_eq!(t("PT5M").0, KvType::Duration);
        assert_eq!(t("Paris").0, KvType::String);
        assert_eq!(
            value_from_text("42", Some(KvType::String)).unwrap(),
            (KvType::String, json!("42"))
        );
        assert_eq!(
            value_from_text("7", Some(KvType::Number)).unwrap(),
            (KvType::Number, json!(7))
        );
        assert!(value_from_text("seven", Some(KvType::Number)).is_err());
    }

    #[test]
    fn ttl_is_an_iso_duration_from_now() {
        let now = DateTime::from_timestamp(1_764_000_000, 0).unwrap();
        assert_eq!(expiry("PT1H", now).unwrap(), now + TimeDelta::hours(1));
        assert!(expiry("soon", now).unwrap_err().contains("ttl 'soon'"));
    }
}
