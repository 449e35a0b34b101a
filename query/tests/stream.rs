//! Streamed answers (`execute_streamed`) are exactly the whole ones (`execute`): for a
//! spread of raw statements over data in cold, warm and hot tiers, with slices small
//! enough that every group spans many of them, the streamed JSON is byte for byte the
//! whole JSON, and the statements that cannot stream arrive whole and equal too. A
//! streamed statement holds a slice of the memory budget, not its whole answer.

use std::sync::Arc;
use strata_engine::model::Precision;
use strata_engine::{Db, ManualClock, Options};
use strata_query::stream::{Collect, CsvStream, JsonStream, ResponseSink};
use strata_query::{
    Epoch, MemoryBudget, QueryError, QueryOptions, StreamSettings, execute, execute_streamed,
};

const T0: i64 = 1_577_836_800_000_000_000;
const SEC: i64 = 1_000_000_000;

/// 3 measurements; `cpu` has 12 series over 2 tags with fields missing in some rows, a
/// string and an integer field; data in cold files, a warm segment and the hot tier.
fn db(dir: &std::path::Path) -> Db {
    let clock = Arc::new(ManualClock::new(T0 + 3_000 * SEC));
    let db = Db::open(
        dir,
        Options {
            clock: clock.clone(),
            rotation_interval: std::time::Duration::ZERO,
            hot_max_age: std::time::Duration::from_secs(60),
            ..Options::default()
        },
    )
    .unwrap();
    let batch = |from: i64, to: i64| {
        let mut lp = String::new();
        for i in from..to {
            let host = i % 4;
            let dc = ["east", "west", "north"][(i % 3) as usize];
            let mut fields = format!("a={},b={}i", i as f64 * 0.5, i);
            if i % 5 != 0 {
                fields.push_str(&format!(",c=\"s{}\"", i % 7));
            }
            lp.push_str(&format!(
                "cpu,host=h{host},dc={dc} {fields} {}\n",
                T0 + i * SEC
            ));
            if i % 2 == 0 {
                lp.push_str(&format!("mem,host=h{host} used={i}i {}\n", T0 + i * SEC));
            }
            if i % 3 == 0 {
                lp.push_str(&format!(
                    "disk,host=h{host} free={} {}\n",
                    i * 2,
                    T0 + i * SEC
                ));
            }
        }
        db.write_lp(lp.as_bytes(), Precision::Nanosecond).unwrap();
    };
    batch(0, 1_000);
    db.compact(true, true).unwrap(); // cold
    batch(1_000, 2_000);
    db.rotate_oldest().unwrap(); // warm
    batch(2_000, 3_000); // hot
    // Late points and overwrites among the old ones.
    batch(500, 520);
    db
}

/// Small slices: every group of the statements below spans many.
fn tiny() -> StreamSettings {
    StreamSettings {
        min_rows: 0,
        slice_bytes: 20_000,
    }
}

fn streamed_json(db: &Db, q: &str, options: &QueryOptions, epoch: Epoch) -> (String, usize) {
    let mut pieces = Vec::new();
    let mut sink = JsonStream::new(epoch, 4096, |t: String| {
        pieces.push(t);
        Ok(())
    });
    execute_streamed(db, q, options, tiny(), &mut sink).unwrap();
    let tail = sink.finish();
    let n = pieces.len();
    pieces.push(tail);
    (pieces.concat(), n)
}

const STATEMENTS: &[&str] = &[
    "SELECT * FROM cpu",
    "SELECT a, b, c FROM cpu GROUP BY host",
    "SELECT * FROM cpu GROUP BY *",
    "SELECT a FROM cpu GROUP BY dc, host ORDER BY time DESC",
    "SELECT a * 2 + b, host FROM cpu WHERE dc = 'east'",
    "SELECT c FROM cpu WHERE a > 700 AND c =~ /s[135]/",
    "SELECT a FROM cpu WHERE b < 100 OR b > 2900 GROUP BY host",
    "SELECT b FROM cpu OFFSET 1234",
    "SELECT b FROM cpu GROUP BY host OFFSET 700",
    "SELECT b FROM cpu GROUP BY host SLIMIT 2 SOFFSET 1",
    "SELECT b FROM cpu GROUP BY host SOFFSET 3",
    "SELECT * FROM /cpu|mem|disk/",
    "SELECT * FROM cpu, mem GROUP BY host",
    "SELECT * FROM /.*/ ORDER BY time DESC",
    "SELECT a FROM cpu WHERE time >= '2020-01-01T00:10:00Z' AND time < '2020-01-01T00:40:00Z'",
    "SELECT used FROM mem WHERE host = 'h2' OR host = 'h0'",
    "SELECT nothing FROM cpu",
    "SELECT a FROM cpu WHERE a > 1000000",
    // Not streamed: arrive whole, next to streamed ones.
    "SELECT mean(a) FROM cpu GROUP BY time(5m), host",
    "SELECT a FROM cpu LIMIT 3",
    "SELECT derivative(a) FROM cpu",
    "SHOW MEASUREMENTS",
    "SELECT * FROM nosuch",
    "SELECT foo(a) FROM cpu",
];

#[test]
fn streamed_json_is_the_whole_json_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    let options = QueryOptions::default();
    let mut streamed_in_pieces = 0;
    for q in STATEMENTS {
        for epoch in [Epoch::Rfc3339, Epoch::Milliseconds] {
            let want = execute(&db, q, &options).to_json(epoch);
            let (got, pieces) = streamed_json(&db, q, &options, epoch);
            assert_eq!(got, want, "{q} ({epoch:?})");
            streamed_in_pieces += usize::from(pieces > 3);
        }
    }
    assert!(
        streamed_in_pieces >= 10,
        "most large statements came in pieces ({streamed_in_pieces})"
    );
    // All statements in one request, as a client sends them.
    let all = STATEMENTS.join("; ");
    let want = execute(&db, &all, &options).to_json(Epoch::Rfc3339);
    assert_eq!(streamed_json(&db, &all, &options, Epoch::Rfc3339).0, want);
}

#[test]
fn collected_pieces_are_the_whole_response() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    let options = QueryOptions::default();
    let all = STATEMENTS.join("; ");
    let mut sink = Collect::default();
    execute_streamed(&db, &all, &options, tiny(), &mut sink).unwrap();
    assert_eq!(sink.response, execute(&db, &all, &options));
}

#[test]
fn a_parse_error_reaches_no_sink() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    let mut sink = Collect::default();
    let err = execute_streamed(
        &db,
        "SELECT a FROM",
        &QueryOptions::default(),
        tiny(),
        &mut sink,
    )
    .unwrap_err();
    assert!(err.contains("line 1"), "{err}");
    assert!(sink.response.results.is_empty());
}

/// A sink whose client went away after `n` rows: the statement stops there.
struct GoneAfter {
    rows: usize,
    n: usize,
}

impl ResponseSink for GoneAfter {
    fn statement(&mut self, _: strata_query::StatementResult) -> Result<(), QueryError> {
        Ok(())
    }
    fn begin_statement(&mut self, _: usize) -> Result<(), QueryError> {
        Ok(())
    }
    fn begin_series(
        &mut self,
        _: &str,
        _: Option<&std::collections::BTreeMap<String, String>>,
        _: &[String],
    ) -> Result<(), QueryError> {
        Ok(())
    }
    fn rows(&mut self, rows: &[Vec<strata_query::Value>]) -> Result<(), QueryError> {
        self.rows += rows.len();
        if self.rows >= self.n {
            return Err(QueryError::Cancelled);
        }
        Ok(())
    }
    fn end_series(&mut self) -> Result<(), QueryError> {
        Ok(())
    }
    fn end_statement(&mut self, _: Option<String>) -> Result<(), QueryError> {
        Err(QueryError::Cancelled)
    }
}

#[test]
fn a_client_gone_stops_the_statement_at_the_next_slice() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    let mut sink = GoneAfter { rows: 0, n: 100 };
    execute_streamed(
        &db,
        "SELECT * FROM cpu; SELECT * FROM mem",
        &QueryOptions::default(),
        tiny(),
        &mut sink,
    )
    .unwrap();
    assert!(
        sink.rows < 1_000,
        "stopped within a slice of the first 100 rows, not at {} of 3,020",
        sink.rows
    );
}

#[test]
fn a_streamed_statement_holds_a_slice_of_the_budget_not_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    // The whole answer of SELECT * FROM cpu (about 3,000 rows × 5 columns × 96 B ≈ 1.4 MB)
    // does not fit this budget; one 20 kB slice does.
    let budget = MemoryBudget::new(200_000);
    let account = Arc::new(budget.account());
    let options = QueryOptions {
        memory: Some(account.clone()),
        ..QueryOptions::default()
    };
    let whole = execute(&db, "SELECT * FROM cpu", &options);
    let e = whole.results[0].error.clone().expect("refused whole");
    assert!(e.contains("query memory budget"), "{e}");
    let (streamed, pieces) = streamed_json(&db, "SELECT * FROM cpu", &options, Epoch::Rfc3339);
    assert!(pieces > 3 && !streamed.contains("\"error\""), "{streamed}");
    let rows = serde_json::from_str::<serde_json::Value>(&streamed).unwrap()["results"][0]
        ["series"][0]["values"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(rows, 3_000);
    assert_eq!(budget.used(), 0, "every slice gave its share back");
}

#[test]
fn streamed_csv_is_the_whole_csv_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    let options = QueryOptions::default();
    let all = STATEMENTS.join("; ");
    for q in STATEMENTS.iter().copied().chain([all.as_str()]) {
        for epoch in [Epoch::Rfc3339, Epoch::Seconds] {
            let want = execute(&db, q, &options).to_csv(epoch);
            let mut pieces = Vec::new();
            let mut sink = CsvStream::new(epoch, 4096, |t: String| {
                pieces.push(t);
                Ok(())
            });
            execute_streamed(&db, q, &options, tiny(), &mut sink).unwrap();
            let tail = sink.finish();
            pieces.push(tail);
            assert_eq!(pieces.concat(), want, "{q} ({epoch:?})");
        }
    }
}

/// A raw statement too small to stream runs whole from the series the streaming check
/// already chose: the same answer as `execute`, errors (located) included.
#[test]
fn statements_that_do_not_stream_answer_as_execute() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    let options = QueryOptions::default();
    let never = StreamSettings {
        min_rows: u64::MAX,
        ..StreamSettings::default()
    };
    let mut with_bad = STATEMENTS.to_vec();
    with_bad.push("SELECT a FROM cpu WHERE a =~ /(/");
    let all = with_bad.join("; ");
    let mut sink = Collect::default();
    execute_streamed(&db, &all, &options, never, &mut sink).unwrap();
    assert_eq!(sink.response, execute(&db, &all, &options));
    let mut limited = QueryOptions::default();
    limited.limits.max_rows = 10;
    let mut sink = Collect::default();
    execute_streamed(&db, "SELECT * FROM cpu", &limited, never, &mut sink).unwrap();
    let e = sink.response.results[0]
        .error
        .clone()
        .expect("over max_rows");
    assert!(e.contains("max-select-point"), "{e}");
}
