//! Filters (`value | name(args)`), by family.
//!
//! Every filter is declared once in [`FILTERS`] with its Pebble/Kestra parameter names, which
//! the parser uses to place named arguments and to check arity at compile time.
//!
//! Taint: the renderer taints a filter's result when its input or an argument is tainted,
//! except for the *structural* filters (see [`Filter::is_structural`]) that move elements
//! around without reading them, which keep each element's own taint.

mod collections;
mod dates;
mod encoding;
mod json;
mod numbers;
mod strings;

pub(crate) use json::parse_json;

use std::borrow::Cow;

use crate::budget::Budget;
use crate::error::ErrorKind;
use crate::print::to_text;
use crate::value::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filter {
    Upper,
    Lower,
    Capitalize,
    Title,
    Trim,
    Abbreviate,
    Replace,
    Split,
    StartsWith,
    EndsWith,
    SubstringBefore,
    SubstringAfter,
    SubstringBeforeLast,
    SubstringAfterLast,
    EscapeChar,
    Slugify,
    Indent,
    Nindent,
    String,
    Default,
    Length,
    First,
    Last,
    Join,
    Slice,
    Reverse,
    Sort,
    Rsort,
    Keys,
    Values,
    Merge,
    Distinct,
    Flatten,
    Chunk,
    Number,
    Abs,
    Round,
    Base64Encode,
    Base64Decode,
    UrlEncode,
    UrlDecode,
    Sha1,
    Sha256,
    Sha512,
    Md5,
    ToJson,
    Jq,
    Date,
    DateAdd,
    Timestamp,
    TimestampMilli,
    TimestampMicro,
    TimestampNano,
}

/// A filter's name, parameters (in positional order) and how many are required.
pub(crate) struct Spec {
    pub name: &'static str,
    pub filter: Filter,
    pub params: &'static [&'static str],
    pub required: usize,
}

const fn spec(
    name: &'static str,
    filter: Filter,
    params: &'static [&'static str],
    required: usize,
) -> Spec {
    Spec {
        name,
        filter,
        params,
        required,
    }
}

const DATE_PARAMS: &[&str] = &["format", "timeZone", "existingFormat", "locale"];
const DATE_ADD_PARAMS: &[&str] = &[
    "amount",
    "unit",
    "format",
    "timeZone",
    "existingFormat",
    "locale",
];
const TIMESTAMP_PARAMS: &[&str] = &["timeZone", "existingFormat"];

pub(crate) static FILTERS: &[Spec] = &[
    spec("upper", Filter::Upper, &[], 0),
    spec("lower", Filter::Lower, &[], 0),
    spec("capitalize", Filter::Capitalize, &[], 0),
    spec("title", Filter::Title, &[], 0),
    spec("trim", Filter::Trim, &[], 0),
    spec("abbreviate", Filter::Abbreviate, &["length"], 1),
    spec("replace", Filter::Replace, &["replace_pairs", "regexp"], 1),
    spec("split", Filter::Split, &["delimiter", "limit"], 1),
    spec("startsWith", Filter::StartsWith, &["value"], 1),
    spec("endsWith", Filter::EndsWith, &["value"], 1),
    spec(
        "substringBefore",
        Filter::SubstringBefore,
        &["separator"],
        1,
    ),
    spec("substringAfter", Filter::SubstringAfter, &["separator"], 1),
    spec(
        "substringBeforeLast",
        Filter::SubstringBeforeLast,
        &["separator"],
        1,
    ),
    spec(
        "substringAfterLast",
        Filter::SubstringAfterLast,
        &["separator"],
        1,
    ),
    spec("escapeChar", Filter::EscapeChar, &["type"], 1),
    spec("slugify", Filter::Slugify, &[], 0),
    spec("indent", Filter::Indent, &["amount", "prefix"], 1),
    spec("nindent", Filter::Nindent, &["amount", "prefix"], 1),
    spec("string", Filter::String, &[], 0),
    spec("default", Filter::Default, &["default"], 1),
    spec("length", Filter::Length, &[], 0),
    spec("first", Filter::First, &[], 0),
    spec("last", Filter::Last, &[], 0),
    spec("join", Filter::Join, &["separator"], 0),
    spec("slice", Filter::Slice, &["fromIndex", "toIndex"], 0),
    spec("reverse", Filter::Reverse, &[], 0),
    spec("sort", Filter::Sort, &[], 0),
    spec("rsort", Filter::Rsort, &[], 0),
    spec("keys", Filter::Keys, &[], 0),
    spec("values", Filter::Values, &[], 0),
    spec("merge", Filter::Merge, &["items"], 1),
    spec("distinct", Filter::Distinct, &[], 0),
    spec("flatten", Filter::Flatten, &[], 0),
    spec("chunk", Filter::Chunk, &["size"], 1),
    spec("number", Filter::Number, &["type"], 0),
    spec("abs", Filter::Abs, &[], 0),
    spec("round", Filter::Round, &["precision", "method"], 0),
    spec("base64encode", Filter::Base64Encode, &[], 0),
    spec("base64decode", Filter::Base64Decode, &[], 0),
    spec("urlencode", Filter::UrlEncode, &[], 0),
    spec("urldecode", Filter::UrlDecode, &[], 0),
    spec("sha1", Filter::Sha1, &[], 0),
    spec("sha256", Filter::Sha256, &[], 0),
    spec("sha512", Filter::Sha512, &[], 0),
    spec("md5", Filter::Md5, &[], 0),
    spec("toJson", Filter::ToJson, &["includeNulls"], 0),
    spec("json", Filter::ToJson, &["includeNulls"], 0),
    spec("jsonEncode", Filter::ToJson, &["includeNulls"], 0),
    spec("jq", Filter::Jq, &["expression"], 1),
    spec("date", Filter::Date, DATE_PARAMS, 0),
    spec("dateAdd", Filter::DateAdd, DATE_ADD_PARAMS, 2),
    spec("timestamp", Filter::Timestamp, TIMESTAMP_PARAMS, 0),
    spec(
        "timestampMilli",
        Filter::TimestampMilli,
        TIMESTAMP_PARAMS,
        0,
    ),
    spec(
        "timestampMicro",
        Filter::TimestampMicro,
        TIMESTAMP_PARAMS,
        0,
    ),
    spec("timestampNano", Filter::TimestampNano, TIMESTAMP_PARAMS, 0),
];

pub(crate) fn lookup(name: &str) -> Option<&'static Spec> {
    FILTERS.iter().find(|s| s.name == name)
}

impl Filter {
    #[cfg(test)]
    pub fn name(self) -> &'static str {
        FILTERS
            .iter()
            .find(|s| s.filter == self)
            .map_or("?", |s| s.name)
    }

    /// Filters that rearrange elements without reading them: their result keeps each
    /// element's own taint (plus the container's), instead of being tainted as a whole
    /// whenever any element is.
    pub fn is_structural(self) -> bool {
        matches!(
            self,
            Filter::Default
                | Filter::Length
                | Filter::First
                | Filter::Last
                | Filter::Slice
                | Filter::Reverse
                | Filter::Sort
                | Filter::Rsort
                | Filter::Keys
                | Filter::Values
                | Filter::Merge
                | Filter::Distinct
                | Filter::Flatten
                | Filter::Chunk
        )
    }
}

impl Filter {
    /// Structural filters that read their elements to place them (ordering, equality,
    /// whether an element is a list): one secret element taints the whole result.
    pub fn compares_elements(self) -> bool {
        matches!(
            self,
            Filter::Sort | Filter::Rsort | Filter::Distinct | Filter::Flatten
        )
    }

    /// Structural filters whose arguments become part of the result (`merge`, `default`):
    /// those arguments keep their own taint too, instead of tainting the whole result.
    pub fn moves_arguments(self) -> bool {
        matches!(self, Filter::Merge | Filter::Default)
    }
}

/// Runs a filter (`name` as the template wrote it, for messages). `args` holds one value per
/// parameter (null when not given).
pub(crate) fn apply(
    f: Filter,
    name: &'static str,
    input: &Value,
    args: &[Value],
    budget: &mut Budget<'_>,
) -> Result<Value, ErrorKind> {
    let a = Args { name, args };
    match f {
        Filter::Upper
        | Filter::Lower
        | Filter::Capitalize
        | Filter::Title
        | Filter::Trim
        | Filter::Abbreviate
        | Filter::Replace
        | Filter::Split
        | Filter::StartsWith
        | Filter::EndsWith
        | Filter::SubstringBefore
        | Filter::SubstringAfter
        | Filter::SubstringBeforeLast
        | Filter::SubstringAfterLast
        | Filter::EscapeChar
        | Filter::Slugify
        | Filter::Indent
        | Filter::Nindent
        | Filter::String => strings::apply(f, input, &a),
        Filter::Default
        | Filter::Length
        | Filter::First
        | Filter::Last
        | Filter::Join
        | Filter::Slice
        | Filter::Reverse
        | Filter::Sort
        | Filter::Rsort
        | Filter::Keys
        | Filter::Values
        | Filter::Merge
        | Filter::Distinct
        | Filter::Flatten
        | Filter::Chunk => collections::apply(f, input, &a),
        Filter::Number | Filter::Abs | Filter::Round => numbers::apply(f, input, &a),
        Filter::Base64Encode
        | Filter::Base64Decode
        | Filter::UrlEncode
        | Filter::UrlDecode
        | Filter::Sha1
        | Filter::Sha256
        | Filter::Sha512
        | Filter::Md5 => encoding::apply(f, input, &a),
        Filter::ToJson | Filter::Jq => json::apply(f, input, &a, budget),
        Filter::Date
        | Filter::DateAdd
        | Filter::Timestamp
        | Filter::TimestampMilli
        | Filter::TimestampMicro
        | Filter::TimestampNano => dates::apply(f, input, &a),
    }
}

/// Evaluated arguments of one call, with the callee's name for messages.
pub(crate) struct Args<'v> {
    pub name: &'static str,
    pub args: &'v [Value],
}

impl<'v> Args<'v> {
    /// Argument `i`, unless absent or null.
    pub fn get(&self, i: usize) -> Option<&'v Value> {
        self.args.get(i).filter(|v| !v.is_null())
    }

    pub fn str(&self, i: usize, param: &str) -> Result<Option<&'v str>, ErrorKind> {
        match self.get(i) {
            None => Ok(None),
            Some(Value::String(s, _)) => Ok(Some(s)),
            Some(other) => Err(self.bad_arg(param, "a string", other)),
        }
    }

    pub fn int(&self, i: usize, param: &str) -> Result<Option<i64>, ErrorKind> {
        match self.get(i) {
            None => Ok(None),
            Some(Value::Int(n, _)) => Ok(Some(*n)),
            Some(Value::Float(f, _)) if f.fract() == 0.0 && f.abs() < 9e18 => Ok(Some(*f as i64)),
            Some(other) => Err(self.bad_arg(param, "an integer", other)),
        }
    }

    pub fn bool(&self, i: usize, param: &str) -> Result<Option<bool>, ErrorKind> {
        match self.get(i) {
            None => Ok(None),
            Some(Value::Bool(b, _)) => Ok(Some(*b)),
            Some(other) => Err(self.bad_arg(param, "a boolean", other)),
        }
    }

    pub fn bad_arg(&self, param: &str, expected: &str, got: &Value) -> ErrorKind {
        ErrorKind::Argument(format!(
            "filter '{}': argument '{param}' must be {expected}, got {}",
            self.name,
            got.type_name()
        ))
    }

    /// "filter 'x' expects ..., got a map".
    pub fn bad_input(&self, expected: &str, got: &Value) -> ErrorKind {
        ErrorKind::Type(format!(
            "filter '{}' expects {expected}, got {}",
            self.name,
            article(got.type_name())
        ))
    }

    pub fn fail(&self, message: impl std::fmt::Display) -> ErrorKind {
        ErrorKind::Type(format!("filter '{}': {message}", self.name))
    }
}

pub(crate) fn article(type_name: &str) -> String {
    match type_name {
        "integer" => "an integer".into(),
        "null" => "null".into(),
        other => format!("a {other}"),
    }
}

/// The text a string filter works on: strings as they are, other values as printed.
pub(crate) fn text(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s, _) => Cow::Borrowed(s),
        other => Cow::Owned(to_text(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_filter_has_one_spec_and_a_reachable_name() {
        for s in FILTERS {
            assert!(s.required <= s.params.len(), "{}", s.name);
            assert_eq!(lookup(s.name).map(|x| x.filter), Some(s.filter));
        }
        assert_eq!(Filter::Upper.name(), "upper");
        assert!(lookup("uper").is_none());
    }
}
