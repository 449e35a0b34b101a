//! Prometheus' own PromQL conformance files (`../shared/peers/promql-tests/*.test`, from
//! Prometheus v2.42.0) run against Strata: each `load` block is written through the
//! engine into a fresh data directory, each `eval` is evaluated as an instant query (and,
//! as Prometheus' runner also does, as a range query around the same time whose middle
//! step must agree) and compared with labels exact and values to 1e-6 relative.
//!
//! Prints passed / failed per file. Every eval block must pass except those listed in
//! `KNOWN_FAILURES` (each documented in docs/QUERY.md with its reason).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use strata_engine::model::{FieldValue, Point, SeriesKey};
use strata_engine::{Db, Options};
use strata_query::promql::{self, EvalOptions, Labels, QueryValue};

/// `file:line` of eval blocks that do not pass, with the reason; kept in step with
/// docs/QUERY.md.
const KNOWN_FAILURES: &[(&str, &str)] = &[];

/// The suite's folder; `STRATA_PROMQL_TESTS` points the runner at other `.test` files.
fn suite_dir() -> PathBuf {
    match std::env::var_os("STRATA_PROMQL_TESTS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/peers/promql-tests"),
    }
}

/// One value of a `load` line: a number, or nothing at that step.
#[derive(Debug, Clone, Copy)]
enum SeqVal {
    Omitted,
    Value(f64),
}

fn parse_number(s: &str) -> Result<f64, String> {
    match s {
        "stale" => Ok(f64::from_bits(promql::STALE_NAN_BITS)),
        _ => match s.to_ascii_lowercase().trim_start_matches('+') {
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            "nan" => Ok(f64::NAN),
            _ => s
                .parse::<f64>()
                .map_err(|e| format!("bad number {s:?}: {e}")),
        },
    }
}

/// Expands `1+10x100`, `1-1x5`, `1x3`, `_`, `_x3`, `stale`, numbers.
fn expand(item: &str) -> Result<Vec<SeqVal>, String> {
    if item == "_" {
        return Ok(vec![SeqVal::Omitted]);
    }
    if let Some(n) = item.strip_prefix("_x") {
        let n: usize = n.parse().map_err(|e| format!("{item}: {e}"))?;
        return Ok(vec![SeqVal::Omitted; n]);
    }
    let Some((head, times)) = item.rsplit_once('x') else {
        return Ok(vec![SeqVal::Value(parse_number(item)?)]);
    };
    let times: usize = times.parse().map_err(|e| format!("{item}: {e}"))?;
    // `a+bxn` / `a-bxn`: find the sign that separates start and increment (not the one
    // of an exponent or of a leading minus).
    let bytes = head.as_bytes();
    let mut split = None;
    for i in (1..bytes.len()).rev() {
        if (bytes[i] == b'+' || bytes[i] == b'-') && !matches!(bytes[i - 1], b'e' | b'E') {
            split = Some(i);
            break;
        }
    }
    let (start, inc) = match split {
        Some(i) => (parse_number(&head[..i])?, parse_number(&head[i..])?),
        None => (parse_number(head)?, 0.0),
    };
    let mut out = Vec::with_capacity(times + 1);
    let mut v = start;
    for _ in 0..=times {
        out.push(SeqVal::Value(v));
        v += inc;
    }
    Ok(out)
}

/// Splits `metric{a="b", c="d"} rest` into labels and the rest.
fn parse_series(s: &str) -> Result<(Labels, &str), String> {
    let s = s.trim();
    let (name, rest) = match s.find(['{', ' ', '\t']) {
        Some(p) => (&s[..p], &s[p..]),
        None => (s, ""),
    };
    let mut pairs = Vec::new();
    if !name.is_empty() {
        pairs.push(("__name__".to_owned(), name.to_owned()));
    }
    let mut rest = rest;
    if let Some(body) = rest.strip_prefix('{') {
        let end = find_close(body).ok_or_else(|| format!("no closing brace in {s:?}"))?;
        let sel = format!("{{{}}}", &body[..end]);
        rest = &body[end + 1..];
        if !body[..end].trim().is_empty() {
            let ms = promql::parse_selector(&sel).map_err(|e| format!("{sel}: {e}"))?;
            for m in ms {
                pairs.push((m.name, m.value));
            }
        }
    }
    Ok((Labels::from_pairs(pairs), rest))
}

fn find_close(body: &str) -> Option<usize> {
    let mut in_str: Option<char> = None;
    let mut esc = false;
    for (i, c) in body.char_indices() {
        match in_str {
            Some(q) => {
                if esc {
                    esc = false;
                } else if c == '\\' {
                    esc = true;
                } else if c == q {
                    in_str = None;
                }
            }
            None if c == '"' || c == '\'' || c == '`' => in_str = Some(c),
            None if c == '}' => return Some(i),
            None => {}
        }
    }
    None
}

fn almost_equal(a: f64, b: f64) -> bool {
    const EPSILON: f64 = 1e-6;
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || diff < MIN_NORMAL {
        return diff < EPSILON * MIN_NORMAL;
    }
    diff / (a.abs() + b.abs()) < EPSILON
}

struct Eval {
    line: usize,
    expr: String,
    at: i64,
    ordered: bool,
    fail: bool,
    expected: Vec<(Option<Labels>, f64)>,
}

/// Checks one eval block; `Err` says what differs.
fn check(db: &Db, ev: &Eval) -> Result<(), String> {
    let opts = EvalOptions::default();
    let parsed = promql::parse_expr(&ev.expr);
    let result = parsed
        .as_ref()
        .map_err(|e| e.to_string())
        .and_then(|e| promql::instant(db, e, ev.at, &opts).map_err(|e| e.to_string()));
    if ev.fail {
        return match result {
            Ok(v) => Err(format!("expected an error, got {v:?}")),
            Err(_) => Ok(()),
        };
    }
    let got = result?;
    let samples: Vec<(Option<Labels>, f64)> = match &got {
        QueryValue::Scalar { v, .. } => vec![(None, *v)],
        QueryValue::Vector { samples, .. } => {
            samples.iter().map(|(l, v)| (Some(l.clone()), *v)).collect()
        }
        other => return Err(format!("unexpected result type: {other:?}")),
    };
    compare(&ev.expected, &samples, ev.ordered)?;
    // Prometheus' runner also asks for the same expression as a range query around the
    // eval time and checks the middle step.
    let Ok(expr) = parsed else { return Ok(()) };
    if ev.ordered {
        return Ok(());
    }
    let ranged = promql::range(db, &expr, ev.at - 60_000, ev.at + 60_000, 60_000, &opts)
        .map_err(|e| format!("range mode: {e}"))?;
    let QueryValue::Matrix(series) = ranged else {
        return Err("range mode: not a matrix".into());
    };
    let mut mid: Vec<(Option<Labels>, f64)> = Vec::new();
    for (l, pts) in series {
        if let Some((_, v)) = pts.iter().find(|(t, _)| *t == ev.at) {
            mid.push((Some(l), *v));
        }
    }
    if matches!(got, QueryValue::Scalar { .. }) {
        let v = mid
            .first()
            .map(|x| x.1)
            .ok_or("range mode: no scalar point")?;
        mid = vec![(None, v)];
    }
    compare(&ev.expected, &mid, false).map_err(|e| format!("range mode: {e}"))
}

fn compare(
    expected: &[(Option<Labels>, f64)],
    got: &[(Option<Labels>, f64)],
    ordered: bool,
) -> Result<(), String> {
    if expected.len() != got.len() {
        return Err(format!(
            "expected {} samples, got {}: {}",
            expected.len(),
            got.len(),
            show(got)
        ));
    }
    for (i, (el, ev)) in expected.iter().enumerate() {
        let found = if ordered {
            Some(&got[i]).filter(|g| el.is_none() || g.0 == *el)
        } else {
            got.iter().find(|g| el.is_none() || g.0 == *el)
        };
        match found {
            None => {
                return Err(format!(
                    "expected {} {ev} not found in {}",
                    el.as_ref().map(|l| l.to_string()).unwrap_or_default(),
                    show(got)
                ));
            }
            Some((_, gv)) if !almost_equal(*ev, *gv) => {
                return Err(format!(
                    "{}: expected {ev}, got {gv}",
                    el.as_ref().map(|l| l.to_string()).unwrap_or_default()
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

fn show(v: &[(Option<Labels>, f64)]) -> String {
    let mut s = String::new();
    for (l, x) in v.iter().take(6) {
        let _ = write!(
            s,
            "{} {x}; ",
            l.as_ref().map(|l| l.to_string()).unwrap_or_default()
        );
    }
    s
}

fn open_db(dir: &tempfile::TempDir, n: usize) -> Db {
    let path = dir.path().join(format!("db{n}"));
    Db::open(&path, Options::default()).expect("open")
}

/// Runs one file; returns (passed, failures as `line: message`).
fn run_file(path: &Path) -> Result<(usize, Vec<(usize, String)>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let lines: Vec<&str> = text.lines().collect();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut generation = 0;
    let mut db = open_db(&dir, generation);
    let mut passed = 0;
    let mut failed = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "clear" {
            generation += 1;
            db = open_db(&dir, generation);
            continue;
        }
        if let Some(step) = line.strip_prefix("load ") {
            let step = promql::parse_duration(step.trim()).ok_or(format!("bad step {step}"))?;
            let mut points = Vec::new();
            while i < lines.len()
                && lines[i].starts_with([' ', '\t'])
                && !lines[i].trim().is_empty()
            {
                let def = lines[i].trim();
                i += 1;
                let (labels, rest) = parse_series(def)?;
                let mut name = String::new();
                let mut tags = Vec::new();
                for (k, v) in &labels.0 {
                    if k == "__name__" {
                        name = v.clone();
                    } else {
                        tags.push((k.clone(), v.clone()));
                    }
                }
                let key = SeriesKey::new(name, tags).map_err(|e| format!("{def}: {e}"))?;
                let mut t = 0i64;
                for item in rest.split_whitespace() {
                    for v in expand(item)? {
                        if let SeqVal::Value(v) = v {
                            points.push(Point::new(
                                key.clone(),
                                vec![("value".to_owned(), FieldValue::Float(v))],
                                t * 1_000_000,
                            ));
                        }
                        t += step;
                    }
                }
            }
            db.write_points(&points).map_err(|e| e.to_string())?;
            continue;
        }
        let (head, ordered, fail) = if let Some(r) = line.strip_prefix("eval_ordered instant at ") {
            (r, true, false)
        } else if let Some(r) = line.strip_prefix("eval_fail instant at ") {
            (r, false, true)
        } else if let Some(r) = line.strip_prefix("eval instant at ") {
            (r, false, false)
        } else {
            return Err(format!("{}:{i}: unknown command {line:?}", path.display()));
        };
        let (at, expr) = head
            .split_once(' ')
            .ok_or(format!("line {i}: no expression"))?;
        let at = promql::parse_duration(at).ok_or(format!("line {i}: bad time {at}"))?;
        let start_line = i;
        let mut expected = Vec::new();
        while i < lines.len() && lines[i].starts_with([' ', '\t']) && !lines[i].trim().is_empty() {
            let def = lines[i].trim();
            i += 1;
            if def.starts_with('{')
                || def.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && !matches!(def.to_ascii_lowercase().as_str(), "nan" | "inf")
            {
                let (labels, rest) = parse_series(def)?;
                expected.push((Some(labels), parse_number(rest.trim())?));
            } else {
                expected.push((None, parse_number(def)?));
            }
        }
        let ev = Eval {
            line: start_line,
            expr: expr.to_owned(),
            at,
            ordered,
            fail,
            expected,
        };
        match check(&db, &ev) {
            Ok(()) => passed += 1,
            Err(e) => failed.push((ev.line, format!("{}: {e}", ev.expr))),
        }
    }
    Ok((passed, failed))
}

#[test]
fn prometheus_conformance_suite() {
    let dir = suite_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the suite lives in ../shared/peers)",
                dir.display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .test files in {}", dir.display());
    let (mut total_pass, mut total_fail) = (0, 0);
    let mut unexpected = Vec::new();
    for f in &files {
        let name = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let (p, fails) = run_file(f).unwrap_or_else(|e| panic!("{name}: {e}"));
        println!("{name:24} passed {p:4}  failed {:4}", fails.len());
        total_pass += p;
        total_fail += fails.len();
        for (line, msg) in fails {
            let id = format!("{name}:{line}");
            println!("    {id}: {msg}");
            if !KNOWN_FAILURES.iter().any(|(k, _)| *k == id) {
                unexpected.push(id);
            }
        }
    }
    println!("total: {total_pass} passed, {total_fail} failed");
    assert!(
        unexpected.is_empty(),
        "failing eval blocks not in KNOWN_FAILURES: {unexpected:?}"
    );
}

#[test]
fn load_values_expand_as_prometheus_does() {
    assert_eq!(expand("1+10x2").unwrap().len(), 3);
    assert_eq!(expand("_x3").unwrap().len(), 3);
    assert_eq!(expand("1x2").unwrap().len(), 3);
    let v = expand("0-1x2").unwrap();
    assert!(matches!(v[2], SeqVal::Value(x) if x == -2.0));
    let v = expand("1e+3").unwrap();
    assert!(matches!(v[0], SeqVal::Value(x) if x == 1000.0));
    assert!(almost_equal(1.0, 1.0000001));
    assert!(!almost_equal(1.0, 1.001));
}
