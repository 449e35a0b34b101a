//! A decoded remote-write request into the database: one WAL record per request, each
//! series resolved once per request through the index's cache of raw label bytes (a known
//! series costs one hash of its encoded labels: no label decoding, validation or
//! allocation), its samples appended in place.

use super::wire::{Request, Series};
use super::{check_labels, show_label_pairs};
use strata_engine::model::SeriesKey;
use strata_engine::{Db, RawKind, RejectReason, WriteSummary};

/// The series key of `s` (with `suffix` appended to the metric name, for a histogram's
/// `_count` and `_sum`), or why Prometheus' receiver would refuse its labels.
fn key_of(s: &Series<'_>, suffix: &str) -> Result<SeriesKey, RejectReason> {
    let (name, tags) = check_labels(s.labels()).map_err(RejectReason::Invalid)?;
    let key = if suffix.is_empty() {
        SeriesKey::new(name, tags)
    } else {
        SeriesKey::new(format!("{name}{suffix}"), tags)
    };
    key.map_err(|e| RejectReason::Invalid(e.to_string()))
}

/// Writes every valid series of `req` (samples in milliseconds) and refuses the others
/// one by one. Returns what was stored and, for each refusal in request order, a message
/// naming the series: `timeseries N ({labels}): reason`.
pub fn write_request(
    db: &Db,
    req: &Request<'_>,
) -> Result<(WriteSummary, Vec<String>), strata_engine::Error> {
    // Sized from the request, so that the batch's series map and vectors never regrow.
    let samples = req.samples.len() + 2 * req.histograms.len();
    let mut w = db.sample_writer_with_capacity(req.series.len(), samples);
    for (i, s) in req.series.iter().enumerate() {
        if !s.samples.is_empty() {
            let handle = match s.raw_labels() {
                Some(raw) => w.series(RawKind::RemoteWrite, raw, || key_of(s, "")),
                None => key_of(s, "").and_then(|k| w.series_key(&k)),
            };
            match handle {
                Ok(h) => {
                    for smp in &req.samples[s.samples.clone()] {
                        match smp.timestamp.checked_mul(1_000_000) {
                            Some(ns) => w.sample(i, h, ns, smp.value),
                            None => w.reject(i, out_of_range(smp.timestamp)),
                        }
                    }
                }
                Err(e) => w.reject(i, e),
            }
        }
        if !s.histograms.is_empty() {
            let keys = key_of(s, "_count").and_then(|c| Ok((c, key_of(s, "_sum")?)));
            let handles = keys.and_then(|(c, m)| Ok((w.series_key(&c)?, w.series_key(&m)?)));
            match handles {
                Ok((count, sum)) => {
                    for h in &req.histograms[s.histograms.clone()] {
                        let Some(ns) = h.timestamp.checked_mul(1_000_000) else {
                            w.reject(i, out_of_range(h.timestamp));
                            continue;
                        };
                        let n = h
                            .count_float
                            .unwrap_or_else(|| h.count_int.unwrap_or(0) as f64);
                        w.sample(i, count, ns, n);
                        w.sample(i, sum, ns, h.sum);
                    }
                }
                Err(e) => w.reject(i, e),
            }
        }
    }
    let summary = w.finish()?;
    let problems = summary
        .rejected
        .iter()
        .map(|r| {
            let labels = req
                .series
                .get(r.line)
                .map_or_else(|| "{}".to_owned(), |s| show_label_pairs(s.labels()));
            format!("timeseries {} ({labels}): {}", r.line, r.reason)
        })
        .collect();
    Ok((summary, problems))
}

fn out_of_range(ms: i64) -> RejectReason {
    RejectReason::Invalid(format!("timestamp {ms} ms is out of range"))
}
