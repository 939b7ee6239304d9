//! The leader's proposer: writes that arrive while earlier ones are still
//! on their way through Raft are proposed together as one log entry.
//!
//! Each entry costs the leader's Raft core a round of work (append, an
//! fsync, replication, commit, apply) whatever its size, so under load one
//! entry per write makes that single core the limit while the CPUs idle.
//! Here at most [`IN_FLIGHT`] entries are proposed at a time; writes that
//! arrive meanwhile queue and go out together in the next one. A lone
//! write goes out at once, so batching adds no latency when idle. Every
//! request keeps its own idempotency key and gets its own outcome.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::audit::Actor;
use crate::command::{Batch, ClusterTime, Command, Outcome, Request, RequestId};
use crate::error::ConsensusError;
use crate::store::codec::encoded_len;
use crate::types::Raft;

/// Entries proposed and not yet committed, at most. Two keep the core busy
/// (one being replicated while the next is appended) and let writes that
/// arrive meanwhile pile up into the following entry.
const IN_FLIGHT: usize = 2;
/// Most requests in one entry.
const MAX_REQUESTS: usize = 512;
/// Encoded bytes after which an entry takes no more requests (a larger
/// single request still goes alone), so replication messages stay well
/// under the transport's limit.
const MAX_BYTES: u64 = 256 * 1024;

/// What a committed request answers: its entry's log index and its outcome.
pub type Proposed = Result<(u64, Outcome), ConsensusError>;

/// A write waiting to be proposed; its time is stamped when it is.
struct Waiting {
    request: Request,
    size: u64,
    reply: oneshot::Sender<Proposed>,
}

/// Sends writes to the proposing task of this node.
#[derive(Clone)]
pub struct Proposer {
    queue: mpsc::UnboundedSender<Waiting>,
}

impl Proposer {
    /// Starts the proposing task for `raft`; it ends when every `Proposer`
    /// is dropped.
    pub fn start(raft: Raft) -> Proposer {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(propose_batches(raft, waiting));
        Proposer { queue }
    }

    /// Proposes `command` under `id` for `actor` and waits for its outcome.
    pub async fn propose(&self, id: RequestId, command: Command, actor: Option<Actor>) -> Proposed {
        let size = encoded_len(&command).map_err(|e| ConsensusError::Codec(e.to_string()))?;
        let (reply, answer) = oneshot::channel();
        let request = Request {
            id,
            time: ClusterTime::default(),
            command,
            actor,
        };
        let waiting = Waiting {
            request,
            size,
            reply,
        };
        self.queue
            .send(waiting)
            .map_err(|_| ConsensusError::Stopped("the proposer stopped".into()))?;
        answer
            .await
            .map_err(|_| ConsensusError::Stopped("the proposer stopped".into()))?
    }
}

async fn propose_batches(raft: Raft, mut waiting: mpsc::UnboundedReceiver<Waiting>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut carried: Option<Waiting> = None;
    loop {
        let first = match carried.take() {
            Some(first) => first,
            None => match waiting.recv().await {
                Some(first) => first,
                None => return,
            },
        };
        // Wait for a slot before gathering: writes arriving meanwhile join
        // this entry instead of each taking one.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut bytes = first.size;
        let mut batch = vec![first];
        while batch.len() < MAX_REQUESTS {
            let Ok(next) = waiting.try_recv() else { break };
            if bytes + next.size > MAX_BYTES {
                carried = Some(next);
                break;
            }
            bytes += next.size;
            batch.push(next);
        }
        let raft = raft.clone();
        tokio::spawn(async move {
            commit(&raft, batch).await;
            drop(slot);
        });
    }
}

/// Proposes `batch` as one entry and answers every request in it.
async fn commit(raft: &Raft, batch: Vec<Waiting>) {
    // The leader stamps the time it proposes at; apply uses only this.
    let time = ClusterTime::now();
    let (requests, replies): (Vec<Request>, Vec<_>) = batch
        .into_iter()
        .map(|w| (Request { time, ..w.request }, w.reply))
        .unzip();
    match raft.client_write(Batch(requests)).await {
        Ok(written) => {
            let index = written.log_id.index;
            for (reply, outcome) in replies.into_iter().zip(written.data) {
                let _ = reply.send(Ok((index, outcome)));
            }
        }
        Err(error) => {
            let error = super::handle::write_error(error);
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}
