//! The query memory budget: statements that would hold more rows than the server's budget
//! has left are refused with an error naming the limit, nothing leaks, and the same
//! statement runs once the budget is free again.

use std::sync::Arc;
use strata_engine::model::Precision;
use strata_engine::{Db, ManualClock, Options};
use strata_query::{MemoryBudget, QueryOptions, execute};

const NOW: i64 = 1_577_923_200_000_000_000;

fn db(dir: &std::path::Path) -> Db {
    let db = Db::open(
        dir,
        Options {
            clock: Arc::new(ManualClock::new(NOW)),
            rotation_interval: std::time::Duration::ZERO,
            ..Options::default()
        },
    )
    .unwrap();
    let mut lp = String::new();
    for i in 0..20_000i64 {
        lp.push_str(&format!(
            "cpu,host=h{} a={i},b={i}i,c=\"s{i}\" {}\n",
            i % 10,
            1_577_836_800_000_000_000 + i * 1_000_000_000
        ));
    }
    db.write_lp(lp.as_bytes(), Precision::Nanosecond).unwrap();
    db
}

fn run(db: &Db, budget: &Arc<MemoryBudget>, q: &str) -> Result<usize, String> {
    run_within(db, budget, q, std::time::Duration::from_secs(60))
}

fn run_within(
    db: &Db,
    budget: &Arc<MemoryBudget>,
    q: &str,
    timeout: std::time::Duration,
) -> Result<usize, String> {
    let account = Arc::new(budget.account());
    let mut options = QueryOptions {
        memory: Some(account.clone()),
        ..QueryOptions::default()
    };
    options.limits.timeout = Some(timeout);
    let resp = execute(db, q, &options);
    if let Some(e) = resp.results.iter().find_map(|r| r.error.clone()) {
        assert!(
            account.was_refused() == e.contains("query memory budget"),
            "{e}"
        );
        return Err(e);
    }
    Ok(resp.results[0].series.iter().map(|s| s.values.len()).sum())
}

#[test]
fn statements_past_the_budget_are_refused_and_run_when_it_is_free() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    let big = "SELECT * FROM cpu";
    let small = "SELECT mean(a) FROM cpu GROUP BY host";

    // Unlimited: the whole answer, and what it held is counted while it runs only.
    let unlimited = MemoryBudget::new(0);
    assert_eq!(run(&db, &unlimited, big), Ok(20_000));
    assert_eq!(unlimited.used(), 0, "released after the statement");

    // 1 MiB cannot hold 20,000 rows of five values; the error says so and names the flag.
    let tight = MemoryBudget::new(1 << 20);
    let err = run(&db, &tight, big).unwrap_err();
    assert!(
        err.contains("query.max_memory") && err.contains("1048576"),
        "{err}"
    );
    assert_eq!(tight.used(), 0, "nothing stays charged after a refusal");
    assert_eq!(run(&db, &tight, small), Ok(10), "small answers still fit");
    assert_eq!(run(&db, &tight, &format!("{big} LIMIT 100")), Ok(100));

    // Room for one big statement at a time: while another request holds most of the
    // budget, it waits; refused when the other does not end within its deadline, and
    // admitted as soon as the other ends.
    let one = MemoryBudget::new(64 << 20);
    let other = one.account();
    other.charge(60 << 20).unwrap();
    let err = run_within(&db, &one, big, std::time::Duration::from_millis(300)).unwrap_err();
    assert!(err.contains("running queries hold"), "{err}");
    std::thread::scope(|s| {
        s.spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(200));
            drop(other);
        });
        assert_eq!(
            run(&db, &one, big),
            Ok(20_000),
            "admitted once the other ended"
        );
    });
    assert_eq!(one.used(), 0);
}
