//! How many operations may stream at once (`limits.max_subscriptions`): each subscription over
//! WebSocket or SSE holds a slot while it runs, so a flood of them is refused with
//! `SUBSCRIPTION_LIMIT` instead of holding the process's memory and the store's reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::graphql::errors::Code;
use crate::metrics::StreamOpen;

/// The slots of one gateway.
pub struct StreamSlots {
    open: AtomicUsize,
    max: usize,
}

/// One operation streaming over `transport`; its slot is free again when this is dropped.
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    _open: StreamOpen,
}

impl StreamSlots {
    pub fn new(max: u32) -> Arc<StreamSlots> {
        Arc::new(StreamSlots {
            open: AtomicUsize::new(0),
            max: max as usize,
        })
    }

    /// A slot, or the `SUBSCRIPTION_LIMIT` error when every one is taken.
    pub fn take(
        self: &Arc<Self>,
        transport: &'static str,
    ) -> Result<StreamSlot, async_graphql::ServerError> {
        let taken = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            });
        match taken {
            Ok(_) => Ok(StreamSlot {
                slots: self.clone(),
                _open: StreamOpen::new(transport),
            }),
            Err(_) => Err(Code::SubscriptionLimit.server_error(format!(
                "this gateway streams as many operations as it allows at once ({}, `limits.max_subscriptions`); close one or try again later",
                self.max
            ))),
        }
    }

    /// Operations streaming now.
    #[cfg(test)]
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.slots.open.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_refused_past_the_limit_and_free_again_once_dropped() {
        let slots = StreamSlots::new(2);
        let a = slots.take("sse").unwrap();
        let _b = slots.take("ws").unwrap();
        let refused = slots.take("sse").err().unwrap();
        assert_eq!(
            refused
                .extensions
                .as_ref()
                .and_then(|e| e.get("code"))
                .map(ToString::to_string)
                .as_deref(),
            Some("\"SUBSCRIPTION_LIMIT\"")
        );
        assert_eq!(slots.open(), 2);
        drop(a);
        assert_eq!(slots.open(), 1);
        assert!(slots.take("sse").is_ok());
    }
}
