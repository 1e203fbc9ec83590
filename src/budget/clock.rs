//! governor's clock, read from tokio's, so that tests with paused time drive the limiter too.

use governor::clock::Clock;

#[derive(Clone, Copy, Debug, Default)]
pub(super) struct TokioClock;

impl Clock for TokioClock {
    type Instant = std::time::Instant;

    fn now(&self) -> Self::Instant {
        tokio::time::Instant::now().into_std()
    }
}
