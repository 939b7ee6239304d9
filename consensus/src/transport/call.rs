//! Client calls a daemon can forward to the leader, and their answers.
//!
//! These cross the wire (bincode in a `Payload`), so they are plain data.

use serde::{Deserialize, Serialize};

use crate::audit::Actor;
use crate::command::{Command, Outcome, RequestId};
use crate::error::ConsensusError;
use crate::types::{NodeAddr, NodeId};

/// Something only the leader can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientCall {
    /// Propose a command; the leader stamps the cluster time.
    Write {
        /// Idempotency key, kept across retries.
        id: RequestId,
        /// The command.
        command: Command,
        /// Who asked, for the audit trail.
        actor: Option<Actor>,
    },
    /// Read a key after confirming leadership (linearizable).
    ReadKey {
        /// The key.
        key: String,
    },
    /// Add a voter (as a learner first, then promoted once caught up).
    AddVoter {
        /// Its id.
        id: NodeId,
        /// Where to reach it.
        addr: NodeAddr,
    },
    /// Remove a voter.
    RemoveVoter {
        /// Its id.
        id: NodeId,
    },
}

/// A successful answer to a [`ClientCall`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallReply {
    /// A write was committed at `index`; `outcome` is the state machine's answer.
    Written {
        /// Log index of the entry.
        index: u64,
        /// What applying it answered.
        outcome: Outcome,
    },
    /// The value of a key, if present.
    Value(Option<String>),
    /// A membership change was committed at `index`.
    MembershipChanged {
        /// Log index of the new membership.
        index: u64,
    },
}

/// A failed answer, as it crosses the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallError {
    /// Ask the named leader instead.
    NotLeader {
        /// The leader, if known.
        leader: Option<(NodeId, NodeAddr)>,
    },
    /// No quorum or no leader right now; retry later.
    Unavailable(String),
    /// Membership change refused.
    Membership(String),
    /// The call itself is invalid.
    Invalid(String),
    /// The leader is shutting down.
    Stopped(String),
}

impl From<CallError> for ConsensusError {
    fn from(error: CallError) -> Self {
        match error {
            CallError::NotLeader { leader } => ConsensusError::NotLeader { leader },
            CallError::Unavailable(m) => ConsensusError::Unavailable(m),
            CallError::Membership(m) => ConsensusError::Membership(m),
            CallError::Invalid(m) => ConsensusError::Invalid(m),
            CallError::Stopped(m) => ConsensusError::Stopped(m),
        }
    }
}

impl From<ConsensusError> for CallError {
    fn from(error: ConsensusError) -> Self {
        match error {
            ConsensusError::NotLeader { leader } => CallError::NotLeader { leader },
            ConsensusError::Membership(m) => CallError::Membership(m),
            ConsensusError::Invalid(m) | ConsensusError::Codec(m) => CallError::Invalid(m),
            ConsensusError::Stopped(m) => CallError::Stopped(m),
            other => CallError::Unavailable(other.to_string()),
        }
    }
}
