//! Tokens to nodes and expressions, with Pebble's operator precedences (Kestra's `??`, `???`
//! and `in` included). Names of filters, functions, tests and tags are checked here, so a typo
//! fails at compile time with a suggestion.

use crate::ast::Node;
use crate::error::{ErrorKind, Fail, suggest};
use crate::lexer::{Tok, Token};

mod expr;

/// Deepest expression tree, and deepest nesting of `{% if %}`/`{% for %}` blocks: evaluation
/// recurses on both, so both are bounded.
const MAX_DEPTH: u16 = 100;
const MAX_BLOCK_DEPTH: usize = 64;

const TAGS: [&str; 9] = [
    "if", "elseif", "else", "endif", "for", "endfor", "set", "raw", "verbatim",
];

pub(crate) fn parse(src: &str, tokens: &[Token<'_>]) -> Result<Vec<Node>, Fail> {
    let mut p = Parser {
        src,
        toks: tokens,
        i: 0,
        blocks: 0,
        nesting: 0,
    };
    let (nodes, end) = p.nodes(&[])?;
    match end {
        None => Ok(nodes),
        Some((tag, pos)) => Err(syntax(pos, format!("unexpected '{{% {tag} %}}'"))),
    }
}

fn syntax(pos: u32, msg: impl Into<String>) -> Fail {
    Fail::new(pos, ErrorKind::Syntax(msg.into()))
}

/// The tag that ended a block (`else`, `endif`, ...) and where it is.
type EndTag = (String, u32);

struct Parser<'t> {
    src: &'t str,
    toks: &'t [Token<'t>],
    i: usize,
    blocks: usize,
    /// Depth of recursive calls into `binary`, bounded before the tree is even built.
    nesting: u16,
}

fn describe(tok: Option<&Tok<'_>>) -> String {
    match tok {
        None => "end of template".into(),
        Some(Tok::Text(..)) | Some(Tok::Raw(..)) => "text".into(),
        Some(Tok::PrintOpen) => "'{{'".into(),
        Some(Tok::PrintClose) => "'}}'".into(),
        Some(Tok::TagOpen) => "'{%'".into(),
        Some(Tok::TagClose) => "'%}'".into(),
        Some(Tok::Name(n)) => format!("'{n}'"),
        Some(Tok::Int(i)) => format!("number {i}"),
        Some(Tok::Float(f)) => format!("number {f}"),
        Some(Tok::Str(_)) | Some(Tok::Interp(_)) => "a string".into(),
        Some(Tok::Op(op)) => format!("'{op}'"),
    }
}

impl<'t> Parser<'t> {
    fn peek(&self) -> Option<&'t Tok<'t>> {
        self.toks.get(self.i).map(|t| &t.tok)
    }

    fn peek_at(&self, n: usize) -> Option<&'t Tok<'t>> {
        self.toks.get(self.i + n).map(|t| &t.tok)
    }

    /// Offset of the current token (or the end of the source).
    fn pos(&self) -> u32 {
        self.toks
            .get(self.i)
            .map_or(u32::try_from(self.src.len()).unwrap_or(u32::MAX), |t| t.pos)
    }

    fn bump(&mut self) -> Option<&'t Tok<'t>> {
        let t = self.peek();
        self.i += 1;
        t
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }

    fn is_name(&self, name: &str) -> bool {
        matches!(self.peek(), Some(Tok::Name(n)) if *n == name)
    }

    fn expect_op(&mut self, op: &str) -> Result<(), Fail> {
        if self.is_op(op) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{op}'")))
        }
    }

    fn expect(&mut self, tok: &Tok<'_>, what: &str) -> Result<(), Fail> {
        if self.peek() == Some(tok) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn unexpected(&self, expected: &str) -> Fail {
        syntax(
            self.pos(),
            format!("unexpected {}, expected {expected}", describe(self.peek())),
        )
    }

    fn name(&mut self, what: &str) -> Result<(String, u32), Fail> {
        let pos = self.pos();
        match self.peek() {
            Some(Tok::Name(n)) => {
                self.i += 1;
                Ok((n.to_string(), pos))
            }
            _ => Err(self.unexpected(what)),
        }
    }

    // ---- statements -------------------------------------------------------------------

    /// Nodes up to one of the `until` tags (returned with its position, the parser left just
    /// after the tag's name) or the end of the tokens.
    fn nodes(&mut self, until: &[&str]) -> Result<(Vec<Node>, Option<EndTag>), Fail> {
        let mut nodes = Vec::new();
        while let Some(tok) = self.peek() {
            match tok {
                Tok::Text(s, e) => {
                    self.i += 1;
                    nodes.push(Node::Text(*s, *e));
                }
                Tok::Raw(s, e) => {
                    self.i += 1;
                    nodes.push(Node::Raw(*s, *e));
                }
                Tok::PrintOpen => {
                    self.i += 1;
                    let e = self.expr()?;
                    self.expect(&Tok::PrintClose, "'}}'")?;
                    nodes.push(Node::Print(e));
                }
                Tok::TagOpen => {
                    let open = self.pos();
                    self.i += 1;
                    let (tag, pos) = self.name("a tag name")?;
                    if until.contains(&tag.as_str()) {
                        return Ok((nodes, Some((tag, pos))));
                    }
                    nodes.push(self.tag(&tag, pos, open)?);
                }
                other => {
                    return Err(syntax(
                        self.pos(),
                        format!("unexpected {}", describe(Some(other))),
                    ));
                }
            }
        }
        Ok((nodes, None))
    }

    fn close_tag(&mut self) -> Result<(), Fail> {
        self.expect(&Tok::TagClose, "'%}'")
    }

    fn tag(&mut self, tag: &str, pos: u32, open: u32) -> Result<Node, Fail> {
        match tag {
            "if" | "for" => {
                self.blocks += 1;
                if self.blocks > MAX_BLOCK_DEPTH {
                    return Err(syntax(open, "blocks nested too deeply"));
                }
                let node = if tag == "if" {
                    self.if_block(open)
                } else {
                    self.for_block(open)
                };
                self.blocks -= 1;
                node
            }
            "set" => {
                let (name, _) = self.name("a variable name")?;
                self.expect_op("=")?;
                let value = self.expr()?;
                self.close_tag()?;
                Ok(Node::Set { name, value })
            }
            "elseif" | "elif" | "else" | "endif" | "endfor" | "endraw" | "endverbatim" => {
                Err(syntax(
                    pos,
                    format!("unexpected '{{% {tag} %}}' without a matching opening tag"),
                ))
            }
            _ => Err(Fail::new(
                pos,
                ErrorKind::UnknownTag {
                    name: tag.to_string(),
                    suggestion: suggest(tag, TAGS),
                },
            )),
        }
    }

    fn if_block(&mut self, open: u32) -> Result<Node, Fail> {
        let mut branches = Vec::new();
        let mut cond = self.expr()?;
        self.close_tag()?;
        loop {
            let (body, end) = self.nodes(&["elseif", "elif", "else", "endif"])?;
            branches.push((cond, body));
            match end {
                Some((t, _)) if t == "elseif" || t == "elif" => {
                    cond = self.expr()?;
                    self.close_tag()?;
                }
                Some((t, _)) if t == "else" => {
                    self.close_tag()?;
                    let (otherwise, end) = self.nodes(&["endif"])?;
                    if end.is_none() {
                        return Err(syntax(open, "unclosed '{% if %}': expected '{% endif %}'"));
                    }
                    self.close_tag()?;
                    return Ok(Node::If {
                        branches,
                        otherwise,
                    });
                }
                Some(_) => {
                    self.close_tag()?;
                    return Ok(Node::If {
                        branches,
                        otherwise: Vec::new(),
                    });
                }
                None => return Err(syntax(open, "unclosed '{% if %}': expected '{% endif %}'")),
            }
        }
    }

    fn for_block(&mut self, open: u32) -> Result<Node, Fail> {
        let (first, _) = self.name("a loop variable")?;
        let (key, var) = if self.is_op(",") {
            self.i += 1;
            let (second, _) = self.name("a loop variable")?;
            (Some(first), second)
        } else {
            (None, first)
        };
        if !self.is_name("in") {
            return Err(self.unexpected("'in'"));
        }
        self.i += 1;
        let iter = self.expr()?;
        self.close_tag()?;
        let (body, end) = self.nodes(&["else", "endfor"])?;
        let otherwise = match end {
            Some((t, _)) if t == "else" => {
                self.close_tag()?;
                let (otherwise, end) = self.nodes(&["endfor"])?;
                if end.is_none() {
                    return Err(syntax(
                        open,
                        "unclosed '{% for %}': expected '{% endfor %}'",
                    ));
                }
                otherwise
            }
            Some(_) => Vec::new(),
            None => {
                return Err(syntax(
                    open,
                    "unclosed '{% for %}': expected '{% endfor %}'",
                ));
            }
        };
        self.close_tag()?;
        Ok(Node::For {
            key,
            var,
            iter,
            body,
            otherwise,
        })
    }
}
