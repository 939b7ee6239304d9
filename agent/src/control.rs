//! How a node's runtime reaches the replicated state: directly through its
//! own Raft node on a voter, or over gRPC to the voters on an agent.
//!
//! Both write through the leader with a retained idempotency key; both
//! produce the node's current assignments as a `watch` the executor follows.

use std::time::Duration;

use cortex_consensus::command::Command;
use cortex_consensus::node::Written;
use cortex_consensus::remote::RemoteCluster;
use cortex_consensus::state::assignments::Assignment;
use cortex_consensus::{ConsensusError, ConsensusHandle};
use tokio::sync::watch;

/// A stream quiet for this long (three keepalives) is given up for another voter.
const SILENCE: Duration = Duration::from_secs(3);
/// How often an agent that reaches no voter says so.
const UNREACHABLE_WARN_EVERY: Duration = Duration::from_secs(30);

/// The node's link to the cluster.
#[derive(Clone)]
pub enum Control {
    /// This node is a voter.
    Local(ConsensusHandle),
    /// This node is an agent talking to the voters.
    Remote(RemoteCluster),
}

/// The node's assignments as last heard; `None` while out of touch with the
/// cluster for longer than the node timeout (its attempts are fenced by then).
pub type Assignments = watch::Receiver<Option<Vec<Assignment>>>;

impl Control {
    /// Replicates `command`; see `ConsensusHandle::write`.
    pub async fn write(&self, command: Command) -> Result<Written, ConsensusError> {
        match self {
            Control::Local(handle) => handle.write(command).await,
            Control::Remote(remote) => remote.write(command).await,
        }
    }

    /// Starts following `node`'s assignments until `stop`.
    pub fn follow(
        &self,
        node: String,
        out_of_touch: Duration,
        stop: watch::Receiver<bool>,
    ) -> Assignments {
        let (tx, rx) = watch::channel(None);
        match self {
            Control::Local(handle) => {
                tokio::spawn(follow_local(handle.clone(), node, tx, stop));
            }
            Control::Remote(remote) => {
                tokio::spawn(follow_remote(remote.clone(), node, out_of_touch, tx, stop));
            }
        }
        rx
    }
}

async fn follow_local(
    handle: ConsensusHandle,
    node: String,
    tx: watch::Sender<Option<Vec<Assignment>>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut changes = handle.state().changes();
    loop {
        let current = handle.state().read(|m| m.state.assignments_for(&node));
        tx.send_if_modified(|last| {
            let changed = last.as_ref() != Some(&current);
            *last = Some(current);
            changed
        });
        tokio::select! {
            _ = changes.changed() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Follows the stream from one voter after another. While no voter answers
/// for `out_of_touch`, publishes `None`: the node has surely been declared
/// lost and its attempts fenced, so running them on only wastes tokens.
async fn follow_remote(
    remote: RemoteCluster,
    node: String,
    out_of_touch: Duration,
    tx: watch::Sender<Option<Vec<Assignment>>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut last_heard = tokio::time::Instant::now();
    // Failing to reach any voter is worth a warning (a wrong certificate
    // looks like this), but not one every retry.
    let mut last_warned: Option<tokio::time::Instant> = None;
    loop {
        let opened = tokio::select! {
            opened = remote.assignments(&node) => opened,
            _ = stop.wait_for(|s| *s) => return,
        };
        match opened {
            Ok(mut stream) => {
                last_warned = None;
                tracing::info!(voter = stream.voter(), "following assignments");
                loop {
                    let next = tokio::select! {
                        next = tokio::time::timeout(SILENCE, stream.next()) => next,
                        _ = stop.wait_for(|s| *s) => return,
                    };
                    match next {
                        Ok(Ok(current)) => {
                            last_heard = tokio::time::Instant::now();
                            tx.send_if_modified(|last| {
                                let changed = last.as_ref() != Some(&current);
                                *last = Some(current);
                                changed
                            });
                        }
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "assignment stream broke; switching voter");
                            break;
                        }
                        Err(_) => {
                            tracing::warn!(
                                voter = stream.voter(),
                                "assignment stream silent; switching voter"
                            );
                            break;
                        }
                    }
                }
            }
            Err(e) if last_warned.is_none_or(|at| at.elapsed() >= UNREACHABLE_WARN_EVERY) => {
                last_warned = Some(tokio::time::Instant::now());
                tracing::warn!(error = %e, "cannot reach any voter for the assignment stream");
            }
            Err(e) => tracing::debug!(error = %e, "cannot open the assignment stream"),
        }
        if last_heard.elapsed() >= out_of_touch {
            tx.send_if_modified(|last| last.take().is_some());
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
