//! The replicated events of one voter: the recent ones kept for watchers
//! that resume, and a broadcast for live ones.
//!
//! The feed starts where the state it was opened with ends (the snapshot's
//! last entry): events of entries before that were never derived here, so a
//! watcher resuming from before gets a [`Resume::Gap`] and reloads. The same
//! happens when a snapshot is installed from the leader (the state jumps).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use super::{Event, EventId};

/// Recent events kept for resumption.
pub const KEEP: usize = 4096;
/// Live events a slow subscriber may fall behind before it is told it lagged.
const LIVE_CAPACITY: usize = 1024;

/// What a live subscriber receives.
#[derive(Debug, Clone)]
pub enum FeedItem {
    /// The next event.
    Event(Arc<Event>),
    /// The state jumped (a snapshot was installed): events are missing;
    /// reload the state.
    Gap,
}

/// What [`EventFeed::since`] found.
#[derive(Debug)]
pub enum Resume {
    /// Every event after the given id, oldest first (maybe none).
    Events(Vec<Arc<Event>>),
    /// Some events after the given id are not kept here.
    Gap,
}

struct Recent {
    events: VecDeque<Arc<Event>>,
    /// Events at or before this id may be missing.
    floor: EventId,
}

/// One voter's replicated events. Clones share the feed.
#[derive(Clone)]
pub struct EventFeed {
    recent: Arc<Mutex<Recent>>,
    live: broadcast::Sender<FeedItem>,
}

impl EventFeed {
    /// A feed whose first event will follow log entry `applied`.
    pub fn starting_after(applied: u64) -> EventFeed {
        EventFeed {
            recent: Arc::new(Mutex::new(Recent {
                events: VecDeque::new(),
                floor: EventId::through(applied),
            })),
            live: broadcast::channel(LIVE_CAPACITY).0,
        }
    }

    /// Live events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<FeedItem> {
        self.live.subscribe()
    }

    /// Every kept event after `after`, or [`Resume::Gap`] if some may be
    /// missing. Subscribe first, then call this, so nothing falls between.
    pub fn since(&self, after: EventId) -> Resume {
        let recent = self.lock();
        if after < recent.floor {
            return Resume::Gap;
        }
        let start = recent
            .events
            .partition_point(|e| e.id.is_some_and(|id| id <= after));
        Resume::Events(recent.events.range(start..).cloned().collect())
    }

    /// Keeps `events` (in log order). Called with the state's write lock
    /// held, so a reader that sees the state also finds its events here.
    pub(crate) fn keep(&self, events: &[Arc<Event>]) {
        let mut recent = self.lock();
        for event in events {
            if recent.events.len() == KEEP {
                if let Some(id) = recent.events.pop_front().and_then(|e| e.id) {
                    recent.floor = id;
                }
            }
            recent.events.push_back(event.clone());
        }
    }

    /// Sends kept `events` to live subscribers (after the lock is released).
    pub(crate) fn send(&self, events: Vec<Arc<Event>>) {
        for event in events {
            // No subscriber is fine: nobody is watching.
            let _ = self.live.send(FeedItem::Event(event));
        }
    }

    /// The state jumped to entry `applied` without its events.
    pub(crate) fn jumped(&self, applied: u64) {
        {
            let mut recent = self.lock();
            recent.events.clear();
            recent.floor = EventId::through(applied);
        }
        let _ = self.live.send(FeedItem::Gap);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }
}
