//! The server side of daemon-to-daemon gRPC.

use tonic::{Request, Response, Status};

use super::call::{CallError, ClientCall};
use super::proto::cluster_server::{Cluster, ClusterServer};
use super::proto::raft_internal_server::{RaftInternal, RaftInternalServer};
use super::proto::{Payload, StatusReply, StatusRequest};
use super::MAX_MESSAGE_BYTES;
use crate::node::ConsensusHandle;
use crate::store::codec::{decode, encode};
use crate::types::Raft;

/// Serves the Raft protocol to peers.
pub struct RaftService {
    raft: Raft,
    handle: ConsensusHandle,
}

/// Serves forwarded client calls and status probes.
pub struct ClusterService {
    handle: ConsensusHandle,
}

/// Both services, ready to add to a tonic router.
pub fn services(
    handle: ConsensusHandle,
) -> (
    RaftInternalServer<RaftService>,
    ClusterServer<ClusterService>,
) {
    let raft = RaftInternalServer::new(RaftService {
        raft: handle.raft().clone(),
        handle: handle.clone(),
    })
    .max_decoding_message_size(MAX_MESSAGE_BYTES)
    .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let cluster = ClusterServer::new(ClusterService { handle })
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    (raft, cluster)
}

fn decode_request<T: serde::de::DeserializeOwned>(request: Request<Payload>) -> Result<T, Status> {
    decode(&request.into_inner().data)
        .map_err(|e| Status::invalid_argument(format!("malformed message: {e}")))
}

fn encode_reply<T: serde::Serialize>(value: &T) -> Result<Response<Payload>, Status> {
    let data = encode(value).map_err(|e| Status::internal(format!("encoding reply: {e}")))?;
    Ok(Response::new(Payload { data }))
}

#[tonic::async_trait]
impl RaftInternal for RaftService {
    #[tracing::instrument(level = "trace", skip_all)]
    async fn append_entries(&self, request: Request<Payload>) -> Result<Response<Payload>, Status> {
        let rpc = decode_request(request)?;
        encode_reply(&self.raft.append_entries(rpc).await)
    }

    #[tracing::instrument(level = "trace", skip_all)]
    async fn vote(&self, request: Request<Payload>) -> Result<Response<Payload>, Status> {
        let rpc = decode_request(request)?;
        if !self.handle.may_vote() {
            // Answering nothing is what a down node does: always safe.
            return Err(Status::unavailable(
                "catching up after data loss; not voting yet",
            ));
        }
        encode_reply(&self.raft.vote(rpc).await)
    }

    #[tracing::instrument(level = "trace", skip_all)]
    async fn install_snapshot(
        &self,
        request: Request<Payload>,
    ) -> Result<Response<Payload>, Status> {
        let rpc = decode_request(request)?;
        encode_reply(&self.raft.install_snapshot(rpc).await)
    }
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn call(&self, request: Request<Payload>) -> Result<Response<Payload>, Status> {
        let call: ClientCall = decode_request(request)?;
        let answer = self
            .handle
            .execute_here(call)
            .await
            .map_err(CallError::from);
        encode_reply(&answer)
    }

    async fn status(&self, _: Request<StatusRequest>) -> Result<Response<StatusReply>, Status> {
        let status = self.handle.local_status().await;
        Ok(Response::new(StatusReply {
            node_id: status.id,
            initialized: status.initialized,
            leader: status.leader.unwrap_or(0),
            term: status.term,
            last_applied: status.last_applied.unwrap_or(0),
            last_log_index: status.last_log_index.unwrap_or(0),
            role: status.role,
            api_addr: status.api_addr,
        }))
    }
}
