//! The `Agents` service: streams each agent the attempts placed on it.
//!
//! Any voter serves it from its own applied state; a follower may lag the
//! leader by a few entries, which is harmless because every report is
//! fenced by its attempt number. The list is resent as a keepalive so an
//! agent can tell a quiet stream from a dead voter.

use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::proto::agents_server::{Agents, AgentsServer};
use super::proto::{AssignmentsRequest, Payload};
use super::MAX_MESSAGE_BYTES;
use crate::node::ConsensusHandle;
use crate::state::assignments::Assignment;
use crate::store::codec::encode;

/// How often an unchanged list is resent.
pub const KEEPALIVE: Duration = Duration::from_secs(1);

/// Longest node name accepted.
const MAX_NODE_NAME: usize = 253;

/// Serves assignment streams from the local state.
pub struct AgentsService {
    handle: ConsensusHandle,
}

/// The service, ready to add to a tonic router.
pub fn service(handle: ConsensusHandle) -> AgentsServer<AgentsService> {
    AgentsServer::new(AgentsService { handle }).max_encoding_message_size(MAX_MESSAGE_BYTES)
}

type AssignmentStream = Pin<Box<dyn Stream<Item = Result<Payload, Status>> + Send>>;

#[tonic::async_trait]
impl Agents for AgentsService {
    type AssignmentsStream = AssignmentStream;

    #[tracing::instrument(level = "debug", skip_all)]
    async fn assignments(
        &self,
        request: Request<AssignmentsRequest>,
    ) -> Result<Response<Self::AssignmentsStream>, Status> {
        let node = request.into_inner().node;
        if node.is_empty() || node.len() > MAX_NODE_NAME {
            return Err(Status::invalid_argument(format!(
                "node name must be 1 to {MAX_NODE_NAME} bytes"
            )));
        }
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(feed(self.handle.clone(), node, tx));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Sends the list on every change and every keepalive until the agent hangs up.
async fn feed(handle: ConsensusHandle, node: String, tx: mpsc::Sender<Result<Payload, Status>>) {
    let mut changes = handle.state().changes();
    let mut last: Option<Vec<Assignment>> = None;
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    let mut due = true;
    loop {
        let current = handle.state().read(|m| m.state.assignments_for(&node));
        if due || last.as_ref() != Some(&current) {
            let message = encode(&current)
                .map(|data| Payload { data })
                .map_err(|e| Status::internal(format!("encoding assignments: {e}")));
            if tx.send(message).await.is_err() {
                return;
            }
            last = Some(current);
            keepalive.reset();
        }
        due = false;
        tokio::select! {
            _ = changes.changed() => {}
            _ = keepalive.tick() => due = true,
            _ = tx.closed() => return,
        }
    }
}
