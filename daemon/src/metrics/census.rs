//! A census of the replicated state: every number behind the cluster-wide
//! series, counted in one pass over a [`State`] at a given time. Pure, so
//! the collector holds the state's read lock only while counting, and the
//! tests check the numbers on hand-built states.
//!
//! Token counts are the tasks' settled usage (`Task::tokens_spent`), for
//! masters and worker types alike, so both breakdowns add up to the same
//! total; live attempts' running usage is not settled and not counted.

use std::collections::BTreeMap;

use cortex_consensus::catalog::AssetFilter;
use cortex_consensus::plan::{MasterRole, WorkerType};
use cortex_consensus::run::{Attempt, EscalationKind, Run, RunStatus, Task, TaskState};
use cortex_consensus::state::nodes::NodeStatus;
use cortex_consensus::{ClusterTime, State};

/// Run statuses by their metric label, every one always exported.
pub const RUN_STATUSES: [(RunStatus, &str); 5] = [
    (RunStatus::Pending, "pending"),
    (RunStatus::Running, "running"),
    (RunStatus::Completed, "completed"),
    (RunStatus::Failed, "failed"),
    (RunStatus::Cancelled, "cancelled"),
];

/// How an attempt can end, as `AttemptEnd::describe` names it.
pub const OUTCOMES: [&str; 5] = [
    "completed",
    "failed",
    "timed_out",
    "budget_exceeded",
    "fenced",
];

/// Escalation severities, by what the escalation is about.
pub const SEVERITIES: [&str; 2] = ["critical", "high"];

/// Severities of the findings `security-audit` catalogues (each finding
/// asset carries its severity as a tag).
pub const FINDING_SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];

/// Where the tasks of runs not yet ended are, as `cortex_master_tasks`
/// labels them: pending, running, blocked, ended.
pub const TASK_PHASES: [&str; 4] = ["pending", "running", "blocked", "ended"];

/// What one master role's tasks add up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MasterCounts {
    /// Tasks with a live attempt, in runs not yet ended.
    pub tasks_active: u64,
    /// Tasks, of any run, that ended failed, timed out or over budget.
    pub tasks_failed: u64,
    /// Settled tokens of its tasks, every run.
    pub tokens_used: u64,
    /// Attempts started for its tasks, every run.
    pub workers_spawned: u64,
    /// Pending tasks of runs not yet ended.
    pub queue_depth: u64,
    /// Tasks of runs not yet ended, by [`TASK_PHASES`].
    pub tasks: [u64; 4],
    /// Its lease's epoch (0 before it was first taken).
    pub lease_epoch: u64,
    /// Whether a holder's lease is unexpired.
    pub lease_held: bool,
}

/// What one worker type's tasks add up to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerCounts {
    /// Settled tokens, every run.
    pub tokens_used: u64,
    /// Ended attempts by outcome, in [`OUTCOMES`] order.
    pub attempts: [u64; 5],
    /// The largest share of its time limit a live attempt has used (0 when
    /// none is live).
    pub timeout_used_ratio: f64,
}

/// The token accounts of a run that has not ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveRun {
    /// Its id (a label only while the run is active, so bounded).
    pub id: String,
    /// Its budget.
    pub budget: u64,
    /// Settled usage over every master.
    pub used: u64,
    /// Held by live attempts.
    pub reserved: u64,
}

/// Everything the cluster-wide series report.
#[derive(Debug, Clone, PartialEq)]
pub struct Census {
    /// By master role, every role present.
    pub masters: BTreeMap<MasterRole, MasterCounts>,
    /// By worker type, every type present.
    pub workers: BTreeMap<WorkerType, WorkerCounts>,
    /// Runs by status, in [`RUN_STATUSES`] order.
    pub runs: [u64; 5],
    /// Runs not yet ended.
    pub active_runs: Vec<ActiveRun>,
    /// Handoffs made, every run.
    pub handoffs: u64,
    /// Escalations raised, every run, by severity in [`SEVERITIES`] order.
    pub escalations: [u64; 2],
    /// Escalations not yet resolved.
    pub escalations_open: u64,
    /// Nodes alive.
    pub nodes_alive: u64,
    /// Nodes lost.
    pub nodes_lost: u64,
    /// Catalog assets by type.
    pub assets: Vec<(String, usize)>,
    /// Finding assets by [`FINDING_SEVERITIES`].
    pub findings: [u64; 4],
}

impl Census {
    /// Counts `state` as of `now` (wall-clock ms since the epoch: the
    /// leader's clock, which also stamps the entries).
    pub fn of(state: &State, now: ClusterTime) -> Census {
        let mut census = Census {
            masters: MasterRole::ALL
                .iter()
                .map(|role| (*role, MasterCounts::default()))
                .collect(),
            workers: WorkerType::ALL
                .iter()
                .map(|worker| (*worker, WorkerCounts::default()))
                .collect(),
            runs: [0; 5],
            active_runs: Vec::new(),
            handoffs: 0,
            escalations: [0; 2],
            escalations_open: 0,
            nodes_alive: 0,
            nodes_lost: 0,
            assets: state.catalog.stats().by_type,
            findings: FINDING_SEVERITIES.map(|severity| {
                let filter = AssetFilter {
                    kind: Some("finding".into()),
                    tag: Some(severity.into()),
                    ..AssetFilter::default()
                };
                state.catalog.count(&filter) as u64
            }),
        };
        for run in state.runs.values() {
            census.count_run(run, now);
        }
        for (role, lease) in &state.leases.held {
            let master = census.masters.entry(*role).or_default();
            master.lease_epoch = lease.epoch;
            master.lease_held = lease.expires_at > now;
        }
        for node in state.nodes.by_name.values() {
            match node.status {
                NodeStatus::Alive => census.nodes_alive += 1,
                NodeStatus::Lost => census.nodes_lost += 1,
            }
        }
        census
    }

    fn count_run(&mut self, run: &Run, now: ClusterTime) {
        if let Some(i) = RUN_STATUSES.iter().position(|(s, _)| *s == run.status) {
            self.runs[i] += 1;
        }
        let active = !run.status.is_terminal();
        if active {
            self.active_runs.push(ActiveRun {
                id: run.id.0.clone(),
                budget: run.ledger.total,
                used: run.ledger.accounts.values().map(|a| a.spent).sum(),
                reserved: run.ledger.accounts.values().map(|a| a.reserved).sum(),
            });
        }
        self.handoffs += run.handoffs.len() as u64;
        for escalation in &run.escalations {
            let severity = match escalation.kind {
                EscalationKind::BudgetExhausted { .. } => 0,
                EscalationKind::RetriesExhausted { .. } => 1,
            };
            self.escalations[severity] += 1;
            self.escalations_open += u64::from(escalation.resolution.is_none());
        }
        for task in run.tasks.values() {
            self.count_task(task, active, now);
        }
    }

    fn count_task(&mut self, task: &Task, run_active: bool, now: ClusterTime) {
        let master = self.masters.entry(task.spec.master).or_default();
        master.tokens_used += task.tokens_spent;
        master.workers_spawned += task.attempts.len() as u64;
        master.tasks_failed += u64::from(matches!(
            task.state,
            TaskState::Failed | TaskState::TimedOut | TaskState::BudgetExceeded
        ));
        if run_active {
            master.tasks_active += u64::from(task.state == TaskState::Running);
            master.queue_depth += u64::from(task.state == TaskState::Pending);
            let phase = match task.state {
                TaskState::Pending => 0,
                TaskState::Running => 1,
                TaskState::Blocked => 2,
                _ => 3,
            };
            master.tasks[phase] += 1;
        }
        let worker = self.workers.entry(task.spec.worker).or_default();
        worker.tokens_used += task.tokens_spent;
        for attempt in &task.attempts {
            count_attempt(worker, attempt, task.spec.timeout_ms, run_active, now);
        }
    }
}

fn count_attempt(
    worker: &mut WorkerCounts,
    attempt: &Attempt,
    timeout_ms: u64,
    run_active: bool,
    now: ClusterTime,
) {
    match &attempt.end {
        Some(end) => {
            let outcome = end.describe().0;
            if let Some(i) = OUTCOMES.iter().position(|o| *o == outcome) {
                worker.attempts[i] += 1;
            }
        }
        // Measured from the assignment, the clock the masters expire
        // overdue attempts by.
        None if run_active && timeout_ms > 0 => {
            let elapsed = now.0.saturating_sub(attempt.started_at.0);
            let ratio = elapsed as f64 / timeout_ms as f64;
            worker.timeout_used_ratio = worker.timeout_used_ratio.max(ratio);
        }
        None => {}
    }
}
