//! Errors of compilation and rendering.
//!
//! Every message is built from the template's own text (names, operators, literals written by
//! the flow author) and from type names, never from a rendered value unless that value is known
//! to be clean: see [`shown`]. That is what lets the engine log an `ExprError` as is.

use crate::value::Value;

/// A compile or render error, located in the template it came from.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct ExprError {
    /// 1-based line in the template.
    pub line: u32,
    /// 1-based column (in characters) in the template.
    pub column: u32,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl ExprError {
    /// The message without its location.
    pub fn message(&self) -> String {
        self.kind.to_string()
    }

    /// True when the error means "this variable or attribute does not exist", the only kind
    /// that `??`, `???`, `default` and `is defined` absorb.
    pub fn is_undefined(&self) -> bool {
        self.kind.is_undefined()
    }
}

/// What went wrong. Strings held here never contain a tainted value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The template does not parse.
    #[error("{0}")]
    Syntax(String),
    /// `| name` where no such filter exists.
    #[error("unknown filter '{name}'{}", did_you_mean(.suggestion))]
    UnknownFilter {
        name: String,
        suggestion: Option<String>,
    },
    /// `name(...)` where no such function exists.
    #[error("unknown function '{name}'{}", did_you_mean(.suggestion))]
    UnknownFunction {
        name: String,
        suggestion: Option<String>,
    },
    /// `is name` where no such test exists.
    #[error("unknown test '{name}'{}", did_you_mean(.suggestion))]
    UnknownTest {
        name: String,
        suggestion: Option<String>,
    },
    /// `{% name %}` where no such tag exists.
    #[error("unknown tag '{name}'{}", did_you_mean(.suggestion))]
    UnknownTag {
        name: String,
        suggestion: Option<String>,
    },
    /// A Kestra function that needs services the expression engine does not have (yet).
    #[error("function '{0}' is not yet available in Saker")]
    NotYetAvailable(String),
    /// A variable that is neither in the context nor set by the template.
    #[error("variable '{name}' is not defined{}", did_you_mean(.suggestion))]
    UndefinedVariable {
        name: String,
        suggestion: Option<String>,
    },
    /// A missing key, index or attribute.
    #[error("{0}")]
    UndefinedAttribute(String),
    /// A value of the wrong type, or an argument out of its domain.
    #[error("{0}")]
    Type(String),
    /// A filter or function argument is missing, unknown or invalid.
    #[error("{0}")]
    Argument(String),
    /// Integer division or remainder by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// `secret()` was called where the caller forbids it (the debug-expression endpoint).
    #[error("the secret() function is not allowed here")]
    SecretsForbidden,
    /// The resolver failed; the message is the resolver's own.
    #[error("cannot read secret '{key}': {message}")]
    Secret { key: String, message: String },
    /// A jq program failed to compile or run.
    #[error("{0}")]
    Jq(String),
    /// A JSON document failed to parse.
    #[error("{0}")]
    Json(String),
    /// A date failed to parse or format.
    #[error("{0}")]
    Date(String),
    /// A size or depth limit was reached.
    #[error("{0}")]
    Limit(String),
    /// An error inside a template rendered by `render()`.
    #[error("in render(): {0}")]
    Render(Box<ExprError>),
    /// The render did more evaluation steps than [`crate::Limits::max_steps`] allows.
    #[error(
        "the template did more than {0} evaluation steps (template and jq together); simplify \
         it, or raise the step budget (`expressions.max-steps` in Saker's configuration)"
    )]
    StepBudget(u64),
    /// The render built more bytes of values than [`crate::Limits::max_value_bytes`] allows.
    #[error(
        "the template built more than {0} bytes of values (intermediate ones included); work on \
         smaller values, or raise the memory budget (`expressions.max-value-bytes` in Saker's \
         configuration)"
    )]
    MemoryBudget(u64),
    /// The caller cancelled the render (see [`crate::RenderEnv::cancel`]).
    #[error("the evaluation was cancelled")]
    Cancelled,
    /// The render ran past [`crate::RenderEnv::deadline`].
    #[error("the evaluation did not finish before its deadline")]
    DeadlineExceeded,
    /// A failure of an operation on a secret value, or inside a part of the template that
    /// runs or not depending on a secret (a branch of an `if` or `? :` on a secret condition,
    /// a loop over a secret list): its message would describe the value or tell which part
    /// ran, so only the failure and where it happened (the operation, or the choice made on
    /// the secret) are reported.
    #[error(
        "the expression failed on a secret value or in a part that depends on one (details \
         hidden)"
    )]
    SecretDependent,
}

impl ErrorKind {
    /// True for the "does not exist" family (see [`ExprError::is_undefined`]).
    pub fn is_undefined(&self) -> bool {
        matches!(
            self,
            ErrorKind::UndefinedVariable { .. } | ErrorKind::UndefinedAttribute(_)
        )
    }

    /// True for the budget, cancellation and size-limit kinds: they say nothing about the
    /// values computed, so they keep their message even inside a secret-dependent part.
    pub fn is_resource_limit(&self) -> bool {
        matches!(
            self,
            ErrorKind::Limit(_)
                | ErrorKind::StepBudget(_)
                | ErrorKind::MemoryBudget(_)
                | ErrorKind::Cancelled
                | ErrorKind::DeadlineExceeded
        )
    }
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!(", did you mean '{s}'?"),
        None => String::new(),
    }
}

/// An error located by byte offset; turned into an [`ExprError`] (line and column) once the
/// source is at hand.
#[derive(Debug, Clone)]
pub(crate) struct Fail {
    pub pos: u32,
    pub kind: ErrorKind,
    /// Whether the failure happened because of a secret (a key missing from a secret map):
    /// `??`, `default` and `is defined` that absorb it give a tainted result.
    pub secret: bool,
}

impl Fail {
    pub fn new(pos: u32, kind: ErrorKind) -> Fail {
        Fail {
            pos,
            kind,
            secret: false,
        }
    }

    /// This failure, marked as caused by a secret when `secret` is true.
    pub fn caused_by_secret(mut self, secret: bool) -> Fail {
        self.secret |= secret;
        self
    }

    pub fn locate(self, source: &str) -> ExprError {
        let (line, column) = line_col(source, self.pos as usize);
        ExprError {
            line,
            column,
            kind: self.kind,
        }
    }
}

pub(crate) type EvalResult<T> = Result<T, Fail>;

/// Line and column (both 1-based, column in characters) of a byte offset.
pub(crate) fn line_col(source: &str, pos: usize) -> (u32, u32) {
    let mut pos = pos.min(source.len());
    while !source.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &source[..pos];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

/// How a value may appear in an error message: quoted and shortened when clean, never when
/// tainted.
pub(crate) fn shown(v: &Value) -> String {
    if v.is_tainted() {
        return "a secret value".to_string();
    }
    match v {
        Value::String(s, _) => quote(s),
        Value::List(..) | Value::Map(..) => format!("a {}", v.type_name()),
        other => {
            let mut s = String::new();
            crate::print::write_plain(&mut s, other);
            quote(&s)
        }
    }
}

fn quote(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() > MAX {
        let head: String = s.chars().take(MAX).collect();
        format!("'{head}…'")
    } else {
        format!("'{s}'")
    }
}

/// Levenshtein distance, used for "did you mean" suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(!ca.eq_ignore_ascii_case(cb));
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest candidate to `name`, if it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        // Ties go to the first name in order, so that the message does not depend on the
        // order of a hash map.
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_col("abc", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("é{{", 2), (1, 2));
        assert_eq!(line_col("x", 99), (1, 2));
    }

    #[test]
    fn suggestions_find_typos_only() {
        let names = ["upper", "lower", "trim"];
        assert_eq!(suggest("uper", names), Some("upper".into()));
        assert_eq!(suggest("zzzzzz", names), None);
    }
}
