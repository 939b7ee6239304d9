//! What happened to events on their way to watchers: published to and
//! received from Redis, dropped (and why), and the Redis link itself.
//!
//! The families exist in every daemon, Redis or not, with every label value
//! created up front, so dashboards and alerts see zeros instead of gaps.

use cortex_consensus::events::Channel;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds of a PUBLISH round trip, in seconds: 100 µs on loopback up
/// to the client's response timeout.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Why an event did not reach someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The queue to Redis was full (Redis down or too slow); the oldest
    /// queued event gave way.
    QueueFull,
    /// Something on a Redis channel was not an event this daemon accepts.
    Malformed,
    /// A subscriber of the bus or of a feed (an SSE stream, the bridge)
    /// fell behind and skipped events.
    SlowSubscriber,
}

impl DropReason {
    /// Every reason.
    const ALL: [DropReason; 3] = [
        DropReason::QueueFull,
        DropReason::Malformed,
        DropReason::SlowSubscriber,
    ];

    /// The `reason` label value.
    pub fn label(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::Malformed => "malformed",
            DropReason::SlowSubscriber => "slow_subscriber",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabel {
    channel: &'static str,
}

/// Event counters of one process. Clones share the counts.
#[derive(Clone, Debug)]
pub struct EventMetrics {
    /// `cortex_events_dropped_total{reason}`.
    dropped: Family<ReasonLabel, Counter>,
    /// `cortex_events_published_total{channel}`.
    published: Family<ChannelLabel, Counter>,
    /// `cortex_events_received_total{channel}`.
    received: Family<ChannelLabel, Counter>,
    /// `cortex_redis_publish_latency_seconds`.
    publish_latency: Histogram,
    /// `cortex_redis_connected`.
    connected: Gauge,
}

impl Default for EventMetrics {
    fn default() -> EventMetrics {
        let metrics = EventMetrics {
            dropped: Family::default(),
            published: Family::default(),
            received: Family::default(),
            publish_latency: Histogram::new(LATENCY_BUCKETS),
            connected: Gauge::default(),
        };
        // Creating a series is all that is needed: it starts at zero.
        for reason in DropReason::ALL {
            let _ = metrics.dropped.get_or_create(&ReasonLabel {
                reason: reason.label(),
            });
        }
        for channel in Channel::ALL {
            let label = ChannelLabel {
                channel: channel.name(),
            };
            let _ = metrics.published.get_or_create(&label);
            let _ = metrics.received.get_or_create(&label);
        }
        metrics
    }
}

impl EventMetrics {
    /// Adds the event families to `registry` (full names; the `_total`
    /// suffix of counters is added by the encoder). `cortex_redis_connected`
    /// only when the process has a bridge (`redis`), so a "Redis is down"
    /// alert cannot fire where no Redis is configured.
    pub fn register(&self, registry: &mut Registry, redis: bool) {
        registry.register(
            "cortex_events_dropped",
            "Events that did not reach a watcher or Redis, by reason",
            self.dropped.clone(),
        );
        registry.register(
            "cortex_events_published",
            "Events this process published to Redis, by channel",
            self.published.clone(),
        );
        registry.register(
            "cortex_events_received",
            "Messages this process received from Redis, by channel (malformed ones included)",
            self.received.clone(),
        );
        registry.register(
            "cortex_redis_publish_latency_seconds",
            "Round trip of one PUBLISH to Redis",
            self.publish_latency.clone(),
        );
        if !redis {
            return;
        }
        registry.register(
            "cortex_redis_connected",
            "1 while both Redis connections (publishing, subscribed) are up, else 0",
            self.connected.clone(),
        );
    }

    /// `count` events were dropped for `reason`.
    pub fn dropped(&self, reason: DropReason, count: u64) {
        self.dropped
            .get_or_create(&ReasonLabel {
                reason: reason.label(),
            })
            .inc_by(count);
    }

    /// One event was published on `channel`, taking `seconds`.
    pub(super) fn published(&self, channel: Channel, seconds: f64) {
        self.published
            .get_or_create(&ChannelLabel {
                channel: channel.name(),
            })
            .inc();
        self.publish_latency.observe(seconds);
    }

    /// One message arrived on `channel`.
    pub(super) fn received(&self, channel: Channel) {
        self.received
            .get_or_create(&ChannelLabel {
                channel: channel.name(),
            })
            .inc();
    }

    /// Whether the Redis link is fully up.
    pub(super) fn set_connected(&self, connected: bool) {
        self.connected.set(i64::from(connected));
    }
}
