//! Registers this node and keeps it alive in the replicated state.
//!
//! Each committed heartbeat renews the node's own lease on its attempts
//! (see [`crate::lease`]): what counts is when it was *sent*.

use cortex_consensus::command::Command;
use cortex_consensus::{ConsensusError, Rejection};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::control::Control;
use crate::options::RuntimeOptions;

/// Registers, then heartbeats every period until `stop`; re-registers if
/// the state does not know this node (a wiped cluster, a new leader's view).
/// Publishes on `renewed` when each committed heartbeat was sent.
pub async fn run(
    control: Control,
    options: RuntimeOptions,
    renewed: watch::Sender<Option<Instant>>,
    mut stop: watch::Receiver<bool>,
) {
    let register = Command::RegisterNode {
        name: options.node_name.clone(),
        labels: options.labels.clone(),
        capacity: if options.execute { options.capacity } else { 0 },
        voter: match &control {
            Control::Local(handle) => Some(handle.id()),
            Control::Remote(_) => None,
        },
    };
    let mut registered = false;
    let mut tick = tokio::time::interval(options.heartbeat);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let command = if registered {
            Command::Heartbeat {
                name: options.node_name.clone(),
            }
        } else {
            register.clone()
        };
        let sent = Instant::now();
        let written = tokio::select! {
            written = control.write(command) => written,
            _ = stop.wait_for(|s| *s) => return,
        };
        match written {
            Ok(_) => {
                registered = true;
                renewed.send_replace(Some(sent));
            }
            Err(ConsensusError::Rejected(Rejection::UnknownNode(_))) => registered = false,
            Err(e) => tracing::debug!(error = %e, "heartbeat not committed"),
        }
    }
}
