//! What a node must be running: the live attempts placed on it.
//!
//! Voters compute this from their applied state for their own executor and
//! stream it to agents (`transport::agents`). An agent runs exactly the
//! attempts in the latest list and stops the rest, so a fenced or cancelled
//! attempt stops wherever it runs as soon as its node hears about it.

use serde::{Deserialize, Serialize};

use super::State;
use crate::plan::{ExecutorSpec, MasterRole, TaskId, WorkerType};
use crate::run::RunId;

/// One live attempt, with everything needed to run it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// The run.
    pub run: RunId,
    /// The task.
    pub task: TaskId,
    /// The attempt number: the fencing token of its reports.
    pub attempt: u32,
    /// The task's master role.
    pub master: MasterRole,
    /// The task's worker type (a metrics label on the node).
    pub worker: WorkerType,
    /// How it runs.
    pub executor: ExecutorSpec,
    /// Tokens reserved for it: the hard cap.
    pub reserved: u64,
    /// Its time limit, in milliseconds.
    pub timeout_ms: u64,
    /// The task's last checkpoint (JSON text), to resume from.
    pub checkpoint: Option<String>,
}

impl Assignment {
    /// The attempt's identity: run, task and number.
    pub fn key(&self) -> (RunId, TaskId, u32) {
        (self.run.clone(), self.task.clone(), self.attempt)
    }
}

impl State {
    /// The live attempts placed on `node`, in run and task order.
    pub fn assignments_for(&self, node: &str) -> Vec<Assignment> {
        let mut out = Vec::new();
        for run in self.runs.values().filter(|r| !r.status.is_terminal()) {
            for (id, task) in &run.tasks {
                let Some(attempt) = task.live_attempt().filter(|a| a.node == node) else {
                    continue;
                };
                out.push(Assignment {
                    run: run.id.clone(),
                    task: id.clone(),
                    attempt: attempt.number,
                    master: task.spec.master,
                    worker: task.spec.worker,
                    executor: task.spec.executor.clone(),
                    reserved: attempt.reserved,
                    timeout_ms: task.spec.timeout_ms,
                    checkpoint: task.checkpoint.clone(),
                });
            }
        }
        out
    }
}
