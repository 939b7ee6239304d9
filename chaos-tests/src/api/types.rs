//! Response bodies of the admin API, deserialized leniently.
//!
//! The harness must keep working while the daemon's API grows, so unknown
//! fields are ignored, missing fields take their default and a `null` number
//! reads as zero. Only what tests assert on is modelled.

use serde::{Deserialize, Deserializer};

/// Reads `null` as the type's default.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `GET /v1/cluster`: one node's view of the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ClusterStatus {
    /// The node that answered.
    #[serde(deserialize_with = "null_as_default")]
    pub node_id: u64,
    /// The leader this node believes in, if any.
    pub leader: Option<u64>,
    /// This node's current Raft term.
    #[serde(deserialize_with = "null_as_default")]
    pub term: u64,
    /// Index of the last log entry applied to this node's state machine; tests
    /// compare it with a write's index to know a node has caught up.
    #[serde(deserialize_with = "null_as_default")]
    pub last_applied: u64,
    /// Voters and learners of the effective membership.
    #[serde(deserialize_with = "null_as_default")]
    pub membership: Membership,
    /// Every member as seen from this node.
    #[serde(deserialize_with = "null_as_default")]
    pub nodes: Vec<NodeStatus>,
}

impl ClusterStatus {
    /// The entry for node `id` in [`ClusterStatus::nodes`], if listed.
    pub fn node(&self, id: u64) -> Option<&NodeStatus> {
        self.nodes.iter().find(|node| node.id == id)
    }
}

/// The effective Raft membership.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Membership {
    /// Nodes that vote and count towards the quorum.
    #[serde(deserialize_with = "null_as_default")]
    pub voters: Vec<u64>,
    /// Nodes that replicate the log without voting.
    #[serde(deserialize_with = "null_as_default")]
    pub learners: Vec<u64>,
}

/// One member in [`ClusterStatus::nodes`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct NodeStatus {
    /// The member's node id.
    #[serde(deserialize_with = "null_as_default")]
    pub id: u64,
    /// Where the member serves Raft RPCs.
    #[serde(deserialize_with = "null_as_default")]
    pub raft_addr: String,
    /// Where the member serves the admin API.
    #[serde(deserialize_with = "null_as_default")]
    pub api_addr: String,
    /// The member's role as far as the answering node knows.
    #[serde(deserialize_with = "null_as_default")]
    pub role: Role,
    /// Whether the answering node could reach this member.
    #[serde(deserialize_with = "null_as_default")]
    pub reachable: bool,
    /// The member's term, as last known.
    #[serde(deserialize_with = "null_as_default")]
    pub term: u64,
    /// The member's last applied index, as last known.
    #[serde(deserialize_with = "null_as_default")]
    pub last_applied: u64,
    /// The member's last log index, as last known.
    #[serde(deserialize_with = "null_as_default")]
    pub last_log_index: u64,
}

/// A member's Raft role as reported by the API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Accepts writes and replicates them.
    Leader,
    /// Replicates the leader's log and votes.
    Follower,
    /// Asking for votes.
    Candidate,
    /// Replicates without voting.
    Learner,
    /// Shutting down.
    Shutdown,
    /// Could not be asked.
    Unreachable,
    /// A role this harness does not know, or none given.
    #[default]
    #[serde(other)]
    Unknown,
}

/// `PUT /v1/kv/{key}`: the write was committed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PutResponse {
    /// Raft log index of the committed write; a node whose `last_applied`
    /// reached it has applied the write.
    #[serde(deserialize_with = "null_as_default")]
    pub index: u64,
    /// The value the key held before, if any.
    pub previous: Option<String>,
}

/// `GET /v1/kv/{key}` when the key exists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct GetResponse {
    /// The key's current value.
    pub value: Option<String>,
}

/// `GET /readyz`: whether the node is a member of a cluster with a leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// True on 200, false on 503.
    pub ready: bool,
    /// The response body; on 503 it says why the node is not ready.
    pub body: String,
}

/// The error body every `/v1` route uses: `{"error":{"code":..,"message":..}}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ErrorBody {
    /// The error itself.
    pub error: ErrorDetail,
}

/// Inside [`ErrorBody`].
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ErrorDetail {
    /// Machine-readable error code.
    pub code: Option<String>,
    /// Human-readable message.
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_status_tolerates_nulls_unknowns_and_missing_fields() {
        let body = r#"{"node_id":1,"leader":null,"term":3,"last_applied":null,"extra":true,
            "nodes":[{"id":2,"role":"follower","reachable":true,"new_field":1},
                     {"id":3,"role":"observer"}]}"#;
        let status: ClusterStatus = serde_json::from_str(body).expect("parses");
        assert_eq!(status.leader, None);
        assert_eq!(status.last_applied, 0);
        assert!(status.membership.voters.is_empty());
        assert_eq!(status.node(2).map(|n| n.role), Some(Role::Follower));
        assert_eq!(status.node(3).map(|n| n.role), Some(Role::Unknown));
    }
}
