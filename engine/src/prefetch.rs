//! A hint to the processor to start loading a cache line before the code needs it.
//!
//! The hot tier's apply walks a batch whose values land in thousands of columns that are
//! rarely in cache; each push stalls on a miss, and the push loop (branches, the odd chunk
//! close) keeps too few of them in flight to hide the latency. Prefetching the columns a
//! few entries ahead overlaps those misses. A plain load would not do: it holds
//! retirement until it completes, so it stalls as the push does.
//!
//! This is the one `unsafe` outside the mmapped segment reader: the standard library has
//! no safe prefetch.

/// Asks the processor to bring the cache line holding `p` into its caches; does nothing
/// else, and nothing at all on processors other than x86-64.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` is a hint: it never faults, changes no memory and returns
    // nothing, so any address (dangling or null included) is sound; it needs SSE, which
    // every x86-64 processor has.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>())
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
