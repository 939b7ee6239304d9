//! What `cortex run watch` knows about a run: built from the stream's
//! `snapshot`, then kept current by each event. Pure, so the tests feed it
//! events without a cluster.

use std::collections::BTreeMap;

use cortex_consensus::events::{Event, EventKind};
use cortex_consensus::plan::MasterRole;
use cortex_consensus::run::{RunStatus, TaskState};

use crate::report::view::RunDetail;

/// One task as the watcher shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskLine {
    /// Its master role.
    pub master: MasterRole,
    /// Where it is.
    pub state: TaskState,
    /// Percent done of its live attempt.
    pub progress: u8,
}

/// One attempt: where it runs and how far it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptPhase {
    /// Assigned; its node has not started the worker yet.
    Pending,
    /// The worker runs.
    Running,
    /// It completed.
    Completed,
    /// It failed, timed out, used up its tokens or was fenced.
    Failed,
}

/// A master's account: settled, held and allowed tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    /// Settled usage.
    pub spent: u64,
    /// Held by live attempts.
    pub reserved: u64,
    /// What it may use in all.
    pub limit: u64,
}

/// The watched run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunModel {
    /// Its id.
    pub id: String,
    /// Its plan's name.
    pub name: String,
    /// Where it is.
    pub status: RunStatus,
    /// Its budget.
    pub budget: u64,
    /// Tasks by id.
    pub tasks: BTreeMap<String, TaskLine>,
    /// Attempts by (task, number): node and phase.
    pub attempts: BTreeMap<(String, u32), (String, AttemptPhase)>,
    /// Accounts by master.
    pub ledger: BTreeMap<MasterRole, Tokens>,
    /// The latest thing each master's workers said.
    pub activity: BTreeMap<MasterRole, String>,
}

impl RunModel {
    /// The run as a snapshot shows it.
    pub fn from_snapshot(detail: &RunDetail) -> RunModel {
        let mut model = RunModel {
            id: detail.id.clone(),
            name: detail.name.clone(),
            status: detail.status,
            budget: detail.ledger.total,
            tasks: BTreeMap::new(),
            attempts: BTreeMap::new(),
            ledger: detail
                .ledger
                .masters
                .iter()
                .map(|(m, a)| {
                    let tokens = Tokens {
                        spent: a.spent,
                        reserved: a.reserved,
                        limit: a.allocation,
                    };
                    (*m, tokens)
                })
                .collect(),
            activity: BTreeMap::new(),
        };
        for task in &detail.tasks {
            let live = task.attempts.iter().rfind(|a| a.end.is_none());
            model.tasks.insert(
                task.id.clone(),
                TaskLine {
                    master: task.master,
                    state: task.state,
                    progress: live.map_or(0, |a| a.progress),
                },
            );
            for a in &task.attempts {
                let phase = match (a.end.as_deref(), a.launched_at) {
                    (Some("completed"), _) => AttemptPhase::Completed,
                    (Some(_), _) => AttemptPhase::Failed,
                    (None, Some(_)) => AttemptPhase::Running,
                    (None, None) => AttemptPhase::Pending,
                };
                model
                    .attempts
                    .insert((task.id.clone(), a.number), (a.node.clone(), phase));
            }
            if let Some(message) = live.and_then(|a| a.message.clone()) {
                model.activity.insert(task.master, message);
            }
        }
        model
    }

    /// Applies one event of this run.
    pub fn apply(&mut self, event: &Event) {
        match &event.kind {
            EventKind::RunFinished { status, .. } => self.status = *status,
            EventKind::TaskState {
                task,
                master,
                state,
                ..
            } => {
                let line = self.tasks.entry(task.clone()).or_insert(TaskLine {
                    master: *master,
                    state: *state,
                    progress: 0,
                });
                line.state = *state;
                if *state == TaskState::Running && self.status == RunStatus::Pending {
                    self.status = RunStatus::Running;
                }
            }
            EventKind::AttemptStarted {
                task,
                attempt,
                node,
                master,
                ..
            } => {
                self.attempts.insert(
                    (task.clone(), *attempt),
                    (node.clone(), AttemptPhase::Pending),
                );
                if let Some(line) = self.tasks.get_mut(task) {
                    line.progress = 0;
                }
                self.activity
                    .insert(*master, format!("{task} assigned to {node}"));
            }
            EventKind::AttemptLaunched { task, attempt, .. } => {
                self.set_phase(task, *attempt, AttemptPhase::Running);
            }
            EventKind::AttemptProgress {
                task,
                progress,
                message,
                ..
            } => self.progress(task, Some(*progress), message.as_deref()),
            EventKind::WorkerActivity {
                task,
                progress,
                message,
                ..
            } => self.progress(task, *progress, message.as_deref()),
            EventKind::AttemptEnded {
                task,
                attempt,
                outcome,
                ..
            } => {
                let phase = match outcome.as_str() {
                    "completed" => AttemptPhase::Completed,
                    _ => AttemptPhase::Failed,
                };
                self.set_phase(task, *attempt, phase);
            }
            EventKind::Ledger {
                master,
                spent,
                reserved,
                limit,
                ..
            } => {
                self.ledger.insert(
                    *master,
                    Tokens {
                        spent: *spent,
                        reserved: *reserved,
                        limit: *limit,
                    },
                );
            }
            EventKind::Handoff { .. }
            | EventKind::Escalation { .. }
            | EventKind::RunSubmitted { .. }
            | EventKind::Lease { .. }
            | EventKind::Node { .. }
            | EventKind::Catalog { .. }
            | EventKind::Audit { .. } => {}
        }
    }

    fn set_phase(&mut self, task: &str, attempt: u32, phase: AttemptPhase) {
        if let Some((_, current)) = self.attempts.get_mut(&(task.to_string(), attempt)) {
            *current = phase;
        }
    }

    fn progress(&mut self, task: &str, progress: Option<u8>, message: Option<&str>) {
        let Some(line) = self.tasks.get_mut(task) else {
            return;
        };
        if let Some(progress) = progress {
            line.progress = progress.min(100);
        }
        if let Some(message) = message {
            self.activity.insert(line.master, message.to_string());
        }
    }

    /// The masters of the run's tasks, in role order.
    pub fn masters(&self) -> Vec<MasterRole> {
        let mut masters: Vec<MasterRole> = self.tasks.values().map(|t| t.master).collect();
        masters.sort();
        masters.dedup();
        masters
    }

    /// How far `master`'s tasks are, 0.0 to 1.0: ended tasks count whole,
    /// running ones by their progress.
    pub fn master_progress(&self, master: MasterRole) -> f64 {
        let tasks: Vec<&TaskLine> = self.tasks.values().filter(|t| t.master == master).collect();
        if tasks.is_empty() {
            return 1.0;
        }
        let done: f64 = tasks
            .iter()
            .map(|t| match t.state {
                s if s.is_terminal() => 1.0,
                TaskState::Running => f64::from(t.progress) / 100.0,
                _ => 0.0,
            })
            .sum();
        done / tasks.len() as f64
    }

    /// Attempts per node, by phase: (pending, running, completed, failed).
    pub fn nodes(&self) -> BTreeMap<&str, [usize; 4]> {
        let mut nodes: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
        for (node, phase) in self.attempts.values() {
            let counts = nodes.entry(node.as_str()).or_default();
            counts[*phase as usize] += 1;
        }
        nodes
    }

    /// Tasks that ended, and all tasks.
    pub fn ended(&self) -> (usize, usize) {
        let ended = self
            .tasks
            .values()
            .filter(|t| t.state.is_terminal())
            .count();
        (ended, self.tasks.len())
    }

    /// Settled and held tokens of the whole run.
    pub fn tokens(&self) -> Tokens {
        self.ledger.values().fold(
            Tokens {
                limit: self.budget,
                ..Tokens::default()
            },
            |sum, t| Tokens {
                spent: sum.spent + t.spent,
                reserved: sum.reserved + t.reserved,
                limit: sum.limit,
            },
        )
    }
}
