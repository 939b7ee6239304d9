//! Deriving replicated events from applied entries.
//!
//! Before an entry is applied, [`Before::take`] records a small digest of
//! what its command can change (the runs it names, a node, the leases, the
//! catalog's cursor); afterwards [`Before::diff`] compares the digest with
//! the new state and says what happened. The digest holds no logs or
//! assets. A command about one task digests that task and the tasks it can
//! end in passing (unfinished tasks with dependencies), so a report about a
//! task of a 5,000-task run costs as little as one about a 5-task run; only
//! run-wide commands digest every task.
//! A request made by an authenticated caller also yields its audit entry.
//! Like `State::apply`, this is pure: every voter derives the same events.

use std::collections::BTreeMap;

use crate::catalog::ChangeKind;
use crate::command::{Command, Outcome, Request};
use crate::plan::{MasterRole, TaskId};
use crate::run::{EscalationKind, Run, RunId, RunStatus, Task, TaskState};
use crate::state::nodes::NodeStatus;
use crate::state::State;
use crate::types::NodeId;

use super::EventKind;

/// What the entry's command may change, as it was before.
pub struct Before {
    runs: Vec<(RunId, Option<RunDigest>)>,
    node: Option<(String, Option<NodeStatus>)>,
    leases: Option<BTreeMap<MasterRole, (NodeId, u64)>>,
    catalog: Option<u64>,
}

/// The parts of a run events are about.
struct RunDigest {
    status: RunStatus,
    /// Every task, or only those the command can change (see [`Scope`]).
    tasks: BTreeMap<TaskId, TaskDigest>,
    /// Whether `tasks` holds every task of the run.
    complete: bool,
    /// How many tasks the run had (tasks handed off later come after).
    count: usize,
    ledger: BTreeMap<MasterRole, (u64, u64, u64)>,
    escalations: Vec<bool>,
    handoffs: usize,
}

struct TaskDigest {
    state: TaskState,
    attempts: Vec<AttemptDigest>,
}

#[derive(PartialEq)]
struct AttemptDigest {
    ended: bool,
    launched: bool,
    progress: u8,
    message: Option<String>,
    tokens_used: u64,
}

impl State {
    /// [`State::apply`], appending to `events` what the entry changed.
    pub fn apply_observed(&mut self, request: &Request, events: &mut Vec<EventKind>) -> Outcome {
        let before = Before::take(self, &request.command);
        let audited = self.audit.last_seq();
        let outcome = self.apply(request);
        if outcome.is_ok() {
            before.diff(self, events);
        }
        // Refused requests are audited too: who tried what matters most then.
        if let Some(entry) = self.audit.last().filter(|e| e.seq != audited) {
            events.push(EventKind::Audit {
                seq: entry.seq,
                actor: entry.actor.clone(),
                role: entry.role,
                action: entry.action.clone(),
                target: entry.target.clone(),
                refused: entry.refused.clone(),
            });
        }
        outcome
    }
}

impl Before {
    /// Records what `command` may change in `state`.
    pub fn take(state: &State, command: &Command) -> Before {
        let run_ids: Vec<(RunId, Option<&TaskId>)> = match command {
            Command::ApproveTask { run, task }
            | Command::AssignTask { run, task, .. }
            | Command::ReportAttempt { run, task, .. }
            | Command::ExpireAttempt { run, task, .. }
            | Command::BudgetShortfall { run, task, .. } => vec![(run.clone(), Some(task))],
            Command::SubmitRun { run, .. }
            | Command::CancelRun { run, .. }
            | Command::ResolveEscalation { run, .. }
            | Command::ExpireRun { run, .. }
            | Command::Reallocate { run, .. } => vec![(run.clone(), None)],
            Command::FenceNode { .. } => state
                .runs
                .values()
                .filter(|r| !r.status.is_terminal())
                .map(|r| (r.id.clone(), None))
                .collect(),
            _ => Vec::new(),
        };
        let node = match command {
            Command::RegisterNode { name, .. }
            | Command::Heartbeat { name }
            | Command::FenceNode { node: name, .. } => Some((
                name.clone(),
                state.nodes.by_name.get(name).map(|n| n.status),
            )),
            _ => None,
        };
        let leases = matches!(
            command,
            Command::AcquireLease { .. } | Command::ReleaseLease { .. }
        )
        .then(|| lease_digest(state));
        let catalog = matches!(command, Command::Catalog(_)).then(|| state.catalog.last_seq());
        Before {
            runs: run_ids
                .into_iter()
                .map(|(id, task)| {
                    let digest = state.runs.get(&id).map(|run| RunDigest::of(run, task));
                    (id, digest)
                })
                .collect(),
            node,
            leases,
            catalog,
        }
    }

    /// Appends what changed between this digest and `state`.
    pub fn diff(self, state: &State, events: &mut Vec<EventKind>) {
        for (id, before) in self.runs {
            if let Some(run) = state.runs.get(&id) {
                diff_run(before.as_ref(), run, events);
            }
        }
        if let Some((name, before)) = self.node {
            let now = state.nodes.by_name.get(&name).map(|n| n.status);
            if let Some(status) = now.filter(|s| Some(*s) != before) {
                events.push(EventKind::Node { node: name, status });
            }
        }
        if let Some(before) = self.leases {
            let after = lease_digest(state);
            for (master, (holder, epoch)) in &after {
                if before.get(master) != Some(&(*holder, *epoch)) {
                    events.push(EventKind::Lease {
                        master: *master,
                        holder: Some(*holder),
                        epoch: *epoch,
                    });
                }
            }
            for (master, (_, epoch)) in before.iter().filter(|(m, _)| !after.contains_key(m)) {
                events.push(EventKind::Lease {
                    master: *master,
                    holder: None,
                    epoch: *epoch,
                });
            }
        }
        if let Some(before) = self.catalog {
            if let Some(event) = catalog_change(state, before) {
                events.push(event);
            }
        }
    }
}

impl RunDigest {
    /// Digests `run`: every task, or with `about`, that task and the tasks
    /// a change to it can end through the dependency policy.
    fn of(run: &Run, about: Option<&TaskId>) -> RunDigest {
        let watched = |id: &TaskId, task: &Task| {
            about.is_none_or(|about| {
                id == about || (!task.state.is_terminal() && !task.spec.depends_on.is_empty())
            })
        };
        RunDigest {
            status: run.status,
            complete: about.is_none(),
            count: run.order.len(),
            tasks: run
                .tasks
                .iter()
                .filter(|(id, task)| watched(id, task))
                .map(|(id, task)| {
                    let attempts = task
                        .attempts
                        .iter()
                        .map(|a| AttemptDigest {
                            ended: a.end.is_some(),
                            launched: a.launched_at.is_some(),
                            progress: a.progress,
                            message: a.message.clone(),
                            tokens_used: a.tokens_used,
                        })
                        .collect();
                    (
                        id.clone(),
                        TaskDigest {
                            state: task.state,
                            attempts,
                        },
                    )
                })
                .collect(),
            ledger: ledger_digest(run),
            escalations: run
                .escalations
                .iter()
                .map(|e| e.resolution.is_some())
                .collect(),
            handoffs: run.handoffs.len(),
        }
    }
}

fn ledger_digest(run: &Run) -> BTreeMap<MasterRole, (u64, u64, u64)> {
    run.ledger
        .accounts
        .iter()
        .map(|(m, a)| (*m, (a.spent, a.reserved, a.limit())))
        .collect()
}

fn lease_digest(state: &State) -> BTreeMap<MasterRole, (NodeId, u64)> {
    state
        .leases
        .held
        .iter()
        .map(|(role, lease)| (*role, (lease.holder, lease.epoch)))
        .collect()
}

/// The events of one run between `before` (absent: just submitted) and `run`.
fn diff_run(before: Option<&RunDigest>, run: &Run, events: &mut Vec<EventKind>) {
    let Some(before) = before else {
        events.push(EventKind::RunSubmitted {
            run: run.id.clone(),
            name: run.spec.name.clone(),
            tasks: run.tasks.len(),
            budget: run.ledger.total,
        });
        return;
    };
    let mut states = Vec::new();
    // Only watched tasks and new ones (handoffs) can have changed; events
    // keep the run's task order.
    let ids: Vec<&TaskId> = match before.complete {
        true => run.order.iter().collect(),
        false => {
            let mut ids: Vec<&TaskId> = before.tasks.keys().collect();
            ids.sort_by_key(|id| run.tasks.get(*id).map(|t| t.index));
            ids.extend(run.order.iter().skip(before.count));
            ids
        }
    };
    for id in ids {
        let Some(task) = run.tasks.get(id) else {
            continue;
        };
        let old = before.tasks.get(id);
        let old_attempts = old.map_or(&[][..], |t| &t.attempts[..]);
        for attempt in &task.attempts {
            let index = attempt.number.saturating_sub(1) as usize;
            let previous = old_attempts.get(index);
            if previous.is_none() {
                events.push(EventKind::AttemptStarted {
                    run: run.id.clone(),
                    task: id.0.clone(),
                    attempt: attempt.number,
                    master: task.spec.master,
                    node: attempt.node.clone(),
                    reserved: attempt.reserved,
                });
            }
            if attempt.launched_at.is_some() && !previous.is_some_and(|p| p.launched) {
                events.push(EventKind::AttemptLaunched {
                    run: run.id.clone(),
                    task: id.0.clone(),
                    attempt: attempt.number,
                    node: attempt.node.clone(),
                });
            }
            let ended_now = attempt.end.is_some() && !previous.is_some_and(|p| p.ended);
            let moved = previous.is_some_and(|p| {
                p.progress != attempt.progress
                    || p.message != attempt.message
                    || p.tokens_used != attempt.tokens_used
            });
            if attempt.end.is_none() && moved {
                events.push(EventKind::AttemptProgress {
                    run: run.id.clone(),
                    task: id.0.clone(),
                    attempt: attempt.number,
                    progress: attempt.progress,
                    message: attempt.message.clone(),
                    tokens_used: attempt.tokens_used,
                });
            }
            if let (true, Some(end)) = (ended_now, &attempt.end) {
                let (outcome, error) = end.describe();
                events.push(EventKind::AttemptEnded {
                    run: run.id.clone(),
                    task: id.0.clone(),
                    attempt: attempt.number,
                    master: task.spec.master,
                    node: attempt.node.clone(),
                    outcome: outcome.to_string(),
                    tokens_used: attempt.tokens_used,
                    error,
                });
            }
        }
        if old.map(|t| t.state) != Some(task.state) {
            states.push(EventKind::TaskState {
                run: run.id.clone(),
                task: id.0.clone(),
                master: task.spec.master,
                worker: task.spec.worker.to_string(),
                state: task.state,
                reason: task.reason.clone().filter(|_| task.state.is_terminal()),
            });
        }
    }
    events.extend(states);
    for (master, (spent, reserved, limit)) in ledger_digest(run) {
        if before.ledger.get(&master) != Some(&(spent, reserved, limit)) {
            events.push(EventKind::Ledger {
                run: run.id.clone(),
                master,
                spent,
                reserved,
                limit,
            });
        }
    }
    for (i, escalation) in run.escalations.iter().enumerate() {
        let resolved = escalation.resolution.is_some();
        if before.escalations.get(i) != Some(&resolved) {
            events.push(EventKind::Escalation {
                run: run.id.clone(),
                escalation: escalation.id.clone(),
                task: escalation.task.0.clone(),
                kind: match escalation.kind {
                    EscalationKind::BudgetExhausted { .. } => "budget_exhausted",
                    EscalationKind::RetriesExhausted { .. } => "retries_exhausted",
                }
                .to_string(),
                resolved,
            });
        }
    }
    for (from, to) in run.handoffs.iter().skip(before.handoffs) {
        events.push(EventKind::Handoff {
            run: run.id.clone(),
            from: from.0.clone(),
            to: to.0.clone(),
        });
    }
    if run.status.is_terminal() && !before.status.is_terminal() {
        events.push(EventKind::RunFinished {
            run: run.id.clone(),
            status: run.status,
            reason: run.reason.clone(),
        });
    }
}

/// One summary of the catalog events after cursor `before`, if any.
fn catalog_change(state: &State, before: u64) -> Option<EventKind> {
    let cursor = state.catalog.last_seq();
    if cursor <= before {
        return None;
    }
    let (mut added, mut updated, mut removed) = (0, 0, 0);
    // The stream is bounded; an entry larger than it is counted as far as kept.
    let events = state
        .catalog
        .events_after(before, usize::MAX)
        .unwrap_or_default();
    for event in &events {
        match event.kind {
            ChangeKind::Added => added += 1,
            ChangeKind::Updated => updated += 1,
            ChangeKind::Removed => removed += 1,
        }
    }
    Some(EventKind::Catalog {
        added,
        updated,
        removed,
        cursor,
    })
}
