//! What `GET /v1/runs`, `GET /v1/runs/{id}` and `GET /v1/escalations`
//! answer: plain, serializable views of a [`Run`], so the API and the CLI
//! share one shape and the replicated types can change without breaking
//! clients.
//!
//! Times are cluster time: milliseconds since the Unix epoch.

use std::collections::BTreeMap;

use cortex_consensus::plan::{MasterRole, Priority, WorkerType};
use cortex_consensus::run::ledger::Account;
use cortex_consensus::run::{Attempt, AttemptEnd, Run, RunStatus, Task, TaskState};
use serde::{Deserialize, Serialize};

use super::escalation::{escalations, handoffs, EscalationView, HandoffView};

/// How many tasks are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCounts {
    /// All tasks (plan tasks and handoffs).
    pub total: usize,
    /// Waiting for dependencies, approval, backoff, budget or a node.
    pub pending: usize,
    /// An attempt is live.
    pub running: usize,
    /// Waiting for an escalation to be resolved.
    pub blocked: usize,
    /// Done.
    pub completed: usize,
    /// Ended without success.
    pub failed: usize,
    /// Cancelled with the run, or skipped.
    pub cancelled: usize,
    /// Their budget could not cover them.
    pub budget_exceeded: usize,
    /// Their last attempt ran out of time.
    pub timed_out: usize,
}

impl TaskCounts {
    /// Counts `tasks` by state.
    pub fn of<'a>(tasks: impl IntoIterator<Item = &'a Task>) -> TaskCounts {
        let mut counts = TaskCounts::default();
        for task in tasks {
            counts.total += 1;
            *match task.state {
                TaskState::Pending => &mut counts.pending,
                TaskState::Running => &mut counts.running,
                TaskState::Blocked => &mut counts.blocked,
                TaskState::Completed => &mut counts.completed,
                TaskState::Failed => &mut counts.failed,
                TaskState::Cancelled => &mut counts.cancelled,
                TaskState::BudgetExceeded => &mut counts.budget_exceeded,
                TaskState::TimedOut => &mut counts.timed_out,
            } += 1;
        }
        counts
    }

    /// Tasks in a terminal state.
    pub fn ended(&self) -> usize {
        self.total - self.pending - self.running - self.blocked
    }

    /// Tasks that ended without completing.
    pub fn unsuccessful(&self) -> usize {
        self.ended() - self.completed
    }
}

/// A run's tokens at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenTotals {
    /// Settled usage.
    pub spent: u64,
    /// Held by live attempts.
    pub reserved: u64,
    /// The run's budget.
    pub total: u64,
}

/// One line of `GET /v1/runs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run's id.
    pub id: String,
    /// `metadata.name` of its plan.
    pub name: String,
    /// Where it is in its life.
    pub status: RunStatus,
    /// Why it ended, when it did not simply complete.
    pub reason: Option<String>,
    /// When it was submitted.
    pub submitted_at: u64,
    /// When it ended.
    pub finished_at: Option<u64>,
    /// Tasks by state.
    pub tasks: TaskCounts,
    /// Tokens spent, reserved, and the budget.
    pub tokens: TokenTotals,
}

/// The summary of `run`.
pub fn summary(run: &Run) -> RunSummary {
    RunSummary {
        id: run.id.0.clone(),
        name: run.spec.name.clone(),
        status: run.status,
        reason: run.reason.clone(),
        submitted_at: run.submitted_at.0,
        finished_at: run.finished_at.map(|t| t.0),
        tasks: TaskCounts::of(run.tasks.values()),
        tokens: TokenTotals {
            spent: run.ledger.spent(),
            reserved: run.ledger.reserved(),
            total: run.ledger.total,
        },
    }
}

/// `GET /v1/runs/{id}`: everything about one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    /// The run's id.
    pub id: String,
    /// `metadata.name` of its plan.
    pub name: String,
    /// Where it is in its life.
    pub status: RunStatus,
    /// Why it ended, when it did not simply complete.
    pub reason: Option<String>,
    /// When it was submitted.
    pub submitted_at: u64,
    /// When it ended.
    pub finished_at: Option<u64>,
    /// When it must have ended, if the plan sets a timeout.
    pub deadline: Option<u64>,
    /// Tasks by state.
    pub task_counts: TaskCounts,
    /// Tasks in creation order (plan order, handoffs after).
    pub tasks: Vec<TaskView>,
    /// The token accounts.
    pub ledger: LedgerView,
    /// Attempts per node, from the tasks' attempts.
    pub nodes: BTreeMap<String, NodeCounts>,
    /// Handoffs made by completed tasks.
    pub handoffs: Vec<HandoffView>,
    /// Escalations raised in this run, oldest first.
    pub escalations: Vec<EscalationView>,
}

/// One task of [`RunDetail`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    /// Its id.
    pub id: String,
    /// The master that schedules and pays for it.
    pub master: MasterRole,
    /// Its worker type.
    pub worker: WorkerType,
    /// Scheduling priority.
    pub priority: Priority,
    /// Its phase, if the plan has phases.
    pub phase: Option<String>,
    /// Tasks that must complete first.
    pub depends_on: Vec<String>,
    /// Where it is.
    pub state: TaskState,
    /// Why it ended, or why it waits.
    pub reason: Option<String>,
    /// Whether it waits for an approval before starting.
    pub approval_required: bool,
    /// Whether that approval was given.
    pub approved: bool,
    /// Tokens reserved for each attempt.
    pub budget: u64,
    /// Settled tokens across attempts.
    pub tokens_spent: u64,
    /// When it was created.
    pub created_at: u64,
    /// When it ended.
    pub finished_at: Option<u64>,
    /// Its attempts, oldest first.
    pub attempts: Vec<AttemptView>,
    /// The worker's result (JSON text), once there is one.
    pub result: Option<String>,
}

/// One attempt of a [`TaskView`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptView {
    /// 1 for the first attempt.
    pub number: u32,
    /// The node it ran on.
    pub node: String,
    /// When it was assigned.
    pub started_at: u64,
    /// When its node started the worker (absent until then).
    #[serde(default)]
    pub launched_at: Option<u64>,
    /// When it ended.
    pub ended_at: Option<u64>,
    /// Tokens reserved for it.
    pub reserved: u64,
    /// Tokens reported so far.
    pub tokens_used: u64,
    /// Last progress percentage.
    pub progress: u8,
    /// Last progress message.
    pub message: Option<String>,
    /// How it ended: `completed`, `failed`, `timed_out`, `budget_exceeded`
    /// or `fenced`; absent while it is live.
    pub end: Option<String>,
    /// The error or the fencing reason, for the ends that have one.
    pub end_reason: Option<String>,
}

/// One master's account in [`LedgerView`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    /// What it may have spent and reserved at most (pools, grants, moves).
    pub allocation: u64,
    /// The plan's personal pool.
    pub personal: u64,
    /// The plan's workers pool.
    pub workers: u64,
    /// Drawn from the emergency reserve.
    pub granted: u64,
    /// Received from other masters.
    pub moved_in: u64,
    /// Given to other masters.
    pub moved_out: u64,
    /// Settled usage.
    pub spent: u64,
    /// Held by live attempts.
    pub reserved: u64,
    /// What it can still reserve.
    pub available: u64,
    /// Usage reported beyond reservations (never charged).
    pub overrun: u64,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        AccountView {
            allocation: a.limit(),
            personal: a.personal,
            workers: a.workers,
            granted: a.granted,
            moved_in: a.moved_in,
            moved_out: a.moved_out,
            spent: a.spent,
            reserved: a.reserved,
            available: a.available(),
            overrun: a.overrun,
        }
    }
}

/// The ledger of [`RunDetail`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerView {
    /// The run's budget.
    pub total: u64,
    /// The emergency reserve the plan set aside.
    pub emergency_reserve: u64,
    /// What is left of it.
    pub emergency_reserve_left: u64,
    /// Settled usage of the whole run.
    pub spent: u64,
    /// Held by live attempts.
    pub reserved: u64,
    /// Per-master accounts.
    pub masters: BTreeMap<MasterRole, AccountView>,
}

/// Attempts of one node, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCounts {
    /// Live attempts.
    pub running: usize,
    /// Attempts that completed.
    pub completed: usize,
    /// Attempts that failed, timed out or used up their reservation.
    pub failed: usize,
    /// Attempts the cluster stopped (node lost, cancelled, deadline).
    pub fenced: usize,
}

/// The detail view of `run`.
pub fn detail(run: &Run) -> RunDetail {
    let ledger = &run.ledger;
    RunDetail {
        id: run.id.0.clone(),
        name: run.spec.name.clone(),
        status: run.status,
        reason: run.reason.clone(),
        submitted_at: run.submitted_at.0,
        finished_at: run.finished_at.map(|t| t.0),
        deadline: run.deadline.map(|t| t.0),
        task_counts: TaskCounts::of(run.tasks.values()),
        tasks: tasks_in_order(run).map(task_view).collect(),
        ledger: LedgerView {
            total: ledger.total,
            emergency_reserve: run.spec.budget.emergency_reserve,
            emergency_reserve_left: ledger.reserve_left,
            spent: ledger.spent(),
            reserved: ledger.reserved(),
            masters: ledger
                .accounts
                .iter()
                .map(|(m, a)| (*m, a.into()))
                .collect(),
        },
        nodes: node_counts(run),
        handoffs: handoffs(run),
        escalations: escalations(run),
    }
}

/// The tasks of `run` in creation order.
pub fn tasks_in_order(run: &Run) -> impl Iterator<Item = &Task> {
    run.order.iter().filter_map(|id| run.tasks.get(id))
}

/// Attempts per node across the run.
pub fn node_counts(run: &Run) -> BTreeMap<String, NodeCounts> {
    let mut nodes: BTreeMap<String, NodeCounts> = BTreeMap::new();
    for attempt in run.tasks.values().flat_map(|t| &t.attempts) {
        let counts = nodes.entry(attempt.node.clone()).or_default();
        match attempt.end {
            None => counts.running += 1,
            Some(AttemptEnd::Completed) => counts.completed += 1,
            Some(AttemptEnd::Fenced(_)) => counts.fenced += 1,
            Some(_) => counts.failed += 1,
        }
    }
    nodes
}

fn task_view(task: &Task) -> TaskView {
    let spec = &task.spec;
    TaskView {
        id: spec.id.0.clone(),
        master: spec.master,
        worker: spec.worker,
        priority: spec.priority,
        phase: spec.phase.clone(),
        depends_on: spec.depends_on.iter().map(|d| d.0.clone()).collect(),
        state: task.state,
        reason: task.reason.clone(),
        approval_required: spec.approval_required,
        approved: task.approved,
        budget: spec.budget,
        tokens_spent: task.tokens_spent,
        created_at: task.created_at.0,
        finished_at: task.finished_at.map(|t| t.0),
        attempts: task.attempts.iter().map(attempt_view).collect(),
        result: task.result.clone(),
    }
}

fn attempt_view(attempt: &Attempt) -> AttemptView {
    let (end, end_reason) = match &attempt.end {
        None => (None, None),
        Some(end) => {
            let (kind, reason) = end.describe();
            (Some(kind.to_string()), reason)
        }
    };
    AttemptView {
        number: attempt.number,
        node: attempt.node.clone(),
        started_at: attempt.started_at.0,
        launched_at: attempt.launched_at.map(|t| t.0),
        ended_at: attempt.ended_at.map(|t| t.0),
        reserved: attempt.reserved,
        tokens_used: attempt.tokens_used,
        progress: attempt.progress,
        message: attempt.message.clone(),
        end,
        end_reason,
    }
}

/// How a unit enum is spelled on the wire (`budget_exceeded`, `running`).
pub fn wire_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        Ok(other) => other.to_string(),
        Err(_) => String::from("?"),
    }
}
