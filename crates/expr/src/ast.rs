//! The compiled form of a template: nodes to render and expressions to evaluate.
//!
//! Filter, function and test names are resolved at compile time, and named arguments are put
//! in their parameter slots, so rendering does no name lookup besides variables.

use crate::filters::Filter;
use crate::functions::Func;
use crate::predicates::TestKind;
use crate::value::Value;

#[derive(Debug)]
pub(crate) enum Node {
    /// A byte range of the template source, copied as is.
    Text(u32, u32),
    /// The body of a `{% raw %}` block (a byte range of the source).
    Raw(u32, u32),
    Print(Expr),
    If {
        branches: Vec<(Expr, Vec<Node>)>,
        otherwise: Vec<Node>,
    },
    For {
        /// `{% for k, v in map %}` binds the key here.
        key: Option<String>,
        var: String,
        iter: Expr,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
    Set {
        name: String,
        value: Expr,
    },
}

#[derive(Debug)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    /// Byte offsets of the expression in the source (`end` is where the next token starts),
    /// for error messages that quote it.
    pub start: u32,
    pub end: u32,
    /// Where an error about this expression points: the operator, filter or attribute name.
    pub pos: u32,
    /// Height of the tree under this expression; the parser bounds it, since evaluating and
    /// dropping an expression recurse over it.
    pub depth: u16,
}

impl Expr {
    pub fn new(kind: ExprKind, start: u32, end: u32, pos: u32) -> Expr {
        let mut depth = 0u16;
        let mut see = |e: &Expr| depth = depth.max(e.depth);
        match &kind {
            ExprKind::Lit(_) | ExprKind::Var(_) => {}
            ExprKind::Attr(e, _) | ExprKind::Unary(_, e) | ExprKind::Test { input: e, .. } => {
                see(e)
            }
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
                see(a);
                see(b);
            }
            ExprKind::Coalesce { left, right, .. } => {
                see(left);
                see(right);
            }
            ExprKind::Method(obj, _, args) => {
                see(obj);
                args.iter().for_each(&mut see);
            }
            ExprKind::List(items) | ExprKind::Interp(items) => items.iter().for_each(&mut see),
            ExprKind::Map(entries) => entries.iter().for_each(|(k, v)| {
                see(k);
                see(v);
            }),
            ExprKind::Ternary(a, b, c) => {
                see(a);
                see(b);
                see(c);
            }
            ExprKind::Filter { input, args, .. } => {
                see(input);
                args.iter().flatten().for_each(&mut see);
            }
            ExprKind::Call { args, rest, .. } => {
                args.iter().flatten().for_each(&mut see);
                rest.iter().for_each(&mut see);
            }
        }
        Expr {
            kind,
            start,
            end,
            pos,
            depth: depth.saturating_add(1),
        }
    }
}

#[derive(Debug)]
pub(crate) enum ExprKind {
    Lit(Value),
    Var(String),
    /// `obj.name`
    Attr(Box<Expr>, String),
    /// `obj[index]`
    Index(Box<Expr>, Box<Expr>),
    /// `obj.name(args)`: a Java-style method call, as Pebble allows on strings, lists, maps.
    Method(Box<Expr>, String, Vec<Expr>),
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    /// `"a #{b} c"`: parts concatenated.
    Interp(Vec<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `a ?? b` (null or undefined) and `a ??? b` (undefined only).
    Coalesce {
        left: Box<Expr>,
        right: Box<Expr>,
        undefined_only: bool,
    },
    Filter {
        input: Box<Expr>,
        filter: Filter,
        /// The name as written (`json` and `toJson` are one filter), for messages.
        name: &'static str,
        args: Vec<Option<Expr>>,
    },
    Call {
        func: Func,
        args: Vec<Option<Expr>>,
        /// Extra positional arguments of variadic functions (`max`, `min`).
        rest: Vec<Expr>,
    },
    Test {
        input: Box<Expr>,
        test: TestKind,
        negated: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnOp {
    Not,
    Neg,
    Plus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Concat,
    Contains,
    In,
    NotIn,
    Range,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Gt => ">",
            BinOp::Le => "<=",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Concat => "~",
            BinOp::Contains => "contains",
            BinOp::In => "in",
            BinOp::NotIn => "not in",
            BinOp::Range => "..",
        }
    }
}

impl Node {
    /// Calls `f` on every expression of this node and its children.
    pub fn visit_exprs(&self, f: &mut dyn FnMut(&Expr)) {
        match self {
            Node::Text(..) | Node::Raw(..) => {}
            Node::Print(e) | Node::Set { value: e, .. } => e.visit(f),
            Node::If {
                branches,
                otherwise,
            } => {
                for (cond, body) in branches {
                    cond.visit(f);
                    body.iter().for_each(|n| n.visit_exprs(f));
                }
                otherwise.iter().for_each(|n| n.visit_exprs(f));
            }
            Node::For {
                iter,
                body,
                otherwise,
                ..
            } => {
                iter.visit(f);
                body.iter().for_each(|n| n.visit_exprs(f));
                otherwise.iter().for_each(|n| n.visit_exprs(f));
            }
        }
    }
}

impl Expr {
    /// Calls `f` on this expression and every sub-expression.
    pub fn visit(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Lit(_) | ExprKind::Var(_) => {}
            ExprKind::Attr(e, _) | ExprKind::Unary(_, e) | ExprKind::Test { input: e, .. } => {
                e.visit(f)
            }
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
                a.visit(f);
                b.visit(f);
            }
            ExprKind::Coalesce { left, right, .. } => {
                left.visit(f);
                right.visit(f);
            }
            ExprKind::Method(obj, _, args) => {
                obj.visit(f);
                args.iter().for_each(|a| a.visit(f));
            }
            ExprKind::List(items) | ExprKind::Interp(items) => {
                items.iter().for_each(|a| a.visit(f))
            }
            ExprKind::Map(entries) => entries.iter().for_each(|(k, v)| {
                k.visit(f);
                v.visit(f);
            }),
            ExprKind::Ternary(a, b, c) => {
                a.visit(f);
                b.visit(f);
                c.visit(f);
            }
            ExprKind::Filter { input, args, .. } => {
                input.visit(f);
                args.iter().flatten().for_each(|a| a.visit(f));
            }
            ExprKind::Call { args, rest, .. } => {
                args.iter().flatten().for_each(|a| a.visit(f));
                rest.iter().for_each(|a| a.visit(f));
            }
        }
    }
}
