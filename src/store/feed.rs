//! The live tail of the event log. One task per organization that has subscribers reads the
//! events committed since it last looked and broadcasts them, so a thousand subscribers cost
//! one store read per change, not a thousand. The task wakes when this process commits a write
//! to the store, and every [`POLL`] besides, for what other replicas committed to a shared
//! PostgreSQL store; it ends when its last subscriber has gone.
//!
//! The broadcast is a fast path, never the record: a follower ([`Follow`]) checks that the
//! events it receives follow one another without a gap and reads the store whenever they do
//! not (it started between two of the tail's reads, or fell more than [`CAPACITY`] behind), so
//! what it yields is exactly the log, in order, from where it started.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use super::{Event, Resume, Store, StoreError};

/// How often a tail reads the store when this process wrote nothing.
const POLL: Duration = Duration::from_secs(1);
/// Events a slow follower may be behind before it reads the store instead.
const CAPACITY: usize = 1_024;
/// Events per store read.
const PAGE: i64 = 500;

/// The tails of this process, by organization, and the signal of a commit.
pub(super) struct Feeds {
    tails: Mutex<HashMap<String, broadcast::Sender<Arc<Event>>>>,
    written: watch::Sender<u64>,
}

impl Feeds {
    pub(super) fn new() -> Feeds {
        Feeds {
            tails: Mutex::new(HashMap::new()),
            written: watch::Sender::new(0),
        }
    }

    fn tails(&self) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<Arc<Event>>>> {
        self.tails.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A write committed: every tail looks for new events.
    pub(super) fn wrote(&self) {
        self.written.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Why a follower stopped.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// Retention removed events the follower had not yet read (through this `seq`).
    #[error("the events up to {0} are past the log's retention")]
    Expired(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Follows `org`'s events after `after` (`None`: from the newest now), only those of
    /// `kinds` when it is not empty.
    pub async fn follow_events(
        &self,
        org: &str,
        after: Option<i64>,
        kinds: Vec<String>,
    ) -> Result<Follow, FollowError> {
        // Listen first, then read: nothing committed in between can be missed.
        let live = self.tail(org);
        let seen = match after {
            Some(seq) => seq,
            None => self.events_page(org, &[], Resume::After(0), 0).await?.head,
        };
        let mut follow = Follow {
            store: self.clone(),
            org: org.to_owned(),
            kinds,
            seen,
            live,
            ready: VecDeque::new(),
            behind: true,
        };
        // A resume from an expired cursor is refused at once, not at the first event.
        follow.catch_up().await?;
        Ok(follow)
    }

    /// How many followers this process has on `org` now.
    pub fn followers(&self, org: &str) -> usize {
        let tails = self.inner.feeds.tails();
        tails.get(org).map_or(0, broadcast::Sender::receiver_count)
    }

    fn tail(&self, org: &str) -> broadcast::Receiver<Arc<Event>> {
        let mut tails = self.inner.feeds.tails();
        if let Some(sender) = tails.get(org) {
            return sender.subscribe();
        }
        let (sender, receiver) = broadcast::channel(CAPACITY);
        tails.insert(org.to_owned(), sender.clone());
        tokio::spawn(run_tail(self.clone(), org.to_owned(), sender));
        receiver
    }

    /// Whether `org`'s tail has nobody left; if so it is forgotten, under the same lock a new
    /// follower takes, so none can join a tail that is ending.
    fn tail_done(&self, org: &str, sender: &broadcast::Sender<Arc<Event>>) -> bool {
        let mut tails = self.inner.feeds.tails();
        if sender.receiver_count() > 0 {
            return false;
        }
        tails.remove(org);
        true
    }
}

async fn run_tail(store: Store, org: String, sender: broadcast::Sender<Arc<Event>>) {
    let mut written = store.inner.feeds.written.subscribe();
    let mut seen: Option<i64> = None;
    loop {
        if store.tail_done(&org, &sender) {
            return;
        }
        // Followers notice nothing but a pause; the next turn tries again.
        if let Err(e) = read_tail(&store, &org, &sender, &mut seen).await {
            tracing::warn!(org = %org, error = %e, "the event feed could not read the store");
        }
        tokio::select! {
            _ = written.changed() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

async fn read_tail(
    store: &Store,
    org: &str,
    sender: &broadcast::Sender<Arc<Event>>,
    seen: &mut Option<i64>,
) -> Result<(), StoreError> {
    let Some(from) = *seen else {
        *seen = Some(store.events_page(org, &[], Resume::After(0), 0).await?.head);
        return Ok(());
    };
    let mut from = from;
    loop {
        let page = store
            .events_page(org, &[], Resume::After(from), PAGE)
            .await?;
        let full = page.events.len() as i64 == PAGE;
        for event in page.events {
            from = event.seq;
            // Nobody listening between two checks is fine.
            let _ = sender.send(Arc::new(event));
        }
        *seen = Some(from);
        if !full {
            return Ok(());
        }
    }
}

/// One follower of an organization's events: [`Follow::next`] gives them in order.
pub struct Follow {
    store: Store,
    org: String,
    kinds: Vec<String>,
    /// The last `seq` this follower has accounted for, of any kind.
    seen: i64,
    live: broadcast::Receiver<Arc<Event>>,
    /// Read and not yet given.
    ready: VecDeque<Arc<Event>>,
    /// Whether the store may hold events after `seen` the broadcast will not bring.
    behind: bool,
}

impl Follow {
    /// The next event; waits for one. An error ends the follow.
    pub async fn next(&mut self) -> Result<Arc<Event>, FollowError> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Ok(event);
            }
            if self.behind {
                self.catch_up().await?;
                continue;
            }
            match self.live.recv().await {
                Ok(event) if event.seq <= self.seen => {}
                Ok(event) if event.seq == self.seen + 1 => {
                    self.seen = event.seq;
                    if self.wants(&event) {
                        return Ok(event);
                    }
                }
                // A gap: events this follower has not received are in the store.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => self.behind = true,
                // The tail ended (it never does while this follower holds it): listen anew.
                Err(broadcast::error::RecvError::Closed) => {
                    self.live = self.store.tail(&self.org);
                    self.behind = true;
                }
            }
        }
    }

    /// The last `seq` accounted for: where a new follow would resume.
    pub fn position(&self) -> i64 {
        self.seen
    }

    fn wants(&self, event: &Event) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&event.kind)
    }

    /// Reads one page after `seen` from the store.
    async fn catch_up(&mut self) -> Result<(), FollowError> {
        let page = self
            .store
            .events_page(&self.org, &[], Resume::After(self.seen), PAGE)
            .await?;
        if self.seen < page.pruned_through {
            return Err(FollowError::Expired(page.pruned_through));
        }
        self.behind = page.events.len() as i64 == PAGE;
        for event in page.events {
            self.seen = event.seq;
            if self.wants(&event) {
                self.ready.push_back(Arc::new(event));
            }
        }
        Ok(())
    }
}
