//! Template text → tree.

use super::TemplateError;
use super::funcs::is_function;

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub(crate) name: String,
    pub(crate) nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Text(String),
    Action {
        line: usize,
        pipe: Pipeline,
    },
    If {
        line: usize,
        branches: Vec<(Pipeline, Vec<Node>)>,
        otherwise: Vec<Node>,
    },
    Range {
        line: usize,
        pipe: Pipeline,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
    With {
        line: usize,
        pipe: Pipeline,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pipeline {
    /// `$a, $b :=` (declare) or `$a =` (assign).
    pub vars: Vec<String>,
    pub declare: bool,
    pub cmds: Vec<Vec<Operand>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Dot(Vec<String>),
    Var(String, Vec<String>),
    Str(String),
    Float(f64),
    Int(i64),
    Bool(bool),
    Nil,
    Func(String),
    Paren(Pipeline, Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Field(String),
    Var(String),
    Str(String),
    Num(String),
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
}

struct P<'a> {
    name: &'a str,
    line: usize,
}

impl P<'_> {
    fn err<T>(&self, msg: impl Into<String>) -> Result<T, TemplateError> {
        Err(TemplateError {
            name: self.name.to_owned(),
            line: self.line,
            msg: msg.into(),
        })
    }
}

/// Parses `text` as template `name`.
pub fn parse(name: &str, text: &str) -> Result<Template, TemplateError> {
    let mut p = P { name, line: 1 };
    let items = split(&mut p, text)?;
    let mut pos = 0;
    let (nodes, end) = block(&mut p, &items, &mut pos)?;
    if let Some(e) = end {
        return p.err(format!("unexpected {{{{{e}}}}}"));
    }
    Ok(Template {
        name: name.to_owned(),
        nodes,
    })
}

/// Text or an action's inside, with its line.
enum Item {
    Text(String),
    Action(usize, Vec<Tok>),
}

fn split(p: &mut P<'_>, text: &str) -> Result<Vec<Item>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let mut before = rest[..open].to_owned();
        let mut inner_start = open + 2;
        if rest[inner_start..].starts_with("- ")
            || rest[inner_start..].starts_with("-\t")
            || rest[inner_start..].starts_with("-\n")
        {
            before = before.trim_end().to_owned();
            inner_start += 1;
        }
        p.line += rest[..open].matches('\n').count();
        if !before.is_empty() {
            out.push(Item::Text(before));
        }
        let after = &rest[inner_start..];
        let trimmed = after.trim_start();
        if trimmed.starts_with("/*") {
            let Some(end) = after.find("*/") else {
                return p.err("unclosed comment");
            };
            let tail = after[end + 2..].trim_start_matches([' ']);
            let (close_len, trim_after) = if tail.starts_with("-}}") {
                (3, true)
            } else if tail.starts_with("}}") {
                (2, false)
            } else {
                return p.err("comment ends before closing delimiter");
            };
            let consumed = after.len() - tail.len() + close_len;
            p.line += after[..consumed].matches('\n').count();
            rest = &after[consumed..];
            if trim_after {
                rest = rest.trim_start();
            }
            continue;
        }
        let (toks, consumed, trim_after) = lex(p, after)?;
        out.push(Item::Action(p.line, toks));
        p.line += after[..consumed].matches('\n').count();
        rest = &after[consumed..];
        if trim_after {
            rest = rest.trim_start();
        }
    }
    if !rest.is_empty() {
        out.push(Item::Text(rest.to_owned()));
    }
    Ok(out)
}

/// Lexes an action up to its `}}`: tokens, bytes consumed, whether `-}}` trims.
fn lex(p: &P<'_>, s: &str) -> Result<(Vec<Tok>, usize, bool), TemplateError> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut toks = Vec::new();
    loop {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
        }
        if i >= b.len() {
            return p.err("unclosed action");
        }
        if s[i..].starts_with("}}") {
            return Ok((toks, i + 2, false));
        }
        if s[i..].starts_with("-}}") && i > 0 && matches!(b[i - 1], b' ' | b'\t' | b'\n') {
            return Ok((toks, i + 3, true));
        }
        let c = b[i];
        match c {
            b'|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            b'(' => {
                toks.push(Tok::LParen);
                i += 1;
            }
            b')' => {
                toks.push(Tok::RParen);
                i += 1;
            }
            b',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            b':' if b.get(i + 1) == Some(&b'=') => {
                toks.push(Tok::Declare);
                i += 2;
            }
            b'=' => {
                toks.push(Tok::Assign);
                i += 1;
            }
            b'"' => {
                let mut out = String::new();
                i += 1;
                loop {
                    let Some(&c) = b.get(i) else {
                        return p.err("unterminated quoted string");
                    };
                    match c {
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b'\n' => return p.err("unterminated quoted string"),
                        b'\\' => {
                            let e = b.get(i + 1).copied();
                            out.push(match e {
                                Some(b'n') => '\n',
                                Some(b't') => '\t',
                                Some(b'r') => '\r',
                                Some(b'\\') => '\\',
                                Some(b'"') => '"',
                                Some(b'\'') => '\'',
                                _ => return p.err("invalid syntax in quoted string"),
                            });
                            i += 2;
                        }
                        _ => {
                            let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
                            out.push(ch);
                            i += ch.len_utf8();
                        }
                    }
                }
                toks.push(Tok::Str(out));
            }
            b'`' => {
                let Some(end) = s[i + 1..].find('`') else {
                    return p.err("unterminated raw quoted string");
                };
                toks.push(Tok::Str(s[i + 1..i + 1 + end].to_owned()));
                i += end + 2;
            }
            b'.' | b'$' => {
                let start = i;
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.')
                {
                    i += 1;
                }
                let word = &s[start..i];
                if c == b'.'
                    && word.len() > 1
                    && word[1..].starts_with(|ch: char| ch.is_ascii_digit())
                {
                    toks.push(Tok::Num(word.to_owned()));
                } else if c == b'.' {
                    toks.push(Tok::Field(word.to_owned()));
                } else {
                    toks.push(Tok::Var(word.to_owned()));
                }
            }
            c if c.is_ascii_digit()
                || ((c == b'-' || c == b'+')
                    && b.get(i + 1)
                        .is_some_and(|d| d.is_ascii_digit() || *d == b'.')) =>
            {
                let start = i;
                i += 1;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'.'
                        || b[i] == b'_'
                        || ((b[i] == b'-' || b[i] == b'+') && matches!(b[i - 1], b'e' | b'E')))
                {
                    i += 1;
                }
                toks.push(Tok::Num(s[start..i].to_owned()));
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                toks.push(Tok::Ident(s[start..i].to_owned()));
            }
            _ => {
                let ch = s[i..].chars().next().unwrap_or('?');
                return p.err(format!("unexpected {ch:?} in command"));
            }
        }
    }
}

/// Parses nodes until `end`/`else` (returned) or the end of input.
fn block(
    p: &mut P<'_>,
    items: &[Item],
    pos: &mut usize,
) -> Result<(Vec<Node>, Option<String>), TemplateError> {
    let mut nodes = Vec::new();
    while let Some(item) = items.get(*pos) {
        *pos += 1;
        match item {
            Item::Text(t) => nodes.push(Node::Text(t.clone())),
            Item::Action(line, toks) => {
                p.line = *line;
                let line = *line;
                match toks.first() {
                    Some(Tok::Ident(k)) if k == "end" => {
                        if toks.len() > 1 {
                            return p.err("unexpected token in end");
                        }
                        return Ok((nodes, Some("end".into())));
                    }
                    Some(Tok::Ident(k)) if k == "else" => {
                        // `else` alone or `else if …`: the caller decides.
                        *pos -= 1;
                        return Ok((nodes, Some("else".into())));
                    }
                    Some(Tok::Ident(k)) if k == "if" => {
                        let mut branches = Vec::new();
                        let mut cond = pipeline(p, &toks[1..])?;
                        let otherwise;
                        loop {
                            let (body, end) = block(p, items, pos)?;
                            branches.push((cond, body));
                            match end.as_deref() {
                                Some("end") => {
                                    otherwise = Vec::new();
                                    break;
                                }
                                Some("else") => {
                                    let Some(Item::Action(_, et)) = items.get(*pos) else {
                                        return p.err("internal: else");
                                    };
                                    *pos += 1;
                                    if matches!(et.get(1), Some(Tok::Ident(k)) if k == "if") {
                                        cond = pipeline(p, &et[2..])?;
                                        continue;
                                    }
                                    let (body, end) = block(p, items, pos)?;
                                    if end.as_deref() != Some("end") {
                                        return p.err("expected end; found EOF");
                                    }
                                    otherwise = body;
                                    break;
                                }
                                _ => return p.err("unexpected EOF"),
                            }
                        }
                        nodes.push(Node::If {
                            line,
                            branches,
                            otherwise,
                        });
                    }
                    Some(Tok::Ident(k)) if k == "range" || k == "with" => {
                        let is_range = k == "range";
                        let pipe = pipeline(p, &toks[1..])?;
                        let (body, end) = block(p, items, pos)?;
                        let otherwise = match end.as_deref() {
                            Some("end") => Vec::new(),
                            Some("else") => {
                                *pos += 1;
                                let (b, e) = block(p, items, pos)?;
                                if e.as_deref() != Some("end") {
                                    return p.err("unexpected EOF");
                                }
                                b
                            }
                            _ => return p.err("unexpected EOF"),
                        };
                        nodes.push(if is_range {
                            Node::Range {
                                line,
                                pipe,
                                body,
                                otherwise,
                            }
                        } else {
                            Node::With {
                                line,
                                pipe,
                                body,
                                otherwise,
                            }
                        });
                    }
                    Some(Tok::Ident(k))
                        if matches!(
                            k.as_str(),
                            "define" | "template" | "block" | "break" | "continue"
                        ) =>
                    {
                        return p.err(format!("{k} is not supported"));
                    }
                    None => return p.err("missing value for command"),
                    _ => nodes.push(Node::Action {
                        line,
                        pipe: pipeline(p, toks)?,
                    }),
                }
            }
        }
    }
    Ok((nodes, None))
}

fn pipeline(p: &P<'_>, toks: &[Tok]) -> Result<Pipeline, TemplateError> {
    let mut vars = Vec::new();
    let mut declare = false;
    let mut rest = toks;
    // `$x :=`, `$k, $v :=`, `$x =`
    let mut i = 0;
    let mut names = Vec::new();
    while let Some(Tok::Var(v)) = rest.get(i) {
        names.push(v.clone());
        match rest.get(i + 1) {
            Some(Tok::Comma) => i += 2,
            Some(Tok::Declare) | Some(Tok::Assign) => {
                declare = rest.get(i + 1) == Some(&Tok::Declare);
                vars = names;
                rest = &rest[i + 2..];
                break;
            }
            _ => break,
        }
    }
    let mut cmds = Vec::new();
    let mut cur = Vec::new();
    let mut j = 0;
    while j < rest.len() {
        match &rest[j] {
            Tok::Pipe => {
                if cur.is_empty() {
                    return p.err("missing command");
                }
                cmds.push(std::mem::take(&mut cur));
                j += 1;
            }
            _ => {
                let (op, used) = operand(p, &rest[j..])?;
                cur.push(op);
                j += used;
            }
        }
    }
    if cur.is_empty() {
        return p.err("missing value for command");
    }
    cmds.push(cur);
    Ok(Pipeline {
        vars,
        declare,
        cmds,
    })
}

fn fields(path: &str) -> Vec<String> {
    path.split('.')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn operand(p: &P<'_>, toks: &[Tok]) -> Result<(Operand, usize), TemplateError> {
    Ok(match &toks[0] {
        Tok::Field(f) => (Operand::Dot(fields(f)), 1),
        Tok::Var(v) => {
            let mut parts = v.splitn(2, '.');
            let name = parts.next().unwrap_or("$").to_owned();
            let rest = parts.next().map(fields).unwrap_or_default();
            (Operand::Var(name, rest), 1)
        }
        Tok::Str(s) => (Operand::Str(s.clone()), 1),
        Tok::Num(n) => {
            let clean = n.replace('_', "");
            if let Ok(i) = clean.parse::<i64>() {
                (Operand::Int(i), 1)
            } else if let Some(h) = clean
                .strip_prefix("0x")
                .and_then(|h| i64::from_str_radix(h, 16).ok())
            {
                (Operand::Int(h), 1)
            } else if let Ok(f) = clean.parse::<f64>() {
                (Operand::Float(f), 1)
            } else {
                return p.err(format!("bad number syntax: {n:?}"));
            }
        }
        Tok::Ident(w) => match w.as_str() {
            "true" => (Operand::Bool(true), 1),
            "false" => (Operand::Bool(false), 1),
            "nil" => (Operand::Nil, 1),
            f if is_function(f) => (Operand::Func(f.to_owned()), 1),
            f => return p.err(format!("function {f:?} not defined")),
        },
        Tok::LParen => {
            let mut depth = 0usize;
            let mut end = None;
            for (k, t) in toks.iter().enumerate() {
                match t {
                    Tok::LParen => depth += 1,
                    Tok::RParen => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(k);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let Some(end) = end else {
                return p.err("unclosed left paren");
            };
            let inner = pipeline(p, &toks[1..end])?;
            // `(…).Field`
            let mut used = end + 1;
            let mut chain = Vec::new();
            if let Some(Tok::Field(f)) = toks.get(end + 1) {
                chain = fields(f);
                used += 1;
            }
            (Operand::Paren(inner, chain), used)
        }
        Tok::RParen => return p.err("unexpected right paren"),
        Tok::Comma => return p.err("unexpected \",\" in operand"),
        Tok::Declare | Tok::Assign => return p.err("unexpected \":=\" in operand"),
        Tok::Pipe => return p.err("missing command"),
    })
}
