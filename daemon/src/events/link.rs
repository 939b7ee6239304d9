//! The state of the two Redis connections (publishing, subscribed), for
//! the log and the `cortex_redis_connected` gauge.
//!
//! Each change is logged once — the first failure, the loss, the recovery —
//! never once per event or per retry, so an outage of an hour is two lines.

use std::sync::atomic::{AtomicU8, Ordering};

use super::metrics::EventMetrics;

/// Neither up nor down yet (the first attempt is under way).
const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

/// One of the bridge's connections.
#[derive(Debug, Clone, Copy)]
pub enum Link {
    /// The connection that PUBLISHes.
    Publish = 0,
    /// The connection SUBSCRIBEd to the channels.
    Subscribe = 1,
}

impl Link {
    fn name(self) -> &'static str {
        match self {
            Link::Publish => "publish",
            Link::Subscribe => "subscribe",
        }
    }
}

/// Both links' states.
pub struct Links {
    states: [AtomicU8; 2],
    /// The redacted URL, for messages.
    url: String,
    metrics: EventMetrics,
}

impl Links {
    /// Both links not yet tried.
    pub fn new(url: String, metrics: EventMetrics) -> Links {
        metrics.set_connected(false);
        Links {
            states: [AtomicU8::new(UNKNOWN), AtomicU8::new(UNKNOWN)],
            url,
            metrics,
        }
    }

    /// `link` is connected.
    pub fn up(&self, link: Link) {
        if self.set(link, UP) != UP {
            tracing::info!(link = link.name(), redis = %self.url, "connected to Redis");
        }
    }

    /// `link` failed or could not connect, because of `error`.
    pub fn down(&self, link: Link, error: &dyn std::fmt::Display) {
        match self.set(link, DOWN) {
            UP => tracing::warn!(
                link = link.name(),
                redis = %self.url,
                error = %error,
                "lost Redis; events fan out again once it is back (nothing else depends on it)"
            ),
            UNKNOWN => tracing::warn!(
                link = link.name(),
                redis = %self.url,
                error = %error,
                "cannot reach Redis; retrying in the background"
            ),
            _ => tracing::debug!(link = link.name(), error = %error, "Redis still unreachable"),
        }
    }

    /// Sets `link`'s state, updates the gauge, returns the previous state.
    fn set(&self, link: Link, state: u8) -> u8 {
        let previous = self.states[link as usize].swap(state, Ordering::SeqCst);
        let all_up = self.states.iter().all(|s| s.load(Ordering::SeqCst) == UP);
        self.metrics.set_connected(all_up);
        previous
    }
}
