//! The client side of the Raft protocol: how openraft on this node reaches a peer.

use std::future::Future;
use std::time::Duration;

use openraft::error::{
    Infallible, InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{de::DeserializeOwned, Serialize};
use tonic::transport::Channel;

use super::proto::raft_internal_client::RaftInternalClient;
use super::proto::Payload;
use super::{Channels, MAX_MESSAGE_BYTES};
use crate::store::codec::{decode, encode};
use crate::types::{NodeAddr, NodeId, TypeConfig};

/// Hands openraft one [`PeerClient`] per replication target.
#[derive(Clone)]
pub struct NetworkFactory {
    channels: Channels,
}

impl NetworkFactory {
    /// A factory sharing `channels` with the rest of the node.
    pub fn new(channels: Channels) -> Self {
        NetworkFactory { channels }
    }
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &NodeAddr) -> PeerClient {
        PeerClient {
            target,
            node: node.clone(),
            channel: self
                .channels
                .get(&node.raft_addr)
                .map_err(|e| e.to_string()),
        }
    }
}

/// The Raft RPCs to one peer.
pub struct PeerClient {
    target: NodeId,
    node: NodeAddr,
    /// An invalid address is reported on every call rather than panicking.
    channel: Result<Channel, String>,
}

type RpcResult<T, E> = Result<T, RPCError<NodeId, NodeAddr, RaftError<NodeId, E>>>;

impl PeerClient {
    async fn send<Req, Resp, E, F, Fut>(
        &self,
        request: &Req,
        ttl: Duration,
        rpc: F,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
        F: FnOnce(RaftInternalClient<Channel>, tonic::Request<Payload>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Payload>, tonic::Status>>,
    {
        let channel = self
            .channel
            .clone()
            .map_err(|e| RPCError::Unreachable(Unreachable::new(&std::io::Error::other(e))))?;
        let client = RaftInternalClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let data = encode(request).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let mut grpc_request = tonic::Request::new(Payload { data });
        grpc_request.set_timeout(ttl);
        let reply = match tokio::time::timeout(ttl, rpc(client, grpc_request)).await {
            Ok(Ok(reply)) => reply.into_inner(),
            Ok(Err(status)) => return Err(status_to_rpc_error(status)),
            Err(elapsed) => return Err(RPCError::Unreachable(Unreachable::new(&elapsed))),
        };
        let answer: Result<Resp, RaftError<NodeId, E>> =
            decode(&reply.data).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        answer.map_err(|e| {
            RPCError::RemoteError(RemoteError::new_with_node(
                self.target,
                self.node.clone(),
                e,
            ))
        })
    }
}

fn status_to_rpc_error<E: std::error::Error>(
    status: tonic::Status,
) -> RPCError<NodeId, NodeAddr, RaftError<NodeId, E>> {
    match status.code() {
        // Refused or dropped connections: openraft backs off before retrying.
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
            RPCError::Unreachable(Unreachable::new(&status))
        }
        _ => RPCError::Network(NetworkError::new(&status)),
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>, Infallible> {
        self.send(&rpc, option.hard_ttl(), |mut c, r| async move {
            c.append_entries(r).await
        })
        .await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        self.send(&rpc, option.hard_ttl(), |mut c, r| async move {
            c.install_snapshot(r).await
        })
        .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>, Infallible> {
        self.send(&rpc, option.hard_ttl(), |mut c, r| async move {
            c.vote(r).await
        })
        .await
    }
}
