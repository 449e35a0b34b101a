//! The query memory budget: one per server (`query.max_memory`), shared by every running
//! statement, so that N concurrent large queries either fit in it or are refused with a
//! clear error instead of growing the process without bound.
//!
//! Invariants:
//! - a raw `SELECT` is *admitted* before it reads anything: it reserves its estimated
//!   rows (from block indexes, nothing decoded) times [`VALUE_BYTES`] per value, which
//!   covers the values read, the rows built from them and the encoded answer. While the
//!   budget is full, a request that holds nothing waits (up to [`ADMIT_WAIT`] or its
//!   deadline) for running ones to finish; one that can never fit, or is still waiting at
//!   the end, fails with [`QueryError::Memory`], charging nothing (the server answers
//!   503 with `Retry-After`). Waiting only while holding nothing means two requests never
//!   wait for each other;
//! - what an account charged goes back to the budget when the account is dropped (the
//!   request's answer has been encoded or the request failed), on every path;
//! - the figures are estimates of the bytes held (in-memory row size times rows), not
//!   allocator measurements: they bound what the executor keeps, not every temporary.

use crate::error::QueryError;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Bytes one result value costs a raw `SELECT` at its peak, measured: 8 concurrent
/// `SELECT * FROM cpu` over TSBS 1 day (864,000 rows × 11 values) without a budget
/// peaked at 7,974 MiB of server RSS, about 100 B per value per query
/// (`benches/reliability/concurrent_selects.sh -- --query.max-memory 0`): the values read
/// per column, the rows built from them, their copy into the answer, and its JSON text.
pub const VALUE_BYTES: u64 = 96;

/// Longest a request waits for room in the budget before it is refused.
pub const ADMIT_WAIT: Duration = Duration::from_secs(30);

/// The bytes all running statements may hold at once.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: u64,
    used: AtomicU64,
    /// Signalled whenever an account gives bytes back.
    freed_lock: Mutex<()>,
    freed: Condvar,
}

impl MemoryBudget {
    /// A budget of `limit` bytes (0: unlimited).
    pub fn new(limit: u64) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget {
            limit,
            used: AtomicU64::new(0),
            freed_lock: Mutex::new(()),
            freed: Condvar::new(),
        })
    }

    /// The limit in bytes (0: none).
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes held by running statements now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// A new account for one request, holding nothing yet.
    pub fn account(self: &Arc<Self>) -> MemoryAccount {
        MemoryAccount {
            budget: self.clone(),
            held: AtomicU64::new(0),
            refused: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }
}

/// What one request holds of a [`MemoryBudget`]; released when dropped.
#[derive(Debug)]
pub struct MemoryAccount {
    budget: Arc<MemoryBudget>,
    held: AtomicU64,
    /// Shared with the account's siblings: a refusal of any of them is the request's.
    refused: Arc<std::sync::atomic::AtomicBool>,
}

impl MemoryAccount {
    /// Charges `bytes` more, or fails without charging when the budget would go past its
    /// limit. Safe to call from several threads of one statement.
    pub fn charge(&self, bytes: u64) -> Result<(), QueryError> {
        let r = self.try_charge(bytes);
        if r.is_err() {
            self.refused.store(true, Ordering::Relaxed);
        }
        r
    }

    fn try_charge(&self, bytes: u64) -> Result<(), QueryError> {
        let b = &self.budget;
        if b.limit > 0 {
            let mut used = b.used.load(Ordering::Relaxed);
            loop {
                let next = used.saturating_add(bytes);
                if next > b.limit {
                    return Err(QueryError::Memory {
                        need: bytes,
                        held: self.held(),
                        used,
                        limit: b.limit,
                    });
                }
                match b
                    .used
                    .compare_exchange_weak(used, next, Ordering::AcqRel, Ordering::Relaxed)
                {
                    Ok(_) => break,
                    Err(now) => used = now,
                }
            }
        } else {
            b.used.fetch_add(bytes, Ordering::Relaxed);
        }
        self.held.fetch_add(bytes, Ordering::Relaxed);
        Ok(())
    }

    /// Reserves `bytes` before a statement materialises anything: as [`Self::charge`], but
    /// while the budget is full and this account holds nothing, waits for other requests
    /// to give bytes back, until `until` (at most [`ADMIT_WAIT`] from now), calling
    /// `still_wanted` between waits (a deadline or cancellation ends the wait with its
    /// error).
    pub fn admit(
        &self,
        bytes: u64,
        until: Option<Instant>,
        still_wanted: &dyn Fn() -> Result<(), QueryError>,
    ) -> Result<(), QueryError> {
        let b = &self.budget;
        let cap = Instant::now() + ADMIT_WAIT;
        let until = until.map_or(cap, |u| u.min(cap));
        loop {
            let err = match self.try_charge(bytes) {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            let hopeless = bytes > b.limit || self.held() > 0 || Instant::now() >= until;
            if hopeless {
                self.refused.store(true, Ordering::Relaxed);
                return Err(err);
            }
            still_wanted()?;
            let g = b.freed_lock.lock().unwrap_or_else(|p| p.into_inner());
            // Re-checked under the lock: a release between the failed charge and here
            // has already notified. Waits in slices, to look at the deadline and the
            // cancellation flag.
            if b.used.load(Ordering::Relaxed).saturating_add(bytes) > b.limit {
                let slice = until
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(100));
                drop(b.freed.wait_timeout(g, slice));
            }
        }
    }

    /// Another account of the same request on the same budget: what it holds is given
    /// back when it is dropped, independently of this one (a streamed statement holds one
    /// per slice). A refusal of either shows in both [`MemoryAccount::was_refused`].
    pub fn sibling(&self) -> MemoryAccount {
        MemoryAccount {
            budget: self.budget.clone(),
            held: AtomicU64::new(0),
            refused: self.refused.clone(),
        }
    }

    /// Whether a charge was refused (the request is answered 503, not as a bad query).
    pub fn was_refused(&self) -> bool {
        self.refused.load(Ordering::Relaxed)
    }

    /// Bytes this account holds.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }
}

impl Drop for MemoryAccount {
    fn drop(&mut self) {
        let held = *self.held.get_mut();
        if held > 0 {
            let b = &self.budget;
            b.used.fetch_sub(held, Ordering::AcqRel);
            let _g = b.freed_lock.lock().unwrap_or_else(|p| p.into_inner());
            b.freed.notify_all();
        }
    }
}

/// What a raw `SELECT` of `rows` rows of `columns` values (time included) reserves.
pub fn select_bytes(rows: u64, columns: usize) -> u64 {
    rows.saturating_mul(columns as u64)
        .saturating_mul(VALUE_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_past_the_limit_fail_and_drops_give_back() {
        let budget = MemoryBudget::new(1000);
        let a = budget.account();
        let b = budget.account();
        a.charge(600).unwrap();
        let err = b.charge(500).unwrap_err();
        assert!(
            matches!(
                err,
                QueryError::Memory {
                    need: 500,
                    held: 0,
                    used: 600,
                    limit: 1000
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("query.max_memory"), "{err}");
        assert_eq!(budget.used(), 600, "a refused charge takes nothing");
        assert!(b.was_refused() && !a.was_refused());
        b.charge(400).unwrap();
        assert_eq!(budget.used(), 1000);
        drop(a);
        assert_eq!(budget.used(), 400);
        b.charge(500).unwrap();
        drop(b);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn an_unlimited_budget_counts_and_never_refuses() {
        let budget = MemoryBudget::new(0);
        let a = budget.account();
        a.charge(u64::MAX / 2).unwrap();
        a.charge(u64::MAX / 4).unwrap();
        assert_eq!(a.held(), u64::MAX / 2 + u64::MAX / 4);
        drop(a);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn admission_waits_for_room_and_refuses_what_can_never_fit() {
        let budget = MemoryBudget::new(1000);
        let running = budget.account();
        running.charge(900).unwrap();
        let waiting = budget.account();
        // Cannot fit even alone: refused at once.
        let never = waiting.admit(2000, None, &|| Ok(()));
        assert!(matches!(never, Err(QueryError::Memory { need: 2000, .. })));
        // Fits once `running` ends: admitted after it does.
        std::thread::scope(|s| {
            let w = s.spawn(|| waiting.admit(500, None, &|| Ok(())));
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(budget.used(), 900, "still waiting");
            drop(running);
            w.join().unwrap().unwrap();
        });
        assert_eq!(budget.used(), 500);
        // Holding something, it does not wait (no two requests wait for each other).
        let other = budget.account();
        other.charge(400).unwrap();
        assert!(waiting.admit(200, None, &|| Ok(())).is_err());
        // A deadline ends the wait with the budget error; cancellation with its own.
        let fresh = budget.account();
        let soon = Instant::now() + Duration::from_millis(30);
        assert!(matches!(
            fresh.admit(600, Some(soon), &|| Ok(())),
            Err(QueryError::Memory { .. })
        ));
        assert!(matches!(
            fresh.admit(600, None, &|| Err(QueryError::Cancelled)),
            Err(QueryError::Cancelled)
        ));
    }

    #[test]
    fn concurrent_charges_never_pass_the_limit() {
        let budget = MemoryBudget::new(10_000);
        std::thread::scope(|s| {
            for _ in 0..4 {
                let budget = budget.clone();
                s.spawn(move || {
                    let acc = budget.account();
                    let mut ok = 0;
                    for _ in 0..1000 {
                        if acc.charge(7).is_ok() {
                            ok += 1;
                        }
                        assert!(budget.used() <= 10_000);
                    }
                    assert_eq!(acc.held(), ok * 7);
                });
            }
        });
        assert_eq!(budget.used(), 0);
    }
}
