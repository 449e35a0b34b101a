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
//! A panic in the work fails the request with [`TaskFailed`] and leaves the server
//! running, in both cases.

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
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(|| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
                let what = (p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".to_owned());
                TaskFailed(format!("panicked: {what}"))
            })
        }),
        _ => (tokio::task::spawn_blocking(f).await).map_err(|e| TaskFailed(e.to_string())),
    }
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
}
