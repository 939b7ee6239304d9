//! A task and its attempts.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::command::ClusterTime;
use crate::plan::TaskSpec;

/// Where a task is. The last five are terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting for dependencies, approval, backoff, budget or a node.
    Pending,
    /// An attempt is live.
    Running,
    /// Waiting for an escalation to be resolved (critical tasks only).
    Blocked,
    /// Done.
    Completed,
    /// Ended without success (retries exhausted, a dependency failed, ...).
    Failed,
    /// Cancelled with its run, or skipped.
    Cancelled,
    /// Its budget could not cover it.
    BudgetExceeded,
    /// Its last attempt ran out of time.
    TimedOut,
}

impl TaskState {
    /// Whether the task has ended.
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            TaskState::Pending | TaskState::Running | TaskState::Blocked
        )
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptEnd {
    /// The worker completed.
    Completed,
    /// The worker failed.
    Failed(String),
    /// It ran out of time.
    TimedOut,
    /// Its token reservation was used up and the worker was stopped.
    BudgetExceeded,
    /// Superseded: its node was lost, or its run or task cancelled.
    Fenced(String),
}

impl AttemptEnd {
    /// The outcome's wire name (`completed`, `failed`, `timed_out`,
    /// `budget_exceeded`, `fenced`) and its error or fencing reason.
    pub fn describe(&self) -> (&'static str, Option<String>) {
        match self {
            AttemptEnd::Completed => ("completed", None),
            AttemptEnd::Failed(why) => ("failed", Some(why.clone())),
            AttemptEnd::TimedOut => ("timed_out", None),
            AttemptEnd::BudgetExceeded => ("budget_exceeded", None),
            AttemptEnd::Fenced(why) => ("fenced", Some(why.clone())),
        }
    }
}

/// One execution of a task on one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1 for the first attempt; the fencing token of reports.
    pub number: u32,
    /// The node it runs on.
    pub node: String,
    /// When it was assigned.
    pub started_at: ClusterTime,
    /// When it ended.
    pub ended_at: Option<ClusterTime>,
    /// Tokens reserved for it.
    pub reserved: u64,
    /// Tokens reported so far (cumulative).
    pub tokens_used: u64,
    /// Last progress percentage.
    pub progress: u8,
    /// Last progress message.
    pub message: Option<String>,
    /// How it ended.
    pub end: Option<AttemptEnd>,
    /// When its executor reported that the work started.
    pub launched_at: Option<ClusterTime>,
    /// The newest lines it printed (bounded).
    pub logs: AttemptLogs,
}

/// The tail of an attempt's output, bounded so that a chatty worker cannot
/// grow the replicated state: the oldest lines go first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptLogs {
    /// Kept lines, oldest first.
    pub lines: VecDeque<String>,
    /// Bytes in `lines`.
    bytes: usize,
    /// Lines dropped to stay within the bound.
    pub dropped: u64,
}

impl AttemptLogs {
    /// Bytes of output kept per attempt.
    pub const MAX_BYTES: usize = 64 * 1024;
    /// Longest line kept; longer lines are cut.
    pub const MAX_LINE_BYTES: usize = 2048;

    /// Appends `lines`, dropping the oldest kept lines beyond the bound.
    pub fn append(&mut self, lines: Vec<String>) {
        for mut line in lines {
            if line.len() > Self::MAX_LINE_BYTES {
                let mut end = Self::MAX_LINE_BYTES;
                while !line.is_char_boundary(end) {
                    end -= 1;
                }
                line.truncate(end);
            }
            self.bytes += line.len();
            self.lines.push_back(line);
            while self.bytes > Self::MAX_BYTES {
                let Some(old) = self.lines.pop_front() else {
                    break;
                };
                self.bytes -= old.len();
                self.dropped += 1;
            }
        }
    }
}

/// One task of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// What the plan says.
    pub spec: TaskSpec,
    /// Position in the run (plan order, handoffs after), for tie-breaking.
    pub index: usize,
    /// Where it is.
    pub state: TaskState,
    /// Its attempts, oldest first.
    pub attempts: Vec<Attempt>,
    /// Not scheduled before this time (retry backoff).
    pub ready_at: ClusterTime,
    /// Whether an approval was given (for tasks that need one).
    pub approved: bool,
    /// Retries granted on top of the plan's by resolving an escalation.
    pub extra_retries: u32,
    /// Last checkpoint (JSON text), handed to the next attempt.
    pub checkpoint: Option<String>,
    /// The worker's result (JSON text).
    pub result: Option<String>,
    /// Why it ended, or why it waits.
    pub reason: Option<String>,
    /// Settled tokens across attempts.
    pub tokens_spent: u64,
    /// When it was created.
    pub created_at: ClusterTime,
    /// When it reached a terminal state.
    pub finished_at: Option<ClusterTime>,
}

impl Task {
    /// A pending task created at `now`.
    pub fn new(spec: TaskSpec, index: usize, now: ClusterTime) -> Task {
        Task {
            spec,
            index,
            state: TaskState::Pending,
            attempts: Vec::new(),
            ready_at: now,
            approved: false,
            extra_retries: 0,
            checkpoint: None,
            result: None,
            reason: None,
            tokens_spent: 0,
            created_at: now,
            finished_at: None,
        }
    }

    /// The live attempt, if any.
    pub fn live_attempt(&self) -> Option<&Attempt> {
        self.attempts.last().filter(|a| a.end.is_none())
    }

    /// Number of the latest attempt (0 before the first).
    pub fn attempt_number(&self) -> u32 {
        self.attempts.last().map_or(0, |a| a.number)
    }

    /// Whether another attempt is allowed after the current one.
    pub fn may_retry(&self) -> bool {
        self.attempt_number() <= self.spec.retries + self.extra_retries
    }
}
