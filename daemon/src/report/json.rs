//! The run report as data: the seed's `final-results.json` (per-master
//! results, worker totals, the token budget analysis), computed from the
//! replicated run alone so every figure can be traced back to the ledger.
//!
//! Token usage comes from the ledger accounts, which is what makes the
//! report add up: the per-master figures sum to the run's `spent`.

use std::collections::BTreeMap;

use cortex_consensus::plan::MasterRole;
use cortex_consensus::run::{AttemptEnd, Run, RunStatus, Task};
use cortex_consensus::ClusterTime;
use serde::Serialize;

use super::escalation::{escalations, handoffs, EscalationView, HandoffView};
use super::view::TaskCounts;

/// `GET /v1/runs/{id}/report`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FinalResults {
    /// Which run, and how it went.
    pub run: RunHeader,
    /// Per master: its tasks, workers and tokens.
    pub masters: BTreeMap<MasterRole, MasterResults>,
    /// Worker attempts across the run.
    pub workers: WorkerTotals,
    /// The token budget analysis.
    pub tokens: TokenReport,
    /// Every escalation, oldest first.
    pub escalations: Vec<EscalationView>,
    /// Every handoff, oldest first.
    pub handoffs: Vec<HandoffView>,
}

/// The run the report is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunHeader {
    /// Its id.
    pub id: String,
    /// `metadata.name` of its plan.
    pub name: String,
    /// Where it is in its life.
    pub status: RunStatus,
    /// Why it ended, when it did not simply complete.
    pub reason: Option<String>,
    /// When it was submitted (ms since the epoch, cluster time).
    pub submitted_at: u64,
    /// When it ended.
    pub finished_at: Option<u64>,
    /// From submission to its end, or to the report while it still runs.
    pub duration_seconds: f64,
}

/// Worker attempts, by outcome. `spawned = succeeded + failed + fenced + running`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WorkerTotals {
    /// Attempts started.
    pub spawned: usize,
    /// Attempts that completed.
    pub succeeded: usize,
    /// Attempts that failed, timed out or used up their reservation.
    pub failed: usize,
    /// Attempts the cluster stopped: node lost, run or task cancelled, deadline.
    pub fenced: usize,
    /// Attempts still live.
    pub running: usize,
    /// Attempts beyond each task's first.
    pub retried: usize,
}

impl WorkerTotals {
    /// The attempts of `tasks`.
    pub fn of<'a>(tasks: impl IntoIterator<Item = &'a Task>) -> WorkerTotals {
        let mut totals = WorkerTotals::default();
        for attempt in tasks.into_iter().flat_map(|t| &t.attempts) {
            totals.spawned += 1;
            if attempt.number > 1 {
                totals.retried += 1;
            }
            match attempt.end {
                None => totals.running += 1,
                Some(AttemptEnd::Completed) => totals.succeeded += 1,
                Some(AttemptEnd::Fenced(_)) => totals.fenced += 1,
                Some(_) => totals.failed += 1,
            }
        }
        totals
    }
}

/// One master's part of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MasterResults {
    /// Its tasks by state.
    pub tasks: TaskCounts,
    /// Its tasks' attempts.
    pub workers: WorkerTotals,
    /// Escalations raised about its tasks.
    pub escalations: usize,
    /// Its account.
    pub tokens: MasterTokens,
}

/// One master's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MasterTokens {
    /// Settled usage.
    pub used: u64,
    /// Its limit: pools plus grants and moves in, minus moves out.
    pub allocated: u64,
    /// Held by live attempts.
    pub reserved: u64,
    /// Reported beyond reservations (never charged).
    pub overrun: u64,
}

/// The token budget analysis (the seed's "Token Budget Analysis").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenReport {
    /// The run's budget.
    pub budget_total: u64,
    /// Settled usage of the whole run; the sum of `per_master`.
    pub used: u64,
    /// Held by live attempts.
    pub reserved: u64,
    /// `budget_total - used`.
    pub remaining: u64,
    /// `used / budget_total`, 0 to 1, rounded to 3 places.
    pub efficiency: f64,
    /// The emergency reserve the plan set aside.
    pub emergency_reserve: u64,
    /// What is left of it.
    pub emergency_reserve_left: u64,
    /// Reported beyond reservations across the run (never charged).
    pub overrun: u64,
    /// Settled usage per master.
    pub per_master: BTreeMap<MasterRole, u64>,
}

/// `part / whole` rounded to 3 places; 0 when `whole` is 0.
pub fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    (part as f64 / whole as f64 * 1000.0).round() / 1000.0
}

/// Seconds from submission to the end of `run`, or to `now` while it runs.
pub fn duration_seconds(run: &Run, now: ClusterTime) -> f64 {
    let end = run.finished_at.unwrap_or(now);
    end.0.saturating_sub(run.submitted_at.0) as f64 / 1000.0
}

/// The report of `run` as of cluster time `now`.
pub fn final_results(run: &Run, now: ClusterTime) -> FinalResults {
    let ledger = &run.ledger;
    let masters: BTreeMap<MasterRole, MasterResults> = ledger
        .accounts
        .iter()
        .map(|(role, account)| {
            let tasks: Vec<&Task> = run
                .tasks
                .values()
                .filter(|t| t.spec.master == *role)
                .collect();
            let escalations = run
                .escalations
                .iter()
                .filter(|e| {
                    run.tasks
                        .get(&e.task)
                        .is_some_and(|t| t.spec.master == *role)
                })
                .count();
            let results = MasterResults {
                tasks: TaskCounts::of(tasks.iter().copied()),
                workers: WorkerTotals::of(tasks.iter().copied()),
                escalations,
                tokens: MasterTokens {
                    used: account.spent,
                    allocated: account.limit(),
                    reserved: account.reserved,
                    overrun: account.overrun,
                },
            };
            (*role, results)
        })
        .collect();
    let used = ledger.spent();
    FinalResults {
        run: RunHeader {
            id: run.id.0.clone(),
            name: run.spec.name.clone(),
            status: run.status,
            reason: run.reason.clone(),
            submitted_at: run.submitted_at.0,
            finished_at: run.finished_at.map(|t| t.0),
            duration_seconds: duration_seconds(run, now),
        },
        workers: WorkerTotals::of(run.tasks.values()),
        tokens: TokenReport {
            budget_total: ledger.total,
            used,
            reserved: ledger.reserved(),
            remaining: ledger.total.saturating_sub(used),
            efficiency: ratio(used, ledger.total),
            emergency_reserve: run.spec.budget.emergency_reserve,
            emergency_reserve_left: ledger.reserve_left,
            overrun: ledger.accounts.values().map(|a| a.overrun).sum(),
            per_master: masters.iter().map(|(m, r)| (*m, r.tokens.used)).collect(),
        },
        masters,
        escalations: escalations(run),
        handoffs: handoffs(run),
    }
}
