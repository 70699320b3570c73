//! Rendering nodes into text, recording which bytes of the text are tainted and which
//! tainted strings the render produced.

use std::fmt;
use std::ops::Range;

use chrono::{DateTime, Utc};
use indexmap::IndexSet;

use crate::ast::Node;
use crate::budget::Budget;
use crate::context::{Context, RenderEnv};
use crate::error::{ErrorKind, EvalResult, Fail};
use crate::eval::{Frame, eval};
use crate::flow::{run_if, settle, under_pc};
use crate::print::write_value;
use crate::template::Template;
use crate::value::{Map, Taint, Value};

/// The text of a render, and what in it derives from secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    /// Byte ranges of `text` holding tainted text, sorted and disjoint. A range may be empty:
    /// a secret printed as nothing, or a part that a secret chose to run and that printed
    /// nothing (the masker still shows a mask there).
    pub tainted: Vec<Range<usize>>,
    /// Every distinct tainted string the render produced (secret values, values derived from
    /// them that were printed or passed on), for the masker to mask in later output.
    pub tainted_strings: Vec<String>,
}

impl Rendered {
    /// True when some of the text is tainted.
    pub fn is_tainted(&self) -> bool {
        !self.tainted.is_empty()
    }

    /// The text with each tainted range replaced by `mask`.
    pub fn masked(&self, mask: &str) -> String {
        let mut out = String::with_capacity(self.text.len());
        let mut at = 0;
        for r in &self.tainted {
            let (start, end) = (r.start.min(self.text.len()), r.end.min(self.text.len()));
            if start < at {
                continue;
            }
            out.push_str(self.text.get(at..start).unwrap_or(""));
            out.push_str(mask);
            at = end;
        }
        out.push_str(self.text.get(at..).unwrap_or(""));
        out
    }

    /// The text, for a caller that no longer needs the taint information.
    pub fn into_text(self) -> String {
        self.text
    }
}

impl fmt::Debug for Rendered {
    /// Tainted text is shown as `[REDACTED]`; tainted strings are only counted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rendered")
            .field("text", &self.masked("[REDACTED]"))
            .field("tainted", &self.tainted)
            .field(
                "tainted_strings",
                &format_args!("[{} redacted]", self.tainted_strings.len()),
            )
            .finish()
    }
}

/// State shared by a whole render, `render()` calls included.
pub(crate) struct Runtime<'e> {
    pub env: &'e RenderEnv<'e>,
    pub budget: Budget<'e>,
    tainted: IndexSet<String>,
    iterations: u64,
    depth: u32,
    now: Option<DateTime<Utc>>,
    /// Inside `render()`'s repeated passes, raw blocks are written back with their tags so a
    /// later pass leaves them alone, as Kestra does.
    keep_raw: bool,
    /// The program-counter taint: secret while rendering a part that runs or not because of
    /// a secret (see `flow.rs`).
    pub pc: Taint,
}

impl<'e> Runtime<'e> {
    pub fn new(env: &'e RenderEnv<'e>) -> Runtime<'e> {
        Runtime {
            env,
            budget: Budget::new(env),
            tainted: IndexSet::new(),
            iterations: 0,
            depth: 0,
            now: env.now,
            keep_raw: false,
            pc: Taint::Clean,
        }
    }

    /// Records a secret value as resolved, whatever its length.
    pub fn note_secret(&mut self, s: &str) {
        if !s.is_empty() && !self.tainted.contains(s) {
            self.tainted.insert(s.to_string());
        }
    }

    /// Records a string derived from a secret. Derived strings shorter than
    /// [`MIN_DERIVED_LEN`] characters (a length, a first letter) are left out: masking them in
    /// every later log line would garble it without hiding anything that matters.
    pub fn note(&mut self, s: &str) {
        if s.chars().nth(MIN_DERIVED_LEN - 1).is_some() && !self.tainted.contains(s) {
            self.tainted.insert(s.to_string());
        }
    }

    /// Records the tainted strings of `v` (itself, or the elements of a container), and gives
    /// it back.
    pub fn noted(&mut self, v: Value) -> Value {
        match &v {
            Value::String(s, Taint::Secret) => self.note(s),
            Value::List(..) | Value::Map(..) if v.is_tainted() => self.note_deep(&v, false),
            _ => {}
        }
        v
    }

    fn note_deep(&mut self, v: &Value, inherited: bool) {
        let secret = inherited || v.taint().is_secret();
        match v {
            Value::String(s, _) if secret => self.note(s),
            Value::List(items, _) => items.iter().for_each(|x| self.note_deep(x, secret)),
            Value::Map(map, _) => map.values().for_each(|x| self.note_deep(x, secret)),
            _ => {}
        }
    }

    pub fn now(&mut self) -> DateTime<Utc> {
        *self.now.get_or_insert_with(crate::functions::system_now)
    }

    /// Last line of defence: an error whose message contains a tainted string seen during the
    /// render (each message is built to avoid that; this catches what a rule missed) keeps
    /// its location but becomes [`ErrorKind::SecretDependent`]. (Whether that happens tells
    /// whether a secret appears in the message: one bit, as any secret-dependent failure.)
    pub fn scrub(&self, e: crate::ExprError) -> crate::ExprError {
        let text = format!("{e} {e:?}");
        let leaks = self
            .tainted
            .iter()
            .any(|s| s.chars().count() >= 3 && text.contains(s.as_str()));
        if !leaks {
            return e;
        }
        crate::ExprError {
            line: e.line,
            column: e.column,
            kind: ErrorKind::SecretDependent,
        }
    }

    pub fn into_tainted_strings(self) -> Vec<String> {
        self.tainted.into_iter().collect()
    }
}

/// Text being rendered, with its tainted ranges.
#[derive(Default)]
pub(crate) struct Out {
    pub text: String,
    pub ranges: Vec<Range<usize>>,
}

impl Out {
    fn print(&mut self, v: &Value, rt: &mut Runtime<'_>) {
        let before = self.text.len();
        write_value(&mut self.text, v, &mut self.ranges);
        for r in self.ranges.iter().rev().take_while(|r| r.end > before) {
            rt.note(&self.text[r.clone()]);
        }
        if matches!(v, Value::List(..) | Value::Map(..))
            && self.ranges.last().is_some_and(|r| r.end > before)
        {
            // The ranges hold JSON text; the masker also needs the strings as they are.
            rt.noted(v.clone());
        }
    }
}

/// See [`Runtime::note`].
const MIN_DERIVED_LEN: usize = 3;

fn limit(pos: u32, what: String) -> Fail {
    Fail::new(pos, ErrorKind::Limit(what))
}

pub(crate) fn exec<'a>(
    nodes: &'a [Node],
    fr: &mut Frame<'a>,
    rt: &mut Runtime<'_>,
    out: &mut Out,
) -> EvalResult<()> {
    for node in nodes {
        rt.budget
            .steps(1)
            .map_err(|k| Fail::new(node_pos(node), k))?;
        exec_node(node, fr, rt, out).map_err(settle)?;
        if out.text.len() > rt.env.limits.max_output_bytes {
            let pos = nodes.first().map_or(0, node_pos);
            return Err(limit(
                pos,
                format!(
                    "the output is larger than {} bytes",
                    rt.env.limits.max_output_bytes
                ),
            ));
        }
    }
    Ok(())
}

fn exec_node<'a>(
    node: &'a Node,
    fr: &mut Frame<'a>,
    rt: &mut Runtime<'_>,
    out: &mut Out,
) -> EvalResult<()> {
    match node {
        Node::Text(s, e) => out
            .text
            .push_str(fr.src.get(*s as usize..*e as usize).unwrap_or("")),
        Node::Raw(s, e) => {
            let body = fr.src.get(*s as usize..*e as usize).unwrap_or("");
            if rt.keep_raw {
                out.text.push_str("{% raw %}");
                out.text.push_str(body);
                out.text.push_str("{% endraw %}");
            } else {
                out.text.push_str(body);
            }
        }
        Node::Print(e) => {
            let v = eval(e, fr, rt)?;
            out.print(&v, rt);
        }
        Node::If {
            branches,
            otherwise,
        } => run_if(branches, otherwise, fr, rt, out)?,
        Node::For {
            key,
            var,
            iter,
            body,
            otherwise,
        } => {
            let items = eval(iter, fr, rt)?.into_owned();
            // A loop over a secret list runs a secret number of times.
            under_pc(items.taint(), iter.start, rt, out, |rt, out| {
                run_for(
                    key.as_deref(),
                    var,
                    iter.pos,
                    &items,
                    body,
                    otherwise,
                    fr,
                    rt,
                    out,
                )
            })?;
        }
        Node::Set { name, value } => {
            let v = eval(value, fr, rt)?.into_owned();
            if rt.pc.is_secret() && !v.taint().is_secret() {
                // Tainting copies the value whole.
                let pos = value.start;
                rt.budget
                    .put_into_container([&v])
                    .map_err(|k| Fail::new(pos, k))?;
            }
            fr.set(name, v.with_taint(rt.pc));
        }
    }
    Ok(())
}

fn node_pos(n: &Node) -> u32 {
    match n {
        Node::Text(s, _) | Node::Raw(s, _) => *s,
        Node::Print(e) | Node::Set { value: e, .. } => e.start,
        Node::If { branches, .. } => branches.first().map_or(0, |(c, _)| c.start),
        Node::For { iter, .. } => iter.start,
    }
}

/// `{% for %}`: elements (or map entries) carry the container's taint; the loop opens a
/// scope for the body's `{% set %}`s.
#[allow(clippy::too_many_arguments)]
fn run_for<'a>(
    key: Option<&'a str>,
    var: &'a str,
    pos: u32,
    items: &Value,
    body: &'a [Node],
    otherwise: &'a [Node],
    fr: &mut Frame<'a>,
    rt: &mut Runtime<'_>,
    out: &mut Out,
) -> EvalResult<()> {
    let t = items.taint();
    let len = match items {
        Value::Null(_) => 0,
        Value::List(l, _) => l.len(),
        Value::Map(m, _) => m.len(),
        other => {
            return Err(Fail::new(
                pos,
                ErrorKind::Type(format!(
                    "cannot iterate over {}",
                    crate::filters::article(other.type_name())
                )),
            ));
        }
    };
    if len == 0 {
        return exec(otherwise, fr, rt, out);
    }
    let saved_scope = fr.scope;
    fr.scope = fr.locals.len();
    let result = (|| {
        for i in 0..len {
            rt.iterations += 1;
            rt.budget.steps(1).map_err(|k| Fail::new(pos, k))?;
            if rt.iterations > rt.env.limits.max_iterations {
                return Err(limit(
                    pos,
                    format!("more than {} loop iterations", rt.env.limits.max_iterations),
                ));
            }
            fr.locals.truncate(fr.scope);
            let (k, v) = match items {
                Value::List(l, _) => (Value::from(i as i64), l[i].clone()),
                Value::Map(m, _) => {
                    let (k, v) = m.get_index(i).map_or_else(Default::default, |(k, v)| {
                        (Value::string(k.as_str()), v.clone())
                    });
                    match key {
                        Some(_) => (k, v),
                        // One variable over a map: entries with `key` and `value`.
                        None => (Value::null(), Value::map([("key", k), ("value", v)])),
                    }
                }
                _ => (Value::null(), Value::null()),
            };
            if let Some(key) = key {
                fr.locals.push((key, k.with_taint(t)));
            }
            fr.locals.push((var, v.with_taint(t)));
            let mut lp = Map::with_capacity(5);
            lp.insert("index".into(), Value::from(i as i64));
            lp.insert("revindex".into(), Value::from((len - 1 - i) as i64));
            lp.insert("length".into(), Value::from(len as i64));
            lp.insert("first".into(), Value::from(i == 0));
            lp.insert("last".into(), Value::from(i + 1 == len));
            fr.locals.push(("loop", Value::from(lp).with_taint(t)));
            exec(body, fr, rt, out)?;
        }
        Ok(())
    })();
    fr.locals.truncate(fr.scope);
    fr.scope = saved_scope;
    result
}

/// Kestra's `render(template, recursive=true)`: renders a string as a template with the
/// caller's context, again and again while the text keeps changing (at most 100 times).
/// The result is tainted when the template or anything printed into it was.
pub(crate) fn render_function(
    template: &Value,
    recursive: bool,
    ctx: &Context,
    rt: &mut Runtime<'_>,
) -> Result<Value, ErrorKind> {
    const MAX_PASSES: usize = 100;
    let Value::String(source, t) = template else {
        return Ok(template.clone());
    };
    if rt.depth >= rt.env.limits.max_render_depth {
        return Err(ErrorKind::Limit(format!(
            "render() nested more than {} deep",
            rt.env.limits.max_render_depth
        )));
    }
    let secret_template = t.is_secret();
    let mut tainted = secret_template;
    let mut current: String = source.to_string();
    let saved_raw = rt.keep_raw;
    rt.depth += 1;
    let pass = |text: &str, keep_raw: bool, rt: &mut Runtime<'_>| -> Result<Out, ErrorKind> {
        rt.keep_raw = keep_raw;
        let hide = |e: crate::ExprError| {
            if secret_template {
                // Its messages would quote the secret template's own text.
                ErrorKind::Render(Box::new(crate::ExprError {
                    line: e.line,
                    column: e.column,
                    kind: ErrorKind::Syntax(
                        "the template (a secret value) failed to render; details hidden".into(),
                    ),
                }))
            } else {
                ErrorKind::Render(Box::new(e))
            }
        };
        let tpl = Template::compile(text).map_err(hide)?;
        tpl.render_into(ctx, rt).map_err(hide)
    };
    let result = (|| {
        for _ in 0..MAX_PASSES {
            let out = pass(&current, recursive, rt)?;
            tainted |= !out.ranges.is_empty();
            if !recursive || out.text == current {
                let text = if recursive && out.text.contains("{% raw %}") {
                    let last = pass(&out.text, false, rt)?;
                    tainted |= !last.ranges.is_empty();
                    last.text
                } else {
                    out.text
                };
                return Ok(text);
            }
            current = out.text;
        }
        Err(ErrorKind::Limit(format!(
            "render() did not settle after {MAX_PASSES} passes"
        )))
    })();
    rt.depth -= 1;
    rt.keep_raw = saved_raw;
    let text = result?;
    let v = Value::String(text.into(), Taint::of(tainted));
    Ok(rt.noted(v))
}

impl Template {
    /// Renders into an [`Out`] with a runtime shared with the caller (`render()`).
    pub(crate) fn render_into(
        &self,
        ctx: &Context,
        rt: &mut Runtime<'_>,
    ) -> Result<Out, crate::ExprError> {
        let mut out = Out {
            text: String::with_capacity(self.source().len() + 64),
            ranges: Vec::new(),
        };
        let mut fr = Frame::new(self.source(), ctx);
        exec(self.nodes(), &mut fr, rt, &mut out).map_err(|f| f.locate(self.source()))?;
        Ok(out)
    }
}
