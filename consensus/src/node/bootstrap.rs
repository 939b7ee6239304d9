//! Cluster formation from a static peer list, with no manual step.
//!
//! A node whose log is empty either founds the cluster or waits to be caught
//! up by an existing leader. It founds only on positive evidence that the
//! cluster does not exist yet: a majority of the peer list (itself included)
//! answered that they are pristine, nobody answered that they already belong
//! to a cluster, and no pristine node that answered has a lower id. Several nodes founding at once is safe because they
//! all propose the identical membership from the identical peer list
//! (openraft's `initialize` contract).
//!
//! A node whose data directory was wiped finds initialised peers, so it does
//! not found a second cluster: the leader, which still lists it as a member,
//! sends it a snapshot and the log since. Until it has caught up it does not
//! vote (`recovery.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::sync::watch;

use super::ConsensusHandle;
use crate::types::{NodeAddr, NodeId};

const PROBE_EVERY: Duration = Duration::from_millis(300);

/// Runs until this node is part of a cluster or the node stops.
pub(super) async fn form_or_join(
    handle: ConsensusHandle,
    peers: BTreeMap<NodeId, NodeAddr>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        if *stopped.borrow() || handle.raft().is_initialized().await.unwrap_or(true) {
            return;
        }
        match survey(&handle, &peers).await {
            Survey::ClusterExists { last_log_index } => {
                handle.begin_recovery(last_log_index);
                tracing::info!(
                    "peers already form a cluster; waiting for the leader to catch this node up"
                );
            }
            Survey::MajorityPristine => {
                let members: BTreeMap<NodeId, NodeAddr> = peers.clone();
                match handle.raft().initialize(members).await {
                    Ok(()) => {
                        tracing::info!(voters = ?peers.keys().collect::<Vec<_>>(), "cluster founded");
                        return;
                    }
                    // Someone else's membership reached us first: fine.
                    Err(e) => tracing::debug!(error = %e, "initialize not needed"),
                }
            }
            Survey::Undecided { answered } => {
                tracing::debug!(
                    answered,
                    of = peers.len(),
                    "waiting for a majority of peers to answer"
                );
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(PROBE_EVERY) => {}
            _ = stopped.changed() => {}
        }
    }
}

enum Survey {
    /// Peers belong to a cluster; the highest log index any of them reported.
    ClusterExists {
        last_log_index: u64,
    },
    MajorityPristine,
    Undecided {
        answered: usize,
    },
}

async fn survey(handle: &ConsensusHandle, peers: &BTreeMap<NodeId, NodeAddr>) -> Survey {
    let others = peers.iter().filter(|(id, _)| **id != handle.id());
    let answers = futures::future::join_all(
        others.map(|(id, addr)| async move { (*id, handle.probe(&addr.raft_addr).await) }),
    )
    .await;
    let mut pristine: BTreeSet<NodeId> = BTreeSet::from([handle.id()]);
    let cluster_log = answers
        .iter()
        .filter_map(|(_, answer)| answer.as_ref())
        .filter(|status| status.initialized)
        .map(|status| status.last_log_index.unwrap_or(0))
        .max();
    if let Some(last_log_index) = cluster_log {
        return Survey::ClusterExists { last_log_index };
    }
    for (id, answer) in answers {
        match answer {
            Some(status) if status.id == id => {
                pristine.insert(id);
            }
            // A different node answered at that address: not evidence.
            _ => {}
        }
    }
    // Only the lowest pristine id founds, so the usual start has one founder;
    // any node can still found if lower ones are down.
    if pristine.len() * 2 > peers.len() && pristine.first() == Some(&handle.id()) {
        Survey::MajorityPristine
    } else {
        Survey::Undecided {
            answered: pristine.len(),
        }
    }
}
