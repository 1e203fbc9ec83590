//! Change events: what this gateway changed (and what refreshes found), kept in memory for the
//! subscriptions to come, and broadcast to whoever listens now.

use std::collections::VecDeque;
use std::time::SystemTime;

use tokio::sync::broadcast;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    UserInvited,
    UserUpdated,
    UserDeactivated,
    UserDeleted,
    GroupCreated,
    GroupRenamed,
    GroupDeleted,
    MembersAdded,
    MembersRemoved,
    Refreshed,
}

#[derive(Clone, Debug)]
pub struct ChangeEvent {
    /// Increases by one per event of the organization.
    pub seq: u64,
    pub at: SystemTime,
    pub kind: EventKind,
    /// The user key or group id concerned (empty for `Refreshed`).
    pub subject: String,
    /// The other side of a membership change: the user keys.
    pub related: Vec<String>,
}

/// The last `CAPACITY` events and a channel for new ones.
pub(super) struct Events {
    history: VecDeque<ChangeEvent>,
    next: u64,
    sender: broadcast::Sender<ChangeEvent>,
}

impl Events {
    const CAPACITY: usize = 1_000;

    pub(crate) fn new() -> Events {
        Events {
            history: VecDeque::new(),
            next: 1,
            sender: broadcast::channel(Self::CAPACITY).0,
        }
    }

    pub(crate) fn record(&mut self, kind: EventKind, subject: &str, related: Vec<String>) {
        let event = ChangeEvent {
            seq: self.next,
            at: SystemTime::now(),
            kind,
            subject: subject.to_owned(),
            related,
        };
        self.next += 1;
        if self.history.len() == Self::CAPACITY {
            self.history.pop_front();
        }
        self.history.push_back(event.clone());
        // Nobody listening is fine.
        let _ = self.sender.send(event);
    }

    pub(crate) fn since(&self, after: u64) -> Vec<ChangeEvent> {
        self.history
            .iter()
            .filter(|e| e.seq > after)
            .cloned()
            .collect()
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<ChangeEvent> {
        self.sender.subscribe()
    }
}
