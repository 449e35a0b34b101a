//! Prometheus' `delete_series`: series selectors lowered to the engine's column predicate
//! so that a selector deletes exactly the columns the same selector would query (metric
//! name `measurement` or `measurement_field`, labels = tags, regexes anchored as
//! Prometheus anchors them).

use crate::exec::scan::ns_range;
use crate::plan::selection;
use crate::plan::{MatchOp, Matcher};
use strata_engine::model::predicate::{self as pred, Predicate, Subject};
use strata_engine::{Db, DeleteReport};

/// The engine predicate of one selector: for every (measurement, field) its metric-name
/// matchers select, that column with the label matchers. `None` when no metric matches.
pub fn predicate(db: &Db, set: &[Matcher]) -> Result<Option<Predicate>, pred::PredicateError> {
    let mut labels = Vec::new();
    for m in set.iter().filter(|m| m.name != selection::METRIC_NAME) {
        let value = match m.op {
            MatchOp::Equal | MatchOp::NotEqual => m.value.clone(),
            MatchOp::Regex | MatchOp::NotRegex => anchored(&m.value),
        };
        labels.push(Predicate::Match(pred::Matcher::new(
            Subject::Tag(m.name.clone()),
            m.op,
            &value,
        )?));
    }
    let mut columns = Vec::new();
    for (_, measurement, field, _) in selection::metrics(db, set) {
        let mut parts = vec![
            Predicate::measurement(&measurement),
            Predicate::Match(pred::Matcher::new(
                Subject::Field,
                pred::MatchOp::Equal,
                &field,
            )?),
        ];
        parts.extend(labels.iter().cloned());
        columns.push(Predicate::And(parts));
    }
    Ok((!columns.is_empty()).then_some(Predicate::Or(columns)))
}

/// Prometheus' anchoring of a label regex.
fn anchored(pattern: &str) -> String {
    format!("^(?s:{pattern})$")
}

/// Deletes the samples in `[start, end]` (ms) of the columns any of `sets` selects.
pub fn delete_series(
    db: &Db,
    sets: &[Vec<Matcher>],
    start: i64,
    end: i64,
) -> Result<DeleteReport, String> {
    let mut any = Vec::new();
    for set in sets {
        if let Some(p) = predicate(db, set).map_err(|e| e.to_string())? {
            any.push(p);
        }
    }
    if any.is_empty() || start > end {
        return Ok(DeleteReport::default());
    }
    db.delete_where(Predicate::Or(any), ns_range(start, end))
        .map_err(|e| e.to_string())
}
