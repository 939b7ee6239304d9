//! Runs: their tasks, attempts and ledger, and the transitions the state
//! machine applies to them. Pure data and functions of cluster time.
//!
//! Every task ends in exactly one terminal state with a reason. An attempt
//! is live from its assignment to its report, fencing, or expiry; a report
//! naming any other attempt number is rejected, which is what stops a zombie
//! worker on a partitioned node from changing anything.

pub mod ledger;
mod task;
mod transitions;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::command::ClusterTime;
use crate::plan::{RunSpec, TaskId};

pub use ledger::{Ledger, LedgerError, Settlement};
pub use task::{Attempt, AttemptEnd, AttemptLogs, Task, TaskState};
pub use transitions::{AttemptReport, Handoff, RunError};

/// A run's id (chosen by the API when the run is submitted).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RunId(pub String);

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Submitted; no attempt has started yet.
    Pending,
    /// At least one attempt started; tasks are pending or running.
    Running,
    /// Every task completed.
    Completed,
    /// Every task ended, at least one not completed, or the deadline passed.
    Failed,
    /// Cancelled through the API.
    Cancelled,
}

impl RunStatus {
    /// Whether the run has ended.
    pub fn is_terminal(self) -> bool {
        !matches!(self, RunStatus::Pending | RunStatus::Running)
    }
}

/// One submitted run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// Its id.
    pub id: RunId,
    /// The validated plan.
    pub spec: RunSpec,
    /// Lifecycle.
    pub status: RunStatus,
    /// Why it ended, when it did not simply complete.
    pub reason: Option<String>,
    /// When it was submitted.
    pub submitted_at: ClusterTime,
    /// When it ended.
    pub finished_at: Option<ClusterTime>,
    /// When it must have ended.
    pub deadline: Option<ClusterTime>,
    /// Tasks by id (plan tasks and handoffs).
    pub tasks: BTreeMap<TaskId, Task>,
    /// Task ids in creation order, for reports and tie-breaking.
    pub order: Vec<TaskId>,
    /// The token accounts.
    pub ledger: Ledger,
    /// Handoffs made by completed tasks: (from, created).
    pub handoffs: Vec<(TaskId, TaskId)>,
    /// Escalations raised in this run, oldest first.
    pub escalations: Vec<Escalation>,
}

/// Something that needs a person: a critical task that cannot get budget,
/// or that used up its retries. Its task waits (`blocked`) until resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    /// `<run>-<n>`.
    pub id: String,
    /// The task it is about.
    pub task: TaskId,
    /// What happened.
    pub kind: EscalationKind,
    /// When it was raised.
    pub raised_at: ClusterTime,
    /// How it was resolved, once it was.
    pub resolution: Option<Resolution>,
    /// When.
    pub resolved_at: Option<ClusterTime>,
}

/// What an escalation is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationKind {
    /// The master cannot cover the task's budget.
    BudgetExhausted {
        /// Tokens the task needs.
        needed: u64,
        /// Tokens its master has.
        available: u64,
    },
    /// Every allowed attempt failed.
    RetriesExhausted {
        /// The last attempt's error.
        error: String,
    },
}

/// How a person resolved an escalation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Draw this many tokens from the emergency reserve for the task's master, then retry.
    GrantReserve {
        /// Tokens granted.
        amount: u64,
    },
    /// Allow one more attempt.
    Retry,
    /// Give up on the task.
    Cancel,
}

impl Run {
    /// A new run at `now`, every task pending.
    pub fn new(id: RunId, spec: RunSpec, now: ClusterTime) -> Run {
        let ledger = Ledger::open(&spec);
        let mut tasks = BTreeMap::new();
        let mut order = Vec::new();
        for (index, task) in spec.tasks.iter().enumerate() {
            order.push(task.id.clone());
            tasks.insert(task.id.clone(), Task::new(task.clone(), index, now));
        }
        Run {
            id,
            deadline: spec.timeout_ms.map(|ms| now.plus_millis(ms)),
            spec,
            status: RunStatus::Pending,
            reason: None,
            submitted_at: now,
            finished_at: None,
            tasks,
            order,
            ledger,
            handoffs: Vec::new(),
            escalations: Vec::new(),
        }
    }
}
