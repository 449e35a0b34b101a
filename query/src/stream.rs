//! Streamed answers: a request's results handed out a piece at a time, so that a large raw
//! `SELECT` never holds its whole answer (rows or text) at once.
//!
//! [`crate::execute_streamed`] drives a [`ResponseSink`]: statements that are not streamed
//! arrive whole ([`ResponseSink::statement`]); a streamed statement arrives as
//! `begin_statement`, then per series `begin_series`, `rows` (any number of times) and
//! `end_series`, then `end_statement` with the error that stopped it, if any.
//!
//! Invariants:
//! - the pieces arrive in output order, each series once, its rows in output order; the
//!   concatenation is exactly the statement's whole result ([`crate::execute`]'s);
//! - [`JsonStream`] writes byte for byte what [`QueryResponse::to_json`] writes for the
//!   same results (both use the same series writers in [`crate::result`]); an error that
//!   stops a streamed statement after some of its rows were written ends the series
//!   written so far and shows as the statement's `error`, as InfluxDB's does;
//! - a sink error (the client went away) stops the statement: the executor returns it.

use crate::error::QueryError;
use crate::result::{
    Epoch, QueryResponse, Series, StatementResult, Value, csv_epoch, tags_text_of, write_csv_error,
    write_csv_header, write_csv_rows, write_json_rows, write_json_series_head,
    write_json_series_tail, write_json_statement, write_json_string,
};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Receives a response a piece at a time (see the module docs for the order).
pub trait ResponseSink {
    /// A statement answered whole.
    fn statement(&mut self, result: StatementResult) -> Result<(), QueryError>;
    /// A streamed statement begins.
    fn begin_statement(&mut self, statement_id: usize) -> Result<(), QueryError>;
    /// A series of the streamed statement begins.
    fn begin_series(
        &mut self,
        name: &str,
        tags: Option<&BTreeMap<String, String>>,
        columns: &[String],
    ) -> Result<(), QueryError>;
    /// More rows of the current series.
    fn rows(&mut self, rows: &[Vec<Value>]) -> Result<(), QueryError>;
    /// The current series is complete.
    fn end_series(&mut self) -> Result<(), QueryError>;
    /// The streamed statement ends; `error` when it stopped early.
    fn end_statement(&mut self, error: Option<String>) -> Result<(), QueryError>;
}

/// Builds the whole [`QueryResponse`] from the pieces (embedded use and tests).
#[derive(Debug, Default)]
pub struct Collect {
    /// What arrived so far.
    pub response: QueryResponse,
    open: Option<StatementResult>,
}

impl ResponseSink for Collect {
    fn statement(&mut self, result: StatementResult) -> Result<(), QueryError> {
        self.response.results.push(result);
        Ok(())
    }

    fn begin_statement(&mut self, statement_id: usize) -> Result<(), QueryError> {
        self.open = Some(StatementResult {
            statement_id,
            ..StatementResult::default()
        });
        Ok(())
    }

    fn begin_series(
        &mut self,
        name: &str,
        tags: Option<&BTreeMap<String, String>>,
        columns: &[String],
    ) -> Result<(), QueryError> {
        let st = self.open.as_mut().ok_or_else(out_of_order)?;
        st.series.push(Series {
            name: name.to_owned(),
            tags: tags.cloned(),
            columns: columns.to_vec(),
            values: Vec::new(),
        });
        Ok(())
    }

    fn rows(&mut self, rows: &[Vec<Value>]) -> Result<(), QueryError> {
        let st = self.open.as_mut().ok_or_else(out_of_order)?;
        let s = st.series.last_mut().ok_or_else(out_of_order)?;
        s.values.extend_from_slice(rows);
        Ok(())
    }

    fn end_series(&mut self) -> Result<(), QueryError> {
        Ok(())
    }

    fn end_statement(&mut self, error: Option<String>) -> Result<(), QueryError> {
        let mut st = self.open.take().ok_or_else(out_of_order)?;
        // As the whole path answers: a failed statement shows its error, not its rows.
        if error.is_some() {
            st.series.clear();
        }
        st.error = error;
        self.response.results.push(st);
        Ok(())
    }
}

fn out_of_order() -> QueryError {
    QueryError::Invalid("streamed result pieces out of order".into())
}

/// Text written by a sink: handed to `flush` whenever `flush_bytes` are ready, with the
/// first statement error seen (for the caller's choice of status).
struct Text<F: FnMut(String) -> Result<(), QueryError>> {
    buf: String,
    flush_bytes: usize,
    flush: F,
    flushed_any: bool,
    first_error: Option<String>,
}

impl<F: FnMut(String) -> Result<(), QueryError>> Text<F> {
    fn new(flush_bytes: usize, flush: F) -> Self {
        Text {
            buf: String::with_capacity(flush_bytes.min(1 << 20) + 1024),
            flush_bytes,
            flush,
            flushed_any: false,
            first_error: None,
        }
    }

    fn maybe_flush(&mut self) -> Result<(), QueryError> {
        if self.buf.len() >= self.flush_bytes {
            self.flushed_any = true;
            (self.flush)(std::mem::take(&mut self.buf))?;
        }
        Ok(())
    }

    fn note_error(&mut self, error: &Option<String>) {
        if self.first_error.is_none() {
            self.first_error.clone_from(error);
        }
    }
}

/// InfluxDB 1.x JSON, written as the pieces arrive and handed to `flush` whenever
/// `flush_bytes` of text are ready (and at [`JsonStream::finish`]).
pub struct JsonStream<F: FnMut(String) -> Result<(), QueryError>> {
    epoch: Epoch,
    text: Text<F>,
    statements: usize,
    /// In the streamed statement: series written, rows written in the current series.
    series: usize,
    rows: usize,
    in_series: bool,
}

impl<F: FnMut(String) -> Result<(), QueryError>> JsonStream<F> {
    /// A writer that hands text to `flush` in pieces of about `flush_bytes`.
    pub fn new(epoch: Epoch, flush_bytes: usize, flush: F) -> Self {
        JsonStream {
            epoch,
            text: Text::new(flush_bytes, flush),
            statements: 0,
            series: 0,
            rows: 0,
            in_series: false,
        }
    }

    /// The first statement error seen.
    pub fn first_error(&self) -> Option<&str> {
        self.text.first_error.as_deref()
    }

    /// Whether any text was handed to `flush` yet.
    pub fn flushed_any(&self) -> bool {
        self.text.flushed_any
    }

    /// Closes the response and returns the text not handed out yet.
    pub fn finish(mut self) -> String {
        if self.statements == 0 {
            self.text.buf.push_str("{\"results\":[");
        }
        self.text.buf.push_str("]}");
        self.text.buf
    }

    fn open_statement(&mut self, statement_id: usize) {
        self.text.buf.push_str(if self.statements == 0 {
            "{\"results\":["
        } else {
            ","
        });
        self.statements += 1;
        let _ = write!(self.text.buf, "{{\"statement_id\":{statement_id}");
    }
}

impl<F: FnMut(String) -> Result<(), QueryError>> ResponseSink for JsonStream<F> {
    fn statement(&mut self, result: StatementResult) -> Result<(), QueryError> {
        self.text.note_error(&result.error);
        self.text.buf.push_str(if self.statements == 0 {
            "{\"results\":["
        } else {
            ","
        });
        self.statements += 1;
        write_json_statement(&mut self.text.buf, &result, self.epoch);
        self.text.maybe_flush()
    }

    fn begin_statement(&mut self, statement_id: usize) -> Result<(), QueryError> {
        self.open_statement(statement_id);
        self.series = 0;
        self.in_series = false;
        Ok(())
    }

    fn begin_series(
        &mut self,
        name: &str,
        tags: Option<&BTreeMap<String, String>>,
        columns: &[String],
    ) -> Result<(), QueryError> {
        self.text.buf.push_str(if self.series == 0 {
            ",\"series\":["
        } else {
            ","
        });
        self.series += 1;
        self.rows = 0;
        self.in_series = true;
        write_json_series_head(&mut self.text.buf, name, tags, columns);
        self.text.maybe_flush()
    }

    fn rows(&mut self, rows: &[Vec<Value>]) -> Result<(), QueryError> {
        // Written in runs so that one call's text is flushed in pieces too.
        for run in rows.chunks(1024) {
            write_json_rows(&mut self.text.buf, run, self.epoch, self.rows == 0);
            self.rows += run.len();
            self.text.maybe_flush()?;
        }
        Ok(())
    }

    fn end_series(&mut self) -> Result<(), QueryError> {
        write_json_series_tail(&mut self.text.buf);
        self.in_series = false;
        self.text.maybe_flush()
    }

    fn end_statement(&mut self, error: Option<String>) -> Result<(), QueryError> {
        self.text.note_error(&error);
        if self.in_series {
            write_json_series_tail(&mut self.text.buf);
            self.in_series = false;
        }
        if self.series > 0 {
            self.text.buf.push(']');
        }
        if let Some(e) = &error {
            self.text.buf.push_str(",\"error\":");
            write_json_string(&mut self.text.buf, e);
        }
        self.text.buf.push('}');
        self.text.maybe_flush()
    }
}

/// InfluxDB 1.x's chunked JSON (`chunked=true`): one JSON object per line, each holding
/// one piece of one series of at most `chunk_size` rows. A piece is marked
/// `"partial":true` when its series goes on in the next line, its result when more lines
/// of the same statement follow; a statement without series is one line with only its id
/// (and its `error`). Written as the pieces arrive and handed to `flush` in runs of about
/// `flush_bytes`.
pub struct ChunkedJson<F: FnMut(String) -> Result<(), QueryError>> {
    epoch: Epoch,
    chunk_size: usize,
    /// Lines ready to go.
    text: Text<F>,
    statement: usize,
    /// The open piece: its text up to the end of its rows, and its row count.
    piece: Option<(String, usize)>,
    /// The current series' head (`{"name":…,"values":[`), to open its next piece.
    head: String,
    /// Lines written for the current statement.
    lines: usize,
}

impl<F: FnMut(String) -> Result<(), QueryError>> ChunkedJson<F> {
    /// A writer of pieces of `chunk_size` rows (InfluxDB's default is 10,000).
    pub fn new(epoch: Epoch, chunk_size: usize, flush_bytes: usize, flush: F) -> Self {
        ChunkedJson {
            epoch,
            chunk_size: chunk_size.max(1),
            text: Text::new(flush_bytes, flush),
            statement: 0,
            piece: None,
            head: String::new(),
            lines: 0,
        }
    }

    /// The first statement error seen.
    pub fn first_error(&self) -> Option<&str> {
        self.text.first_error.as_deref()
    }

    /// Whether any text was handed to `flush` yet.
    pub fn flushed_any(&self) -> bool {
        self.text.flushed_any
    }

    /// The text not handed out yet.
    pub fn finish(self) -> String {
        self.text.buf
    }

    fn open_piece(&mut self) {
        let mut t = String::with_capacity(self.head.len() + 64);
        let _ = write!(
            t,
            "{{\"results\":[{{\"statement_id\":{},\"series\":[",
            self.statement
        );
        t.push_str(&self.head);
        self.piece = Some((t, 0));
    }

    /// Closes the open piece as a line: `series_goes_on` marks the series, `more` the
    /// result.
    fn close_piece(&mut self, series_goes_on: bool, more: bool) -> Result<(), QueryError> {
        if let Some((mut t, _)) = self.piece.take() {
            t.push(']');
            if series_goes_on {
                t.push_str(",\"partial\":true");
            }
            t.push_str("}]");
            if more {
                t.push_str(",\"partial\":true");
            }
            t.push_str("}]}\n");
            self.text.buf.push_str(&t);
            self.lines += 1;
            self.text.maybe_flush()?;
        }
        Ok(())
    }
}

impl<F: FnMut(String) -> Result<(), QueryError>> ResponseSink for ChunkedJson<F> {
    fn statement(&mut self, result: StatementResult) -> Result<(), QueryError> {
        self.begin_statement(result.statement_id)?;
        for s in &result.series {
            self.begin_series(&s.name, s.tags.as_ref(), &s.columns)?;
            self.rows(&s.values)?;
            self.end_series()?;
        }
        self.end_statement(result.error)
    }

    fn begin_statement(&mut self, statement_id: usize) -> Result<(), QueryError> {
        self.statement = statement_id;
        self.lines = 0;
        self.piece = None;
        Ok(())
    }

    fn begin_series(
        &mut self,
        name: &str,
        tags: Option<&BTreeMap<String, String>>,
        columns: &[String],
    ) -> Result<(), QueryError> {
        // The previous series' last piece: its series is complete, the statement is not.
        self.close_piece(false, true)?;
        self.head.clear();
        write_json_series_head(&mut self.head, name, tags, columns);
        self.open_piece();
        Ok(())
    }

    fn rows(&mut self, rows: &[Vec<Value>]) -> Result<(), QueryError> {
        for row in rows {
            if self.piece.as_ref().is_some_and(|p| p.1 == self.chunk_size) {
                self.close_piece(true, true)?;
                self.open_piece();
            }
            if let Some((t, n)) = self.piece.as_mut() {
                write_json_rows(t, std::slice::from_ref(row), self.epoch, *n == 0);
                *n += 1;
            }
        }
        Ok(())
    }

    fn end_series(&mut self) -> Result<(), QueryError> {
        Ok(())
    }

    fn end_statement(&mut self, error: Option<String>) -> Result<(), QueryError> {
        self.text.note_error(&error);
        // The statement's last piece; an error after rows gets a line of its own.
        self.close_piece(false, error.is_some())?;
        if self.lines == 0 || error.is_some() {
            let out = &mut self.text.buf;
            let _ = write!(out, "{{\"results\":[{{\"statement_id\":{}", self.statement);
            if let Some(e) = &error {
                out.push_str(",\"error\":");
                write_json_string(out, e);
            }
            out.push_str("}]}\n");
            self.text.maybe_flush()?;
        }
        Ok(())
    }
}

/// CSV as [`QueryResponse::to_csv`] writes it (the same bytes: both use the same writers
/// in [`crate::result`]), written as the pieces arrive and handed to `flush` in runs of
/// about `flush_bytes`. An error that stops a streamed statement after some rows is its
/// `error` lines after them.
pub struct CsvStream<F: FnMut(String) -> Result<(), QueryError>> {
    epoch: Epoch,
    text: Text<F>,
    last_header: Option<Vec<String>>,
    /// The current series' name and tags text.
    name: String,
    tags: String,
}

impl<F: FnMut(String) -> Result<(), QueryError>> CsvStream<F> {
    /// A writer handing text to `flush` in pieces of about `flush_bytes`.
    pub fn new(epoch: Epoch, flush_bytes: usize, flush: F) -> Self {
        CsvStream {
            epoch: csv_epoch(epoch),
            text: Text::new(flush_bytes, flush),
            last_header: None,
            name: String::new(),
            tags: String::new(),
        }
    }

    /// The first statement error seen.
    pub fn first_error(&self) -> Option<&str> {
        self.text.first_error.as_deref()
    }

    /// The text not handed out yet.
    pub fn finish(self) -> String {
        self.text.buf
    }
}

impl<F: FnMut(String) -> Result<(), QueryError>> ResponseSink for CsvStream<F> {
    fn statement(&mut self, result: StatementResult) -> Result<(), QueryError> {
        self.begin_statement(result.statement_id)?;
        if result.error.is_none() {
            for s in &result.series {
                self.begin_series(&s.name, s.tags.as_ref(), &s.columns)?;
                self.rows(&s.values)?;
            }
        }
        self.end_statement(result.error)
    }

    fn begin_statement(&mut self, _statement_id: usize) -> Result<(), QueryError> {
        Ok(())
    }

    fn begin_series(
        &mut self,
        name: &str,
        tags: Option<&BTreeMap<String, String>>,
        columns: &[String],
    ) -> Result<(), QueryError> {
        write_csv_header(&mut self.text.buf, columns, &mut self.last_header);
        self.name = name.to_owned();
        self.tags = tags_text_of(tags);
        self.text.maybe_flush()
    }

    fn rows(&mut self, rows: &[Vec<Value>]) -> Result<(), QueryError> {
        for run in rows.chunks(1024) {
            write_csv_rows(&mut self.text.buf, &self.name, &self.tags, run, self.epoch);
            self.text.maybe_flush()?;
        }
        Ok(())
    }

    fn end_series(&mut self) -> Result<(), QueryError> {
        Ok(())
    }

    fn end_statement(&mut self, error: Option<String>) -> Result<(), QueryError> {
        if let Some(e) = &error {
            write_csv_error(&mut self.text.buf, e);
        }
        self.text.note_error(&error);
        self.text.maybe_flush()
    }
}
