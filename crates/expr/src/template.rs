//! A compiled template: parse once, render many times.

use crate::ast::{ExprKind, Node};
use crate::context::{Context, RenderEnv};
use crate::error::ExprError;
use crate::eval::{Frame, eval};
use crate::functions::Func;
use crate::render::{Rendered, Runtime};
use crate::value::{Taint, Value};
use crate::{lexer, parser};

/// A compiled template. `Send + Sync`, so one compiled copy can serve every worker thread
/// (wrap it in an `Arc`).
#[derive(Debug)]
pub struct Template {
    source: String,
    nodes: Vec<Node>,
    is_static: bool,
    uses_secrets: bool,
}

impl Template {
    /// Parses `source`. Unknown filters, functions, tests and tags are reported here.
    pub fn compile(source: &str) -> Result<Template, ExprError> {
        if u32::try_from(source.len()).is_err() {
            return Err(ExprError {
                line: 1,
                column: 1,
                kind: crate::ErrorKind::Limit("templates are limited to 4 GiB".into()),
            });
        }
        let tokens = lexer::tokenize(source).map_err(|f| f.locate(source))?;
        let nodes = parser::parse(source, &tokens).map_err(|f| f.locate(source))?;
        let is_static = match nodes.as_slice() {
            [] => source.is_empty(),
            [Node::Text(s, e)] => *s == 0 && *e as usize == source.len(),
            _ => false,
        };
        let mut uses_secrets = false;
        for n in &nodes {
            n.visit_exprs(&mut |e| {
                if matches!(
                    e.kind,
                    ExprKind::Call {
                        func: Func::Secret | Func::Render | Func::RenderOnce,
                        ..
                    }
                ) {
                    uses_secrets = true;
                }
            });
        }
        Ok(Template {
            source: source.to_string(),
            nodes,
            is_static,
            uses_secrets,
        })
    }

    /// Renders with `ctx`. Fails on the first error, whose message holds no tainted value.
    pub fn render(&self, ctx: &Context, env: &RenderEnv<'_>) -> Result<Rendered, ExprError> {
        if self.is_static {
            return Ok(Rendered {
                text: self.source.clone(),
                ..Rendered::default()
            });
        }
        let mut rt = Runtime::new(env);
        let out = self.render_into(ctx, &mut rt).map_err(|e| rt.scrub(e))?;
        Ok(Rendered {
            text: out.text,
            tainted: out.ranges,
            tainted_strings: rt.into_tainted_strings(),
        })
    }

    /// Renders to a typed value: a template that is one `{{ expression }}` and nothing else
    /// gives that expression's value (a list stays a list, a number a number), as Kestra's
    /// typed rendering does; any other template gives its text as a string (tainted when any
    /// of it is).
    pub fn render_value(&self, ctx: &Context, env: &RenderEnv<'_>) -> Result<Value, ExprError> {
        if let [Node::Print(e)] = self.nodes.as_slice() {
            let mut rt = Runtime::new(env);
            let fr = Frame::new(&self.source, ctx);
            let result = eval(e, &fr, &mut rt)
                .map(|v| v.into_owned())
                .map_err(crate::flow::settle);
            return result.map_err(|f| rt.scrub(f.locate(&self.source)));
        }
        let r = self.render(ctx, env)?;
        let t = Taint::of(r.is_tainted());
        Ok(Value::String(r.text.into(), t))
    }

    /// True when the source has no tag at all: rendering it returns it unchanged.
    pub fn is_static(&self) -> bool {
        self.is_static
    }

    /// True when rendering may call `secret()` (directly, or through `render()` of a string
    /// that could): lets the caller apply secret isolation before rendering.
    pub fn uses_secrets(&self) -> bool {
        self.uses_secrets
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub(crate) fn nodes(&self) -> &[Node] {
        &self.nodes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn templates_can_be_shared_between_threads() {
        assert_send_sync::<Template>();
        assert_send_sync::<Value>();
        assert_send_sync::<Context>();
        let t = std::sync::Arc::new(Template::compile("{{ n * 2 }}").expect("compiles"));
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let t = t.clone();
                std::thread::spawn(move || {
                    let mut ctx = Context::new();
                    ctx.insert("n", Value::from(i));
                    t.render(&ctx, &RenderEnv::default()).map(|r| r.text)
                })
            })
            .collect();
        let out: Vec<String> = handles
            .into_iter()
            .map(|h| h.join().expect("no panic").expect("renders"))
            .collect();
        assert_eq!(out, ["0", "2", "4", "6"]);
    }

    #[test]
    fn static_templates_are_copied() {
        let t = Template::compile("no tags here { }").expect("compiles");
        assert!(t.is_static());
        assert!(!Template::compile("{# c #}").expect("compiles").is_static());
        let r = t
            .render(&Context::new(), &RenderEnv::default())
            .expect("renders");
        assert_eq!(r.text, "no tags here { }");
    }

    #[test]
    fn render_value_keeps_types_and_taint() {
        let mut ctx = Context::new();
        ctx.insert("xs", Value::list([Value::from(1), Value::from(2)]));
        ctx.insert("pw", Value::secret("p"));
        let env = RenderEnv::default();
        let v = Template::compile("{{ xs }}")
            .unwrap()
            .render_value(&ctx, &env)
            .unwrap();
        assert_eq!(v.to_json(), serde_json::json!([1, 2]));
        let v = Template::compile("{{ xs | length }}")
            .unwrap()
            .render_value(&ctx, &env)
            .unwrap();
        assert_eq!(v, Value::from(2));
        let v = Template::compile("x{{ pw }}")
            .unwrap()
            .render_value(&ctx, &env)
            .unwrap();
        assert_eq!(v.as_str(), Some("xp"));
        assert!(v.is_tainted());
    }

    #[test]
    fn uses_secrets_is_detected_at_compile_time() {
        assert!(
            Template::compile("{{ secret('A') }}")
                .unwrap()
                .uses_secrets()
        );
        assert!(Template::compile("{{ render(x) }}").unwrap().uses_secrets());
        assert!(!Template::compile("{{ x | upper }}").unwrap().uses_secrets());
    }
}
