//! Events: what watchers see of the cluster.
//!
//! Two kinds, one envelope ([`Event`], JSON with a schema version):
//!
//! * **Replicated** events are derived from the applied log ([`derive`]):
//!   every voter computes the same events with the same ids (`<log index>.<n>`)
//!   from the same entries, so a watcher may resume on any voter. Each voter
//!   keeps the recent ones in memory ([`feed`]) for resumption.
//! * **Ephemeral** events (`worker.activity`) come straight from the agent
//!   running an attempt, faster than the throttled progress reports that go
//!   through Raft. They have no id and are never replayed: losing one loses
//!   nothing, the next replicated progress report carries the same facts.
//!
//! Events are derived *from* state; nothing ever reads state back from them
//! (nor from Redis, which only fans them out).

pub mod bus;
pub mod derive;
pub mod feed;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::audit::Role;
use crate::plan::MasterRole;
use crate::run::{RunId, RunStatus, TaskState};
use crate::state::nodes::NodeStatus;
use crate::types::NodeId;

pub use bus::Bus;
pub use feed::EventFeed;

/// Version of the event JSON; bumped when a field changes meaning or goes.
pub const SCHEMA_VERSION: u32 = 1;

/// Where a replicated event sits in the log: entry `index`, `n`th event of
/// that entry. Written `index.n`; a bare `index` means "everything up to and
/// including entry `index`" (the position of a snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId {
    /// Log index of the entry that caused the event.
    pub index: u64,
    /// Position among that entry's events (`u32::MAX`: after all of them).
    pub n: u32,
}

impl EventId {
    /// The position after every event of entries up to `index`.
    pub fn through(index: u64) -> EventId {
        EventId { index, n: u32::MAX }
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.n {
            u32::MAX => write!(f, "{}", self.index),
            n => write!(f, "{}.{n}", self.index),
        }
    }
}

/// An event id that is not `index` or `index.n`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event id must be INDEX or INDEX.N (digits), got {0:?}")]
pub struct BadEventId(pub String);

impl FromStr for EventId {
    type Err = BadEventId;

    fn from_str(text: &str) -> Result<EventId, BadEventId> {
        let bad = || BadEventId(text.chars().take(64).collect());
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
        let (index, n) = match text.trim().split_once('.') {
            Some((index, n)) if digits(index) && digits(n) => (index, Some(n)),
            None if digits(text.trim()) => (text.trim(), None),
            _ => return Err(bad()),
        };
        let index = index.parse().map_err(|_| bad())?;
        let n = match n {
            Some(n) => n
                .parse::<u32>()
                .ok()
                .filter(|n| *n < u32::MAX)
                .ok_or_else(bad)?,
            None => u32::MAX,
        };
        Ok(EventId { index, n })
    }
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<EventId, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One event, as published and streamed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// [`SCHEMA_VERSION`] of the producer.
    pub v: u32,
    /// Position in the log; `None` for ephemeral events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<EventId>,
    /// Cluster time (replicated) or the agent's clock (ephemeral), ms since the epoch.
    pub at: u64,
    /// The node that produced an ephemeral event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {
    /// A replicated event.
    pub fn replicated(id: EventId, at: u64, kind: EventKind) -> Event {
        Event {
            v: SCHEMA_VERSION,
            id: Some(id),
            at,
            origin: None,
            kind,
        }
    }

    /// An ephemeral event produced by `origin` now.
    pub fn ephemeral(origin: &str, kind: EventKind) -> Event {
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Event {
            v: SCHEMA_VERSION,
            id: None,
            at,
            origin: Some(origin.to_string()),
            kind,
        }
    }

    /// The run the event is about, if any.
    pub fn run(&self) -> Option<&RunId> {
        self.kind.run()
    }

    /// The fan-out channel it belongs on.
    pub fn channel(&self) -> Channel {
        self.kind.channel()
    }
}

/// What an event says. Serialised with a `type` tag (`task.state`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EventKind {
    /// A run was accepted.
    #[serde(rename = "run.submitted")]
    RunSubmitted {
        /// The run.
        run: RunId,
        /// Its plan's name.
        name: String,
        /// Number of tasks.
        tasks: usize,
        /// Its token budget.
        budget: u64,
    },
    /// A run ended.
    #[serde(rename = "run.finished")]
    RunFinished {
        /// The run.
        run: RunId,
        /// How it ended.
        status: RunStatus,
        /// Why, when not simply completed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A task changed state.
    #[serde(rename = "task.state")]
    TaskState {
        /// The run.
        run: RunId,
        /// The task.
        task: String,
        /// Its master role.
        master: MasterRole,
        /// Its worker type.
        worker: String,
        /// The new state.
        state: TaskState,
        /// Why, for an unsuccessful end.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// An attempt was assigned to a node.
    #[serde(rename = "attempt.started")]
    AttemptStarted {
        /// The run.
        run: RunId,
        /// The task.
        task: String,
        /// Attempt number, from 1.
        attempt: u32,
        /// Its master role.
        master: MasterRole,
        /// The node that runs it.
        node: String,
        /// Tokens reserved for it.
        reserved: u64,
    },
    /// The node started the attempt's worker.
    #[serde(rename = "attempt.launched")]
    AttemptLaunched {
        /// The run.
        run: RunId,
        /// The task.
        task: String,
        /// Attempt number.
        attempt: u32,
        /// The node running it.
        node: String,
    },
    /// A live attempt reported progress (throttled, through Raft).
    #[serde(rename = "attempt.progress")]
    AttemptProgress {
        /// The run.
        run: RunId,
        /// The task.
        task: String,
        /// Attempt number.
        attempt: u32,
        /// Percent done.
        progress: u8,
        /// What it is doing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// Tokens used so far.
        tokens_used: u64,
    },
    /// An attempt ended.
    #[serde(rename = "attempt.ended")]
    AttemptEnded {
        /// The run.
        run: RunId,
        /// The task.
        task: String,
        /// Attempt number.
        attempt: u32,
        /// Its master role.
        master: MasterRole,
        /// The node it ran on.
        node: String,
        /// `completed`, `failed`, `timed_out`, `budget_exceeded` or `fenced`.
        outcome: String,
        /// Tokens it used.
        tokens_used: u64,
        /// The error or the reason it was fenced.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A master's account in a run's ledger changed.
    #[serde(rename = "ledger")]
    Ledger {
        /// The run.
        run: RunId,
        /// The master.
        master: MasterRole,
        /// Settled usage.
        spent: u64,
        /// Held by live attempts.
        reserved: u64,
        /// What it may use in all.
        limit: u64,
    },
    /// A master-role lease changed holder or was released.
    #[serde(rename = "lease")]
    Lease {
        /// The role.
        master: MasterRole,
        /// The voter holding it now; `None` once released.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        holder: Option<NodeId>,
        /// Its fencing epoch.
        epoch: u64,
    },
    /// A node registered, was lost or came back.
    #[serde(rename = "node")]
    Node {
        /// The node.
        node: String,
        /// Its status now.
        status: NodeStatus,
    },
    /// An escalation was raised or resolved.
    #[serde(rename = "escalation")]
    Escalation {
        /// The run.
        run: RunId,
        /// Its id.
        escalation: String,
        /// The task it is about.
        task: String,
        /// `budget_exhausted` or `retries_exhausted`.
        kind: String,
        /// Whether a person resolved it.
        resolved: bool,
    },
    /// A worker handed work to a new task.
    #[serde(rename = "handoff")]
    Handoff {
        /// The run.
        run: RunId,
        /// The task that handed off.
        from: String,
        /// The task created for it.
        to: String,
    },
    /// The catalog changed: counts of one entry's asset changes (per-asset
    /// events are the GraphQL `assetAdded`/`assetUpdated` subscriptions).
    #[serde(rename = "catalog")]
    Catalog {
        /// Assets created.
        added: u64,
        /// Assets updated.
        updated: u64,
        /// Assets removed.
        removed: u64,
        /// The catalog's newest event cursor after the entry.
        cursor: u64,
    },
    /// Someone changed something through the API (see `crate::audit`).
    #[serde(rename = "audit")]
    Audit {
        /// Its position in the audit trail.
        seq: u64,
        /// Who (the token's name).
        actor: String,
        /// With which role.
        role: Role,
        /// What, as `area.verb`.
        action: String,
        /// On what.
        target: String,
        /// Why it was refused, if it was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refused: Option<String>,
    },
    /// Ephemeral: what a worker is doing right now, from its node.
    #[serde(rename = "worker.activity")]
    WorkerActivity {
        /// The run.
        run: RunId,
        /// The task.
        task: String,
        /// Attempt number.
        attempt: u32,
        /// The node running it.
        node: String,
        /// Percent done, if it said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        progress: Option<u8>,
        /// A progress message or a log line.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// Tokens used so far, if it said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tokens_used: Option<u64>,
    },
}

impl EventKind {
    /// The run the event is about, if any.
    pub fn run(&self) -> Option<&RunId> {
        use EventKind::*;
        match self {
            RunSubmitted { run, .. }
            | RunFinished { run, .. }
            | TaskState { run, .. }
            | AttemptStarted { run, .. }
            | AttemptLaunched { run, .. }
            | AttemptProgress { run, .. }
            | AttemptEnded { run, .. }
            | Ledger { run, .. }
            | Escalation { run, .. }
            | Handoff { run, .. }
            | WorkerActivity { run, .. } => Some(run),
            Lease { .. } | Node { .. } | Catalog { .. } | Audit { .. } => None,
        }
    }

    /// The `type` tag it is serialised with (`task.state`, ...).
    pub fn type_name(&self) -> &'static str {
        use EventKind::*;
        match self {
            RunSubmitted { .. } => "run.submitted",
            RunFinished { .. } => "run.finished",
            TaskState { .. } => "task.state",
            AttemptStarted { .. } => "attempt.started",
            AttemptLaunched { .. } => "attempt.launched",
            AttemptProgress { .. } => "attempt.progress",
            AttemptEnded { .. } => "attempt.ended",
            Ledger { .. } => "ledger",
            Lease { .. } => "lease",
            Node { .. } => "node",
            Escalation { .. } => "escalation",
            Handoff { .. } => "handoff",
            Catalog { .. } => "catalog",
            Audit { .. } => "audit",
            WorkerActivity { .. } => "worker.activity",
        }
    }

    /// The seed's Redis channel for this kind of event.
    pub fn channel(&self) -> Channel {
        use EventKind::*;
        match self {
            Lease { .. } | Escalation { .. } | Handoff { .. } => Channel::MastersCoordination,
            AttemptStarted { .. }
            | AttemptLaunched { .. }
            | AttemptProgress { .. }
            | AttemptEnded { .. }
            | WorkerActivity { .. }
            | Node { .. } => Channel::WorkersStatus,
            TaskState { .. } => Channel::TasksQueue,
            RunSubmitted { .. } | RunFinished { .. } | Catalog { .. } | Audit { .. } => {
                Channel::EventsSystem
            }
            Ledger { .. } => Channel::MetricsRealtime,
        }
    }

    /// Whether it comes straight from an agent rather than from the log.
    pub fn is_ephemeral(&self) -> bool {
        matches!(self, EventKind::WorkerActivity { .. })
    }
}

/// The seed's pub/sub channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// Leases, escalations, handoffs.
    MastersCoordination,
    /// Attempts, worker activity, nodes.
    WorkersStatus,
    /// Task state changes.
    TasksQueue,
    /// Runs and the catalog.
    EventsSystem,
    /// Token usage.
    MetricsRealtime,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 5] = [
        Channel::MastersCoordination,
        Channel::WorkersStatus,
        Channel::TasksQueue,
        Channel::EventsSystem,
        Channel::MetricsRealtime,
    ];

    /// The Redis channel name.
    pub fn name(self) -> &'static str {
        match self {
            Channel::MastersCoordination => "cortex:masters:coordination",
            Channel::WorkersStatus => "cortex:workers:status",
            Channel::TasksQueue => "cortex:tasks:queue",
            Channel::EventsSystem => "cortex:events:system",
            Channel::MetricsRealtime => "cortex:metrics:realtime",
        }
    }

    /// The channel called `name`.
    pub fn from_name(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.name() == name)
    }
}

#[cfg(test)]
mod tests;
