//! What can be written to the log, and what applying it answers.
//!
//! A [`Request`] is one log entry's payload. It carries everything `apply`
//! needs to be deterministic: the leader-stamped [`ClusterTime`] (no node reads
//! its own clock while applying) and the client's [`RequestId`], so a command
//! retried after a lost reply or a leader change is applied once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::audit::{Actor, OutsideChange};
use crate::catalog::{CatalogChange, CatalogCommand, CatalogError};
use crate::plan::{MasterRole, PlanErrors, RunSpec, TaskId};
use crate::run::{AttemptReport, Resolution, RunError, RunId};
use crate::state::leases::{Fence, Lease, LeaseError};
use crate::state::pools::{PoolAnswer, PoolCommand, PoolError};
use crate::types::NodeId;

/// Milliseconds since the Unix epoch as stamped by the leader that proposed an
/// entry. The state machine only ever moves its clock forward
/// (`max(previous, stamped)`), so a leader with a slow clock cannot make time
/// run backwards for the cluster.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct ClusterTime(pub u64);

impl ClusterTime {
    /// The current wall-clock time. Only the leader calls this, when it stamps
    /// an entry it proposes; `apply` never does.
    pub fn now() -> Self {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        ClusterTime(since_epoch.as_millis() as u64)
    }

    /// This time plus `millis`, saturating.
    pub fn plus_millis(self, millis: u64) -> Self {
        ClusterTime(self.0.saturating_add(millis))
    }
}

/// The idempotency key of a client request: the same key applies once, and a
/// retry gets the first application's answer back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId(pub String);

impl RequestId {
    /// Longest key accepted; keys are remembered for a while, so they are kept short.
    pub const MAX_LEN: usize = 128;

    /// A fresh random key (128 bits, hex).
    pub fn random() -> Self {
        RequestId(format!("{:032x}", rand::random::<u128>()))
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One log entry's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Idempotency key chosen by the client; kept across retries.
    pub id: RequestId,
    /// Stamped by the leader when it proposes the entry.
    pub time: ClusterTime,
    /// What to do.
    pub command: Command,
    /// Who asked, when an authenticated caller did (the request is then
    /// audited); `None` for the cluster's own requests.
    pub actor: Option<Actor>,
}

/// One log entry's payload: the requests the leader proposed together
/// (see `node::proposer`), applied in order, each with its own outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch(pub Vec<Request>);

/// A state change.
///
/// Commands an actor issues on behalf of a master-role lease carry its
/// [`Fence`]; reports about an attempt carry the attempt number. Both are
/// checked by `apply`, so a stale actor changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Starts a run (validated again on apply).
    SubmitRun {
        /// Its id.
        run: RunId,
        /// The validated plan.
        spec: RunSpec,
    },
    /// Cancels a run (through the API).
    CancelRun {
        /// The run.
        run: RunId,
        /// Why, for the record.
        reason: String,
    },
    /// Approves a task that requires approval (through the API).
    ApproveTask {
        /// The run.
        run: RunId,
        /// The task.
        task: TaskId,
    },
    /// Resolves an escalation (through the API).
    ResolveEscalation {
        /// The run.
        run: RunId,
        /// The escalation's id.
        escalation: String,
        /// What to do.
        resolution: Resolution,
    },
    /// A node announces itself (again after a restart).
    RegisterNode {
        /// Its name.
        name: String,
        /// Placement labels.
        labels: BTreeMap<String, String>,
        /// Concurrent attempts it accepts.
        capacity: u32,
        /// Its Raft id if it is a voter.
        voter: Option<NodeId>,
    },
    /// A node is alive.
    Heartbeat {
        /// Its name.
        name: String,
    },
    /// Takes or renews a master-role lease.
    AcquireLease {
        /// The role.
        role: MasterRole,
        /// The voter asking.
        holder: NodeId,
        /// How long the lease lasts without renewal.
        ttl_ms: u64,
    },
    /// Gives a lease up early.
    ReleaseLease {
        /// The lease being released.
        fence: Fence,
        /// Its holder.
        holder: NodeId,
    },
    /// Starts an attempt of a task on a node and reserves its budget, atomically.
    AssignTask {
        /// The run.
        run: RunId,
        /// The task.
        task: TaskId,
        /// The attempt number being started (current + 1).
        attempt: u32,
        /// The node chosen.
        node: String,
        /// The task's master lease.
        fence: Fence,
    },
    /// A worker's report about its attempt.
    ReportAttempt {
        /// The run.
        run: RunId,
        /// The task.
        task: TaskId,
        /// The attempt reporting (its fencing token).
        attempt: u32,
        /// What happened.
        report: AttemptReport,
    },
    /// Marks a silent node lost and fences its attempts (coordinator).
    FenceNode {
        /// The node.
        node: String,
        /// Silence that makes it lost.
        timeout_ms: u64,
        /// The coordinator lease.
        fence: Fence,
    },
    /// Ends an attempt past its time limit (its master).
    ExpireAttempt {
        /// The run.
        run: RunId,
        /// The task.
        task: TaskId,
        /// The attempt.
        attempt: u32,
        /// The task's master lease.
        fence: Fence,
    },
    /// Ends a run past its deadline (coordinator).
    ExpireRun {
        /// The run.
        run: RunId,
        /// The coordinator lease.
        fence: Fence,
    },
    /// Records that a ready task's master cannot cover it (its master).
    BudgetShortfall {
        /// The run.
        run: RunId,
        /// The task.
        task: TaskId,
        /// The task's master lease.
        fence: Fence,
    },
    /// Moves unused budget from one master to another (coordinator).
    Reallocate {
        /// The run.
        run: RunId,
        /// The giver.
        from: MasterRole,
        /// The receiver.
        to: MasterRole,
        /// Tokens moved.
        amount: u64,
        /// The coordinator lease.
        fence: Fence,
    },
    /// A change to the asset catalog (discovery batches, GraphQL mutations).
    Catalog(CatalogCommand),
    /// A change to the budget pools (through the API).
    Pool(PoolCommand),
    /// Does nothing but go through the log; used to probe and benchmark writes.
    Noop,
    /// Sets a key of the diagnostic key/value space.
    Put {
        /// The key, 1 to [`Command::MAX_KEY_LEN`] bytes.
        key: String,
        /// The value, at most [`Command::MAX_VALUE_LEN`] bytes.
        value: String,
    },
    /// Records an audited change Raft made outside the state machine
    /// (a membership change); changes nothing else.
    Audit {
        /// What was changed.
        action: OutsideChange,
        /// On what (a voter id).
        target: String,
    },
    /// Removes a key of the diagnostic key/value space.
    Delete {
        /// The key to remove.
        key: String,
    },
}

impl Command {
    /// Longest key of the key/value space.
    pub const MAX_KEY_LEN: usize = 256;
    /// Largest value of the key/value space.
    pub const MAX_VALUE_LEN: usize = 64 * 1024;

    /// Checks what can be checked without the state. The state machine runs
    /// this again on apply; callers run it first so that invalid input never
    /// reaches the log.
    pub fn check(&self) -> Result<(), Rejection> {
        match self {
            Command::SubmitRun { spec, .. } => spec.validate().map_err(Rejection::InvalidPlan),
            Command::Noop => Ok(()),
            Command::Put { key, value } => {
                check_key(key)?;
                if value.len() > Command::MAX_VALUE_LEN {
                    return Err(Rejection::ValueTooLarge {
                        len: value.len(),
                        max: Command::MAX_VALUE_LEN,
                    });
                }
                Ok(())
            }
            Command::Delete { key } => check_key(key),
            Command::Audit { target, .. } => check_key(target),
            Command::Catalog(command) => command.check().map_err(Rejection::Catalog),
            Command::Pool(command) => command.check().map_err(Rejection::Pool),
            Command::ReportAttempt { report, .. } => {
                report.check().map_err(Rejection::InvalidReport)
            }
            _ => Ok(()),
        }
    }
}

fn check_key(key: &str) -> Result<(), Rejection> {
    if key.is_empty() || key.len() > Command::MAX_KEY_LEN {
        return Err(Rejection::BadKey {
            len: key.len(),
            max: Command::MAX_KEY_LEN,
        });
    }
    Ok(())
}

/// What a successfully applied command answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The command had no answer beyond being applied.
    Done,
    /// A `Put` was applied; the value it replaced, if any.
    Put {
        /// Value before the put.
        previous: Option<String>,
    },
    /// A `Delete` was applied.
    Deleted {
        /// Whether the key existed.
        existed: bool,
    },
    /// A lease was granted or renewed.
    Lease(Lease),
    /// A catalog command was applied.
    Catalog(CatalogChange),
    /// A pool command was applied.
    Pool(PoolAnswer),
    /// A node was fenced; this many attempts were ended.
    Fenced {
        /// Attempts fenced.
        attempts: usize,
    },
}

/// Why the state machine refused a command. A rejected command changes
/// nothing, but it is still a log entry, so a retry gets the same rejection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Rejection {
    /// An attempt report is malformed or too large.
    #[error("invalid attempt report: {0}")]
    InvalidReport(String),
    /// The idempotency key is empty or longer than [`RequestId::MAX_LEN`].
    #[error("request id must be 1 to {max} characters, got {len}")]
    BadRequestId {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A key-value key is empty or too long.
    #[error("key must be 1 to {max} bytes, got {len}")]
    BadKey {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The plan does not validate.
    #[error("{0}")]
    InvalidPlan(PlanErrors),
    /// No run with this id.
    #[error("no run {0}")]
    NoRun(RunId),
    /// A run with this id exists.
    #[error("run {0} exists already")]
    RunExists(RunId),
    /// The run refused the transition.
    #[error(transparent)]
    Run(RunError),
    /// A lease refused, or a fenced command carried a stale epoch.
    #[error(transparent)]
    Lease(LeaseError),
    /// A fenced command was issued for the wrong role.
    #[error("task {task} belongs to {owner}, not {given}")]
    WrongRole {
        /// The task.
        task: TaskId,
        /// Its master.
        owner: MasterRole,
        /// The role presented.
        given: MasterRole,
    },
    /// The node cannot take this attempt.
    #[error("node {node} cannot take it: {why}")]
    Placement {
        /// The node.
        node: String,
        /// Why.
        why: String,
    },
    /// The node has not been silent long enough to be declared lost.
    #[error("node {0} is not silent (or unknown, or already lost)")]
    NodeNotSilent(String),
    /// A heartbeat from a node that never registered.
    #[error("node {0} is not registered")]
    UnknownNode(String),
    /// The catalog refused a command.
    #[error("catalog: {0}")]
    Catalog(CatalogError),
    /// A budget pool refused a command.
    #[error(transparent)]
    Pool(PoolError),
    /// The actor's name is empty, too long or has characters other than
    /// letters, digits, `.`, `_` and `-`.
    #[error("actor name must be 1 to {} plain characters", Actor::MAX_NAME_LEN)]
    BadActor,
    /// A key-value value is too large.
    #[error("value must be at most {max} bytes, got {len}")]
    ValueTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl From<RunError> for Rejection {
    fn from(error: RunError) -> Self {
        Rejection::Run(error)
    }
}

impl From<LeaseError> for Rejection {
    fn from(error: LeaseError) -> Self {
        Rejection::Lease(error)
    }
}

/// The result of applying one entry, as replicated and returned to the client.
pub type Outcome = Result<Response, Rejection>;
