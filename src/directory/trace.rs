//! A write's upstream calls, for its audit row, and the gate its first write request passes
//! (the layer above records there that the write is reaching the upstream).

use std::sync::Arc;

pub use crate::scim::trace::SendGate;

/// Runs `work` counting in `counter` every upstream request sent inside it (in this task, and
/// in tasks it starts through [`call_counter`]).
pub async fn count_calls<F: Future>(
    counter: Arc<std::sync::atomic::AtomicU32>,
    work: F,
) -> F::Output {
    crate::scim::trace::counted(counter, work).await
}

/// The counter of the [`count_calls`] scope this task runs in.
pub fn call_counter() -> Option<Arc<std::sync::atomic::AtomicU32>> {
    crate::scim::trace::counter()
}
use crate::store::UpstreamCall;

/// Runs `work` (directory writes) and returns its output with every upstream request it made,
/// in order. Before the first request that changes something, `gate` is awaited; when it
/// fails, the write stops with nothing sent (`DirectoryError::NotRecorded`).
pub async fn traced<F: Future>(
    gate: Option<Arc<dyn SendGate>>,
    work: F,
) -> (F::Output, Vec<UpstreamCall>) {
    let (output, calls) = crate::scim::trace::traced(gate, work).await;
    let calls = calls
        .into_iter()
        .map(|c| UpstreamCall {
            method: c.method,
            path: c.path,
            status: c.status,
            ms: u64::try_from(c.elapsed.as_millis()).unwrap_or(u64::MAX),
        })
        .collect();
    (output, calls)
}
