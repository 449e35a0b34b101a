//! `strata test rules FILE...`: Prometheus' rule unit tests (`promtool test rules`
//! format and output): `rule_files`, `evaluation_interval`, `group_eval_order`, and per
//! test group `interval`, `input_series` in the series notation (`1+2x10`, `_x3`,
//! `stale`), `alert_rule_test`, `promql_expr_test`, `external_labels`,
//! `external_url`, `name`. Each test group runs on its own temporary database.

use crate::file::{GroupSpec, expand_globs, load_file};
use crate::gofmt::format_upper_e;
use crate::group::Group;
use crate::rule::{AlertState, EvalEnv, query_vector};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use strata_engine::{Db, FsyncPolicy, Options};
use strata_query::plan::MatchOp;
use strata_query::promql::{EvalOptions, Labels, STALE_NAN_BITS};
use strata_scrape::duration::PromDuration;
use strata_scrape::scrape_loop::point;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitTestFile {
    #[serde(default)]
    rule_files: Vec<String>,
    evaluation_interval: Option<PromDuration>,
    #[serde(default)]
    group_eval_order: Vec<String>,
    #[serde(default)]
    tests: Vec<TestGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestGroup {
    interval: Option<PromDuration>,
    #[serde(default)]
    input_series: Vec<InputSeries>,
    #[serde(default)]
    alert_rule_test: Vec<AlertTest>,
    #[serde(default)]
    promql_expr_test: Vec<ExprTest>,
    #[serde(default)]
    external_labels: BTreeMap<String, String>,
    #[serde(default)]
    external_url: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSeries {
    series: String,
    #[serde(default)]
    values: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertTest {
    #[serde(default)]
    eval_time: PromDuration,
    #[serde(default)]
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<ExpAlert>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpAlert {
    #[serde(default)]
    exp_labels: BTreeMap<String, String>,
    #[serde(default)]
    exp_annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExprTest {
    expr: String,
    #[serde(default)]
    eval_time: PromDuration,
    #[serde(default)]
    exp_samples: Vec<ExpSample>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpSample {
    #[serde(default)]
    labels: String,
    value: f64,
}

/// Runs the test files, writing promtool's output; returns whether all passed.
pub fn run_files(files: &[PathBuf], out: &mut dyn Write, err: &mut dyn Write) -> bool {
    let mut failed = false;
    for f in files {
        let _ = writeln!(out, "Unit Testing:  {}", f.display());
        match test_file(f) {
            Ok(()) => {
                let _ = writeln!(out, "  SUCCESS");
            }
            Err(errs) => {
                let _ = writeln!(err, "  FAILED:");
                for e in errs {
                    let _ = writeln!(err, "{e}");
                    let _ = writeln!(out);
                }
                failed = true;
            }
        }
        let _ = writeln!(out);
    }
    !failed
}

fn test_file(path: &Path) -> Result<(), Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| vec![e.to_string()])?;
    let file: UnitTestFile = serde_yaml::from_str(&text).map_err(|e| vec![e.to_string()])?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let patterns: Vec<String> = file
        .rule_files
        .iter()
        .map(|f| {
            if Path::new(f).is_relative() {
                dir.join(f).to_string_lossy().into_owned()
            } else {
                f.clone()
            }
        })
        .collect();
    let eval_interval = file.evaluation_interval.unwrap_or(PromDuration(60_000));
    let mut errs = Vec::new();
    for tg in &file.tests {
        let files = expand_globs(&patterns).map_err(|e| vec![e])?;
        let mut specs = Vec::new();
        for f in &files {
            specs.extend(load_file(f).map_err(|e| e.errors)?);
        }
        if !file.group_eval_order.is_empty() {
            let pos = |g: &GroupSpec| {
                file.group_eval_order
                    .iter()
                    .position(|n| *n == g.name)
                    .unwrap_or(usize::MAX)
            };
            specs.sort_by_key(pos);
        }
        errs.extend(run_group(tg, specs, eval_interval)?);
    }
    if errs.is_empty() { Ok(()) } else { Err(errs) }
}

/// Parses `name{l="v",…}` into labels.
fn parse_metric(s: &str) -> Result<Labels, String> {
    let matchers = strata_query::promql::parse_selector(s).map_err(|e| e.to_string())?;
    let mut l = Labels::default();
    for m in matchers {
        if m.op != MatchOp::Equal {
            return Err(format!("{s:?}: only label = value pairs are allowed"));
        }
        l.set(&m.name, &m.value);
    }
    Ok(l)
}

/// The series notation: values at steps 0, 1, 2, … (`None`: no sample at that step).
pub fn parse_values(s: &str) -> Result<Vec<Option<f64>>, String> {
    let mut out = Vec::new();
    for tok in s.split_whitespace() {
        if tok == "_" {
            out.push(None);
            continue;
        }
        if tok == "stale" {
            out.push(Some(f64::from_bits(STALE_NAN_BITS)));
            continue;
        }
        let (base, times) = match tok.rsplit_once('x') {
            Some((b, n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => (
                b,
                Some(n.parse::<usize>().map_err(|e| format!("{tok}: {e}"))?),
            ),
            _ => (tok, None),
        };
        let Some(times) = times else {
            out.push(Some(number(tok)?));
            continue;
        };
        if base == "_" {
            out.extend(std::iter::repeat_n(None, times));
            continue;
        }
        if base == "stale" {
            out.extend(std::iter::repeat_n(
                Some(f64::from_bits(STALE_NAN_BITS)),
                times,
            ));
            continue;
        }
        // `a+b`, `a-b` or `a`: the operator is a sign not at the start or after an `e`.
        let b = base.as_bytes();
        let split = (1..b.len())
            .find(|&i| (b[i] == b'+' || b[i] == b'-') && !matches!(b[i - 1], b'e' | b'E'));
        let (start, step) = match split {
            Some(i) => {
                let start = number(&base[..i])?;
                let mag = number(&base[i + 1..])?;
                (start, if b[i] == b'-' { -mag } else { mag })
            }
            None => (number(base)?, 0.0),
        };
        for k in 0..=times {
            out.push(Some(start + step * k as f64));
        }
    }
    Ok(out)
}

fn number(s: &str) -> Result<f64, String> {
    match s {
        "Inf" | "+Inf" | "inf" | "+inf" => Ok(f64::INFINITY),
        "-Inf" | "-inf" => Ok(f64::NEG_INFINITY),
        "NaN" | "nan" => Ok(f64::NAN),
        _ => s
            .parse::<f64>()
            .map_err(|_| format!("invalid value {s:?} in series values")),
    }
}

fn open_db() -> Result<(tempfile::TempDir, Db), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let opts = Options {
        fsync: FsyncPolicy::Never,
        rotation_interval: std::time::Duration::ZERO,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts).map_err(|e| e.to_string())?;
    Ok((dir, db))
}

type Got = Vec<(Labels, Labels)>;

fn alerts_string(v: &Got) -> String {
    if v.is_empty() {
        return "[]".into();
    }
    let one = |(l, a): &(Labels, Labels)| {
        format!("\nLabels:{}\nAnnotations:{}", go_labels(l), go_labels(a))
    };
    let indent = |s: String, ind: &str| s.split('\n').collect::<Vec<_>>().join(&format!("\n{ind}"));
    let mut s = format!("[\n0:{}", indent(one(&v[0]), "  "));
    for (i, x) in v.iter().enumerate().skip(1) {
        s.push_str(&format!(",\n{i}:{}", indent(one(x), "  ")));
    }
    s.push_str("\n]");
    indent(s, "            ")
}

/// Go's `labels.Labels.String()`.
fn go_labels(l: &Labels) -> String {
    let parts: Vec<String> =
        l.0.iter()
            .map(|(k, v)| format!("{k}={}", strata_query::promql::ast::quote(v)))
            .collect();
    format!("{{{}}}", parts.join(", "))
}

fn samples_string(v: &[(Labels, f64)]) -> String {
    if v.is_empty() {
        return "nil".into();
    }
    v.iter()
        .map(|(l, x)| format!("{} {}", go_labels(l), format_upper_e(*x)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn run_group(
    tg: &TestGroup,
    specs: Vec<GroupSpec>,
    eval_interval: PromDuration,
) -> Result<Vec<String>, Vec<String>> {
    let (_dir, db) = open_db().map_err(|e| vec![e])?;
    let interval = tg.interval.unwrap_or(eval_interval).ms().max(1);
    let mut points = Vec::new();
    for s in &tg.input_series {
        let l = parse_metric(&s.series).map_err(|e| vec![e])?;
        let vals = parse_values(&s.values).map_err(|e| vec![e])?;
        for (i, v) in vals.into_iter().enumerate() {
            if let Some(v) = v
                && let Some(p) = point(&l, v, i as i64 * interval)
            {
                points.push(p);
            }
        }
    }
    db.write_points(&points).map_err(|e| vec![e.to_string()])?;
    let step = eval_interval.ms().max(1);
    let groups: Vec<Arc<Group>> = specs
        .into_iter()
        .map(|s| Arc::new(Group::new(s, step, true)))
        .collect();
    let env = EvalEnv {
        opts: EvalOptions {
            default_subquery_step_ms: step,
            ..EvalOptions::default()
        },
        external_labels: Labels::from_pairs(tg.external_labels.clone()),
        external_url: tg.external_url.clone(),
    };
    let mut alert_times: Vec<i64> = tg
        .alert_rule_test
        .iter()
        .map(|a| a.eval_time.ms())
        .collect();
    alert_times.sort_unstable();
    alert_times.dedup();
    let maxt = tg
        .alert_rule_test
        .iter()
        .map(|a| a.eval_time.ms())
        .chain(tg.promql_expr_test.iter().map(|e| e.eval_time.ms()))
        .max()
        .unwrap_or(0);
    let mut errs = Vec::new();
    let mut curr = 0;
    let notify = |_: &str, _| {};
    let mut ts = 0i64;
    while ts <= maxt {
        let mut eval_errs = Vec::new();
        for g in &groups {
            g.eval(
                &db,
                ts,
                &env,
                crate::manager::DEFAULT_RESEND_DELAY_MS,
                &notify,
            );
            for r in &g.state.lock().rules {
                if let Some(e) = &r.last_error {
                    eval_errs.push(format!(
                        "    rule: {}, time: {}, err: {e}",
                        r.spec.name,
                        go_duration(ts)
                    ));
                }
            }
        }
        if !eval_errs.is_empty() {
            errs.extend(eval_errs);
            return Ok(errs);
        }
        while curr < alert_times.len() && ts <= alert_times[curr] && alert_times[curr] < ts + step {
            let t = alert_times[curr];
            for case in tg.alert_rule_test.iter().filter(|a| a.eval_time.ms() == t) {
                let mut got: Got = Vec::new();
                for g in &groups {
                    for r in g
                        .state
                        .lock()
                        .rules
                        .iter()
                        .filter(|r| r.spec.alerting && r.spec.name == case.alertname)
                    {
                        for a in r.active_alerts() {
                            if a.state == AlertState::Firing {
                                got.push((a.labels, a.annotations));
                            }
                        }
                    }
                }
                let mut exp: Got = case
                    .exp_alerts
                    .iter()
                    .map(|a| {
                        let mut l = Labels::from_pairs(a.exp_labels.clone());
                        l.set("alertname", &case.alertname);
                        (l, Labels::from_pairs(a.exp_annotations.clone()))
                    })
                    .collect();
                got.sort();
                exp.sort();
                if got != exp {
                    let name = if tg.name.is_empty() {
                        String::new()
                    } else {
                        format!("    name: {},\n", tg.name)
                    };
                    errs.push(format!(
                        "{name}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
                        case.alertname,
                        case.eval_time,
                        alerts_string(&exp),
                        alerts_string(&got)
                    ));
                }
            }
            curr += 1;
        }
        ts += step;
    }
    'cases: for case in &tg.promql_expr_test {
        let fail = |e: String| {
            format!(
                "    expr: {:?}, time: {}, err: {e}",
                case.expr, case.eval_time
            )
        };
        let got = strata_query::promql::parse_expr(&case.expr)
            .map_err(|e| e.to_string())
            .and_then(|expr| query_vector(&db, &expr, case.eval_time.ms(), &env.opts));
        let mut got = match got {
            Ok(g) => g,
            Err(e) => {
                errs.push(fail(e));
                continue;
            }
        };
        let mut exp = Vec::new();
        for s in &case.exp_samples {
            match parse_metric(&s.labels) {
                Ok(l) => exp.push((l, s.value)),
                Err(e) => {
                    errs.push(fail(format!("labels {:?}: {e}", s.labels)));
                    continue 'cases;
                }
            }
        }
        exp.sort_by(|a, b| a.0.cmp(&b.0));
        got.sort_by(|a, b| a.0.cmp(&b.0));
        let same =
            exp.len() == got.len() && exp.iter().zip(&got).all(|(e, g)| e.0 == g.0 && e.1 == g.1);
        if !same {
            errs.push(format!(
                "    expr: {:?}, time: {},\n        exp: {}\n        got: {}",
                case.expr,
                case.eval_time,
                samples_string(&exp),
                samples_string(&got)
            ));
        }
    }
    drop(db);
    Ok(errs)
}

/// Go's `time.Duration.String()` for whole milliseconds (`1m0s`, `2h30m0s`, `0s`).
fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let (h, rem) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rem) = (rem / 60_000, rem % 60_000);
    let secs = rem as f64 / 1000.0;
    let s = crate::gofmt::format_g(secs, None);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else if secs >= 1.0 {
        format!("{s}s")
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn series_notation_as_promtool() {
        // Checked against promtool 2.42: `0+10x10 _ stale 5 _x2 1e3 -2-1x2`.
        let v = parse_values("0+10x10 _ stale 5 _x2 1e3 -2-1x2").unwrap();
        assert_eq!(v.len(), 20);
        assert_eq!(v[10], Some(100.0));
        assert_eq!(v[11], None);
        assert_eq!(v[12].map(f64::to_bits), Some(STALE_NAN_BITS));
        assert_eq!(v[13], Some(5.0));
        assert_eq!((v[14], v[15]), (None, None));
        assert_eq!(v[16], Some(1000.0));
        assert_eq!(&v[17..], &[Some(-2.0), Some(-3.0), Some(-4.0)]);
        assert_eq!(parse_values("0x3").unwrap(), vec![Some(0.0); 4]);
        assert_eq!(
            parse_values("1e-3+1e-3x1").unwrap(),
            vec![Some(1e-3), Some(2e-3)]
        );
        assert!(parse_values("1 two").is_err());
        assert_eq!(go_duration(60_000), "1m0s");
        assert_eq!(go_duration(0), "0s");
    }

    proptest! {
        /// `a+bxn` gives n+1 values, the k-th being a + k·b; no input panics.
        #[test]
        fn expanding_notation(a in -1000i32..1000, b in -100i32..100, n in 0usize..50, junk in "[0-9x+_e.-]{0,12}") {
            let v = parse_values(&format!("{a}{}{}x{n}", if b < 0 { "-" } else { "+" }, b.abs())).unwrap();
            prop_assert_eq!(v.len(), n + 1);
            for (k, x) in v.iter().enumerate() {
                prop_assert_eq!(*x, Some(f64::from(a) + f64::from(b) * k as f64));
            }
            let _ = parse_values(&junk);
        }
    }
}
