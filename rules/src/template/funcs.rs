//! Template functions: Go's built-ins and Prometheus' (`template.go`), same outputs.

use super::TemplateError;
use super::exec::{Ctx, Val};
use crate::gofmt::{Arg, format_g, sprintf};

const BUILTIN: &[&str] = &[
    "and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "len", "index", "print", "printf",
    "println", "html", "js", "urlquery", "call", "slice",
];
const PROMETHEUS: &[&str] = &[
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "toUpper",
    "toLower",
    "title",
    "reReplaceAll",
    "match",
    "safeHtml",
    "stripPort",
    "stripDomain",
    "parseDuration",
    "externalURL",
    "pathPrefix",
    "graphLink",
    "tableLink",
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "sortByLabel",
    "args",
    "tmpl",
    "toTime",
];

/// Whether `name` is a function a template may call.
pub(crate) fn is_function(name: &str) -> bool {
    BUILTIN.contains(&name) || PROMETHEUS.contains(&name)
}

fn to_float(cx: &Ctx<'_>, v: &Val) -> Result<f64, TemplateError> {
    match v {
        Val::Float(f) => Ok(*f),
        Val::Int(i) => Ok(*i as f64),
        Val::Str(s) => s
            .trim()
            .parse::<f64>()
            .or_else(|_| match s.trim() {
                "+Inf" | "Inf" | "inf" => Ok(f64::INFINITY),
                "-Inf" | "-inf" => Ok(f64::NEG_INFINITY),
                "NaN" => Ok(f64::NAN),
                _ => Err(()),
            })
            .or_else(|_| cx.err(format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"))),
        other => cx.err(format!("can't convert {} to float", other.type_name())),
    }
}

fn g4(v: f64) -> String {
    format_g(v, Some(4))
}

fn arg(v: &Val) -> Arg {
    match v {
        Val::Str(s) => Arg::Str(s.clone()),
        Val::Float(f) => Arg::Float(*f),
        Val::Int(i) => Arg::Int(*i),
        Val::Bool(b) => Arg::Bool(*b),
        other => Arg::Str(other.print()),
    }
}

fn one<'v>(cx: &Ctx<'_>, name: &str, args: &'v [Val]) -> Result<&'v Val, TemplateError> {
    match args {
        [a] => Ok(a),
        _ => cx.err(format!(
            "error calling {name}: wrong number of args for {name}: want 1 got {}",
            args.len()
        )),
    }
}

fn string_arg(cx: &Ctx<'_>, name: &str, v: &Val) -> Result<String, TemplateError> {
    match v {
        Val::Str(s) => Ok(s.clone()),
        other => cx.err(format!(
            "wrong type for value; expected string; got {} in call to {name}",
            other.type_name()
        )),
    }
}

/// Go's comparison of two basic values; `Err` for incompatible kinds.
fn compare(cx: &Ctx<'_>, a: &Val, b: &Val) -> Result<std::cmp::Ordering, TemplateError> {
    use std::cmp::Ordering;
    match (a, b) {
        (Val::Float(x), Val::Float(y)) => Ok(x.partial_cmp(y).unwrap_or(Ordering::Equal)),
        (Val::Int(x), Val::Int(y)) => Ok(x.cmp(y)),
        (Val::Str(x), Val::Str(y)) => Ok(x.cmp(y)),
        (Val::Bool(x), Val::Bool(y)) => Ok(x.cmp(y)),
        _ => cx.err("incompatible types for comparison"),
    }
}

pub(crate) fn call(cx: &mut Ctx<'_>, name: &str, args: Vec<Val>) -> Result<Val, TemplateError> {
    let prefix = |m: String| format!("error calling {name}: {m}");
    match name {
        "and" => Ok(args
            .iter()
            .find(|a| !a.truth())
            .or(args.last())
            .cloned()
            .unwrap_or(Val::Nil)),
        "or" => Ok(args
            .iter()
            .find(|a| a.truth())
            .or(args.last())
            .cloned()
            .unwrap_or(Val::Nil)),
        "not" => Ok(Val::Bool(!one(cx, name, &args)?.truth())),
        "eq" => {
            let Some((first, rest)) = args.split_first() else {
                return cx.err(prefix("missing argument for comparison".into()));
            };
            for r in rest {
                if compare(cx, first, r).map_err(|e| TemplateError {
                    msg: prefix(e.msg),
                    ..e
                })? == std::cmp::Ordering::Equal
                {
                    return Ok(Val::Bool(true));
                }
            }
            Ok(Val::Bool(false))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            let [a, b] = args.as_slice() else {
                return cx.err(prefix(format!(
                    "wrong number of args for {name}: want 2 got {}",
                    args.len()
                )));
            };
            let o = compare(cx, a, b).map_err(|e| TemplateError {
                msg: prefix(e.msg),
                ..e
            })?;
            use std::cmp::Ordering::*;
            Ok(Val::Bool(match name {
                "ne" => o != Equal,
                "lt" => o == Less,
                "le" => o != Greater,
                "gt" => o == Greater,
                _ => o != Less,
            }))
        }
        "len" => match one(cx, name, &args)? {
            Val::Str(s) => Ok(Val::Int(s.len() as i64)),
            Val::Map(m) => Ok(Val::Int(m.len() as i64)),
            other => cx.err(prefix(format!("len of type {}", other.type_name()))),
        },
        "index" => match args.as_slice() {
            [Val::Map(m), Val::Str(k)] => Ok(Val::Str(m.get(k).cloned().unwrap_or_default())),
            _ => cx.err(prefix("can't index item".into())),
        },
        "print" | "println" => {
            let mut out = String::new();
            for (i, a) in args.iter().enumerate() {
                let is_str = |v: &Val| matches!(v, Val::Str(_));
                if i > 0 && (name == "println" || (!is_str(a) && !is_str(&args[i - 1]))) {
                    out.push(' ');
                }
                out.push_str(&a.print());
            }
            if name == "println" {
                out.push('\n');
            }
            Ok(Val::Str(out))
        }
        "printf" => {
            let Some((Val::Str(f), rest)) = args.split_first() else {
                return cx.err(prefix("printf needs a format string".into()));
            };
            let rest: Vec<Arg> = rest.iter().map(arg).collect();
            Ok(Val::Str(sprintf(f, &rest)))
        }
        "html" | "safeHtml" => {
            let s = args.iter().map(Val::print).collect::<String>();
            if name == "safeHtml" {
                return Ok(Val::Str(s));
            }
            Ok(Val::Str(
                s.replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
                    .replace('"', "&#34;")
                    .replace('\'', "&#39;"),
            ))
        }
        "urlquery" => {
            let s = args.iter().map(Val::print).collect::<String>();
            Ok(Val::Str(url_escape(&s)))
        }
        "humanize" => {
            let mut v = to_float(cx, one(cx, name, &args)?)?;
            if v == 0.0 || !v.is_finite() {
                return Ok(Val::Str(g4(v)));
            }
            let mut prefix = "";
            if v.abs() >= 1.0 {
                for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
                    if v.abs() < 1000.0 {
                        break;
                    }
                    prefix = p;
                    v /= 1000.0;
                }
            } else {
                for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
                    if v.abs() >= 1.0 {
                        break;
                    }
                    prefix = p;
                    v *= 1000.0;
                }
            }
            Ok(Val::Str(format!("{}{prefix}", g4(v))))
        }
        "humanize1024" => {
            let mut v = to_float(cx, one(cx, name, &args)?)?;
            if v.abs() <= 1.0 || !v.is_finite() {
                return Ok(Val::Str(g4(v)));
            }
            let mut prefix = "";
            for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
                if v.abs() < 1024.0 {
                    break;
                }
                prefix = p;
                v /= 1024.0;
            }
            Ok(Val::Str(format!("{}{prefix}", g4(v))))
        }
        "humanizeDuration" => {
            let mut v = to_float(cx, one(cx, name, &args)?)?;
            if !v.is_finite() {
                return Ok(Val::Str(g4(v)));
            }
            if v == 0.0 {
                return Ok(Val::Str(format!("{}s", g4(v))));
            }
            if v.abs() >= 1.0 {
                let sign = if v < 0.0 { "-" } else { "" };
                v = v.abs();
                let d = v as i64;
                let (s, m, h, days) = (d % 60, (d / 60) % 60, (d / 3600) % 24, d / 86_400);
                return Ok(Val::Str(if days != 0 {
                    format!("{sign}{days}d {h}h {m}m {s}s")
                } else if h != 0 {
                    format!("{sign}{h}h {m}m {s}s")
                } else if m != 0 {
                    format!("{sign}{m}m {s}s")
                } else {
                    format!("{sign}{}s", g4(v))
                }));
            }
            let mut prefix = "";
            for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
                if v.abs() >= 1.0 {
                    break;
                }
                prefix = p;
                v *= 1000.0;
            }
            Ok(Val::Str(format!("{}{prefix}s", g4(v))))
        }
        "humanizePercentage" => {
            let v = to_float(cx, one(cx, name, &args)?)?;
            Ok(Val::Str(format!("{}%", g4(v * 100.0))))
        }
        "humanizeTimestamp" => {
            let v = to_float(cx, one(cx, name, &args)?)?;
            if !v.is_finite() {
                return Ok(Val::Str(g4(v)));
            }
            let ns = (v * 1e9) as i64;
            let t = chrono::DateTime::from_timestamp(
                ns.div_euclid(1_000_000_000),
                ns.rem_euclid(1_000_000_000) as u32,
            )
            .unwrap_or_default();
            // Go's time.Time String(): "2006-01-02 15:04:05.999999999 -0700 MST".
            let mut s = t.format("%Y-%m-%d %H:%M:%S").to_string();
            let frac = t.timestamp_subsec_nanos();
            if frac != 0 {
                s.push('.');
                s.push_str(format!("{frac:09}").trim_end_matches('0'));
            }
            s.push_str(" +0000 UTC");
            Ok(Val::Str(s))
        }
        "toUpper" | "toLower" | "title" | "stripPort" | "stripDomain" => {
            let s = string_arg(cx, name, one(cx, name, &args)?)?;
            Ok(Val::Str(match name {
                "toUpper" => s.to_uppercase(),
                "toLower" => s.to_lowercase(),
                "title" => title(&s),
                "stripPort" => strip_port(&s),
                _ => strip_domain(&s),
            }))
        }
        "reReplaceAll" => {
            let [Val::Str(pat), Val::Str(rep), Val::Str(text)] = args.as_slice() else {
                return cx.err(prefix("reReplaceAll needs three strings".into()));
            };
            let re = regex::Regex::new(pat).map_err(|e| TemplateError {
                name: String::new(),
                line: 0,
                msg: e.to_string(),
            });
            match re {
                Ok(re) => Ok(Val::Str(re.replace_all(text, rep.as_str()).into_owned())),
                Err(e) => cx.err(prefix(e.msg)),
            }
        }
        "match" => {
            let [Val::Str(pat), Val::Str(text)] = args.as_slice() else {
                return cx.err(prefix("match needs two strings".into()));
            };
            match regex::Regex::new(pat) {
                Ok(re) => Ok(Val::Bool(re.is_match(text))),
                Err(e) => cx.err(prefix(e.to_string())),
            }
        }
        "parseDuration" => {
            let s = string_arg(cx, name, one(cx, name, &args)?)?;
            match strata_query::promql::parse_duration(&s) {
                Some(ms) => Ok(Val::Float(ms as f64 / 1000.0)),
                None => cx.err(prefix(format!("not a valid duration string: {s:?}"))),
            }
        }
        "externalURL" => Ok(Val::Str(cx.data.external_url.clone())),
        "pathPrefix" => Ok(Val::Str(String::new())),
        "graphLink" | "tableLink" => {
            let s = string_arg(cx, name, one(cx, name, &args)?)?;
            let tab = if name == "tableLink" { 1 } else { 0 };
            Ok(Val::Str(format!(
                "/graph?g0.expr={}&g0.tab={tab}",
                url_escape(&s)
            )))
        }
        _ => cx.err(prefix(format!(
            "function {name} is not supported by Strata"
        ))),
    }
}

/// Go's `strings.Title`: upper-cases the first letter of each word.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_letter = false;
    for c in s.chars() {
        let letter = c.is_alphanumeric() || c == '_' || c == '\'';
        if letter && !prev_letter {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_letter = letter;
    }
    out
}

fn strip_port(s: &str) -> String {
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("").to_owned();
    }
    match s.rsplit_once(':') {
        Some((h, _)) if !h.contains(':') => h.to_owned(),
        _ => s.to_owned(),
    }
}

fn strip_domain(s: &str) -> String {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, Some(p)),
        _ => (s, None),
    };
    if host.parse::<std::net::IpAddr>().is_ok() {
        return s.to_owned();
    }
    let short = host.split('.').next().unwrap_or(host);
    match port {
        Some(p) => format!("{short}:{p}"),
        None => short.to_owned(),
    }
}

/// Go's `url.QueryEscape`.
pub fn url_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
