//! Whether a statement's per-series (or per-column) tasks run on the thread pool or on the
//! calling thread.
//!
//! Handing tasks to rayon costs waking its workers and joining them: tens of microseconds,
//! and on a busy server it contends with every other query for the same cores. A query
//! that touches little data — a dashboard panel's last five minutes, `SELECT last(...)`
//! over a few series — finishes its scan in about that time, so it runs on the calling
//! thread; only a query whose plan points at enough data goes to the pool.
//!
//! The size is estimated before anything is decoded: [`strata_engine::Db::
//! column_points_estimate`] sums block counts from segment indexes and in-memory column
//! counts for each column a task will scan in the statement's time range. The estimate
//! stops as soon as it crosses the threshold, so a big query pays for only a few lookups.
//!
//! Threshold: [`PARALLEL_MIN_POINTS`] = 65,536 points. Decoding and folding points into
//! aggregate states runs at roughly 100–300 million points a second per core, so 65,536
//! points are about 0.2–0.7 ms of work on one thread: several times the pool's hand-off
//! cost, the size from which splitting over cores starts to pay. Below it, the hand-off
//! would be a large share of the whole. One task never goes to the pool (nothing to split).

/// Points a statement's tasks must touch, together, before they go to the thread pool.
pub(crate) const PARALLEL_MIN_POINTS: u64 = 1 << 16;

/// Whether `tasks` tasks, task `i` touching about `points(i)` points, pay for running on
/// the thread pool: at least two tasks and at least [`PARALLEL_MIN_POINTS`] points in all.
/// `points` is called for tasks in order only until the total reaches the threshold.
pub(crate) fn use_pool(tasks: usize, mut points: impl FnMut(usize) -> u64) -> bool {
    if tasks < 2 {
        return false;
    }
    let mut total = 0u64;
    for i in 0..tasks {
        total = total.saturating_add(points(i));
        if total >= PARALLEL_MIN_POINTS {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_plan_runs_on_the_calling_thread() {
        // Ten series with a hundred points each: a short dashboard query.
        assert!(!use_pool(10, |_| 100));
        // Just under the threshold in all.
        assert!(!use_pool(4, |_| PARALLEL_MIN_POINTS / 4 - 1));
        // Nothing to read at all, however many series.
        assert!(!use_pool(10_000, |_| 0));
    }

    #[test]
    fn a_big_plan_goes_to_the_pool() {
        // A hundred series of a day at 10 s: 8,640 points each.
        assert!(use_pool(100, |_| 8_640));
        assert!(use_pool(2, |_| PARALLEL_MIN_POINTS / 2));
    }

    #[test]
    fn one_task_never_goes_to_the_pool() {
        assert!(!use_pool(1, |_| u64::MAX));
        assert!(!use_pool(0, |_| u64::MAX));
    }

    #[test]
    fn the_estimate_stops_once_the_threshold_is_reached() {
        let mut asked = Vec::new();
        assert!(use_pool(1000, |i| {
            asked.push(i);
            PARALLEL_MIN_POINTS / 2
        }));
        assert_eq!(asked, [0, 1]);
    }
}
