//! What one scenario run observed: the faults it injected, the runs it
//! submitted and how the cluster answered, every read of a run or of the
//! leases made while the faults were on, the side effects workers left
//! behind, and the runs as they ended.
//!
//! The history is plain data so the checkers in [`crate::checkers`] can be
//! pure functions over it, as in Jepsen: the scenario records, the checkers
//! judge afterwards, and a history can be saved and judged again. The run
//! snapshots deserialize straight from the `GET /v1/runs/{id}` JSON, leniently
//! (unknown fields ignored, missing or `null` fields read as their default), so
//! this crate models the wire shape itself and never depends on the daemon.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize};

/// Milliseconds since the Unix epoch, by this machine's wall clock (the
/// daemons run on this machine, so the cluster stamps with the same clock).
pub type Millis = u64;

/// Run statuses after which nothing changes.
pub const TERMINAL_RUN_STATUSES: [&str; 3] = ["completed", "failed", "cancelled"];
/// Task states after which nothing changes.
pub const TERMINAL_TASK_STATES: [&str; 5] = [
    "completed",
    "failed",
    "cancelled",
    "budget_exceeded",
    "timed_out",
];
/// Task states of a task that may still change.
pub const LIVE_TASK_STATES: [&str; 3] = ["pending", "running", "blocked"];
/// How an attempt can end (`AttemptView::end`).
pub const ATTEMPT_ENDS: [&str; 5] = [
    "completed",
    "failed",
    "timed_out",
    "budget_exceeded",
    "fenced",
];
/// Faults after which a node's applied state may legitimately trail what it
/// showed before: the process replays its log from the last snapshot, or
/// from nothing after a wipe.
pub const STATE_RESETTING_FAULTS: [&str; 3] = ["kill", "restart", "wipe"];

/// Reads `null` as the type's default, so a field the API sends as `null`
/// does not fail the whole snapshot.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Everything one scenario run (one scenario, one seed) observed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct History {
    /// The scenario's name, for the report.
    pub scenario: String,
    /// The seed that chose the faults and their times; re-running with it
    /// replays the same schedule.
    pub seed: u64,
    /// When the scenario began; the report shows times relative to it.
    pub started_at: Millis,
    /// Faults injected and healed, in the order they happened.
    pub faults: Vec<FaultRecord>,
    /// Every run submission and how the cluster answered.
    pub submissions: Vec<Submission>,
    /// Reads of runs while the scenario ran, from whichever node answered.
    pub polls: Vec<RunPoll>,
    /// Reads of the master leases, one per voter per poll.
    pub lease_polls: Vec<LeasePoll>,
    /// What workers wrote to the shared effects file.
    pub effects: Vec<SideEffect>,
    /// Every acknowledged run, read after the faults stopped and the runs
    /// ended (or the deadline passed).
    pub finals: Vec<RunSnapshot>,
    /// When the faults stopped and when everything had ended.
    pub heal: HealRecord,
    /// How long the cluster took to recover from faults, as the runner
    /// measured it.
    pub recovery: Vec<Recovery>,
}

/// One fault injected (or healed) by the scenario.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultRecord {
    /// When it was injected.
    pub at: Millis,
    /// What: `kill`, `pause`, `resume`, `restart`, `partition`, `heal`,
    /// `wipe`, `redis-down`, ...
    pub fault: String,
    /// The hosts it hit, separated by commas, spaces or `|` (a partition
    /// names both sides).
    pub target: String,
    /// Anything else worth knowing (which side of a partition, ...).
    pub note: String,
}

impl FaultRecord {
    /// The host names in [`FaultRecord::target`].
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.target
            .split(|c: char| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
            .filter(|host| !host.is_empty())
    }

    /// Whether this fault hit `host` (`all` or `*` hits every host).
    pub fn hits(&self, host: &str) -> bool {
        self.target.trim() == "*" || self.targets().any(|t| t == host || t == "all")
    }

    /// Whether the hit nodes may come back with older applied state.
    pub fn resets_state(&self) -> bool {
        STATE_RESETTING_FAULTS.contains(&self.fault.as_str())
    }
}

/// One `POST /v1/runs` and its outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Submission {
    /// When it was sent.
    pub at: Millis,
    /// The plan's name, to tell submissions apart.
    pub name: String,
    /// What the cluster answered.
    pub outcome: SubmitOutcome,
}

impl Submission {
    /// The run id, if the submission was acknowledged.
    pub fn run_id(&self) -> Option<&str> {
        match &self.outcome {
            SubmitOutcome::Acked { run_id } => Some(run_id),
            _ => None,
        }
    }
}

/// How a submission ended, from the client's side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SubmitOutcome {
    /// Committed: the run must exist from now on.
    Acked {
        /// The id the cluster gave the run.
        run_id: String,
    },
    /// Answered with an error status: the run must not exist (unless an
    /// earlier, unknown attempt created it).
    Refused {
        /// The HTTP status.
        status: u16,
        /// The response body, for the report.
        body: String,
    },
    /// No answer (timeout, connection reset): the run may or may not exist.
    Unknown {
        /// What the client saw.
        error: String,
    },
}

impl Default for SubmitOutcome {
    fn default() -> Self {
        SubmitOutcome::Unknown {
            error: String::new(),
        }
    }
}

/// One read of a run while the scenario ran.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunPoll {
    /// When the answer arrived.
    pub at: Millis,
    /// The host that answered; reads come from its applied state, which may
    /// trail the leader's.
    pub via: String,
    /// What it answered.
    pub run: RunSnapshot,
}

/// One voter's view of the master leases (`GET /v1/cluster`, `leases`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LeasePoll {
    /// When the answer arrived.
    pub at: Millis,
    /// The voter that answered.
    pub via: String,
    /// The leases it knows of.
    pub leases: Vec<LeaseObservation>,
}

/// One lease as a voter reported it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LeaseObservation {
    /// The master role (`coordinator`, `security`, ...).
    #[serde(deserialize_with = "null_as_default")]
    pub role: String,
    /// The node id of the voter holding it.
    #[serde(deserialize_with = "null_as_default")]
    pub holder: u64,
    /// Its fencing epoch: one holder per epoch, per role.
    #[serde(deserialize_with = "null_as_default")]
    pub epoch: u64,
    /// When it lapses unless renewed (cluster time).
    #[serde(deserialize_with = "null_as_default")]
    pub expires_at: Millis,
}

/// One line a worker appended to the shared effects file before it reported
/// the step: proof that an attempt acted at that time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SideEffect {
    /// The run.
    pub run_id: String,
    /// The task.
    pub task: String,
    /// The attempt number the worker was started as.
    pub attempt: u32,
    /// The step within the attempt.
    pub step: u32,
    /// When the line was written.
    pub at: Millis,
}

/// When the scenario stopped the faults and when the runs had all ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealRecord {
    /// Every fault healed from this time on.
    pub faults_stopped_at: Millis,
    /// How long after that the runs had to end.
    pub deadline_ms: u64,
    /// When the runner saw every acknowledged run ended; `None` if they did
    /// not by the deadline.
    pub all_ended_at: Option<Millis>,
}

/// A recovery time the runner measured after a fault.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Recovery {
    /// What recovered: `leader`, `leases` or `reassignment`.
    pub what: String,
    /// The fault it recovered from (its kind and target).
    pub after_fault: String,
    /// How long it took.
    pub millis: u64,
}

/// A run as `GET /v1/runs/{id}` shows it (only what the checkers need).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunSnapshot {
    /// The run's id.
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// `pending`, `running`, `completed`, `failed` or `cancelled`.
    #[serde(deserialize_with = "null_as_default")]
    pub status: String,
    /// Tasks in creation order.
    #[serde(deserialize_with = "null_as_default")]
    pub tasks: Vec<TaskSnapshot>,
    /// The token accounts.
    #[serde(deserialize_with = "null_as_default")]
    pub ledger: LedgerSnapshot,
}

impl RunSnapshot {
    /// Whether the run has ended.
    pub fn is_ended(&self) -> bool {
        TERMINAL_RUN_STATUSES.contains(&self.status.as_str())
    }

    /// The task `id`, if the run has it.
    pub fn task(&self, id: &str) -> Option<&TaskSnapshot> {
        self.tasks.iter().find(|task| task.id == id)
    }

    /// Every attempt of every task.
    pub fn attempts(&self) -> impl Iterator<Item = (&TaskSnapshot, &AttemptSnapshot)> {
        self.tasks
            .iter()
            .flat_map(|task| task.attempts.iter().map(move |a| (task, a)))
    }
}

/// One task of a [`RunSnapshot`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskSnapshot {
    /// Its id, unique within the run.
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// The master role that schedules and pays for it.
    #[serde(deserialize_with = "null_as_default")]
    pub master: String,
    /// One of [`LIVE_TASK_STATES`] or [`TERMINAL_TASK_STATES`].
    #[serde(deserialize_with = "null_as_default")]
    pub state: String,
    /// When it ended.
    pub finished_at: Option<Millis>,
    /// Tokens reserved for each attempt.
    #[serde(deserialize_with = "null_as_default")]
    pub budget: u64,
    /// Settled tokens across attempts.
    #[serde(deserialize_with = "null_as_default")]
    pub tokens_spent: u64,
    /// Tasks that must complete first.
    #[serde(deserialize_with = "null_as_default")]
    pub depends_on: Vec<String>,
    /// Why it ended, or why it waits.
    pub reason: Option<String>,
    /// Its attempts, oldest first.
    #[serde(deserialize_with = "null_as_default")]
    pub attempts: Vec<AttemptSnapshot>,
}

impl TaskSnapshot {
    /// Whether the task has ended (one of [`TERMINAL_TASK_STATES`]).
    pub fn is_terminal(&self) -> bool {
        TERMINAL_TASK_STATES.contains(&self.state.as_str())
    }

    /// Attempts without an end.
    pub fn live_attempts(&self) -> impl Iterator<Item = &AttemptSnapshot> {
        self.attempts.iter().filter(|a| a.is_live())
    }

    /// The attempt numbered `number`.
    pub fn attempt(&self, number: u32) -> Option<&AttemptSnapshot> {
        self.attempts.iter().find(|a| a.number == number)
    }

    /// The highest attempt number, 0 before the first attempt.
    pub fn last_attempt_number(&self) -> u32 {
        self.attempts.iter().map(|a| a.number).max().unwrap_or(0)
    }
}

/// One attempt of a [`TaskSnapshot`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AttemptSnapshot {
    /// 1 for the first attempt; the fencing token of its reports.
    #[serde(deserialize_with = "null_as_default")]
    pub number: u32,
    /// The node it ran on.
    #[serde(deserialize_with = "null_as_default")]
    pub node: String,
    /// When it was assigned.
    #[serde(deserialize_with = "null_as_default")]
    pub started_at: Millis,
    /// When it ended.
    pub ended_at: Option<Millis>,
    /// One of [`ATTEMPT_ENDS`]; absent while it is live.
    pub end: Option<String>,
    /// The error or the fencing reason.
    pub end_reason: Option<String>,
    /// Tokens reserved for it.
    #[serde(deserialize_with = "null_as_default")]
    pub reserved: u64,
    /// Tokens it reported.
    #[serde(deserialize_with = "null_as_default")]
    pub tokens_used: u64,
}

impl AttemptSnapshot {
    /// Whether it has not ended.
    pub fn is_live(&self) -> bool {
        self.end.is_none()
    }

    /// Whether the cluster fenced it off.
    pub fn is_fenced(&self) -> bool {
        self.end.as_deref() == Some("fenced")
    }
}

/// The token accounts of a [`RunSnapshot`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LedgerSnapshot {
    /// The run's budget.
    #[serde(deserialize_with = "null_as_default")]
    pub total: u64,
    /// Set aside for explicit grants.
    #[serde(deserialize_with = "null_as_default")]
    pub emergency_reserve: u64,
    /// Settled usage of the whole run.
    #[serde(deserialize_with = "null_as_default")]
    pub spent: u64,
    /// Held by live attempts.
    #[serde(deserialize_with = "null_as_default")]
    pub reserved: u64,
    /// Per-master accounts, by role.
    #[serde(deserialize_with = "null_as_default")]
    pub masters: BTreeMap<String, AccountSnapshot>,
}

/// One master's account in a [`LedgerSnapshot`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountSnapshot {
    /// What it may have spent and reserved at most (grants included).
    #[serde(deserialize_with = "null_as_default")]
    pub allocation: u64,
    /// Drawn from the emergency reserve.
    #[serde(deserialize_with = "null_as_default")]
    pub granted: u64,
    /// Settled usage.
    #[serde(deserialize_with = "null_as_default")]
    pub spent: u64,
    /// Held by live attempts.
    #[serde(deserialize_with = "null_as_default")]
    pub reserved: u64,
    /// Usage reported beyond reservations; must stay zero.
    #[serde(deserialize_with = "null_as_default")]
    pub overrun: u64,
}

impl History {
    /// Run ids of the acknowledged submissions.
    pub fn acked_run_ids(&self) -> BTreeSet<&str> {
        self.submissions
            .iter()
            .filter_map(Submission::run_id)
            .collect()
    }

    /// The final snapshot of run `id`.
    pub fn final_run(&self, id: &str) -> Option<&RunSnapshot> {
        self.finals.iter().find(|run| run.id == id)
    }

    /// Polls of run `id`, oldest first (ties keep their recorded order).
    pub fn polls_of(&self, id: &str) -> Vec<&RunPoll> {
        let mut polls: Vec<&RunPoll> = self.polls.iter().filter(|p| p.run.id == id).collect();
        polls.sort_by_key(|p| p.at);
        polls
    }

    /// The fault that reset `host`'s applied state after `after` and at or
    /// before `until`, if any (see [`STATE_RESETTING_FAULTS`]).
    pub fn reset_between(&self, host: &str, after: Millis, until: Millis) -> Option<&FaultRecord> {
        self.faults
            .iter()
            .find(|f| f.resets_state() && f.at > after && f.at <= until && f.hits(host))
    }

    /// The latest time anything in the history happened.
    pub fn last_event_at(&self) -> Millis {
        let times = [
            self.faults.iter().map(|f| f.at).max(),
            self.submissions.iter().map(|s| s.at).max(),
            self.polls.iter().map(|p| p.at).max(),
            self.lease_polls.iter().map(|p| p.at).max(),
            self.effects.iter().map(|e| e.at).max(),
            Some(self.heal.faults_stopped_at),
            self.heal.all_ended_at,
        ];
        times
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(self.started_at)
            .max(self.started_at)
    }

    /// How long the scenario ran, from its start to the last thing observed.
    pub fn duration_ms(&self) -> u64 {
        self.last_event_at() - self.started_at
    }
}

#[cfg(test)]
mod tests;
