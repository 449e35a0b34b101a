//! An ordered, bounded parallel map: `work(i)` for `i` in `0..n` runs on a fixed number
//! of scoped worker threads, and the results reach `sink` on the calling thread in index
//! order (compaction: series encoded in parallel, appended to a segment in series order).
//!
//! Invariants:
//! - `sink` sees `0, 1, .., n-1` in order, each once, on the calling thread;
//! - at most `window` items are *in flight* at any moment: item `i` is started only when
//!   `i < finished + window`, where `finished` counts items whose `sink` call returned.
//!   Memory held by results is therefore bounded by `window` results, not by `n`;
//! - with `threads <= 1` no thread is started: `work` and `sink` alternate on the calling
//!   thread (the same calls, in the same order of `sink`);
//! - the first error (from `work` or `sink`, in index order) stops the workers from
//!   starting new items and is returned once they have stopped; a panicking worker makes
//!   the calling thread stop waiting, and the panic is resumed on it.

use crate::error::{Error, Result};
use parking_lot::{Condvar, Mutex};
use std::collections::BTreeMap;

struct State<T> {
    /// The next item to start.
    next: usize,
    /// Items whose `sink` call has returned.
    finished: usize,
    /// Results not yet taken by the sink.
    ready: BTreeMap<usize, Result<T>>,
    /// Set on an error or a panic: start nothing more.
    stop: bool,
    /// Set by a worker that panicked.
    panicked: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Signalled when the window moves or work stops (workers wait on it).
    window_moved: Condvar,
    /// Signalled when a result is ready or a worker panicked (the sink waits on it).
    result_ready: Condvar,
}

/// Marks the pool stopped if the worker holding it unwinds.
struct PanicGuard<'a, T>(&'a Shared<T>);

impl<T> Drop for PanicGuard<'_, T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut st = self.0.state.lock();
            st.stop = true;
            st.panicked = true;
            self.0.result_ready.notify_all();
            self.0.window_moved.notify_all();
        }
    }
}

/// Runs `work` over `0..n` on `threads` workers with at most `window` (at least 1) items in
/// flight, handing each result to `sink` in index order on the calling thread.
pub(crate) fn ordered_map<T, W, S>(
    n: usize,
    threads: usize,
    window: usize,
    work: W,
    mut sink: S,
) -> Result<()>
where
    T: Send,
    W: Fn(usize) -> Result<T> + Sync,
    S: FnMut(usize, T) -> Result<()>,
{
    if threads <= 1 || n <= 1 {
        for i in 0..n {
            sink(i, work(i)?)?;
        }
        return Ok(());
    }
    let window = window.max(1);
    let shared = Shared {
        state: Mutex::new(State {
            next: 0,
            finished: 0,
            ready: BTreeMap::new(),
            stop: false,
            panicked: false,
        }),
        window_moved: Condvar::new(),
        result_ready: Condvar::new(),
    };
    let worker = || {
        let _guard = PanicGuard(&shared);
        loop {
            let i = {
                let mut st = shared.state.lock();
                loop {
                    if st.stop || st.next >= n {
                        return;
                    }
                    if st.next < st.finished + window {
                        break;
                    }
                    shared.window_moved.wait(&mut st);
                }
                st.next += 1;
                st.next - 1
            };
            let r = work(i);
            let mut st = shared.state.lock();
            if r.is_err() {
                st.stop = true;
            }
            st.ready.insert(i, r);
            shared.result_ready.notify_one();
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..threads.min(n) {
            scope.spawn(worker);
        }
        let result = (|| {
            for i in 0..n {
                let r = {
                    let mut st = shared.state.lock();
                    loop {
                        if let Some(r) = st.ready.remove(&i) {
                            break r;
                        }
                        if st.panicked {
                            return Err(Error::Internal("a worker thread panicked".into()));
                        }
                        shared.result_ready.wait(&mut st);
                    }
                };
                sink(i, r?)?;
                let mut st = shared.state.lock();
                st.finished = i + 1;
                shared.window_moved.notify_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let mut st = shared.state.lock();
            st.stop = true;
            st.ready.clear();
            shared.window_moved.notify_all();
        }
        result
    })
}

/// The threads to use for `requested` (0: one per available core).
pub(crate) fn resolve_threads(requested: usize) -> usize {
    if requested > 0 {
        return requested;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn results_arrive_in_order_with_at_most_window_in_flight() {
        for (threads, window) in [(1, 1), (2, 1), (3, 2), (4, 8), (8, 3)] {
            let in_flight = AtomicUsize::new(0);
            let peak = AtomicUsize::new(0);
            let mut seen = Vec::new();
            ordered_map(
                200,
                threads,
                window,
                |i| {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    // Uneven work, so that later items often finish first.
                    let spin = (i * 7919) % 13 * 1000;
                    let mut x = 0u64;
                    for k in 0..spin {
                        x = x.wrapping_add(k as u64).rotate_left(3);
                    }
                    Ok((i, x))
                },
                |i, (j, _)| {
                    assert_eq!(i, j);
                    seen.push(i);
                    // The sink is the slow stage: results pile up only up to the window.
                    std::thread::yield_now();
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(seen, (0..200).collect::<Vec<_>>());
            let peak = peak.load(Ordering::SeqCst);
            assert!(
                peak <= window.max(1),
                "{threads} threads, window {window}: peak {peak} in flight"
            );
        }
    }

    #[test]
    fn the_first_error_in_index_order_is_returned_and_work_stops() {
        let started = AtomicUsize::new(0);
        let mut sunk = Vec::new();
        let r = ordered_map(
            10_000,
            4,
            8,
            |i| {
                started.fetch_add(1, Ordering::SeqCst);
                if i == 50 || i == 60 {
                    return Err(Error::InvalidInput(format!("item {i}")));
                }
                Ok(i)
            },
            |i, _| {
                sunk.push(i);
                Ok(())
            },
        );
        match r {
            Err(Error::InvalidInput(m)) => assert_eq!(m, "item 50"),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(sunk, (0..50).collect::<Vec<_>>());
        assert!(started.load(Ordering::SeqCst) <= 50 + 8);
        let r = ordered_map(100, 3, 4, Ok, |i, _| match i {
            7 => Err(Error::InvalidInput("sink".into())),
            _ => Ok(()),
        });
        assert!(matches!(r, Err(Error::InvalidInput(_))));
    }

    #[test]
    fn a_panicking_worker_does_not_hang_the_caller() {
        let r = std::panic::catch_unwind(|| {
            ordered_map(
                100,
                2,
                4,
                |i| {
                    assert!(i != 3, "boom");
                    Ok(i)
                },
                |_, _| Ok(()),
            )
        });
        assert!(r.is_err(), "the worker's panic reaches the caller");
    }
}
