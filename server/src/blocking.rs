//! Running a request's blocking work (a query's evaluation) from an async handler.
//!
//! On the multi-threaded runtime the server runs on, the work runs right on the handler's
//! worker thread ([`tokio::task::block_in_place`]): the runtime hands that worker's other
//! tasks to another thread meanwhile, and the request neither waits for a blocking-pool
//! thread to wake nor for its own task to be woken again afterwards. Those two thread
//! switches cost a small query about a third of its CPU (`vector(1)` over HTTP: 87–90 µs
//! of server CPU per request with `spawn_blocking`, 57–77 µs with this; docs/BENCHMARKS.md).
//! On a current-thread runtime (some tests) that is not allowed, and the work goes to the
//! blocking pool.
//!
//! The hand-over itself (waking a thread to take the worker's other tasks, then taking
//! the worker back) still costs about 18 µs of CPU, as much as a `vector(1)` evaluation.
//! [`run_sized`] skips it for a query whose shape (its text, range length and step: what
//! a dashboard panel or a rule repeats) took at most [`INLINE_MAX`] the last time: such
//! a query runs inline, holding up the worker's other tasks about that long (other
//! workers steal them meanwhile). A shape not seen before, or seen to be slower, is
//! handed over as above; a shape that was quick and is now slow (its data grew) runs
//! inline that once, then is handed over. Which way a query runs never changes its answer.
//!
//! A panic in the work fails the request with [`TaskFailed`] and leaves the server
//! running, in every case.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};
use tokio::runtime::{Handle, RuntimeFlavor};

/// The blocking work panicked.
#[derive(Debug, thiserror::Error)]
#[error("request task failed: {0}")]
pub struct TaskFailed(String);

/// Runs `f` to completion without stalling the runtime's other tasks.
pub async fn run<F, T>(f: F) -> Result<T, TaskFailed>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(|| caught(f)),
        _ => (tokio::task::spawn_blocking(f).await).map_err(|e| TaskFailed(e.to_string())),
    }
}

/// `f`, with a panic turned into [`TaskFailed`].
fn caught<F: FnOnce() -> T, T>(f: F) -> Result<T, TaskFailed> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        let what = (p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_owned());
        TaskFailed(format!("panicked: {what}"))
    })
}

/// The longest a query's last run may have taken for its next run to go inline.
pub const INLINE_MAX: Duration = Duration::from_micros(500);

/// How many shapes [`QueryCosts`] remembers; when full it forgets them all and starts
/// again (a forgotten shape is only handed over once more).
const MAX_SHAPES: usize = 8192;

/// The last run time of recent query shapes, by a hash of the shape.
#[derive(Debug, Default)]
pub struct QueryCosts {
    last: Mutex<HashMap<u64, Duration>>,
}

impl QueryCosts {
    /// The key of a shape: a hash of its parts (for example the route, the query text,
    /// the range's length and the step).
    pub fn shape(parts: &[&[u8]]) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for p in parts {
            p.hash(&mut h);
        }
        h.finish()
    }

    /// Whether `shape` last ran within [`INLINE_MAX`].
    pub fn small(&self, shape: u64) -> bool {
        self.last
            .lock()
            .get(&shape)
            .is_some_and(|&d| d <= INLINE_MAX)
    }

    fn record(&self, shape: u64, took: Duration) {
        let mut last = self.last.lock();
        if last.len() >= MAX_SHAPES && !last.contains_key(&shape) {
            last.clear();
        }
        last.insert(shape, took);
    }
}

/// Runs `f` like [`run`], or inline when `shape` ran within [`INLINE_MAX`] the last time,
/// and remembers how long it took. `None` (work that may wait on the network, such as a
/// cluster query) is always handed over.
pub async fn run_sized<F, T>(costs: &QueryCosts, shape: Option<u64>, f: F) -> Result<T, TaskFailed>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let Some(shape) = shape else {
        return run(f).await;
    };
    let started = Instant::now();
    let r = if costs.small(shape) {
        caught(f)
    } else {
        run(f).await
    };
    costs.record(shape, started.elapsed());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answers() -> (u32, String) {
        let ok = run(|| 6 * 7).await.expect("no panic");
        let err = run(|| -> u32 { panic!("boom") })
            .await
            .expect_err("a panic fails the call");
        (ok, err.to_string())
    }

    #[test]
    fn runs_on_both_kinds_of_runtime_and_reports_a_panic() {
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .expect("runtime");
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        for rt in [multi, current] {
            let (ok, err) = rt.block_on(answers());
            assert_eq!(ok, 42);
            assert!(err.contains("boom"), "{err}");
            // The runtime still serves after the panic.
            assert_eq!(rt.block_on(run(|| 1)).expect("runs"), 1);
        }
    }

    #[test]
    fn a_shape_runs_inline_only_after_it_was_seen_to_be_small() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .expect("runtime");
        let costs = QueryCosts::default();
        let quick = QueryCosts::shape(&[b"range", b"vector(1)", b"900", b"15"]);
        let slow = QueryCosts::shape(&[b"range", b"vector(1)", b"900", b"30"]);
        assert_ne!(quick, slow);
        assert!(!costs.small(quick), "unknown: handed over");
        assert_eq!(
            rt.block_on(run_sized(&costs, Some(quick), || 6 * 7))
                .expect("runs"),
            42
        );
        assert!(costs.small(quick), "seen to be small");
        let pause = INLINE_MAX * 4;
        rt.block_on(run_sized(&costs, Some(slow), move || {
            std::thread::sleep(pause)
        }))
        .expect("runs");
        assert!(!costs.small(slow), "seen to be slow");
        // Small, then slow once: handed over next time.
        rt.block_on(run_sized(&costs, Some(quick), move || {
            std::thread::sleep(pause)
        }))
        .expect("runs inline");
        assert!(!costs.small(quick));
        // A panic inline is an error too, and the shape is remembered as it ran.
        rt.block_on(run_sized(&costs, Some(quick), || 1))
            .expect("runs");
        let err = rt
            .block_on(run_sized(&costs, Some(quick), || -> u32 {
                panic!("inline boom")
            }))
            .expect_err("a panic fails the call");
        assert!(err.to_string().contains("inline boom"), "{err}");
        assert_eq!(
            rt.block_on(run_sized(&costs, Some(quick), || 2))
                .expect("runs"),
            2
        );
    }

    #[test]
    fn the_memory_of_shapes_is_bounded() {
        let costs = QueryCosts::default();
        for i in 0..(MAX_SHAPES as u64 + 10) {
            costs.record(i, Duration::from_micros(1));
        }
        assert!(costs.last.lock().len() <= MAX_SHAPES);
        assert!(
            costs.small(MAX_SHAPES as u64 + 9),
            "the newest is remembered"
        );
    }
}
