//! Prometheus text exposition pages into the database, at line protocol's per-sample
//! cost: a sample whose metric name and label set (as written) the index has seen costs
//! one hash of those bytes and the parse of its value and timestamp; the rest of the page
//! (HELP and TYPE lines) is read without copies.

use super::Db;
use super::writer::Writer;
use crate::error::Result;
use crate::index::RawKind;
use crate::ingest::prom_text::{
    self, Meta, PageLine, parse_comment_line, parse_page_line, parse_value_and_timestamp,
    sample_series_span,
};
use crate::write::{RejectReason, WriteSummary};
use rustc_hash::FxHashMap;
use std::borrow::Cow;

/// What [`Db::write_prom_text`] did with a page.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PromTextSummary<'a> {
    /// Samples stored (`lines` and `points` count samples) and refused lines, with their
    /// line number and column in the page, in page order.
    pub write: WriteSummary,
    /// The page's metadata: each metric named by a `# HELP` or `# TYPE` line, once, in
    /// order of first appearance, with the last HELP and TYPE given for it.
    pub metadata: Vec<PromMetadata<'a>>,
}

/// One metric's metadata from a page.
#[derive(Debug, Clone, PartialEq)]
pub struct PromMetadata<'a> {
    /// The metric (family) name.
    pub name: &'a str,
    /// Its TYPE, if given.
    pub kind: Option<&'static str>,
    /// Its HELP text, unescaped, if given.
    pub help: Option<Cow<'a, str>>,
}

impl Db {
    /// Writes a page of the Prometheus text exposition format (see
    /// [`crate::ingest::prom_text`] for the grammar and the mapping: each sample becomes a
    /// point with the float field `value`). Samples without a timestamp get
    /// `default_timestamp_ns`. A bad line is refused with its line number and column, as
    /// is a sample the write path refuses (a type conflict on `value`, a series limit, a
    /// timestamp out of range or beyond retention); the rest of the page is stored, in
    /// one WAL record, before this returns.
    pub fn write_prom_text<'p>(
        &self,
        page: &'p [u8],
        default_timestamp_ns: i64,
    ) -> Result<PromTextSummary<'p>> {
        self.write_prom_turn(page, default_timestamp_ns, None)
    }

    /// [`Db::write_prom_text`], reaching the WAL in turn `turn` of `order`, as
    /// [`Db::write_lp_in_turn`] does.
    pub fn write_prom_text_in_turn<'p>(
        &self,
        page: &'p [u8],
        default_timestamp_ns: i64,
        order: &super::SubmitOrder,
        turn: u64,
    ) -> Result<PromTextSummary<'p>> {
        let turn = super::submit_order::Turn::new(order, turn);
        self.write_prom_turn(page, default_timestamp_ns, Some(turn))
    }

    fn write_prom_turn<'p>(
        &self,
        page: &'p [u8],
        default_timestamp_ns: i64,
        turn: Option<super::submit_order::Turn<'_>>,
    ) -> Result<PromTextSummary<'p>> {
        let mut w = Writer::new(&self.inner);
        let max_tags = self.inner.options.max_tags_per_line;
        let mut metadata: Vec<PromMetadata<'p>> = Vec::new();
        let mut meta_at: FxHashMap<&'p str, usize> = FxHashMap::default();
        // Per metadata entry, the HELP and the TYPE line that last set it, as written: a
        // line equal to one of them would set the same again, so it is skipped unparsed.
        // Pages repeat their families in one order, so the entry after the last one
        // touched (or the first) is tried.
        let mut meta_lines: Vec<[&'p [u8]; 2]> = Vec::new();
        let mut meta_guess = 0;
        for (no, line, text) in prom_text::lines_with_text(page) {
            let first = line.iter().find(|&&b| b != b' ' && b != b'\t');
            match first {
                None => continue,
                Some(b'#') => {
                    let seen = [meta_guess, meta_guess + 1, 0].into_iter().find(|&k| {
                        meta_lines
                            .get(k)
                            .is_some_and(|set| set[0] == line || set[1] == line)
                    });
                    if let Some(k) = seen {
                        meta_guess = k;
                        continue;
                    }
                    match parse_comment_line(line, text, no) {
                        Ok(None) => {}
                        Ok(Some((name, meta))) => {
                            let at = *meta_at.entry(name).or_insert_with(|| {
                                metadata.push(PromMetadata {
                                    name,
                                    kind: None,
                                    help: None,
                                });
                                meta_lines.push([&[], &[]]);
                                metadata.len() - 1
                            });
                            match meta {
                                Meta::Help(text) => {
                                    metadata[at].help = Some(text);
                                    meta_lines[at][0] = line;
                                }
                                Meta::Type(kind) => {
                                    metadata[at].kind = Some(kind);
                                    meta_lines[at][1] = line;
                                }
                            }
                            meta_guess = at;
                        }
                        Err(e) => w.reject(no, e.column, RejectReason::Invalid(e.reason)),
                    }
                    continue;
                }
                Some(_) => {}
            }
            // A known series: read only the value and the timestamp.
            if let Some((start, end)) = sample_series_span(line)
                && let Some(sid) = w.lookup_raw(RawKind::PromText, &line[start..end])
                && let Some((value, ts)) =
                    parse_value_and_timestamp(line, text, end, default_timestamp_ns)
            {
                match w.sample_series(sid) {
                    Ok(h) => w.add_sample(no, h, ts, value),
                    Err(e) => w.reject(no, 1, e),
                }
                continue;
            }
            match parse_page_line(line, no, default_timestamp_ns) {
                Ok(PageLine::Sample {
                    series,
                    value,
                    timestamp,
                }) => {
                    if series.tags().len() > max_tags {
                        let count = series.tags().len();
                        w.reject(
                            no,
                            1,
                            RejectReason::TooManyTags {
                                count,
                                max: max_tags,
                            },
                        );
                        continue;
                    }
                    let raw = sample_series_span(line).map(|(s, e)| &line[s..e]);
                    let sid = match raw {
                        Some(raw) => w.resolve_raw(RawKind::PromText, raw, || {
                            super::write::check_key(&series, max_tags)?;
                            Ok(series)
                        }),
                        None => {
                            let checked = super::write::check_key(&series, max_tags);
                            checked.and_then(|()| {
                                let mut canonical = Vec::new();
                                series.encode_into(&mut canonical);
                                w.resolve_key(&series, &canonical)
                            })
                        }
                    };
                    match sid.and_then(|sid| w.sample_series(sid)) {
                        Ok(h) => w.add_sample(no, h, timestamp, value),
                        Err(e) => w.reject(no, 1, e),
                    }
                }
                Ok(PageLine::Nothing) => {}
                Err(e) => w.reject(no, e.column, RejectReason::Invalid(e.reason)),
            }
        }
        let write = w.commit_in(turn)?;
        Ok(PromTextSummary { write, metadata })
    }
}
