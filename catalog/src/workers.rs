//! Workers as GraphQL shows them: one attempt of a task, with the id
//! `<run>/<task>#<attempt>` (or `<run>/<task>` for the task's latest).

use async_graphql::{Enum, SimpleObject, ID};
use cortex_consensus::run::{Attempt, AttemptEnd, RunId, Task};
use cortex_consensus::State;

use crate::scalars::DateTime;

/// Where a worker (attempt) is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerState {
    /// Live.
    Running,
    /// Completed.
    Completed,
    /// Failed.
    Failed,
    /// Ran out of time.
    TimedOut,
    /// Used up its token reservation.
    BudgetExceeded,
    /// Superseded: node lost, run or task cancelled.
    Fenced,
}

/// One attempt of a task, as its worker reports it.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct Worker {
    /// `<run>/<task>#<attempt>`.
    pub id: ID,
    /// The run.
    pub run_id: ID,
    /// The task.
    pub task_id: ID,
    /// Attempt number (1 for the first).
    pub attempt: u32,
    /// The node it runs on.
    pub node: String,
    /// The task's master role.
    pub master: String,
    /// The worker type (`scan`, `catalog`, ...).
    pub worker_type: String,
    /// Where it is.
    pub status: WorkerState,
    /// Last progress percentage.
    pub progress: u8,
    /// Last progress message.
    pub message: Option<String>,
    /// Tokens reported so far.
    pub tokens_used: u64,
    /// Tokens reserved for it.
    pub reserved: u64,
    /// When it was assigned.
    pub started_at: DateTime,
    /// When it ended.
    pub ended_at: Option<DateTime>,
    /// Why it failed or was fenced.
    pub error: Option<String>,
}

impl Worker {
    /// The view of `attempt` of `task` in `run`.
    pub fn new(run: &RunId, task: &Task, attempt: &Attempt) -> Worker {
        let (status, error) = match &attempt.end {
            None => (WorkerState::Running, None),
            Some(AttemptEnd::Completed) => (WorkerState::Completed, None),
            Some(AttemptEnd::Failed(why)) => (WorkerState::Failed, Some(why.clone())),
            Some(AttemptEnd::TimedOut) => (WorkerState::TimedOut, None),
            Some(AttemptEnd::BudgetExceeded) => (WorkerState::BudgetExceeded, None),
            Some(AttemptEnd::Fenced(why)) => (WorkerState::Fenced, Some(why.clone())),
        };
        Worker {
            id: ID(format!("{run}/{}#{}", task.spec.id, attempt.number)),
            run_id: ID(run.to_string()),
            task_id: ID(task.spec.id.to_string()),
            attempt: attempt.number,
            node: attempt.node.clone(),
            master: task.spec.master.to_string(),
            worker_type: task.spec.worker.to_string(),
            status,
            progress: attempt.progress,
            message: attempt.message.clone(),
            tokens_used: attempt.tokens_used,
            reserved: attempt.reserved,
            started_at: DateTime(attempt.started_at),
            ended_at: attempt.ended_at.map(DateTime),
            error,
        }
    }
}

/// Splits a worker id into run, task and attempt (`None`: the latest).
pub fn parse_worker_id(id: &str) -> Option<(RunId, String, Option<u32>)> {
    let (path, attempt) = match id.rsplit_once('#') {
        Some((path, number)) => (path, Some(number.parse().ok()?)),
        None => (id, None),
    };
    let (run, task) = path.split_once('/')?;
    Some((RunId(run.to_string()), task.to_string(), attempt))
}

/// The worker `id` names in `state`: that attempt, or the task's latest.
pub fn find_worker(state: &State, id: &str) -> Option<Worker> {
    let (run_id, task_id, number) = parse_worker_id(id)?;
    let run = state.runs.get(&run_id)?;
    let task = run
        .tasks
        .iter()
        .find(|(id, _)| id.to_string() == task_id)?
        .1;
    let attempt = match number {
        Some(number) => task.attempts.iter().find(|a| a.number == number)?,
        None => task.attempts.last()?,
    };
    Some(Worker::new(&run_id, task, attempt))
}
