//! Running a parsed template over alert data.

use super::TemplateError;
use super::funcs::call;
use super::parse::{Node, Operand, Pipeline, Template};
use crate::gofmt::format_g;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a template sees: the alert's labels and value, the external labels and URL.
#[derive(Debug, Clone, Default)]
pub struct Data {
    /// `.Labels` / `$labels`.
    pub labels: BTreeMap<String, String>,
    /// `.ExternalLabels` / `$externalLabels`.
    pub external_labels: BTreeMap<String, String>,
    /// `.ExternalURL` / `$externalURL`.
    pub external_url: String,
    /// `.Value` / `$value`.
    pub value: f64,
}

/// A value inside a running template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Str(String),
    Float(f64),
    Int(i64),
    Bool(bool),
    Map(Arc<BTreeMap<String, String>>),
    Root,
    Nil,
}

impl Val {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Val::Str(_) => "string",
            Val::Float(_) => "float64",
            Val::Int(_) => "int",
            Val::Bool(_) => "bool",
            Val::Map(_) => "map[string]string",
            Val::Root => "*template.tmplData",
            Val::Nil => "nil",
        }
    }

    pub(crate) fn truth(&self) -> bool {
        match self {
            Val::Str(s) => !s.is_empty(),
            Val::Float(f) => *f != 0.0,
            Val::Int(i) => *i != 0,
            Val::Bool(b) => *b,
            Val::Map(m) => !m.is_empty(),
            Val::Root => true,
            Val::Nil => false,
        }
    }

    /// As Go's `fmt.Sprint` prints it.
    pub(crate) fn print(&self) -> String {
        match self {
            Val::Str(s) => s.clone(),
            Val::Float(f) => format_g(*f, None),
            Val::Int(i) => i.to_string(),
            Val::Bool(b) => b.to_string(),
            Val::Map(m) => {
                let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("map[{}]", parts.join(" "))
            }
            Val::Root => "{...}".into(),
            Val::Nil => "<no value>".into(),
        }
    }
}

pub(crate) struct Ctx<'a> {
    pub data: &'a Data,
    labels: Arc<BTreeMap<String, String>>,
    external: Arc<BTreeMap<String, String>>,
    vars: Vec<(String, Val)>,
    name: &'a str,
    pub line: usize,
    out: String,
}

impl Ctx<'_> {
    pub(crate) fn err<T>(&self, msg: impl Into<String>) -> Result<T, TemplateError> {
        Err(TemplateError {
            name: self.name.to_owned(),
            line: self.line,
            msg: msg.into(),
        })
    }
}

/// Runs `t` over `data`.
pub fn expand(t: &Template, data: &Data) -> Result<String, TemplateError> {
    let labels = Arc::new(data.labels.clone());
    let external = Arc::new(data.external_labels.clone());
    let mut cx = Ctx {
        data,
        vars: vec![
            ("$".into(), Val::Root),
            ("$labels".into(), Val::Map(labels.clone())),
            ("$externalLabels".into(), Val::Map(external.clone())),
            ("$externalURL".into(), Val::Str(data.external_url.clone())),
            ("$value".into(), Val::Float(data.value)),
        ],
        labels,
        external,
        name: &t.name,
        line: 1,
        out: String::new(),
    };
    run(&mut cx, &t.nodes, &Val::Root)?;
    Ok(cx.out)
}

fn run(cx: &mut Ctx<'_>, nodes: &[Node], dot: &Val) -> Result<(), TemplateError> {
    for n in nodes {
        match n {
            Node::Text(t) => cx.out.push_str(t),
            Node::Action { line, pipe } => {
                cx.line = *line;
                let v = pipeline(cx, pipe, dot)?;
                if pipe.vars.is_empty() {
                    cx.out.push_str(&v.print());
                }
            }
            Node::If {
                line,
                branches,
                otherwise,
            } => {
                cx.line = *line;
                let depth = cx.vars.len();
                let mut done = false;
                for (cond, body) in branches {
                    if pipeline(cx, cond, dot)?.truth() {
                        run(cx, body, dot)?;
                        done = true;
                        break;
                    }
                }
                if !done {
                    run(cx, otherwise, dot)?;
                }
                cx.vars.truncate(depth);
            }
            Node::With {
                line,
                pipe,
                body,
                otherwise,
            } => {
                cx.line = *line;
                let depth = cx.vars.len();
                let v = pipeline(cx, pipe, dot)?;
                if v.truth() {
                    run(cx, body, &v)?;
                } else {
                    run(cx, otherwise, dot)?;
                }
                cx.vars.truncate(depth);
            }
            Node::Range {
                line,
                pipe,
                body,
                otherwise,
            } => {
                cx.line = *line;
                let depth = cx.vars.len();
                let mut inner = pipe.clone();
                let names = std::mem::take(&mut inner.vars);
                let v = pipeline(cx, &inner, dot)?;
                let Val::Map(m) = v else {
                    return cx.err(format!("range can't iterate over {}", v.print()));
                };
                if m.is_empty() {
                    run(cx, otherwise, dot)?;
                }
                for (k, val) in m.iter() {
                    let item = Val::Str(val.clone());
                    match names.as_slice() {
                        [] => {}
                        [v] => cx.vars.push((v.clone(), item.clone())),
                        [kname, vname, ..] => {
                            cx.vars.push((kname.clone(), Val::Str(k.clone())));
                            cx.vars.push((vname.clone(), item.clone()));
                        }
                    }
                    run(cx, body, &item)?;
                    cx.vars.truncate(depth);
                }
            }
        }
    }
    Ok(())
}

fn pipeline(cx: &mut Ctx<'_>, p: &Pipeline, dot: &Val) -> Result<Val, TemplateError> {
    let mut prev: Option<Val> = None;
    for cmd in &p.cmds {
        prev = Some(command(cx, cmd, dot, prev)?);
    }
    let v = prev.unwrap_or(Val::Nil);
    if let Some(name) = p.vars.first() {
        if p.declare {
            cx.vars.push((name.clone(), v.clone()));
        } else {
            match cx.vars.iter_mut().rev().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = v.clone(),
                None => return cx.err(format!("undefined variable: {name}")),
            }
        }
    }
    Ok(v)
}

fn command(
    cx: &mut Ctx<'_>,
    cmd: &[Operand],
    dot: &Val,
    piped: Option<Val>,
) -> Result<Val, TemplateError> {
    if let Some(Operand::Func(f)) = cmd.first() {
        let mut args = Vec::with_capacity(cmd.len());
        for a in &cmd[1..] {
            args.push(operand(cx, a, dot)?);
        }
        if let Some(p) = piped {
            args.push(p);
        }
        return call(cx, f, args);
    }
    if cmd.len() > 1 || piped.is_some() {
        return cx.err(format!(
            "can't give argument to non-function {}",
            describe(&cmd[0])
        ));
    }
    operand(cx, &cmd[0], dot)
}

fn describe(o: &Operand) -> String {
    match o {
        Operand::Str(s) => format!("{s:?}"),
        Operand::Int(i) => i.to_string(),
        Operand::Float(f) => f.to_string(),
        Operand::Var(v, _) => v.clone(),
        _ => "operand".into(),
    }
}

fn operand(cx: &mut Ctx<'_>, o: &Operand, dot: &Val) -> Result<Val, TemplateError> {
    match o {
        Operand::Str(s) => Ok(Val::Str(s.clone())),
        Operand::Int(i) => Ok(Val::Int(*i)),
        Operand::Float(f) => Ok(Val::Float(*f)),
        Operand::Bool(b) => Ok(Val::Bool(*b)),
        Operand::Nil => cx.err("nil is not a command"),
        Operand::Func(f) => call(cx, f, Vec::new()),
        Operand::Dot(path) => walk(cx, dot.clone(), path),
        Operand::Var(name, path) => {
            let Some(v) = cx
                .vars
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
            else {
                return cx.err(format!("undefined variable: {name}"));
            };
            walk(cx, v, path)
        }
        Operand::Paren(p, path) => {
            let v = pipeline(cx, p, dot)?;
            walk(cx, v, path)
        }
    }
}

fn walk(cx: &Ctx<'_>, mut v: Val, path: &[String]) -> Result<Val, TemplateError> {
    for f in path {
        v = match v {
            Val::Root => match f.as_str() {
                "Labels" => Val::Map(cx.labels.clone()),
                "ExternalLabels" => Val::Map(cx.external.clone()),
                "ExternalURL" => Val::Str(cx.data.external_url.clone()),
                "Value" => Val::Float(cx.data.value),
                _ => {
                    return cx.err(format!(
                        "can't evaluate field {f} in type *template.tmplData"
                    ));
                }
            },
            Val::Map(m) => Val::Str(m.get(f).cloned().unwrap_or_default()),
            other => {
                return cx.err(format!(
                    "can't evaluate field {f} in type {}",
                    other.type_name()
                ));
            }
        };
    }
    Ok(v)
}
