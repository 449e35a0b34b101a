//! The metadata side of the Prometheus API over the index: series matching selectors,
//! label names, label values, and the cardinality figures of `/api/v1/status/tsdb`.
//! A series counts as present in `[start, end]` when its column has a sample there
//! (block bounds and in-memory bounds, nothing decoded).

use super::eval::labels::Labels;
use crate::exec::scan::ns_range;
use crate::plan::selection::{self, METRIC_NAME, SelectedColumn, numeric};
use crate::plan::{MatchOp, Matcher};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use strata_engine::Db;
use strata_engine::model::FieldType;

fn labels_of(c: &SelectedColumn) -> Labels {
    let mut pairs: Vec<(String, String)> = c.key.tags().to_vec();
    pairs.push((METRIC_NAME.to_owned(), c.metric.clone()));
    Labels::from_pairs(pairs)
}

/// Every column, for listings without `match[]`.
fn everything() -> Vec<Matcher> {
    Matcher::new(METRIC_NAME, MatchOp::Regex, ".+")
        .map(|m| vec![m])
        .unwrap_or_default()
}

/// Columns matching any of the matcher sets (all columns when there are none) with data
/// in `[start, end]` (ms), deduplicated.
fn columns(
    db: &Db,
    sets: &[Vec<Matcher>],
    start: i64,
    end: i64,
) -> Result<Vec<SelectedColumn>, strata_engine::Error> {
    let all = [everything()];
    let sets: &[Vec<Matcher>] = if sets.is_empty() { &all } else { sets };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let range = ns_range(start, end);
    for set in sets {
        for c in selection::select(db, set) {
            if seen.contains(&c.column) {
                continue;
            }
            if db.column_bounds(c.column, range)?.is_some() {
                seen.insert(c.column);
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// `/api/v1/series`: the label sets, sorted.
pub fn series(
    db: &Db,
    sets: &[Vec<Matcher>],
    start: i64,
    end: i64,
) -> Result<Vec<Labels>, strata_engine::Error> {
    let mut out: Vec<Labels> = columns(db, sets, start, end)?
        .iter()
        .map(labels_of)
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// `/api/v1/labels`: label names, sorted.
pub fn label_names(
    db: &Db,
    sets: &[Vec<Matcher>],
    start: i64,
    end: i64,
) -> Result<Vec<String>, strata_engine::Error> {
    if sets.is_empty() {
        return all_label_names(db, start, end);
    }
    let mut names = BTreeSet::new();
    for c in columns(db, sets, start, end)? {
        names.insert(METRIC_NAME.to_owned());
        for (k, _) in c.key.tags() {
            names.insert(k.clone());
        }
    }
    Ok(names.into_iter().collect())
}

/// `/api/v1/label/<name>/values`: the values of one label, sorted.
pub fn label_values(
    db: &Db,
    name: &str,
    sets: &[Vec<Matcher>],
    start: i64,
    end: i64,
) -> Result<Vec<String>, strata_engine::Error> {
    if sets.is_empty() {
        return all_label_values(db, name, start, end);
    }
    let mut values = BTreeSet::new();
    for c in columns(db, sets, start, end)? {
        if name == METRIC_NAME {
            values.insert(c.metric.clone());
        } else if let Some(v) = c.key.tag(name) {
            values.insert(v.to_owned());
        }
    }
    Ok(values.into_iter().collect())
}

/// [`label_names`] without `match[]`, from the index: each tag key's values are probed
/// for one series with data in the range, so a listing over a million series asks a
/// handful of them instead of finding and checking each (the same answer: a name is
/// listed when some series that carries it has a sample in `[start, end]`).
fn all_label_names(db: &Db, start: i64, end: i64) -> Result<Vec<String>, strata_engine::Error> {
    let range = ns_range(start, end);
    let mut names = BTreeSet::new();
    for m in db.measurements() {
        if !db.fields(&m).iter().any(|(_, t)| numeric(*t)) {
            continue;
        }
        for key in db.tag_keys(&m) {
            if names.contains(&key) {
                continue;
            }
            for v in db.tag_values(&m, &key) {
                if db
                    .first_with_data(&db.tag_postings(&m, &key, &v), None, range)?
                    .is_some()
                {
                    names.insert(key);
                    break;
                }
            }
        }
        if !names.contains(METRIC_NAME)
            && db
                .first_with_data(&db.series_ids(&m), None, range)?
                .is_some()
        {
            names.insert(METRIC_NAME.to_owned());
        }
    }
    Ok(names.into_iter().collect())
}

/// [`label_values`] without `match[]`, from the index, probing as [`all_label_names`]
/// does: a metric name is listed when a series of its measurement has data in its
/// field's column, a tag value when a series carrying it has data.
fn all_label_values(
    db: &Db,
    name: &str,
    start: i64,
    end: i64,
) -> Result<Vec<String>, strata_engine::Error> {
    let range = ns_range(start, end);
    let mut values = BTreeSet::new();
    for m in db.measurements() {
        let fields: Vec<(String, FieldType)> = db
            .fields(&m)
            .into_iter()
            .filter(|(_, t)| numeric(*t))
            .collect();
        if fields.is_empty() {
            continue;
        }
        if name == METRIC_NAME {
            let ids = db.series_ids(&m);
            for (f, _) in &fields {
                let metric = selection::metric_name(&m, f);
                if !values.contains(&metric) && db.first_with_data(&ids, Some(f), range)?.is_some()
                {
                    values.insert(metric);
                }
            }
            continue;
        }
        if !db.tag_keys(&m).iter().any(|k| k == name) {
            continue;
        }
        for v in db.tag_values(&m, name) {
            if !values.contains(&v)
                && db
                    .first_with_data(&db.tag_postings(&m, name, &v), None, range)?
                    .is_some()
            {
                values.insert(v);
            }
        }
    }
    Ok(values.into_iter().collect())
}

/// Every metric name with its number of series, sorted by name (Strata's
/// `/api/v1/status/metrics`, for the explore page); counted in the index, no key decoded.
pub fn metric_series(db: &Db) -> Vec<(String, usize)> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (metric, n) in metric_columns(db) {
        *counts.entry(metric).or_default() += n;
    }
    counts.into_iter().collect()
}

/// Each (measurement, numeric field) with columns, as (metric name, columns), in the
/// index's order: what a selection of every metric finds, counted without it.
fn metric_columns(db: &Db) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for m in db.measurements() {
        for (f, t, n) in db.field_column_counts(&m) {
            if numeric(t) && n > 0 {
                out.push((selection::metric_name(&m, &f), n));
            }
        }
    }
    out
}

/// The figures of `/api/v1/status/tsdb`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TsdbStatus {
    /// Series (numeric columns).
    pub num_series: usize,
    /// Distinct label pairs.
    pub num_label_pairs: usize,
    /// Top 10 metric names by series.
    pub series_by_metric: Vec<(String, usize)>,
    /// Top 10 label names by distinct values.
    pub values_by_label: Vec<(String, usize)>,
    /// Top 10 label names by bytes of their values over all series.
    pub bytes_by_label: Vec<(String, usize)>,
    /// Top 10 `name=value` pairs by series.
    pub series_by_pair: Vec<(String, usize)>,
}

fn top10<K: Clone + Ord>(m: HashMap<K, usize>) -> Vec<(K, usize)> {
    let mut v: Vec<(K, usize)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(10);
    v
}

/// Cardinality of everything stored, as Prometheus reports its head block's; a series
/// is a numeric column (its labels: the metric name and its series' tags). Counted in the
/// index from each field's and each tag value's column counts, no key decoded (a walk
/// over every series' labels took 3 s at a million series).
pub fn tsdb_status(db: &Db) -> TsdbStatus {
    // Label name → value → columns carrying it (summed over measurements).
    let mut labels: HashMap<String, HashMap<String, usize>> = HashMap::new();
    let mut by_metric: HashMap<String, usize> = HashMap::new();
    let mut num_series = 0;
    let names = labels.entry(METRIC_NAME.to_owned()).or_default();
    for (metric, n) in metric_columns(db) {
        num_series += n;
        *by_metric.entry(metric.clone()).or_default() += n;
        *names.entry(metric).or_default() += n;
    }
    for m in db.measurements() {
        for k in db.tag_keys(&m) {
            for (v, n) in db.tag_value_column_counts(&m, &k, numeric) {
                if n > 0 {
                    *labels.entry(k.clone()).or_default().entry(v).or_default() += n;
                }
            }
        }
    }
    labels.retain(|_, values| !values.is_empty());
    let values_by_label = labels.iter().map(|(k, vs)| (k.clone(), vs.len())).collect();
    let bytes_by_label = labels
        .iter()
        .map(|(k, vs)| (k.clone(), vs.iter().map(|(v, n)| v.len() * n).sum()))
        .collect();
    // The ten largest pairs, found before any `name=value` text is made.
    let mut all: Vec<(usize, &str, &str)> = labels
        .iter()
        .flat_map(|(k, vs)| vs.iter().map(move |(v, &n)| (n, k.as_str(), v.as_str())))
        .collect();
    // Larger counts first, then by the `name=value` text (compared without making it).
    let order = |a: &(usize, &str, &str), b: &(usize, &str, &str)| {
        b.0.cmp(&a.0)
            .then_with(|| pair_text(a.1, a.2).cmp(pair_text(b.1, b.2)))
    };
    if all.len() > 10 {
        all.select_nth_unstable_by(9, order);
        all.truncate(10);
    }
    all.sort_by(order);
    let series_by_pair = all
        .iter()
        .map(|(n, k, v)| (format!("{k}={v}"), *n))
        .collect();
    TsdbStatus {
        num_series,
        num_label_pairs: labels.values().map(HashMap::len).sum(),
        series_by_metric: top10(by_metric),
        values_by_label: top10(values_by_label),
        bytes_by_label: top10(bytes_by_label),
        series_by_pair,
    }
}

/// The bytes of `name=value`, without making the string.
fn pair_text<'a>(name: &'a str, value: &'a str) -> impl Iterator<Item = u8> + 'a {
    name.bytes()
        .chain(std::iter::once(b'='))
        .chain(value.bytes())
}

/// The raw samples (stale markers included) of every series matching `matchers` in
/// `[start, end]` (ms), for remote read; fails once more than `max_samples` are read.
pub fn raw_samples(
    db: &Db,
    matchers: &[Matcher],
    start: i64,
    end: i64,
    max_samples: usize,
) -> Result<Vec<(Labels, crate::exec::scan::Samples)>, crate::QueryError> {
    let mut out = Vec::new();
    let mut total = 0usize;
    for c in selection::select(db, matchers) {
        let s = crate::exec::scan::read_samples(db, c.column, c.ty, start, end, &|| Ok(()))?;
        total += s.len();
        if total > max_samples {
            return Err(crate::QueryError::Limit(format!(
                "exceeded sample limit ({max_samples})"
            )));
        }
        if !s.is_empty() {
            out.push((labels_of(&c), s));
        }
    }
    Ok(out)
}
