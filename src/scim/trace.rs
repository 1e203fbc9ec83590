//! The calls one write made, and the gate its first write request passes: a task-local scope
//! that the layer above opens around a write. Inside it, every request the client sends is
//! recorded (method, path, status, duration), and before the first request that is not a
//! `GET` the gate is awaited: the layer above records there that the write is about to reach
//! the upstream, and a gate that fails stops the write before anything is sent. A gate may
//! also say that a stopped process already sent this write and never learned its answer: then
//! no write request leaves, each ends as a write whose answer was lost, and the layer above
//! settles it by reading back, as it settles any such write.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use reqwest::Method;

use super::ScimError;

/// Awaited once, before the first request of a write that changes something.
pub trait SendGate: Send + Sync {
    /// `Err` with a reason stops the write: nothing is sent.
    fn open(&self) -> BoxFuture<'_, Result<(), String>>;

    /// True when a stopped process sent this write already and its answer was never learned:
    /// no write request is sent again (each ends `ScimError::Unconfirmed`, to be read back).
    fn resumes_unconfirmed(&self) -> bool {
        false
    }
}

/// Whether the write running here resumes one a stopped process sent unconfirmed.
pub fn resuming() -> bool {
    TRACE
        .try_with(|t| t.gate.as_ref().is_some_and(|g| g.resumes_unconfirmed()))
        .unwrap_or(false)
}

/// One request as the trace saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracedCall {
    pub method: String,
    pub path: String,
    /// `None` when no answer came.
    pub status: Option<u16>,
    pub elapsed: Duration,
}

struct Trace {
    calls: Mutex<Vec<TracedCall>>,
    gate: Option<Arc<dyn SendGate>>,
    /// The gate opened (it is awaited once; a second write request passes).
    opened: tokio::sync::OnceCell<()>,
}

tokio::task_local! {
    static TRACE: Arc<Trace>;
    /// Requests sent on behalf of one GraphQL request (its `extensions.cost`).
    static COUNTED: Arc<std::sync::atomic::AtomicU32>;
}

/// Runs `work` counting in `counter` every request the client sends inside it.
pub async fn counted<F: Future>(counter: Arc<std::sync::atomic::AtomicU32>, work: F) -> F::Output {
    COUNTED.scope(counter, work).await
}

/// The counter of the [`counted`] scope this task runs in, for work it hands to another task.
pub fn counter() -> Option<Arc<std::sync::atomic::AtomicU32>> {
    COUNTED.try_with(Arc::clone).ok()
}

/// Runs `work` with a trace; returns its output and the requests it sent, in order.
pub async fn traced<F: Future>(
    gate: Option<Arc<dyn SendGate>>,
    work: F,
) -> (F::Output, Vec<TracedCall>) {
    let trace = Arc::new(Trace {
        calls: Mutex::new(Vec::new()),
        gate,
        opened: tokio::sync::OnceCell::new(),
    });
    let output = TRACE.scope(trace.clone(), work).await;
    let calls = std::mem::take(&mut *trace.calls.lock().unwrap_or_else(|e| e.into_inner()));
    (output, calls)
}

/// Before a request: a write request inside a trace waits for its gate.
pub(super) async fn before_send(method: &Method) -> Result<(), ScimError> {
    let Ok(trace) = TRACE.try_with(Arc::clone) else {
        return Ok(());
    };
    if *method == Method::GET {
        return Ok(());
    }
    let Some(gate) = trace.gate.clone() else {
        return Ok(());
    };
    if gate.resumes_unconfirmed() {
        return Err(ScimError::Unconfirmed);
    }
    trace
        .opened
        .get_or_try_init(|| async move { gate.open().await })
        .await
        .map(|_| ())
        .map_err(|reason| ScimError::NotRecorded { reason })
}

/// After a request (an answer, or none): recorded in the trace, if one is open.
pub(super) fn sent(method: &Method, path: &str, status: Option<u16>, started: Instant) {
    let _ = COUNTED.try_with(|n| n.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let _ = TRACE.try_with(|trace| {
        trace
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(TracedCall {
                method: method.to_string(),
                path: path.to_owned(),
                status,
                elapsed: started.elapsed(),
            });
    });
}
