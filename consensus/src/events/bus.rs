//! The process's bus for ephemeral events (what agents' workers are doing).
//!
//! Agents publish on it; watchers (SSE streams) and the Redis bridge
//! subscribe. In `cortex dev` every node of the process shares one bus, so
//! no Redis is needed; across processes the Redis bridge republishes what
//! was published here and injects what other processes published.

use std::sync::Arc;

use tokio::sync::broadcast;

use super::Event;

/// Events a slow subscriber may fall behind before it is told it lagged.
const CAPACITY: usize = 4096;

/// One event on the bus and where it came from.
#[derive(Debug, Clone)]
pub struct BusItem {
    /// The event.
    pub event: Arc<Event>,
    /// Published in this process (rather than received from Redis).
    pub local: bool,
}

/// A broadcast of ephemeral events. Clones share the bus.
#[derive(Clone)]
pub struct Bus {
    tx: broadcast::Sender<BusItem>,
}

impl Default for Bus {
    fn default() -> Bus {
        Bus {
            tx: broadcast::channel(CAPACITY).0,
        }
    }
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("subscribers", &self.tx.receiver_count())
            .finish()
    }
}

impl Bus {
    /// Publishes an event produced in this process.
    pub fn publish(&self, event: Event) {
        self.send(event, true);
    }

    /// Hands on an event another process published (from Redis).
    pub fn inject(&self, event: Event) {
        self.send(event, false);
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<BusItem> {
        self.tx.subscribe()
    }

    fn send(&self, event: Event, local: bool) {
        // No subscriber: nobody is watching, which is fine.
        let _ = self.tx.send(BusItem {
            event: Arc::new(event),
            local,
        });
    }
}
