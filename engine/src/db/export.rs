//! Export: every stored point as text that the write path reads back exactly.
//!
//! One line per (series, timestamp) holding every field written at that time, by
//! measurement (sorted), series (creation order) and time. Lines are line protocol when
//! it can spell the point, else Strata's exact form (`#!strata …`, see
//! [`crate::ingest::line_protocol::write_line_exact`]): a newline in a tag value, a NaN
//! or infinite float and the like. Invariant: for everything the write paths accept,
//! writing the export back into an empty database gives the same series, fields, types,
//! timestamps and values, bit for bit.

use super::Db;
use crate::error::{Error, Result};
use crate::ingest::line_protocol::write_line_exact;
use crate::model::{ColumnData, ColumnValues, FieldValueRef, TimeRange};
use std::io::Write;

/// What an export wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// Lines written.
    pub lines: u64,
    /// Field values written (points, as Strata counts them).
    pub points: u64,
    /// Lines in the exact form (`#!strata …`), which InfluxDB skips as comments.
    pub exact_lines: u64,
    /// Points that could not be written at all (an empty name, stored by an older
    /// version), each described; they are skipped and the export goes on.
    pub skipped: Vec<String>,
}

impl Db {
    /// Writes every point of `measurement` (or of every measurement) in `range` to `out`;
    /// see the module docs. A failed write to `out` is an [`Error::Io`] naming
    /// `out_name`.
    pub fn export_lp(
        &self,
        measurement: Option<&str>,
        range: TimeRange,
        out: &mut dyn Write,
        out_name: &str,
    ) -> Result<ExportSummary> {
        let measurements = match measurement {
            Some(m) => vec![m.to_owned()],
            None => self.measurements(),
        };
        let mut summary = ExportSummary::default();
        let mut line = Vec::new();
        for m in &measurements {
            for key in self.series(m) {
                let mut cols: Vec<(String, ColumnData)> = Vec::new();
                for (field, _) in self.series_fields(&key) {
                    if let Some(data) = self.read_column(&key, &field, range)? {
                        cols.push((field, data));
                    }
                }
                let tags: Vec<(&str, &str)> = key
                    .tags()
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let mut pos = vec![0usize; cols.len()];
                let mut fields = Vec::with_capacity(cols.len());
                loop {
                    let next = cols
                        .iter()
                        .zip(&pos)
                        .filter_map(|((_, c), &p)| c.timestamps.get(p).copied())
                        .min();
                    let Some(ts) = next else { break };
                    fields.clear();
                    for ((name, c), p) in cols.iter().zip(pos.iter_mut()) {
                        if c.timestamps.get(*p) == Some(&ts) {
                            fields.push((name.as_str(), value_at(&c.values, *p)));
                            *p += 1;
                        }
                    }
                    line.clear();
                    match write_line_exact(&mut line, key.measurement(), &tags, &fields, ts) {
                        Ok(exact) => {
                            out.write_all(&line).map_err(|e| Error::io(out_name, e))?;
                            summary.lines += 1;
                            summary.points += fields.len() as u64;
                            summary.exact_lines += u64::from(exact);
                        }
                        Err(e) => summary.skipped.push(format!("{key} at {ts}: {e}")),
                    }
                }
            }
        }
        Ok(summary)
    }
}

fn value_at(v: &ColumnValues, i: usize) -> FieldValueRef<'_> {
    match v {
        ColumnValues::Float(x) => FieldValueRef::Float(x[i]),
        ColumnValues::Integer(x) => FieldValueRef::Integer(x[i]),
        ColumnValues::Unsigned(x) => FieldValueRef::Unsigned(x[i]),
        ColumnValues::Boolean(x) => FieldValueRef::Boolean(x[i]),
        ColumnValues::String(x) => FieldValueRef::String(&x[i]),
    }
}
