//! What a node and the cluster look like right now, for `/v1/cluster`,
//! readiness and the formation probe.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::ServerState;
use serde::{Deserialize, Serialize};

use super::ConsensusHandle;
use crate::plan::MasterRole;
use crate::state::nodes::NodeStatus as Liveness;
use crate::transport::proto::cluster_client::ClusterClient;
use crate::transport::proto::StatusRequest;
use crate::types::NodeId;

/// How long a peer gets to answer a status probe before it is "unreachable".
const PROBE_TIMEOUT: Duration = Duration::from_millis(700);

/// One node's own view of itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Its id.
    pub id: NodeId,
    /// Whether it belongs to a cluster (its log holds a membership).
    pub initialized: bool,
    /// The leader it follows, if any.
    pub leader: Option<NodeId>,
    /// Its current term.
    pub term: u64,
    /// Index of the last entry it applied.
    pub last_applied: Option<u64>,
    /// Index of the last entry in its log.
    pub last_log_index: Option<u64>,
    /// `leader`, `follower`, `candidate`, `learner` or `shutdown`.
    pub role: String,
    /// Its admin API address.
    pub api_addr: String,
}

/// The voters and learners of the current membership.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Membership {
    /// Voting members.
    pub voters: BTreeSet<NodeId>,
    /// Members that replicate but do not vote.
    pub learners: BTreeSet<NodeId>,
}

/// One member as seen from the node answering.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberStatus {
    /// Its id.
    pub id: NodeId,
    /// Its Raft gRPC address.
    pub raft_addr: String,
    /// Its admin API address, if it answered.
    pub api_addr: Option<String>,
    /// Its role, or `unreachable`.
    pub role: String,
    /// Whether it answered the status probe.
    pub reachable: bool,
    /// Its term, if it answered.
    pub term: Option<u64>,
    /// Its last applied index, if it answered.
    pub last_applied: Option<u64>,
    /// Its last log index, if it answered.
    pub last_log_index: Option<u64>,
}

/// The whole cluster as seen from one node (`GET /v1/cluster`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// The node answering.
    pub node_id: NodeId,
    /// The leader it knows of.
    pub leader: Option<NodeId>,
    /// Its term.
    pub term: u64,
    /// Its last applied index.
    pub last_applied: Option<u64>,
    /// The membership it has applied or appended.
    pub membership: Membership,
    /// Every member, probed.
    pub nodes: Vec<MemberStatus>,
    /// Master-role leases as this node has applied them.
    #[serde(default)]
    pub leases: Vec<LeaseStatus>,
    /// Nodes registered to execute attempts, with their liveness and load.
    #[serde(default)]
    pub executors: Vec<ExecutorStatus>,
}

/// One master-role lease.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseStatus {
    /// The role.
    pub role: MasterRole,
    /// The voter holding it.
    pub holder: NodeId,
    /// Its fencing epoch.
    pub epoch: u64,
    /// When it lapses unless renewed (cluster time, ms).
    pub expires_at: u64,
}

/// One node that executes attempts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutorStatus {
    /// Its name.
    pub name: String,
    /// `alive` or `lost`.
    pub status: Liveness,
    /// Its Raft id, for a voter.
    pub voter: Option<NodeId>,
    /// Attempts it runs now.
    pub running: usize,
    /// Attempts it accepts at once.
    pub capacity: u32,
    /// Its placement labels.
    pub labels: BTreeMap<String, String>,
    /// Last heartbeat (cluster time, ms).
    pub last_heartbeat: u64,
}

fn role_name(state: ServerState) -> &'static str {
    match state {
        ServerState::Leader => "leader",
        ServerState::Follower => "follower",
        ServerState::Candidate => "candidate",
        ServerState::Learner => "learner",
        ServerState::Shutdown => "shutdown",
    }
}

impl ConsensusHandle {
    /// This node's status from its Raft metrics.
    pub async fn local_status(&self) -> NodeStatus {
        let metrics = self.raft().metrics().borrow().clone();
        NodeStatus {
            id: self.id(),
            initialized: metrics
                .membership_config
                .membership()
                .voter_ids()
                .next()
                .is_some(),
            leader: metrics.current_leader,
            term: metrics.current_term,
            last_applied: metrics.last_applied.map(|id| id.index),
            last_log_index: metrics.last_log_index,
            role: role_name(metrics.state).to_string(),
            api_addr: self.api_addr().to_string(),
        }
    }

    /// True when this node is a voter of a cluster that has a leader.
    pub async fn is_ready(&self) -> bool {
        let metrics = self.raft().metrics().borrow().clone();
        let is_voter = metrics
            .membership_config
            .membership()
            .voter_ids()
            .any(|id| id == self.id());
        is_voter && metrics.current_leader.is_some()
    }

    /// Asks the node at `raft_addr` for its status.
    pub async fn probe(&self, raft_addr: &str) -> Option<NodeStatus> {
        let channel = self.channels().get(raft_addr).ok()?;
        let mut client = ClusterClient::new(channel);
        let mut request = tonic::Request::new(StatusRequest {});
        request.set_timeout(PROBE_TIMEOUT);
        let reply = tokio::time::timeout(PROBE_TIMEOUT, client.status(request))
            .await
            .ok()?
            .ok()?
            .into_inner();
        Some(NodeStatus {
            id: reply.node_id,
            initialized: reply.initialized,
            leader: (reply.leader != 0).then_some(reply.leader),
            term: reply.term,
            last_applied: Some(reply.last_applied),
            last_log_index: Some(reply.last_log_index),
            role: reply.role,
            api_addr: reply.api_addr,
        })
    }

    /// The cluster as this node sees it, every member probed concurrently.
    pub async fn cluster_status(&self) -> ClusterStatus {
        let local = self.local_status().await;
        let (nodes, voters) = self.members();
        let learners = nodes
            .keys()
            .filter(|id| !voters.contains(id))
            .copied()
            .collect();
        let probes = nodes.iter().map(|(id, addr)| async move {
            let status = if *id == self.id() {
                Some(self.local_status().await)
            } else {
                self.probe(&addr.raft_addr).await
            };
            MemberStatus {
                id: *id,
                raft_addr: addr.raft_addr.clone(),
                api_addr: status.as_ref().map(|s| s.api_addr.clone()),
                role: status
                    .as_ref()
                    .map_or_else(|| "unreachable".to_string(), |s| s.role.clone()),
                reachable: status.is_some(),
                term: status.as_ref().map(|s| s.term),
                last_applied: status.as_ref().and_then(|s| s.last_applied),
                last_log_index: status.as_ref().and_then(|s| s.last_log_index),
            }
        });
        let members = futures::future::join_all(probes).await;
        let (leases, executors) = self.state().read(|m| {
            let leases = m
                .state
                .leases
                .held
                .iter()
                .map(|(role, l)| LeaseStatus {
                    role: *role,
                    holder: l.holder,
                    epoch: l.epoch,
                    expires_at: l.expires_at.0,
                })
                .collect();
            let executors = m
                .state
                .nodes
                .by_name
                .values()
                .map(|n| ExecutorStatus {
                    name: n.name.clone(),
                    status: n.status,
                    voter: n.voter,
                    running: m.state.running_on(&n.name),
                    capacity: n.capacity,
                    labels: n.labels.clone(),
                    last_heartbeat: n.last_heartbeat.0,
                })
                .collect();
            (leases, executors)
        });
        ClusterStatus {
            leases,
            executors,
            node_id: self.id(),
            leader: local.leader,
            term: local.term,
            last_applied: local.last_applied,
            membership: Membership { voters, learners },
            nodes: members,
        }
    }
}
