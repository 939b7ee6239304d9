//! The bounded queue between the producers of events (the bus, the
//! leader's feed) and the one connection that publishes them to Redis.
//!
//! Producers never wait: when the queue is full (Redis down or slow) the
//! *oldest* event gives way and is counted, so once Redis is back watchers
//! get the most recent events, contiguous up to the live ones.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use cortex_consensus::events::Event;
use tokio::sync::Notify;

use super::metrics::{DropReason, EventMetrics};

/// Events queued at most while Redis is away (a few MB at most: events
/// are small, messages are cut at 512 bytes).
pub const CAPACITY: usize = 10_000;

/// Events waiting to be published.
pub struct Outbox {
    queue: Mutex<VecDeque<Arc<Event>>>,
    ready: Notify,
    capacity: usize,
    metrics: EventMetrics,
}

impl Outbox {
    /// An empty outbox of `capacity` events counting its drops in `metrics`.
    pub fn new(capacity: usize, metrics: EventMetrics) -> Outbox {
        Outbox {
            queue: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
            ready: Notify::new(),
            capacity,
            metrics,
        }
    }

    /// Queues `event`, dropping the oldest one if full.
    pub fn push(&self, event: Arc<Event>) {
        let dropped = {
            let mut queue = self.lock();
            let dropped = queue.len() >= self.capacity && queue.pop_front().is_some();
            queue.push_back(event);
            dropped
        };
        if dropped {
            self.metrics.dropped(DropReason::QueueFull, 1);
        }
        self.ready.notify_one();
    }

    /// The oldest queued event, once there is one. One consumer only.
    pub async fn pop(&self) -> Arc<Event> {
        loop {
            if let Some(event) = self.lock().pop_front() {
                return event;
            }
            // A push between the check and here leaves a permit: no lost wake-up.
            self.ready.notified().await;
        }
    }

    /// Events waiting.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Arc<Event>>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}
