//! `EXPLAIN <SELECT …>`: the statement runs as usual while each column task records where
//! its answer came from (raw tiers, or rollup buckets of which interval); the recorder's
//! summary is returned instead of the rows.

use crate::result::{Series, Value};
use std::collections::BTreeMap;
use std::sync::Mutex;
use strata_engine::RollupRead;

#[derive(Debug, Default)]
struct Notes {
    raw_tasks: u64,
    raw_reasons: BTreeMap<String, u64>,
    rollup_tasks: u64,
    rollups: BTreeMap<(i64, String), (u64, u64)>,
    covered: Option<(i64, i64)>,
}

/// What the column tasks of one statement did.
#[derive(Debug, Default)]
pub(crate) struct Recorder(Mutex<Notes>);

impl Recorder {
    fn with(&self, f: impl FnOnce(&mut Notes)) {
        if let Ok(mut n) = self.0.lock() {
            f(&mut n);
        }
    }

    /// A column read raw, and why rollups did not answer it.
    pub(crate) fn note_raw(&self, why: &str) {
        self.with(|n| {
            n.raw_tasks += 1;
            *n.raw_reasons.entry(why.to_owned()).or_default() += 1;
        });
    }

    /// A column answered (partly) from rollups.
    pub(crate) fn note_rollup(&self, r: &RollupRead) {
        self.with(|n| {
            n.rollup_tasks += 1;
            let e = n.rollups.entry((r.interval, r.rule.clone())).or_default();
            e.0 += r.len() as u64;
            e.1 += r.files as u64;
            let c = (r.covered.start, r.covered.end);
            n.covered = Some(n.covered.map_or(c, |(a, b)| (a.min(c.0), b.max(c.1))));
        });
    }

    /// The plan as rows of (property, value), for `series` series in the answer.
    pub(crate) fn series(&self, series: usize, columns: usize) -> Series {
        let n = self
            .0
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default();
        let mut rows: Vec<(String, String)> = Vec::new();
        let source = if n.rollup_tasks == 0 {
            "raw tiers".to_owned()
        } else {
            let list: Vec<String> = n
                .rollups
                .keys()
                .map(|(i, rule)| format!("rollup {} (rule {rule})", crate::ast::Duration(*i)))
                .collect();
            if n.raw_tasks > 0 || n.covered.is_some() {
                format!(
                    "{} + raw tiers outside the rolled-up range",
                    list.join(", ")
                )
            } else {
                list.join(", ")
            }
        };
        rows.push(("source".into(), source));
        rows.push(("series in the answer".into(), series.to_string()));
        rows.push(("value columns in the answer".into(), columns.to_string()));
        rows.push((
            "column reads from rollups".into(),
            n.rollup_tasks.to_string(),
        ));
        rows.push(("column reads raw only".into(), n.raw_tasks.to_string()));
        for ((i, rule), (buckets, files)) in &n.rollups {
            rows.push((
                format!("rollup {} (rule {rule})", crate::ast::Duration(*i)),
                format!("{buckets} buckets from {files} rollup file reads"),
            ));
        }
        if let Some((a, b)) = n.covered {
            rows.push(("rolled-up range (ns)".into(), format!("[{a}, {b})")));
        }
        for (why, count) in &n.raw_reasons {
            rows.push((
                "raw because".into(),
                format!("{why} ({count} column reads)"),
            ));
        }
        Series {
            name: "explain".into(),
            tags: None,
            columns: vec!["property".into(), "value".into()],
            values: rows
                .into_iter()
                .map(|(k, v)| vec![Value::String(k), Value::String(v)])
                .collect(),
        }
    }
}
