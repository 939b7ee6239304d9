//! Events of one process on their way to watchers: the process's bus of
//! ephemeral events, the counters of what was published, received and
//! dropped, and — with `--redis-url` — the Redis fan-out bridge that links
//! the buses of every daemon (see `docs/events.md`, "Redis fan-out").
//!
//! Without Redis the bus alone serves the process: in `cortex dev` every
//! voter and agent shares it, so watchers see everything with no external
//! service.

mod backoff;
mod inbound;
mod link;
pub mod metrics;
mod outbox;
pub mod redis;
mod subscriber;
pub mod url;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use cortex_consensus::events::Bus;
use cortex_consensus::ConsensusHandle;
use prometheus_client::registry::Registry;

pub use metrics::{DropReason, EventMetrics};
pub use redis::RedisBridge;
pub use url::{BadRedisUrl, RedisUrl};

/// What one process shares among its nodes for events: one bus, one set of
/// counters, at most one Redis bridge.
pub struct Observability {
    /// The ephemeral events of this process: node runtimes publish worker
    /// activity on it; SSE watchers and the bridge read it.
    pub bus: Bus,
    /// Events published, received and dropped (also without Redis).
    pub metrics: EventMetrics,
    /// The bridge, with `--redis-url`.
    redis: Option<RedisBridge>,
}

impl Observability {
    /// A bus and its counters, and the Redis bridge if `redis_url` is given.
    /// `local_nodes` names the nodes this process runs (their events come
    /// back from Redis and are not injected twice). Never fails: an
    /// unreachable Redis is retried in the background.
    pub fn start(redis_url: Option<&RedisUrl>, local_nodes: &[String]) -> Observability {
        let bus = Bus::default();
        let metrics = EventMetrics::default();
        let redis = redis_url.map(|url| {
            let local: BTreeSet<String> = local_nodes.iter().cloned().collect();
            RedisBridge::start(url, &bus, local, metrics.clone())
        });
        Observability {
            bus,
            metrics,
            redis,
        }
    }

    /// Publishes to Redis the replicated events of the voter behind
    /// `handle` while it leads (nothing without Redis).
    pub fn publish_replicated(&self, handle: &ConsensusHandle) {
        if let Some(redis) = &self.redis {
            redis.publish_replicated(handle);
        }
    }

    /// Adds the event families (`cortex_events_*`, `cortex_redis_*`) to
    /// `registry`.
    pub fn register(&self, registry: &mut Registry) {
        self.metrics.register(registry, self.redis.is_some());
    }

    /// Stops the bridge, if any. Call after the nodes have stopped.
    pub async fn shutdown(self) {
        if let Some(redis) = self.redis {
            redis.shutdown().await;
        }
    }
}
