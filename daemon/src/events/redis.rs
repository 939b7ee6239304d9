//! The Redis fan-out bridge of one process: publishes this process's events
//! on the seed's channels and injects other processes' ephemeral events
//! into the local bus. Redis carries copies only: nothing here is read back
//! into replicated state, and nothing else in the daemon waits for Redis.
//!
//! ```text
//!  Bus (local items) ──┐                      ┌─> PUBLISH cortex:<channel>
//!  leader's EventFeed ─┴─> Outbox (bounded) ──┘      (one connection)
//!
//!  SUBSCRIBE the 5 channels ─> inbound::decode ─> Bus::inject (ephemeral,
//!                                                 from other processes)
//! ```
//!
//! Replicated events are published by whichever voter of this process is
//! the Raft leader, so each goes out once while leadership is stable; at a
//! leader change a few may go out twice or not at all. Consumers dedupe by
//! `id`; the admin API's event stream, read from the state, is the record.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cortex_consensus::events::feed::FeedItem;
use cortex_consensus::events::Bus;
use cortex_consensus::ConsensusHandle;
use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::backoff::Backoff;
use super::link::{Link, Links};
use super::metrics::{DropReason, EventMetrics};
use super::outbox::{self, Outbox};
use super::subscriber;
use super::url::RedisUrl;

/// Time allowed to open a connection, and for Redis to answer a command.
pub(super) const TIMEOUT: Duration = Duration::from_secs(2);
/// How often an idle connection is checked with a PING, so a lost Redis is
/// noticed (and the link reported down) before the next event needs it.
pub(super) const PING_EVERY: Duration = Duration::from_secs(5);
/// Time the bridge's tasks get to stop before they are aborted.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// The running bridge. Dropping it without [`RedisBridge::shutdown`]
/// leaves its tasks running until the runtime ends.
pub struct RedisBridge {
    outbox: Arc<Outbox>,
    metrics: EventMetrics,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl RedisBridge {
    /// Starts publishing what is published on `bus` here, and injecting into
    /// `bus` what other processes publish. `local_nodes` are the names of
    /// the nodes in this process: their events come back from Redis and
    /// must not be injected twice. Returns at once: Redis may be down.
    pub fn start(
        url: &RedisUrl,
        bus: &Bus,
        local_nodes: BTreeSet<String>,
        metrics: EventMetrics,
    ) -> RedisBridge {
        let outbox = Arc::new(Outbox::new(outbox::CAPACITY, metrics.clone()));
        let links = Arc::new(Links::new(url.to_string(), metrics.clone()));
        let (stop, stopped) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(publish(
                url.client().clone(),
                outbox.clone(),
                links.clone(),
                metrics.clone(),
                stopped.clone(),
            )),
            tokio::spawn(forward_bus(
                bus.subscribe(),
                outbox.clone(),
                metrics.clone(),
                stopped.clone(),
            )),
            tokio::spawn(subscriber::run(
                url.client().clone(),
                bus.clone(),
                Arc::new(local_nodes),
                links,
                metrics.clone(),
                stopped,
            )),
        ];
        tracing::info!(redis = %url, "Redis fan-out starting");
        RedisBridge {
            outbox,
            metrics,
            stop,
            tasks: Mutex::new(tasks),
        }
    }

    /// Publishes the replicated events of the voter behind `handle` while
    /// it leads. Ends by itself when that voter's Raft stops.
    pub fn publish_replicated(&self, handle: &ConsensusHandle) {
        let task = tokio::spawn(forward_feed(
            handle.clone(),
            self.outbox.clone(),
            self.metrics.clone(),
            self.stop.subscribe(),
        ));
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(task);
    }

    /// Stops publishing and subscribing. Events still queued are dropped:
    /// they are copies, and the daemon is going away.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let tasks = self.tasks.into_inner().unwrap_or_else(|e| e.into_inner());
        for mut task in tasks {
            if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

/// Resolves once the bridge is told to stop (or its owner is gone).
pub(super) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Queues the events published on this process's bus (not those injected
/// from Redis: they came from there).
async fn forward_bus(
    mut bus: tokio::sync::broadcast::Receiver<cortex_consensus::events::bus::BusItem>,
    outbox: Arc<Outbox>,
    metrics: EventMetrics,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            item = bus.recv() => match item {
                Ok(item) if item.local => outbox.push(item.event),
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    metrics.dropped(DropReason::SlowSubscriber, missed);
                }
                Err(RecvError::Closed) => return,
            },
            _ = stopped(&mut stop) => return,
        }
    }
}

/// Queues a voter's replicated events while it is the leader.
async fn forward_feed(
    handle: ConsensusHandle,
    outbox: Arc<Outbox>,
    metrics: EventMetrics,
    mut stop: watch::Receiver<bool>,
) {
    let id = handle.id();
    let mut raft = handle.raft().metrics();
    let mut feed = handle.state().events().subscribe();
    // Only the metrics receiver is kept: holding the handle would keep the
    // voter's state alive after it stops.
    drop(handle);
    loop {
        tokio::select! {
            item = feed.recv() => {
                let leading = raft.borrow().current_leader == Some(id);
                match item {
                    Ok(FeedItem::Event(event)) if leading => outbox.push(event),
                    // A follower's events are the leader's to publish; a gap
                    // (snapshot installed) happens on followers only.
                    Ok(_) => {}
                    Err(RecvError::Lagged(missed)) if leading => {
                        metrics.dropped(DropReason::SlowSubscriber, missed);
                    }
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                }
            }
            // Raft stopped: this voter publishes nothing more.
            changed = raft.changed() => if changed.is_err() { return },
            _ = stopped(&mut stop) => return,
        }
    }
}

/// Publishes queued events, one PUBLISH at a time (in order), reconnecting
/// with backoff whenever Redis goes away.
async fn publish(
    client: redis::Client,
    outbox: Arc<Outbox>,
    links: Arc<Links>,
    metrics: EventMetrics,
    mut stop: watch::Receiver<bool>,
) {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(TIMEOUT))
        .set_response_timeout(Some(TIMEOUT));
    let mut backoff = Backoff::default();
    // An event whose PUBLISH failed, sent first on the next connection.
    let mut pending = None;
    loop {
        let connecting = client.get_multiplexed_async_connection_with_config(&config);
        let connection = tokio::select! {
            connection = connecting => connection,
            _ = stopped(&mut stop) => return,
        };
        match connection {
            Ok(mut connection) => {
                links.up(Link::Publish);
                backoff.reset();
                let send = send_all(&mut connection, &outbox, &metrics, &mut pending);
                let error = tokio::select! {
                    error = send => error,
                    _ = stopped(&mut stop) => return,
                };
                links.down(Link::Publish, &error);
            }
            Err(error) => links.down(Link::Publish, &error),
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_delay()) => {}
            _ = stopped(&mut stop) => return,
        }
    }
}

/// Publishes queued events on `connection` until it fails; PINGs it when
/// there is nothing to publish.
async fn send_all(
    connection: &mut MultiplexedConnection,
    outbox: &Outbox,
    metrics: &EventMetrics,
    pending: &mut Option<Arc<cortex_consensus::events::Event>>,
) -> redis::RedisError {
    loop {
        let event = match pending.take() {
            Some(event) => event,
            None => match tokio::time::timeout(PING_EVERY, outbox.pop()).await {
                Ok(event) => event,
                Err(_) => match redis::cmd("PING").query_async::<String>(connection).await {
                    Ok(_) => continue,
                    Err(error) => return error,
                },
            },
        };
        let channel = event.channel();
        // Serialising our own event cannot fail: no maps, no non-string keys.
        let Ok(payload) = serde_json::to_string(&*event) else {
            continue;
        };
        let started = Instant::now();
        let sent = redis::cmd("PUBLISH")
            .arg(channel.name())
            .arg(payload)
            .query_async::<i64>(connection)
            .await;
        match sent {
            Ok(_) => metrics.published(channel, started.elapsed().as_secs_f64()),
            Err(error) => {
                *pending = Some(event);
                return error;
            }
        }
    }
}
