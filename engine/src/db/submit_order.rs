//! An order of WAL submission chosen by the caller, for concurrent writers that must reach
//! the log in a known order: `strata import` parses a file's chunks on many threads and
//! submits them in file order, so that the last copy of a point in the file wins (as one
//! writer would leave it) and the hot tier receives each series' values in time order.
//!
//! Invariants:
//! - turn `t` submits only after every turn below it has submitted or passed;
//! - every turn is marked done exactly once, on every path (a write that fails or has
//!   nothing to write still passes its turn), so a later turn never waits forever;
//! - nothing else waits on a turn: a writer waits for its turn holding no engine lock, and
//!   the turnstile that applies records to the hot tier follows WAL order as always;
//! - [`SubmitOrder::abandon`] (a caller's worker unwinding, say) ends all waiting: from then
//!   on writes go in whatever order they come, and nothing blocks.

use parking_lot::{Condvar, Mutex};

/// Turns `first, first + 1, ...` in which concurrent writes reach the WAL; share one by
/// reference between the writers and give each write its own turn
/// ([`crate::Db::write_lp_in_turn`]).
#[derive(Debug)]
pub struct SubmitOrder {
    /// The next turn to go; `u64::MAX` once abandoned.
    next: Mutex<u64>,
    turn_came: Condvar,
}

impl SubmitOrder {
    /// An order whose first turn is `first`.
    pub fn new(first: u64) -> SubmitOrder {
        SubmitOrder {
            next: Mutex::new(first),
            turn_came: Condvar::new(),
        }
    }

    /// Waits for turn `turn`, then lets the next one go without writing anything.
    pub fn pass(&self, turn: u64) {
        self.wait_for(turn);
        self.done(turn);
    }

    /// Stops ordering: every waiting and later turn goes at once. For a caller that can no
    /// longer pass every turn (a worker unwinding), so that no other thread waits forever.
    pub fn abandon(&self) {
        *self.next.lock() = u64::MAX;
        self.turn_came.notify_all();
    }

    /// Blocks until every turn below `turn` is done.
    pub(crate) fn wait_for(&self, turn: u64) {
        let mut next = self.next.lock();
        while *next < turn {
            self.turn_came.wait(&mut next);
        }
    }

    /// Marks `turn` done (after [`SubmitOrder::wait_for`]).
    pub(crate) fn done(&self, turn: u64) {
        let mut next = self.next.lock();
        if *next == turn {
            *next = turn.saturating_add(1);
            self.turn_came.notify_all();
        }
    }
}

/// A turn to take before submitting, marked done when dropped if the write never reached
/// its submission (no entries, or an early error).
pub(crate) struct Turn<'a> {
    order: &'a SubmitOrder,
    turn: u64,
    done: bool,
}

impl<'a> Turn<'a> {
    pub(crate) fn new(order: &'a SubmitOrder, turn: u64) -> Turn<'a> {
        Turn {
            order,
            turn,
            done: false,
        }
    }

    /// Runs `submit` in this turn and lets the next turn go.
    pub(crate) fn submit<T>(mut self, submit: impl FnOnce() -> T) -> T {
        self.order.wait_for(self.turn);
        let r = submit();
        self.order.done(self.turn);
        self.done = true;
        r
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.order.pass(self.turn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_submit_in_order_whatever_order_the_threads_come_in() {
        let order = SubmitOrder::new(0);
        let log = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for t in (0..16u64).rev() {
                let (order, log) = (&order, &log);
                s.spawn(move || {
                    if t % 5 == 3 {
                        drop(Turn::new(order, t)); // nothing to write: passes
                    } else {
                        Turn::new(order, t).submit(|| log.lock().push(t));
                    }
                });
            }
        });
        let expected: Vec<u64> = (0..16).filter(|t| t % 5 != 3).collect();
        assert_eq!(*log.lock(), expected);
    }

    #[test]
    fn abandoning_releases_every_waiting_turn() {
        let order = SubmitOrder::new(0);
        let went = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for t in [3u64, 7, 9] {
                let (order, went) = (&order, &went);
                // Turns 0..3 never come: without abandon these would wait forever.
                s.spawn(move || Turn::new(order, t).submit(|| went.lock().push(t)));
            }
            order.abandon();
        });
        let mut went = went.into_inner();
        went.sort_unstable();
        assert_eq!(went, [3, 7, 9]);
        order.pass(100); // later turns do not wait either
    }
}
