//! The replicated state and the pure function that changes it.
//!
//! [`State::apply`] is the only way the state changes. It reads nothing but
//! its arguments: time comes from the entry ([`ClusterTime`]), so every voter
//! computes the same state from the same log. Keeping it pure is what lets
//! the property tests drive it directly, without a cluster.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

pub mod assignments;
pub mod leases;
pub mod nodes;
pub mod pools;
mod runs;

use crate::audit::{Actor, AuditLog};
use crate::catalog::Catalog;
use crate::command::{ClusterTime, Command, Outcome, Rejection, Request, RequestId, Response};
use crate::run::{Run, RunId};
use leases::Leases;
use nodes::Nodes;
use pools::Pools;

/// How long an applied request id is remembered, in cluster time. A client
/// retrying within this window gets the first answer back instead of a second
/// application. Clients give up long before (the handle retries for seconds).
pub const IDEMPOTENCY_WINDOW_MS: u64 = 15 * 60 * 1000;

/// Everything the cluster agrees on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Cluster time of the last applied entry; only moves forward.
    time: ClusterTime,
    /// The diagnostic key/value space (smoke tests, write benchmarks).
    kv: BTreeMap<String, String>,
    /// Answers of recently applied requests, by idempotency key.
    applied: BTreeMap<RequestId, Outcome>,
    /// The same keys in the order (and so the cluster time) they were applied,
    /// so expiry pops from the front instead of scanning.
    applied_order: VecDeque<(ClusterTime, RequestId)>,
    /// Runs by id, finished ones included.
    pub runs: BTreeMap<RunId, Run>,
    /// Master-role leases.
    pub leases: Leases,
    /// Nodes that execute attempts.
    pub nodes: Nodes,
    /// The asset catalog.
    pub catalog: Catalog,
    /// Budget pools shared outside runs.
    pub pools: Pools,
    /// Who changed what through the API.
    pub audit: AuditLog,
    /// Set by a leader change (a blank entry); the next entry's time becomes
    /// `nodes.leader_since`.
    leader_changed: bool,
}

impl State {
    /// Applies one request: advances the clock, answers a retried request from
    /// memory, or executes the command. A rejected command changes nothing
    /// but the clock and the memory of its id.
    pub fn apply(&mut self, request: &Request) -> Outcome {
        self.time = self.time.max(request.time);
        if std::mem::take(&mut self.leader_changed) {
            self.nodes.leader_since = self.time;
        }
        self.expire_applied();

        let id_len = request.id.0.len();
        if id_len == 0 || id_len > RequestId::MAX_LEN {
            return Err(Rejection::BadRequestId {
                len: id_len,
                max: RequestId::MAX_LEN,
            });
        }
        if let Some(previous) = self.applied.get(&request.id) {
            return previous.clone();
        }
        if let Some(actor) = &request.actor {
            if !Actor::valid_name(&actor.name) {
                return Err(Rejection::BadActor);
            }
        }
        let outcome = self.execute(&request.command);
        if let Some(actor) = &request.actor {
            self.audit
                .record(self.time, actor, &request.command, &outcome);
        }
        self.applied.insert(request.id.clone(), outcome.clone());
        self.applied_order
            .push_back((self.time, request.id.clone()));
        outcome
    }

    /// Notes that a new leader took over (openraft's blank entry), so node
    /// silence is counted from the leader's first entry.
    pub fn note_leader_change(&mut self) {
        self.leader_changed = true;
    }

    /// Cluster time as of the last applied entry.
    pub fn time(&self) -> ClusterTime {
        self.time
    }

    /// Reads a key of the key/value space.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.kv.get(key).map(String::as_str)
    }

    /// Number of keys in the key/value space.
    pub fn kv_len(&self) -> usize {
        self.kv.len()
    }

    /// Number of request ids currently remembered for deduplication.
    pub fn remembered_requests(&self) -> usize {
        self.applied.len()
    }

    fn execute(&mut self, command: &Command) -> Outcome {
        command.check()?;
        match command {
            Command::Noop | Command::Audit { .. } => Ok(Response::Done),
            Command::Put { key, value } => {
                let previous = self.kv.insert(key.clone(), value.clone());
                Ok(Response::Put { previous })
            }
            Command::Delete { key } => Ok(Response::Deleted {
                existed: self.kv.remove(key).is_some(),
            }),
            Command::Catalog(command) => self
                .catalog
                .apply(command, self.time)
                .map(Response::Catalog)
                .map_err(Rejection::Catalog),
            Command::Pool(command) => self
                .pools
                .apply(command)
                .map(Response::Pool)
                .map_err(Rejection::Pool),
            other => self.execute_run_command(other),
        }
    }

    fn expire_applied(&mut self) {
        while let Some((at, _)) = self.applied_order.front() {
            if at.plus_millis(IDEMPOTENCY_WINDOW_MS) > self.time {
                break;
            }
            if let Some((_, id)) = self.applied_order.pop_front() {
                self.applied.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests;
