//! [`RemoteCluster`]: how a node that is not a voter (an agent) reaches the
//! cluster — writes through the leader and the stream of its assignments.
//!
//! The agent knows the voters' gRPC addresses, not who leads. A write goes to
//! the voter that answered last; a follower answers `NotLeader` with the
//! leader's address, which is followed; an unreachable voter makes the
//! client move on to the next. The idempotency key stays the same across
//! every retry, so a write whose reply was lost is applied once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tonic::Streaming;

use crate::command::{Command, RequestId};
use crate::error::ConsensusError;
use crate::node::Written;
use crate::state::assignments::Assignment;
use crate::store::codec::{decode, encode};
use crate::transport::call::{CallError, CallReply, ClientCall};
use crate::transport::proto::agents_client::AgentsClient;
use crate::transport::proto::cluster_client::ClusterClient;
use crate::transport::proto::{AssignmentsRequest, Payload};
use crate::transport::tls::Security;
use crate::transport::{Channels, MAX_MESSAGE_BYTES};

/// How long a write keeps retrying before it reports `Unavailable`.
const WRITE_DEADLINE: Duration = Duration::from_secs(10);
/// Time allowed for one try at one voter.
const TRY_TIMEOUT: Duration = Duration::from_secs(3);

/// Cloneable client of a set of voters.
#[derive(Clone)]
pub struct RemoteCluster {
    voters: Arc<Vec<String>>,
    channels: Channels,
    /// Index in `voters` of the voter to try first.
    preferred: Arc<AtomicUsize>,
}

impl RemoteCluster {
    /// A client of the voters at `voters` (gRPC `host:port`, at least one),
    /// connecting as `security` says.
    pub fn new(voters: Vec<String>, security: Security) -> Result<RemoteCluster, ConsensusError> {
        if voters.is_empty() {
            return Err(ConsensusError::Invalid("no voter addresses given".into()));
        }
        Ok(RemoteCluster {
            voters: Arc::new(voters),
            channels: Channels::new(security),
            preferred: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The voters' addresses.
    pub fn voters(&self) -> &[String] {
        &self.voters
    }

    /// Replicates `command` through the leader and returns the state
    /// machine's answer; a rejection is [`ConsensusError::Rejected`].
    pub async fn write(&self, command: Command) -> Result<Written, ConsensusError> {
        command.check()?;
        let call = ClientCall::Write {
            id: RequestId::random(),
            command,
            actor: None,
        };
        let deadline = Instant::now() + WRITE_DEADLINE;
        let mut backoff = Duration::from_millis(50);
        let mut target = self.voters[self.preferred() % self.voters.len()].clone();
        loop {
            let answer = tokio::time::timeout(TRY_TIMEOUT, self.call(&target, &call))
                .await
                .unwrap_or_else(|_| {
                    Err(ConsensusError::Unavailable(format!("{target} timed out")))
                });
            let error = match answer {
                Ok(CallReply::Written { index, outcome }) => {
                    self.prefer(&target);
                    return Ok(Written {
                        index,
                        response: outcome?,
                    });
                }
                Ok(other) => {
                    return Err(ConsensusError::Codec(format!("unexpected reply {other:?}")))
                }
                Err(ConsensusError::NotLeader {
                    leader: Some((_, addr)),
                }) if addr.raft_addr != target => {
                    // Follow the hint at once: it is the common case.
                    target = addr.raft_addr;
                    continue;
                }
                Err(e @ ConsensusError::Invalid(_)) => return Err(e),
                Err(e) => e,
            };
            if Instant::now() + backoff > deadline {
                return Err(ConsensusError::Unavailable(error.to_string()));
            }
            tracing::debug!(%target, %error, "write not executed yet; trying the next voter");
            target = self.next_after(&target);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(500));
        }
    }

    /// Opens the stream of `node`'s assignments at the next voter in turn.
    /// Each item is the complete current list.
    pub async fn assignments(&self, node: &str) -> Result<AssignmentStream, ConsensusError> {
        let index = self.preferred.fetch_add(1, Ordering::Relaxed) % self.voters.len();
        let addr = self.voters[index].clone();
        let channel = self
            .channels
            .get(&addr)
            .map_err(|e| ConsensusError::Unavailable(e.to_string()))?;
        let mut client = AgentsClient::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES);
        let stream = client
            .assignments(AssignmentsRequest {
                node: node.to_string(),
            })
            .await
            .map_err(|status| ConsensusError::Unavailable(format!("{addr}: {status}")))?
            .into_inner();
        Ok(AssignmentStream { addr, stream })
    }

    async fn call(&self, addr: &str, call: &ClientCall) -> Result<CallReply, ConsensusError> {
        let channel = self
            .channels
            .get(addr)
            .map_err(|e| ConsensusError::Unavailable(e.to_string()))?;
        let mut client = ClusterClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let data = encode(call).map_err(|e| ConsensusError::Codec(e.to_string()))?;
        let reply = client
            .call(Payload { data })
            .await
            .map_err(|status| ConsensusError::Unavailable(format!("{addr}: {status}")))?;
        let answer: Result<CallReply, CallError> =
            decode(&reply.into_inner().data).map_err(|e| ConsensusError::Codec(e.to_string()))?;
        answer.map_err(ConsensusError::from)
    }

    fn preferred(&self) -> usize {
        self.preferred.load(Ordering::Relaxed)
    }

    fn prefer(&self, addr: &str) {
        if let Some(i) = self.voters.iter().position(|v| v == addr) {
            self.preferred.store(i, Ordering::Relaxed);
        }
    }

    fn next_after(&self, addr: &str) -> String {
        let i = self
            .voters
            .iter()
            .position(|v| v == addr)
            .map_or(0, |i| i + 1);
        self.voters[i % self.voters.len()].clone()
    }
}

/// A voter's stream of one node's assignments.
pub struct AssignmentStream {
    addr: String,
    stream: Streaming<Payload>,
}

impl AssignmentStream {
    /// The voter serving it.
    pub fn voter(&self) -> &str {
        &self.addr
    }

    /// The next complete list; an error when the stream broke.
    pub async fn next(&mut self) -> Result<Vec<Assignment>, ConsensusError> {
        match self.stream.message().await {
            Ok(Some(payload)) => {
                decode(&payload.data).map_err(|e| ConsensusError::Codec(e.to_string()))
            }
            Ok(None) => Err(ConsensusError::Unavailable(format!(
                "{} closed the stream",
                self.addr
            ))),
            Err(status) => Err(ConsensusError::Unavailable(format!(
                "{}: {status}",
                self.addr
            ))),
        }
    }
}
