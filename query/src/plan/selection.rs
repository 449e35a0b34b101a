//! Series selection: label matchers resolved through the index to the columns that hold
//! the data, with the one data model both languages share.
//!
//! Data model: a column is (measurement, tags, field). PromQL sees it as the metric
//! `measurement_field` — or just `measurement` for the field `value`, which is how
//! Prometheus samples are stored — with the tags as labels (VictoriaMetrics' mapping of
//! line protocol). String fields have no PromQL form and are never selected.
//!
//! Invariant: [`select`] returns each column at most once, sorted by metric name then
//! tags, and every returned column satisfies every matcher (a missing label matches as
//! the empty string, as in Prometheus).

use super::Matcher;
use strata_engine::Db;
use strata_engine::index::{ColumnId, SeriesId};
use strata_engine::model::{FieldType, SeriesKey};

/// The label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

/// The field a Prometheus sample is stored in.
pub const VALUE_FIELD: &str = "value";

/// A column selected by matchers.
#[derive(Debug, Clone)]
pub struct SelectedColumn {
    /// The metric name PromQL sees.
    pub metric: String,
    /// Measurement and tags.
    pub key: SeriesKey,
    /// Where the data is.
    pub column: ColumnId,
    /// Its stored type (numeric or boolean).
    pub ty: FieldType,
}

/// The PromQL metric name of a (measurement, field) column.
pub fn metric_name(measurement: &str, field: &str) -> String {
    if field == VALUE_FIELD {
        measurement.to_owned()
    } else {
        format!("{measurement}_{field}")
    }
}

/// The (measurement, field) pairs that could be called `name`: the measurement itself with
/// field `value`, and every split at an underscore.
pub fn name_candidates(name: &str) -> Vec<(String, String)> {
    let mut out = vec![(name.to_owned(), VALUE_FIELD.to_owned())];
    for (i, _) in name.match_indices('_') {
        if i > 0 && i + 1 < name.len() {
            let (m, f) = (&name[..i], &name[i + 1..]);
            if f != VALUE_FIELD {
                out.push((m.to_owned(), f.to_owned()));
            }
        }
    }
    out
}

/// Whether a field of type `t` is a PromQL metric (every type but strings).
pub(crate) fn numeric(t: FieldType) -> bool {
    !matches!(t, FieldType::String)
}

/// The (measurement, field, type) columns whose metric name satisfies every `__name__`
/// matcher, sorted by metric name.
pub fn metrics(db: &Db, matchers: &[Matcher]) -> Vec<(String, String, String, FieldType)> {
    let name_ms: Vec<&Matcher> = matchers.iter().filter(|m| m.name == METRIC_NAME).collect();
    let mut out = Vec::new();
    // A name matcher with a finite set of values (`=`, or `=~` of literals) means only
    // those names need looking up.
    let exact: Option<Vec<String>> = name_ms
        .iter()
        .filter_map(|m| m.values())
        .min_by_key(Vec::len)
        .map(|v| v.into_iter().map(str::to_owned).collect());
    let consider = |m: &str, f: &str, t: FieldType, out: &mut Vec<_>| {
        if !numeric(t) {
            return;
        }
        let name = metric_name(m, f);
        if name_ms.iter().all(|x| x.matches(&name)) {
            out.push((name, m.to_owned(), f.to_owned(), t));
        }
    };
    match exact {
        Some(names) => {
            for name in names {
                for (m, f) in name_candidates(&name) {
                    if let Some((_, t)) = db.fields(&m).into_iter().find(|(x, _)| *x == f) {
                        consider(&m, &f, t, &mut out);
                    }
                }
            }
        }
        None => {
            for m in db.measurements() {
                for (f, t) in db.fields(&m) {
                    consider(&m, &f, t, &mut out);
                }
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    out.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1 && a.2 == b.2);
    out
}

/// The ids (sorted) of the series of `measurement` whose tag can satisfy `m`, from the
/// tag postings, when the matcher names its values (`=`, or `=~` of a literal set) and
/// none of them is empty (which would also match series without the tag); `None` when the
/// matcher does not narrow the series.
pub fn postings_for(db: &Db, measurement: &str, m: &Matcher) -> Option<Vec<SeriesId>> {
    let values = m.values().filter(|v| !v.contains(&""))?;
    let mut p: Vec<SeriesId> = Vec::new();
    for v in values {
        p.extend(db.tag_postings(measurement, &m.name, v));
    }
    p.sort_unstable();
    p.dedup();
    Some(p)
}

/// The intersection of [`postings_for`] over the matchers that narrow; `None` when none
/// does.
pub fn narrow(db: &Db, measurement: &str, matchers: &[&Matcher]) -> Option<Vec<SeriesId>> {
    let mut ids: Option<Vec<SeriesId>> = None;
    for m in matchers {
        let Some(p) = postings_for(db, measurement, m) else {
            continue;
        };
        ids = Some(match ids {
            None => p,
            Some(prev) => strata_engine::index::postings::intersect(&prev, &p),
        });
        if ids.as_ref().is_some_and(Vec::is_empty) {
            break;
        }
    }
    ids
}

/// Every column that satisfies all `matchers`.
pub fn select(db: &Db, matchers: &[Matcher]) -> Vec<SelectedColumn> {
    let tag_ms: Vec<&Matcher> = matchers.iter().filter(|m| m.name != METRIC_NAME).collect();
    let mut out = Vec::new();
    for (metric, measurement, field, ty) in metrics(db, matchers) {
        let ids = narrow(db, &measurement, &tag_ms);
        if ids.as_ref().is_some_and(Vec::is_empty) {
            continue;
        }
        for (key, column, t) in db.query_field_in(&measurement, ids.as_deref(), &field) {
            if t != ty
                || !tag_ms
                    .iter()
                    .all(|m| m.matches(key.tag(&m.name).unwrap_or("")))
            {
                continue;
            }
            out.push(SelectedColumn {
                metric: metric.clone(),
                key,
                column,
                ty,
            });
        }
    }
    out.sort_by(|a, b| {
        a.metric
            .cmp(&b.metric)
            .then_with(|| a.key.tags().cmp(b.key.tags()))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_both_ways() {
        assert_eq!(metric_name("cpu", "usage_user"), "cpu_usage_user");
        assert_eq!(metric_name("up", "value"), "up");
        let c = name_candidates("cpu_usage_user");
        assert!(c.contains(&("cpu".into(), "usage_user".into())));
        assert!(c.contains(&("cpu_usage".into(), "user".into())));
        assert!(c.contains(&("cpu_usage_user".into(), "value".into())));
        assert_eq!(name_candidates("_x_").len(), 1);
    }
}
