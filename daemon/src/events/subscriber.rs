//! The bridge's subscription: the seed's five channels, so watchers on this
//! process see what agents in other processes are doing.
//!
//! A killed Redis closes the connection (the stream ends); a silent one is
//! caught by a PING every few seconds. Either way the subscription is made
//! again with backoff.

use std::collections::BTreeSet;
use std::sync::Arc;

use cortex_consensus::events::{Bus, Channel};
use futures::StreamExt;
use tokio::sync::watch;

use super::backoff::Backoff;
use super::inbound::{decode, Inbound};
use super::link::{Link, Links};
use super::metrics::{DropReason, EventMetrics};
use super::redis::{stopped, PING_EVERY, TIMEOUT};

/// Subscribes until told to stop, injecting other processes' ephemeral
/// events into `bus`.
pub async fn run(
    client: redis::Client,
    bus: Bus,
    local_nodes: Arc<BTreeSet<String>>,
    links: Arc<Links>,
    metrics: EventMetrics,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::default();
    loop {
        let subscribing = tokio::time::timeout(TIMEOUT, subscribe(&client));
        let subscribed = tokio::select! {
            subscribed = subscribing => subscribed,
            _ = stopped(&mut stop) => return,
        };
        match subscribed {
            Ok(Ok(pubsub)) => {
                links.up(Link::Subscribe);
                backoff.reset();
                let receiving = receive(pubsub, &bus, &local_nodes, &metrics);
                let error = tokio::select! {
                    error = receiving => error,
                    _ = stopped(&mut stop) => return,
                };
                links.down(Link::Subscribe, &error);
            }
            Ok(Err(error)) => links.down(Link::Subscribe, &error),
            Err(_) => links.down(Link::Subscribe, &"no answer within 2 s"),
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_delay()) => {}
            _ = stopped(&mut stop) => return,
        }
    }
}

/// A connection subscribed to every channel.
async fn subscribe(client: &redis::Client) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    let names: Vec<&str> = Channel::ALL.iter().map(|c| c.name()).collect();
    pubsub.subscribe(&names).await?;
    Ok(pubsub)
}

/// Handles messages until the subscription fails; returns why.
async fn receive(
    pubsub: redis::aio::PubSub,
    bus: &Bus,
    local_nodes: &BTreeSet<String>,
    metrics: &EventMetrics,
) -> String {
    let (mut sink, mut messages) = pubsub.split();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.reset();
    loop {
        tokio::select! {
            message = messages.next() => match message {
                Some(message) => handle(&message, bus, local_nodes, metrics),
                None => return "connection closed".into(),
            },
            _ = ping.tick() => {
                match tokio::time::timeout(TIMEOUT, sink.ping::<redis::Value>()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => return error.to_string(),
                    Err(_) => return "no answer to PING within 2 s".into(),
                }
            }
        }
    }
}

fn handle(message: &redis::Msg, bus: &Bus, local_nodes: &BTreeSet<String>, metrics: &EventMetrics) {
    // Only our five channels are subscribed.
    let Some(channel) = Channel::from_name(message.get_channel_name()) else {
        return;
    };
    metrics.received(channel);
    match decode(channel, message.get_payload_bytes(), local_nodes) {
        Inbound::Inject(event) => bus.inject(event),
        Inbound::Ignore(_) => {}
        Inbound::Malformed(why) => {
            metrics.dropped(DropReason::Malformed, 1);
            tracing::debug!(channel = channel.name(), why, "ignored a malformed message");
        }
    }
}
