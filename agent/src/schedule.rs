//! Pure scheduling decisions over a snapshot of the replicated state: which
//! tasks of a role are ready (priority, then age), which node takes one,
//! what a coordinator must clean up. The loops turn these into commands;
//! the state machine re-checks every one of them on apply.

use std::collections::BTreeMap;

use cortex_consensus::command::ClusterTime;
use cortex_consensus::plan::{MasterRole, TaskId, TaskSpec};
use cortex_consensus::run::{RunId, TaskState};
use cortex_consensus::state::nodes::NodeStatus;
use cortex_consensus::State;

/// A task ready to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    /// Its run.
    pub run: RunId,
    /// The task.
    pub task: TaskId,
    /// The attempt number to start.
    pub attempt: u32,
}

/// Ready tasks of `role`, highest priority first, then oldest.
pub fn ready_tasks(state: &State, role: MasterRole, now: ClusterTime) -> Vec<Ready> {
    let mut ready: Vec<(_, Ready)> = state
        .runs
        .values()
        .filter(|run| !run.status.is_terminal())
        .flat_map(|run| {
            run.tasks
                .iter()
                .filter(move |(_, t)| t.spec.master == role && t.state == TaskState::Pending)
                .filter(move |(id, _)| run.blocker(id, now).is_none())
                .map(move |(id, t)| {
                    let key = (t.spec.priority, run.submitted_at, t.index);
                    let ready = Ready {
                        run: run.id.clone(),
                        task: id.clone(),
                        attempt: t.attempt_number() + 1,
                    };
                    (key, ready)
                })
        })
        .collect();
    ready.sort_by_key(|(key, _)| *key);
    ready.into_iter().map(|(_, r)| r).collect()
}

/// Live attempts per node across all runs.
pub fn load(state: &State) -> BTreeMap<String, usize> {
    let mut load = BTreeMap::new();
    for run in state.runs.values() {
        for task in run.tasks.values() {
            if let Some(attempt) = task.live_attempt() {
                *load.entry(attempt.node.clone()).or_default() += 1;
            }
        }
    }
    load
}

/// The least-loaded live node that matches the task's placement and has
/// room, counting `load` (which the caller updates as it assigns). Nodes
/// whose last heartbeat is older than `heard_since` are passed over: they
/// are probably gone, even if not yet declared lost.
pub fn pick_node(
    state: &State,
    spec: &TaskSpec,
    load: &BTreeMap<String, usize>,
    heard_since: ClusterTime,
) -> Option<String> {
    state
        .nodes
        .by_name
        .values()
        .filter(|n| n.status == NodeStatus::Alive)
        .filter(|n| n.last_heartbeat.max(state.nodes.leader_since) >= heard_since)
        .filter(|n| {
            spec.placement
                .node
                .as_ref()
                .is_none_or(|pinned| *pinned == n.name)
        })
        .filter(|n| {
            spec.placement
                .labels
                .iter()
                .all(|(k, v)| n.labels.get(k) == Some(v))
        })
        .filter(|n| load.get(&n.name).copied().unwrap_or(0) < n.capacity as usize)
        .min_by_key(|n| (load.get(&n.name).copied().unwrap_or(0), n.name.clone()))
        .map(|n| n.name.clone())
}

/// Live attempts of `role` past their time limit plus `grace_ms`.
pub fn overdue_attempts(
    state: &State,
    role: MasterRole,
    now: ClusterTime,
    grace_ms: u64,
) -> Vec<Ready> {
    let mut overdue = Vec::new();
    for run in state.runs.values().filter(|r| !r.status.is_terminal()) {
        for (id, task) in run.tasks.iter().filter(|(_, t)| t.spec.master == role) {
            if let Some(a) = task.live_attempt() {
                if a.started_at.plus_millis(task.spec.timeout_ms + grace_ms) <= now {
                    overdue.push(Ready {
                        run: run.id.clone(),
                        task: id.clone(),
                        attempt: a.number,
                    });
                }
            }
        }
    }
    overdue
}

/// Runs past their deadline.
pub fn expired_runs(state: &State, now: ClusterTime) -> Vec<RunId> {
    state
        .runs
        .values()
        .filter(|r| !r.status.is_terminal() && r.deadline.is_some_and(|d| d <= now))
        .map(|r| r.id.clone())
        .collect()
}

/// A move of unused budget between masters of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reallocation {
    /// The run.
    pub run: RunId,
    /// The master whose tasks have all ended.
    pub from: MasterRole,
    /// The master with a ready task it cannot cover.
    pub to: MasterRole,
    /// Tokens moved.
    pub amount: u64,
}

/// Moves that let ready tasks start when their master is short and masters
/// that have finished still hold budget: the largest shortfall per master,
/// covered from finished masters in role order.
pub fn reallocations(state: &State, now: ClusterTime) -> Vec<Reallocation> {
    let mut moves = Vec::new();
    for run in state.runs.values().filter(|r| !r.status.is_terminal()) {
        let mut shortfall: BTreeMap<MasterRole, u64> = BTreeMap::new();
        for (id, task) in &run.tasks {
            if task.state != TaskState::Pending || run.blocker(id, now).is_some() {
                continue;
            }
            let available = run
                .ledger
                .accounts
                .get(&task.spec.master)
                .map_or(0, |a| a.available());
            if task.spec.budget > available {
                let need = shortfall.entry(task.spec.master).or_default();
                *need = (*need).max(task.spec.budget - available);
            }
        }
        for (to, mut need) in shortfall {
            for (from, spare) in run.spare_budget_by_master(to) {
                if need == 0 {
                    break;
                }
                let amount = spare.min(need);
                need -= amount;
                moves.push(Reallocation {
                    run: run.id.clone(),
                    from,
                    to,
                    amount,
                });
            }
        }
    }
    moves
}

/// Nodes silent for longer than `timeout_ms`.
pub fn silent_nodes(state: &State, timeout_ms: u64, now: ClusterTime) -> Vec<String> {
    state
        .nodes
        .by_name
        .keys()
        .filter(|name| state.nodes.is_silent(name, timeout_ms, now))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests;
