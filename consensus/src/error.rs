//! Errors of the consensus crate. Mapped to HTTP statuses or gRPC codes only
//! at the API edge (the daemon), never here.

use crate::command::Rejection;
use crate::types::{NodeAddr, NodeId};

/// Why a consensus operation did not succeed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConsensusError {
    /// The state machine refused the command; nothing changed.
    #[error("rejected: {0}")]
    Rejected(#[from] Rejection),
    /// No leader could be reached before the deadline (no quorum, election in
    /// progress, or the leader is partitioned away from this node).
    #[error("no leader reachable: {0}")]
    Unavailable(String),
    /// This node is not the leader; the caller should ask the one named.
    #[error("not the leader; leader is {leader:?}")]
    NotLeader {
        /// The leader, if this node knows it.
        leader: Option<(NodeId, NodeAddr)>,
    },
    /// A membership change was refused (another one in progress, unknown node, ...).
    #[error("membership change refused: {0}")]
    Membership(String),
    /// The local storage failed.
    #[error("storage: {0}")]
    Storage(String),
    /// A message could not be encoded or decoded.
    #[error("malformed message: {0}")]
    Codec(String),
    /// The request was invalid before reaching Raft (bad address, bad argument).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The Raft node stopped (shutdown or a fatal storage error).
    #[error("raft stopped: {0}")]
    Stopped(String),
}

impl From<sled::Error> for ConsensusError {
    fn from(error: sled::Error) -> Self {
        ConsensusError::Storage(error.to_string())
    }
}

impl From<openraft::StorageError<NodeId>> for ConsensusError {
    fn from(error: openraft::StorageError<NodeId>) -> Self {
        ConsensusError::Storage(error.to_string())
    }
}
