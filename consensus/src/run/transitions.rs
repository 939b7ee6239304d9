//! The transitions of a run. Each either applies completely or returns a
//! [`RunError`] having changed nothing: checks come first, mutations after.

use serde::{Deserialize, Serialize};

use super::ledger::LedgerError;
use super::task::{Attempt, AttemptEnd, AttemptLogs, TaskState};
use super::{Escalation, EscalationKind, Resolution, Run, RunStatus};
use crate::command::ClusterTime;
use crate::plan::{ExecutorSpec, MasterRole, Priority, TaskId, TaskSpec, WorkerType};

/// Longest retry backoff.
const MAX_BACKOFF_MS: u64 = 30_000;
/// First retry backoff; doubles with each attempt.
const FIRST_BACKOFF_MS: u64 = 500;

/// Why a run transition was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum RunError {
    /// The run has ended.
    #[error("run has ended ({0:?})")]
    RunEnded(RunStatus),
    /// No such task.
    #[error("no task {0}")]
    NoTask(TaskId),
    /// The task is not in a state that allows this.
    #[error("task {task} is {state:?}: {why}")]
    WrongState {
        /// The task.
        task: TaskId,
        /// Its state.
        state: TaskState,
        /// What was expected.
        why: String,
    },
    /// A report or assignment named an attempt that is not the live/next one.
    #[error("stale attempt {given} for task {task} (current {current})")]
    StaleAttempt {
        /// The task.
        task: TaskId,
        /// The attempt named.
        given: u32,
        /// The current attempt.
        current: u32,
    },
    /// The task is not ready to start.
    #[error("task {task} is not ready: {why}")]
    NotReady {
        /// The task.
        task: TaskId,
        /// Why.
        why: String,
    },
    /// The ledger refused.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A precondition on time did not hold (not yet expired, ...).
    #[error("{0}")]
    TooEarly(String),
}

/// What a worker reports about its attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptReport {
    /// The executor started the work (the process is running, the request sent).
    Started,
    /// Still working.
    Progress {
        /// Tokens used so far (cumulative).
        tokens_used: u64,
        /// Percentage done, 0-100.
        percent: u8,
        /// What it is doing.
        message: Option<String>,
        /// State to resume from (JSON text).
        checkpoint: Option<String>,
        /// Log lines printed since the previous report.
        logs: Vec<String>,
    },
    /// Done.
    Completed {
        /// Tokens used in all.
        tokens_used: u64,
        /// Its result (JSON text).
        result: Option<String>,
        /// Work handed to other masters.
        handoffs: Vec<Handoff>,
    },
    /// Failed; retried if retries are left.
    Failed {
        /// Tokens used in all.
        tokens_used: u64,
        /// Why.
        error: String,
    },
    /// Stopped at its time limit by the executor.
    TimedOut {
        /// Tokens used in all.
        tokens_used: u64,
    },
    /// Stopped at its token reservation (the hard cap).
    BudgetExceeded {
        /// Tokens used in all.
        tokens_used: u64,
        /// What it had done (JSON text).
        partial_result: Option<String>,
    },
}

impl AttemptReport {
    /// Largest checkpoint or result a report may carry.
    pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
    /// Largest progress message.
    pub const MAX_MESSAGE_BYTES: usize = 4096;
    /// Most log bytes in one report (the attempt keeps only a tail anyway).
    pub const MAX_LOG_BYTES: usize = 256 * 1024;
    /// Most handoffs one completed attempt may create.
    pub const MAX_HANDOFFS: usize = 64;

    /// Checks sizes: a report is replicated to every voter.
    pub fn check(&self) -> Result<(), String> {
        let too_big = |what: &str, len: usize, max: usize| {
            if len > max {
                Err(format!("{what} is {len} bytes; the limit is {max}"))
            } else {
                Ok(())
            }
        };
        match self {
            AttemptReport::Progress {
                message,
                checkpoint,
                logs,
                ..
            } => {
                too_big(
                    "message",
                    message.as_ref().map_or(0, String::len),
                    Self::MAX_MESSAGE_BYTES,
                )?;
                too_big(
                    "checkpoint",
                    checkpoint.as_ref().map_or(0, String::len),
                    Self::MAX_DOCUMENT_BYTES,
                )?;
                too_big(
                    "logs",
                    logs.iter().map(String::len).sum(),
                    Self::MAX_LOG_BYTES,
                )
            }
            AttemptReport::Completed {
                result, handoffs, ..
            } => {
                too_big(
                    "result",
                    result.as_ref().map_or(0, String::len),
                    Self::MAX_DOCUMENT_BYTES,
                )?;
                if handoffs.len() > Self::MAX_HANDOFFS {
                    return Err(format!(
                        "{} handoffs; the limit is {}",
                        handoffs.len(),
                        Self::MAX_HANDOFFS
                    ));
                }
                Ok(())
            }
            AttemptReport::BudgetExceeded { partial_result, .. } => too_big(
                "partial result",
                partial_result.as_ref().map_or(0, String::len),
                Self::MAX_DOCUMENT_BYTES,
            ),
            AttemptReport::Failed { error, .. } => {
                too_big("error", error.len(), Self::MAX_MESSAGE_BYTES)
            }
            AttemptReport::Started | AttemptReport::TimedOut { .. } => Ok(()),
        }
    }
}

/// Work a completed task hands to another master.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    /// Suffix of the new task's id (`<task>.<id>`).
    pub id: String,
    /// The master that will schedule it.
    pub master: MasterRole,
    /// Its worker type.
    pub worker: WorkerType,
    /// How it runs.
    pub executor: ExecutorSpec,
    /// Its budget; the worker type's default if absent.
    pub budget: Option<u64>,
    /// What it is for.
    pub description: Option<String>,
}

fn backoff_ms(attempt: u32) -> u64 {
    FIRST_BACKOFF_MS
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF_MS)
}

impl Run {
    fn ensure_running(&self) -> Result<(), RunError> {
        if self.status.is_terminal() {
            return Err(RunError::RunEnded(self.status));
        }
        Ok(())
    }

    fn task_state(&self, id: &TaskId) -> Result<TaskState, RunError> {
        self.tasks
            .get(id)
            .map(|t| t.state)
            .ok_or_else(|| RunError::NoTask(id.clone()))
    }

    /// Why `task` cannot start now, or `None` if it can.
    pub fn blocker(&self, task: &TaskId, now: ClusterTime) -> Option<String> {
        let t = self.tasks.get(task)?;
        if t.state != TaskState::Pending {
            return Some(format!("it is {:?}", t.state));
        }
        if let Some(dep) = t
            .spec
            .depends_on
            .iter()
            .find(|d| self.tasks.get(*d).map(|d| d.state) != Some(TaskState::Completed))
        {
            return Some(format!("dependency {dep} has not completed"));
        }
        if t.spec.approval_required && !t.approved {
            return Some("waiting for approval".into());
        }
        if t.ready_at > now {
            return Some(format!("backing off until {}", t.ready_at.0));
        }
        None
    }

    /// Starts attempt `attempt` of `task` on `node`, reserving its budget.
    pub fn assign(
        &mut self,
        task: &TaskId,
        attempt: u32,
        node: &str,
        now: ClusterTime,
    ) -> Result<(), RunError> {
        self.ensure_running()?;
        let t = self
            .tasks
            .get(task)
            .ok_or_else(|| RunError::NoTask(task.clone()))?;
        let current = t.attempt_number();
        if attempt != current + 1 {
            return Err(RunError::StaleAttempt {
                task: task.clone(),
                given: attempt,
                current,
            });
        }
        if let Some(why) = self.blocker(task, now) {
            return Err(RunError::NotReady {
                task: task.clone(),
                why,
            });
        }
        let (master, budget) = (t.spec.master, t.spec.budget);
        self.ledger
            .reserve(master, (task.clone(), attempt), budget)?;
        self.status = RunStatus::Running;
        let t = self.tasks.get_mut(task).expect("checked above");
        t.state = TaskState::Running;
        t.reason = None;
        t.attempts.push(Attempt {
            number: attempt,
            node: node.to_string(),
            started_at: now,
            ended_at: None,
            reserved: budget,
            tokens_used: 0,
            progress: 0,
            message: None,
            end: None,
            launched_at: None,
            logs: AttemptLogs::default(),
        });
        Ok(())
    }

    fn live(&self, task: &TaskId, attempt: u32) -> Result<(), RunError> {
        let t = self
            .tasks
            .get(task)
            .ok_or_else(|| RunError::NoTask(task.clone()))?;
        match t.live_attempt() {
            Some(a) if a.number == attempt => Ok(()),
            _ => Err(RunError::StaleAttempt {
                task: task.clone(),
                given: attempt,
                current: t.attempt_number(),
            }),
        }
    }

    /// Applies a worker's report about attempt `attempt` of `task`.
    pub fn report(
        &mut self,
        task: &TaskId,
        attempt: u32,
        report: AttemptReport,
        now: ClusterTime,
    ) -> Result<(), RunError> {
        self.ensure_running()?;
        self.live(task, attempt)?;
        match report {
            AttemptReport::Started => {
                let t = self.tasks.get_mut(task).expect("live");
                let a = t.attempts.last_mut().expect("live");
                a.launched_at.get_or_insert(now);
            }
            AttemptReport::Progress {
                tokens_used,
                percent,
                message,
                checkpoint,
                logs,
            } => {
                let t = self.tasks.get_mut(task).expect("live");
                let a = t.attempts.last_mut().expect("live");
                a.tokens_used = a.tokens_used.max(tokens_used);
                a.progress = percent.min(100);
                a.message = message;
                a.logs.append(logs);
                if checkpoint.is_some() {
                    t.checkpoint = checkpoint;
                }
            }
            AttemptReport::Completed {
                tokens_used,
                result,
                handoffs,
            } => {
                self.end_attempt(task, tokens_used, AttemptEnd::Completed, now)?;
                let t = self.tasks.get_mut(task).expect("live");
                t.result = result;
                self.finish(task, TaskState::Completed, None, now);
                for handoff in handoffs {
                    self.hand_off(task, handoff, now);
                }
            }
            AttemptReport::Failed { tokens_used, error } => {
                self.end_attempt(task, tokens_used, AttemptEnd::Failed(error.clone()), now)?;
                self.retry_or_end(task, TaskState::Failed, error, now);
            }
            AttemptReport::TimedOut { tokens_used } => {
                self.end_attempt(task, tokens_used, AttemptEnd::TimedOut, now)?;
                self.retry_or_end(task, TaskState::TimedOut, "attempt timed out".into(), now);
            }
            AttemptReport::BudgetExceeded {
                tokens_used,
                partial_result,
            } => {
                self.end_attempt(task, tokens_used, AttemptEnd::BudgetExceeded, now)?;
                let t = self.tasks.get_mut(task).expect("live");
                t.result = partial_result;
                let reason = "token reservation used up; worker stopped".to_string();
                self.finish(task, TaskState::BudgetExceeded, Some(reason), now);
            }
        }
        self.settle_dependents(now);
        Ok(())
    }

    /// Settles the live attempt's tokens and closes it.
    fn end_attempt(
        &mut self,
        task: &TaskId,
        tokens_used: u64,
        end: AttemptEnd,
        now: ClusterTime,
    ) -> Result<(), RunError> {
        let t = self.tasks.get_mut(task).expect("live");
        let a = t.attempts.last_mut().expect("live");
        let used = a.tokens_used.max(tokens_used);
        let settlement = self.ledger.settle(&(task.clone(), a.number), used)?;
        a.tokens_used = used;
        a.end = Some(end);
        a.ended_at = Some(now);
        t.tokens_spent += settlement.spent;
        Ok(())
    }

    /// Closes the live attempt without charging (fenced off), then retries or ends.
    fn fence(&mut self, task: &TaskId, why: &str, now: ClusterTime) {
        let t = self.tasks.get_mut(task).expect("caller checked");
        let Some(a) = t.attempts.last_mut().filter(|a| a.end.is_none()) else {
            return;
        };
        let key = (task.clone(), a.number);
        a.end = Some(AttemptEnd::Fenced(why.to_string()));
        a.ended_at = Some(now);
        let _ = self.ledger.release(&key);
    }

    fn retry_or_end(
        &mut self,
        task: &TaskId,
        terminal: TaskState,
        error: String,
        now: ClusterTime,
    ) {
        let t = self.tasks.get_mut(task).expect("caller checked");
        if t.may_retry() {
            t.state = TaskState::Pending;
            t.ready_at = now.plus_millis(backoff_ms(t.attempt_number()));
            t.reason = Some(format!("retrying after: {error}"));
        } else if t.spec.priority == Priority::Critical {
            t.state = TaskState::Blocked;
            t.reason = Some(format!("retries exhausted: {error}"));
            self.escalate(task, EscalationKind::RetriesExhausted { error }, now);
        } else {
            let attempts = t.attempt_number();
            self.finish(
                task,
                terminal,
                Some(format!("{error} (after {attempts} attempts)")),
                now,
            );
        }
    }

    fn finish(
        &mut self,
        task: &TaskId,
        state: TaskState,
        reason: Option<String>,
        now: ClusterTime,
    ) {
        let t = self.tasks.get_mut(task).expect("caller checked");
        t.state = state;
        t.reason = reason;
        t.finished_at = Some(now);
    }

    fn escalate(&mut self, task: &TaskId, kind: EscalationKind, now: ClusterTime) {
        let id = format!("{}-{}", self.id, self.escalations.len() + 1);
        self.escalations.push(Escalation {
            id,
            task: task.clone(),
            kind,
            raised_at: now,
            resolution: None,
            resolved_at: None,
        });
    }

    fn hand_off(&mut self, from: &TaskId, handoff: Handoff, now: ClusterTime) {
        let id = TaskId(format!("{from}.{}", handoff.id));
        let pool = self.ledger.accounts.get(&handoff.master).map(|a| a.limit());
        let budget = handoff.budget.unwrap_or(handoff.worker.defaults().budget);
        let refusal = if self.tasks.contains_key(&id) {
            Some("a task with that id exists")
        } else if pool.is_none() {
            Some("that master has no budget in this run")
        } else if budget == 0 || Some(budget) > pool {
            Some("its budget does not fit the master's pool")
        } else {
            None
        };
        if let Some(why) = refusal {
            let t = self.tasks.get_mut(from).expect("caller checked");
            t.reason = Some(format!("handoff {id} refused: {why}"));
            return;
        }
        let defaults = handoff.worker.defaults();
        let spec = TaskSpec {
            id: id.clone(),
            master: handoff.master,
            worker: handoff.worker,
            priority: Priority::Medium,
            depends_on: vec![],
            budget,
            timeout_ms: defaults.timeout_ms,
            retries: defaults.retries,
            placement: Default::default(),
            executor: handoff.executor,
            approval_required: false,
            phase: None,
            description: handoff.description,
        };
        let index = self.order.len();
        self.tasks
            .insert(id.clone(), super::Task::new(spec, index, now));
        self.order.push(id.clone());
        self.handoffs.push((from.clone(), id));
    }
}

mod effects;
