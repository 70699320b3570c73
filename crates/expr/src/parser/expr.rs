//! Expressions, by precedence climbing with Pebble's precedences (Kestra's `??`, `???` and
//! `in` included).

use super::{MAX_DEPTH, Parser, syntax};
use crate::ast::{BinOp, Expr, ExprKind, UnOp};
use crate::error::{ErrorKind, Fail, suggest};
use crate::lexer::{InterpPart, Tok};
use crate::value::Value;
use crate::{filters, functions, predicates};

/// Binary operators by token, with precedence (all left-associative).
fn binary_op(tok: &Tok<'_>) -> Option<(BinOp, u8)> {
    Some(match tok {
        Tok::Name(n) => match *n {
            "or" => (BinOp::Or, 10),
            "and" => (BinOp::And, 15),
            "contains" => (BinOp::Contains, 20),
            "in" => (BinOp::In, 20),
            "equals" => (BinOp::Eq, 30),
            _ => return None,
        },
        Tok::Op(op) => match *op {
            "==" => (BinOp::Eq, 30),
            "!=" => (BinOp::Ne, 30),
            "<" => (BinOp::Lt, 30),
            ">" => (BinOp::Gt, 30),
            "<=" => (BinOp::Le, 30),
            ">=" => (BinOp::Ge, 30),
            "+" => (BinOp::Add, 40),
            "-" => (BinOp::Sub, 40),
            "*" => (BinOp::Mul, 60),
            "/" => (BinOp::Div, 60),
            "%" => (BinOp::Rem, 60),
            "~" => (BinOp::Concat, 110),
            ".." => (BinOp::Range, 120),
            _ => return None,
        },
        _ => return None,
    })
}

const FILTER_PREC: u8 = 100;
const TEST_PREC: u8 = 100;
const COALESCE_PREC: u8 = 120;
const NOT_IN_PREC: u8 = 20;

impl<'t> Parser<'t> {
    fn mk(&self, kind: ExprKind, start: u32, pos: u32) -> Result<Expr, Fail> {
        let e = Expr::new(kind, start, self.pos(), pos);
        if e.depth > MAX_DEPTH {
            return Err(syntax(start, "expression nested too deeply"));
        }
        Ok(e)
    }

    /// Comma-separated expressions up to `close`, which is consumed too (a trailing comma
    /// is allowed).
    fn exprs_until(&mut self, close: &str) -> Result<Vec<Expr>, Fail> {
        let mut items = Vec::new();
        while !self.is_op(close) {
            items.push(self.expr()?);
            if !self.is_op(close) {
                self.expect_op(",")?;
            }
        }
        self.i += 1;
        Ok(items)
    }

    pub(crate) fn expr(&mut self) -> Result<Expr, Fail> {
        let start = self.pos();
        let cond = self.binary(0)?;
        if !self.is_op("?") {
            return Ok(cond);
        }
        let pos = self.pos();
        self.i += 1;
        let then = self.expr()?;
        self.expect_op(":")?;
        let otherwise = self.expr()?;
        self.mk(
            ExprKind::Ternary(Box::new(cond), Box::new(then), Box::new(otherwise)),
            start,
            pos,
        )
    }

    fn binary(&mut self, min: u8) -> Result<Expr, Fail> {
        if self.nesting >= MAX_DEPTH {
            return Err(syntax(self.pos(), "expression nested too deeply"));
        }
        self.nesting += 1;
        let e = self.binary_inner(min);
        self.nesting -= 1;
        e
    }

    fn binary_inner(&mut self, min: u8) -> Result<Expr, Fail> {
        let start = self.pos();
        let mut left = match self.peek() {
            Some(Tok::Name(n)) if *n == "not" => {
                self.i += 1;
                let operand = self.binary(5)?;
                self.mk(ExprKind::Unary(UnOp::Not, Box::new(operand)), start, start)?
            }
            Some(Tok::Op(op @ ("-" | "+"))) => {
                self.i += 1;
                let operand = self.binary(200)?;
                let op = if *op == "-" { UnOp::Neg } else { UnOp::Plus };
                self.mk(ExprKind::Unary(op, Box::new(operand)), start, start)?
            }
            _ => self.postfix()?,
        };
        loop {
            let pos = self.pos();
            let tok = self.peek();
            if self.is_op("|") && FILTER_PREC >= min {
                self.i += 1;
                left = self.filter(left, start)?;
            } else if self.is_name("is") && TEST_PREC >= min {
                self.i += 1;
                left = self.test(left, start)?;
            } else if (self.is_op("??") || self.is_op("???")) && COALESCE_PREC >= min {
                let undefined_only = self.is_op("???");
                self.i += 1;
                let right = self.binary(COALESCE_PREC + 1)?;
                left = self.mk(
                    ExprKind::Coalesce {
                        left: Box::new(left),
                        right: Box::new(right),
                        undefined_only,
                    },
                    start,
                    pos,
                )?;
            } else if self.is_name("not")
                && matches!(self.peek_at(1), Some(Tok::Name(n)) if *n == "in")
                && NOT_IN_PREC >= min
            {
                self.i += 2;
                let right = self.binary(NOT_IN_PREC + 1)?;
                left = self.mk(
                    ExprKind::Binary(BinOp::NotIn, Box::new(left), Box::new(right)),
                    start,
                    pos,
                )?;
            } else if let Some((op, prec)) = tok.and_then(binary_op).filter(|(_, p)| *p >= min) {
                self.i += 1;
                let right = self.binary(prec + 1)?;
                left = self.mk(
                    ExprKind::Binary(op, Box::new(left), Box::new(right)),
                    start,
                    pos,
                )?;
            } else {
                return Ok(left);
            }
        }
    }

    fn filter(&mut self, input: Expr, start: u32) -> Result<Expr, Fail> {
        let (name, pos) = self.name("a filter name")?;
        let Some(spec) = filters::lookup(&name) else {
            let suggestion = suggest(&name, filters::FILTERS.iter().map(|s| s.name));
            return Err(Fail::new(
                pos,
                ErrorKind::UnknownFilter { name, suggestion },
            ));
        };
        let (args, rest) = self.call_args(
            ("filter", spec.name),
            spec.params,
            spec.required,
            false,
            pos,
        )?;
        debug_assert!(rest.is_empty());
        self.mk(
            ExprKind::Filter {
                input: Box::new(input),
                filter: spec.filter,
                name: spec.name,
                args,
            },
            start,
            pos,
        )
    }

    fn test(&mut self, input: Expr, start: u32) -> Result<Expr, Fail> {
        let negated = self.is_name("not");
        if negated {
            self.i += 1;
        }
        let pos = self.pos();
        // `is null` lexes `null` as a name like any other.
        let (name, _) = self.name("a test name")?;
        let Some(test) = predicates::lookup(&name) else {
            let suggestion = suggest(&name, predicates::TESTS.iter().map(|(n, _)| *n));
            return Err(Fail::new(pos, ErrorKind::UnknownTest { name, suggestion }));
        };
        self.mk(
            ExprKind::Test {
                input: Box::new(input),
                test,
                negated,
            },
            start,
            pos,
        )
    }

    /// `(a, b, name=c)` (or nothing), placed in parameter slots.
    fn call_args(
        &mut self,
        (kind, name): (&str, &str),
        params: &[&str],
        required: usize,
        variadic: bool,
        pos: u32,
    ) -> Result<(Vec<Option<Expr>>, Vec<Expr>), Fail> {
        let mut slots: Vec<Option<Expr>> = params.iter().map(|_| None).collect();
        let mut rest = Vec::new();
        if self.is_op("(") {
            self.i += 1;
            let mut positional = 0;
            let mut named_seen = false;
            while !self.is_op(")") {
                let arg_pos = self.pos();
                let named = match (self.peek(), self.peek_at(1)) {
                    (Some(Tok::Name(n)), Some(Tok::Op("="))) => Some(n.to_string()),
                    _ => None,
                };
                if let Some(n) = named {
                    self.i += 2;
                    named_seen = true;
                    let value = self.expr()?;
                    let Some(slot) = params.iter().position(|p| *p == n) else {
                        if variadic {
                            rest.push(value);
                            if !self.is_op(")") {
                                self.expect_op(",")?;
                            }
                            continue;
                        }
                        let expected = if params.is_empty() {
                            "it takes no named arguments".to_string()
                        } else {
                            format!("expected one of: {}", params.join(", "))
                        };
                        return Err(Fail::new(
                            arg_pos,
                            ErrorKind::Argument(format!(
                                "{kind} '{name}' has no argument '{n}'; {expected}"
                            )),
                        ));
                    };
                    if slots[slot].is_some() {
                        return Err(Fail::new(
                            arg_pos,
                            ErrorKind::Argument(format!(
                                "{kind} '{name}': argument '{n}' is given twice"
                            )),
                        ));
                    }
                    slots[slot] = Some(value);
                } else {
                    if named_seen {
                        return Err(syntax(
                            arg_pos,
                            "a positional argument cannot follow a named one",
                        ));
                    }
                    let value = self.expr()?;
                    if positional < slots.len() {
                        slots[positional] = Some(value);
                    } else if variadic {
                        rest.push(value);
                    } else {
                        let n = params.len();
                        let takes = match n {
                            0 => "takes no arguments".to_string(),
                            1 => "takes 1 argument".to_string(),
                            _ => format!("takes at most {n} arguments"),
                        };
                        return Err(Fail::new(
                            arg_pos,
                            ErrorKind::Argument(format!("{kind} '{name}' {takes}")),
                        ));
                    }
                    positional += 1;
                }
                if !self.is_op(")") {
                    self.expect_op(",")?;
                }
            }
            self.i += 1;
        }
        let given = slots.iter().filter(|s| s.is_some()).count() + rest.len();
        if let Some(missing) = (0..required.min(params.len())).find(|i| slots[*i].is_none()) {
            return Err(Fail::new(
                pos,
                ErrorKind::Argument(format!(
                    "{kind} '{name}' expects an argument '{}'",
                    params[missing]
                )),
            ));
        }
        if params.is_empty() && required > given {
            return Err(Fail::new(
                pos,
                ErrorKind::Argument(format!(
                    "{kind} '{name}' expects at least {required} argument"
                )),
            ));
        }
        Ok((slots, rest))
    }

    fn postfix(&mut self) -> Result<Expr, Fail> {
        let start = self.pos();
        let mut e = self.primary()?;
        loop {
            if self.is_op(".") {
                self.i += 1;
                let pos = self.pos();
                let name = match self.bump() {
                    Some(Tok::Name(n)) => n.to_string(),
                    Some(Tok::Int(i)) => i.to_string(),
                    _ => {
                        self.i -= 1;
                        return Err(self.unexpected("an attribute name"));
                    }
                };
                e = if self.is_op("(") {
                    self.i += 1;
                    let args = self.exprs_until(")")?;
                    self.mk(ExprKind::Method(Box::new(e), name, args), start, pos)?
                } else {
                    self.mk(ExprKind::Attr(Box::new(e), name), start, pos)?
                };
            } else if self.is_op("[") {
                let pos = self.pos();
                self.i += 1;
                let index = self.expr()?;
                self.expect_op("]")?;
                e = self.mk(ExprKind::Index(Box::new(e), Box::new(index)), start, pos)?;
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, Fail> {
        let start = self.pos();
        let Some(tok) = self.peek() else {
            return Err(self.unexpected("an expression"));
        };
        let lit = |v: Value| ExprKind::Lit(v);
        let kind = match tok {
            Tok::Int(i) => {
                self.i += 1;
                lit(Value::from(*i))
            }
            Tok::Float(f) => {
                self.i += 1;
                lit(Value::from(*f))
            }
            Tok::Str(s) => {
                self.i += 1;
                lit(Value::string(s.as_str()))
            }
            Tok::Interp(parts) => {
                self.i += 1;
                let mut exprs = Vec::with_capacity(parts.len());
                for part in parts {
                    match part {
                        InterpPart::Lit(s) => exprs.push(Expr::new(
                            lit(Value::string(s.as_str())),
                            start,
                            start,
                            start,
                        )),
                        InterpPart::Expr(tokens) => {
                            let mut sub = Parser {
                                src: self.src,
                                toks: tokens,
                                i: 0,
                                blocks: self.blocks,
                                nesting: self.nesting,
                            };
                            let e = sub.expr()?;
                            sub.expect(&Tok::PrintClose, "'}'")?;
                            exprs.push(e);
                        }
                    }
                }
                ExprKind::Interp(exprs)
            }
            Tok::Name(n) => {
                self.i += 1;
                match *n {
                    "true" | "TRUE" => lit(Value::from(true)),
                    "false" | "FALSE" => lit(Value::from(false)),
                    "null" | "NULL" | "none" => lit(Value::null()),
                    _ if self.is_op("(") => return self.call(n, start),
                    _ => ExprKind::Var(n.to_string()),
                }
            }
            Tok::Op("(") => {
                self.i += 1;
                let e = self.expr()?;
                self.expect_op(")")?;
                return Ok(e);
            }
            Tok::Op("[") => {
                self.i += 1;
                ExprKind::List(self.exprs_until("]")?)
            }
            Tok::Op("{") => {
                self.i += 1;
                let mut entries = Vec::new();
                while !self.is_op("}") {
                    let k = self.expr()?;
                    self.expect_op(":")?;
                    let v = self.expr()?;
                    entries.push((k, v));
                    if !self.is_op("}") {
                        self.expect_op(",")?;
                    }
                }
                self.i += 1;
                ExprKind::Map(entries)
            }
            _ => return Err(self.unexpected("an expression")),
        };
        self.mk(kind, start, start)
    }

    fn call(&mut self, name: &str, pos: u32) -> Result<Expr, Fail> {
        let Some(spec) = functions::lookup(name) else {
            let suggestion = suggest(name, functions::FUNCTIONS.iter().map(|s| s.name));
            return Err(Fail::new(
                pos,
                ErrorKind::UnknownFunction {
                    name: name.to_string(),
                    suggestion,
                },
            ));
        };
        let (args, rest) = self.call_args(
            ("function", spec.name),
            spec.params,
            spec.required,
            spec.variadic,
            pos,
        )?;
        self.mk(
            ExprKind::Call {
                func: spec.func,
                args,
                rest,
            },
            pos,
            pos,
        )
    }
}
