//! The openraft type configuration shared by every crate.

use std::io::Cursor;

use serde::{Deserialize, Serialize};

use crate::command::{Batch, Outcome};

/// Identifies a voter; stable for the life of its data directory.
pub type NodeId = u64;

/// What the cluster remembers about a member: where to reach its Raft service.
///
/// Kept in the replicated membership, so every node can reach every other one
/// without a side channel. The admin API address is not stored here: a node
/// reports it itself when asked for its status, so it can change on restart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAddr {
    /// `host:port` of the node's gRPC listener.
    pub raft_addr: String,
}

impl std::fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.raft_addr)
    }
}

openraft::declare_raft_types!(
    /// Cortex's Raft types: requests are [`Request`]s, responses [`Outcome`]s.
    pub TypeConfig:
        D = Batch,
        R = Vec<Outcome>,
        NodeId = NodeId,
        Node = NodeAddr,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// openraft's types, specialised to ours.
pub type Raft = openraft::Raft<TypeConfig>;
/// A Raft log entry.
pub type Entry = openraft::Entry<TypeConfig>;
/// A log position (term, leader, index).
pub type LogId = openraft::LogId<NodeId>;
/// The membership as stored in the log and the state machine.
pub type StoredMembership = openraft::StoredMembership<NodeId, NodeAddr>;
/// A storage failure as openraft wants to see it.
pub type StorageError = openraft::StorageError<NodeId>;
/// Snapshot metadata.
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, NodeAddr>;
/// A built snapshot.
pub type Snapshot = openraft::Snapshot<TypeConfig>;
