//! What the bridge does with a message received on a Redis channel: hand an
//! ephemeral event from another process to the local bus, or ignore it.
//!
//! Anything may arrive on a channel (a stray `redis-cli PUBLISH`, an older
//! or newer Cortex, a hostile client), so this is strict and never panics:
//! whatever is not exactly an event of our schema on its own channel is
//! malformed, counted and dropped.

use std::collections::BTreeSet;

use cortex_consensus::events::{Channel, Event, SCHEMA_VERSION};

/// Largest message accepted (our events are well under 4 KiB).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// The verdict on one message.
#[derive(Debug, PartialEq)]
pub enum Inbound {
    /// An ephemeral event from another process: inject it into the bus.
    Inject(Event),
    /// A valid event this process has no use for.
    Ignore(&'static str),
    /// Not an event we accept.
    Malformed(&'static str),
}

/// Judges `payload`, received on `channel`, given the names of the nodes
/// that run in this process (their own events come back from Redis too).
pub fn decode(channel: Channel, payload: &[u8], local_nodes: &BTreeSet<String>) -> Inbound {
    if payload.len() > MAX_MESSAGE_BYTES {
        return Inbound::Malformed("larger than 64 KiB");
    }
    let Ok(event) = serde_json::from_slice::<Event>(payload) else {
        return Inbound::Malformed("not an event");
    };
    if event.v != SCHEMA_VERSION {
        return Inbound::Malformed("another schema version");
    }
    if event.channel() != channel {
        return Inbound::Malformed("on the wrong channel");
    }
    match (event.id.is_some(), event.kind.is_ephemeral()) {
        // Voters derive replicated events from their own log; one read
        // from Redis could be stale, duplicated or forged.
        (true, false) => return Inbound::Ignore("replicated"),
        (false, true) => {}
        (true, true) => return Inbound::Malformed("an ephemeral event with an id"),
        (false, false) => return Inbound::Malformed("a replicated event without an id"),
    }
    match &event.origin {
        None => Inbound::Malformed("no origin"),
        Some(origin) if local_nodes.contains(origin) => Inbound::Ignore("published here"),
        Some(_) => Inbound::Inject(event),
    }
}
