//! [`ConsensusHandle`]: how the rest of Cortex writes and reads replicated
//! state from any node.
//!
//! A call is executed here when this node leads; otherwise it is forwarded
//! over gRPC to the leader, following `NotLeader` answers and retrying
//! through elections until a deadline. A write keeps its idempotency key
//! across every retry, so it is applied at most once even when a reply is
//! lost; the caller sees it applied exactly once or gets an error.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use openraft::ChangeMembers;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::audit::Actor;
use crate::command::{Command, Rejection, RequestId};
use crate::error::ConsensusError;
use crate::store::codec::{decode, encode};
use crate::store::StateReader;
use crate::transport::call::{CallError, CallReply, ClientCall};
use crate::transport::proto::cluster_client::ClusterClient;
use crate::transport::proto::Payload;
use crate::transport::{Channels, MAX_MESSAGE_BYTES};
use crate::types::{NodeAddr, NodeId, Raft};

use super::proposer::Proposer;
use super::recovery::RecoveryGate;

/// How long a call keeps retrying before it reports `Unavailable`.
const CALL_DEADLINE: Duration = Duration::from_secs(10);
/// Time allowed for one forwarded call (writes wait for a quorum fsync).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);

/// A committed write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Log index of the entry.
    pub index: u64,
    /// The state machine's answer.
    pub response: crate::command::Response,
}

/// Cloneable access to the local Raft node and, through it, the cluster.
#[derive(Clone)]
pub struct ConsensusHandle {
    inner: std::sync::Arc<Inner>,
}

struct Inner {
    raft: Raft,
    reader: StateReader,
    channels: Channels,
    id: NodeId,
    api_addr: String,
    /// Closed while this node catches up after losing its disk.
    recovery: RecoveryGate,
    /// One membership change at a time from this node (openraft refuses
    /// overlapping ones; queueing them here gives callers a clean answer).
    membership_change: Mutex<()>,
    /// Proposes this node's writes, several to an entry under load.
    proposer: Proposer,
}

impl ConsensusHandle {
    pub(super) fn new(
        raft: Raft,
        reader: StateReader,
        channels: Channels,
        id: NodeId,
        api_addr: String,
        recovery: RecoveryGate,
    ) -> Self {
        ConsensusHandle {
            inner: std::sync::Arc::new(Inner {
                proposer: Proposer::start(raft.clone()),
                raft,
                reader,
                channels,
                id,
                api_addr,
                recovery,
                membership_change: Mutex::new(()),
            }),
        }
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.inner.id
    }

    /// The local openraft instance.
    pub fn raft(&self) -> &Raft {
        &self.inner.raft
    }

    /// The locally applied state (may lag the leader; see [`Self::read_key`]).
    pub fn state(&self) -> &StateReader {
        &self.inner.reader
    }

    pub(super) fn channels(&self) -> &Channels {
        &self.inner.channels
    }

    pub(super) fn api_addr(&self) -> &str {
        &self.inner.api_addr
    }

    /// False while this node is catching up after losing its disk; it must
    /// not vote then (see `recovery.rs`).
    pub fn may_vote(&self) -> bool {
        let last_log_index = self.raft().metrics().borrow().last_log_index;
        self.inner.recovery.may_vote(last_log_index)
    }

    pub(super) fn begin_recovery(&self, until: u64) {
        if let Err(e) = self.inner.recovery.begin(until) {
            tracing::error!(error = %e, "cannot record the recovery target");
        }
    }

    /// Replicates `command` and returns the state machine's answer. A
    /// rejection is returned as [`ConsensusError::Rejected`].
    pub async fn write(&self, command: Command) -> Result<Written, ConsensusError> {
        self.write_audited(None, RequestId::random(), command).await
    }

    /// [`Self::write`] on behalf of `actor`, who goes in the audit trail.
    pub async fn write_as(
        &self,
        actor: Actor,
        command: Command,
    ) -> Result<Written, ConsensusError> {
        self.write_audited(Some(actor), RequestId::random(), command)
            .await
    }

    /// [`Self::write`] with a caller-chosen idempotency key, so a client's
    /// own retries are deduplicated too, on behalf of `actor` if given:
    /// applying it then appends to the audit trail, refused or not.
    pub async fn write_audited(
        &self,
        actor: Option<Actor>,
        id: RequestId,
        command: Command,
    ) -> Result<Written, ConsensusError> {
        command.check()?;
        if actor.as_ref().is_some_and(|a| !Actor::valid_name(&a.name)) {
            return Err(Rejection::BadActor.into());
        }
        let call = ClientCall::Write { id, command, actor };
        match self.call(call).await? {
            CallReply::Written { index, outcome } => Ok(Written {
                index,
                response: outcome?,
            }),
            other => Err(unexpected(other)),
        }
    }

    /// Reads a key linearizably: the leader confirms it still leads before answering.
    pub async fn read_key(&self, key: &str) -> Result<Option<String>, ConsensusError> {
        match self
            .call(ClientCall::ReadKey {
                key: key.to_string(),
            })
            .await?
        {
            CallReply::Value(value) => Ok(value),
            other => Err(unexpected(other)),
        }
    }

    /// Adds a voter: it joins as a learner, catches up, then is promoted.
    pub async fn add_voter(&self, id: NodeId, addr: NodeAddr) -> Result<u64, ConsensusError> {
        match self.call(ClientCall::AddVoter { id, addr }).await? {
            CallReply::MembershipChanged { index } => Ok(index),
            other => Err(unexpected(other)),
        }
    }

    /// Removes a voter from the cluster.
    pub async fn remove_voter(&self, id: NodeId) -> Result<u64, ConsensusError> {
        match self.call(ClientCall::RemoveVoter { id }).await? {
            CallReply::MembershipChanged { index } => Ok(index),
            other => Err(unexpected(other)),
        }
    }

    /// Executes `call` on the leader, wherever it is, retrying until the deadline.
    async fn call(&self, call: ClientCall) -> Result<CallReply, ConsensusError> {
        let deadline = Instant::now() + CALL_DEADLINE;
        let mut backoff = Duration::from_millis(20);
        let mut last_error;
        loop {
            // A leader cut off from its quorum never answers a write; bound
            // each attempt so the call can move on to a newer leader.
            let budget = deadline
                .saturating_duration_since(Instant::now())
                .min(FORWARD_TIMEOUT);
            let attempt = tokio::time::timeout(budget, self.attempt(&call))
                .await
                .unwrap_or_else(|_| {
                    Err(ConsensusError::Unavailable(
                        "leader did not answer in time".into(),
                    ))
                });
            match attempt {
                Ok(reply) => return Ok(reply),
                Err(e @ (ConsensusError::Membership(_) | ConsensusError::Invalid(_))) => {
                    return Err(e)
                }
                Err(e) => last_error = e,
            }
            if Instant::now() + backoff > deadline {
                return Err(ConsensusError::Unavailable(last_error.to_string()));
            }
            tracing::debug!(error = %last_error, "call not executed yet; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(500));
        }
    }

    /// One try: here if this node leads, else at the leader it knows of.
    async fn attempt(&self, call: &ClientCall) -> Result<CallReply, ConsensusError> {
        match self.execute_here(call.clone()).await {
            Err(ConsensusError::NotLeader {
                leader: Some((id, addr)),
            }) if id != self.id() => self.forward(&addr, call).await,
            other => other,
        }
    }

    /// Sends `call` to the node at `addr`, which is expected to lead.
    async fn forward(
        &self,
        addr: &NodeAddr,
        call: &ClientCall,
    ) -> Result<CallReply, ConsensusError> {
        let channel = self
            .channels()
            .get(&addr.raft_addr)
            .map_err(|e| ConsensusError::Unavailable(e.to_string()))?;
        let mut client = ClusterClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let data = encode(call).map_err(|e| ConsensusError::Codec(e.to_string()))?;
        let mut request = tonic::Request::new(Payload { data });
        request.set_timeout(FORWARD_TIMEOUT);
        let reply = client.call(request).await.map_err(|status| {
            ConsensusError::Unavailable(format!("forwarding to {addr}: {status}"))
        })?;
        let answer: Result<CallReply, CallError> =
            decode(&reply.into_inner().data).map_err(|e| ConsensusError::Codec(e.to_string()))?;
        answer.map_err(ConsensusError::from)
    }

    /// Executes `call` if this node leads, or answers `NotLeader`.
    pub async fn execute_here(&self, call: ClientCall) -> Result<CallReply, ConsensusError> {
        match call {
            ClientCall::Write { id, command, actor } => {
                let (index, outcome) = self.inner.proposer.propose(id, command, actor).await?;
                Ok(CallReply::Written { index, outcome })
            }
            ClientCall::ReadKey { key } => {
                self.raft()
                    .ensure_linearizable()
                    .await
                    .map_err(read_error)?;
                let value = self.state().read(|m| m.state.get(&key).map(str::to_string));
                Ok(CallReply::Value(value))
            }
            ClientCall::AddVoter { id, addr } => self.add_voter_here(id, addr).await,
            ClientCall::RemoveVoter { id } => self.remove_voter_here(id).await,
        }
    }

    async fn add_voter_here(
        &self,
        id: NodeId,
        addr: NodeAddr,
    ) -> Result<CallReply, ConsensusError> {
        if id == 0 {
            return Err(ConsensusError::Invalid("node id 0 is reserved".into()));
        }
        if addr.raft_addr.parse::<std::net::SocketAddr>().is_err() && !addr.raft_addr.contains(':')
        {
            return Err(ConsensusError::Invalid(format!(
                "raft address {:?} is not host:port",
                addr.raft_addr
            )));
        }
        let _one_at_a_time = self.inner.membership_change.lock().await;
        // Blocking: returns once the learner has caught up, so promoting it
        // never stalls commits waiting for a far-behind voter.
        self.raft()
            .add_learner(id, addr, true)
            .await
            .map_err(write_error)?;
        let changed = self
            .raft()
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
            .await
            .map_err(write_error)?;
        Ok(CallReply::MembershipChanged {
            index: changed.log_id.index,
        })
    }

    async fn remove_voter_here(&self, id: NodeId) -> Result<CallReply, ConsensusError> {
        let _one_at_a_time = self.inner.membership_change.lock().await;
        if !self.members().1.contains(&id) {
            return Err(ConsensusError::Membership(format!(
                "node {id} is not a voter"
            )));
        }
        let changed = self
            .raft()
            .change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([id])), false)
            .await
            .map_err(write_error)?;
        Ok(CallReply::MembershipChanged {
            index: changed.log_id.index,
        })
    }

    /// The current voters and learners with their addresses, from the local view.
    pub fn members(&self) -> (BTreeMap<NodeId, NodeAddr>, BTreeSet<NodeId>) {
        let metrics = self.raft().metrics().borrow().clone();
        let membership = metrics.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let nodes = membership
            .nodes()
            .map(|(id, node)| (*id, node.clone()))
            .collect();
        (nodes, voters)
    }
}

fn unexpected(reply: CallReply) -> ConsensusError {
    ConsensusError::Codec(format!("unexpected reply {reply:?}"))
}

pub(super) fn write_error(
    error: RaftError<NodeId, ClientWriteError<NodeId, NodeAddr>>,
) -> ConsensusError {
    match error {
        RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => {
            ConsensusError::NotLeader {
                leader: forward.leader_id.zip(forward.leader_node),
            }
        }
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => {
            ConsensusError::Membership(e.to_string())
        }
        RaftError::Fatal(fatal) => ConsensusError::Stopped(fatal.to_string()),
    }
}

fn read_error(error: RaftError<NodeId, CheckIsLeaderError<NodeId, NodeAddr>>) -> ConsensusError {
    match error {
        RaftError::APIError(CheckIsLeaderError::ForwardToLeader(forward)) => {
            ConsensusError::NotLeader {
                leader: forward.leader_id.zip(forward.leader_node),
            }
        }
        RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(e)) => {
            ConsensusError::Unavailable(e.to_string())
        }
        RaftError::Fatal(fatal) => ConsensusError::Stopped(fatal.to_string()),
    }
}
