//! The report of many scenario runs: one [`ScenarioResult`] per (scenario,
//! seed), summarised from its [`History`] and judged by the checkers, written
//! as Markdown for people and JSON for tools.
//!
//! A chaos suite is only worth its cost if a failure can be read and
//! replayed: the Markdown leads with one table row per run (with the seed to
//! replay it), then gives each run's fault timeline and every verdict with its
//! violations, then the recovery times across seeds. Building it is pure;
//! only [`Report::write`] touches the disk.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::checkers::Verdict;
use crate::history::{History, Millis, Recovery, SubmitOutcome};

mod format;
mod markdown;
#[cfg(test)]
mod tests;

/// Fault kinds that end a fault rather than inject one (`restart` brings
/// back a killed process); they are on the timeline but not in the count of
/// faults injected.
pub const HEALING_FAULTS: [&str; 4] = ["heal", "resume", "restart", "redis-up"];

/// One fault on a run's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultLine {
    /// Milliseconds after the scenario started.
    pub at_ms: u64,
    /// What (`kill`, `partition`, ...).
    pub fault: String,
    /// The hosts it hit.
    pub target: String,
    /// The runner's remark.
    pub note: String,
}

/// A submission the cluster refused; expected under faults, but listed so a
/// run that refused everything does not pass unnoticed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// Milliseconds after the scenario started.
    pub at_ms: u64,
    /// The submission's name.
    pub name: String,
    /// The HTTP status.
    pub status: u16,
    /// The response body.
    pub body: String,
}

/// The summary of one scenario run and the checkers' verdicts on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// The scenario's name.
    pub scenario: String,
    /// The seed, to replay the run.
    pub seed: u64,
    /// When it started (ms since the Unix epoch).
    pub started_at: Millis,
    /// From the start to the last thing observed.
    pub duration_ms: u64,
    /// Faults injected, not counting those that heal ([`HEALING_FAULTS`]).
    pub faults_injected: usize,
    /// Every fault record, in order, with times relative to the start.
    pub faults: Vec<FaultLine>,
    /// Submissions the cluster acknowledged.
    pub runs_acked: usize,
    /// Submissions the cluster refused.
    pub runs_refused: usize,
    /// Submissions without an answer.
    pub runs_unknown: usize,
    /// The refused submissions.
    pub refusals: Vec<Refusal>,
    /// Tasks across the final runs.
    pub tasks: usize,
    /// Attempts across the final runs.
    pub attempts: usize,
    /// Attempts beyond the first of each task: the work faults cost.
    pub retries: usize,
    /// Attempts the cluster fenced off.
    pub fenced_attempts: usize,
    /// Tokens spent across the final runs.
    pub tokens_spent: u64,
    /// The final runs' budgets added up.
    pub tokens_budget: u64,
    /// Recovery times the runner measured.
    pub recovery: Vec<Recovery>,
    /// Whether every verdict passed.
    pub passed: bool,
    /// The checkers' verdicts.
    pub verdicts: Vec<Verdict>,
}

impl ScenarioResult {
    /// Summarises `history` and attaches the `verdicts` on it.
    pub fn from_history(history: &History, verdicts: Vec<Verdict>) -> ScenarioResult {
        let relative = |at: Millis| at.saturating_sub(history.started_at);
        let mut refusals = Vec::new();
        let (mut acked, mut unknown) = (0, 0);
        for submission in &history.submissions {
            match &submission.outcome {
                SubmitOutcome::Acked { .. } => acked += 1,
                SubmitOutcome::Unknown { .. } => unknown += 1,
                SubmitOutcome::Refused { status, body } => refusals.push(Refusal {
                    at_ms: relative(submission.at),
                    name: submission.name.clone(),
                    status: *status,
                    body: body.clone(),
                }),
            }
        }
        let tasks = history.finals.iter().flat_map(|run| &run.tasks);
        let attempts = tasks.clone().flat_map(|task| &task.attempts);
        ScenarioResult {
            scenario: history.scenario.clone(),
            seed: history.seed,
            started_at: history.started_at,
            duration_ms: history.duration_ms(),
            faults_injected: history
                .faults
                .iter()
                .filter(|f| !HEALING_FAULTS.contains(&f.fault.as_str()))
                .count(),
            faults: history
                .faults
                .iter()
                .map(|f| FaultLine {
                    at_ms: relative(f.at),
                    fault: f.fault.clone(),
                    target: f.target.clone(),
                    note: f.note.clone(),
                })
                .collect(),
            runs_acked: acked,
            runs_refused: refusals.len(),
            runs_unknown: unknown,
            refusals,
            tasks: tasks.clone().count(),
            attempts: attempts.clone().count(),
            retries: tasks.map(|t| t.attempts.len().saturating_sub(1)).sum(),
            fenced_attempts: attempts.filter(|a| a.is_fenced()).count(),
            tokens_spent: history.finals.iter().map(|run| run.ledger.spent).sum(),
            tokens_budget: history.finals.iter().map(|run| run.ledger.total).sum(),
            recovery: history.recovery.clone(),
            passed: verdicts.iter().all(|v| v.passed),
            verdicts,
        }
    }

    /// Judges `history` with every checker and summarises it.
    pub fn judge(history: &History) -> ScenarioResult {
        ScenarioResult::from_history(history, crate::checkers::run_all(history))
    }

    /// Names of the checkers that failed.
    pub fn failed_checkers(&self) -> Vec<&str> {
        self.verdicts
            .iter()
            .filter(|v| !v.passed)
            .map(|v| v.name.as_str())
            .collect()
    }

    /// The longest recovery of kind `what` (`leader`, `leases`,
    /// `reassignment`) in this run.
    pub fn worst_recovery(&self, what: &str) -> Option<u64> {
        self.recovery
            .iter()
            .filter(|r| r.what == what)
            .map(|r| r.millis)
            .max()
    }
}

/// The report of a chaos suite: every scenario run and where it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// One per (scenario, seed), in the order they ran.
    pub results: Vec<ScenarioResult>,
    /// When the report was made (ms since the Unix epoch).
    pub generated_at: Millis,
    /// The machine it ran on (host, cores), since timings depend on it.
    pub machine: String,
}

impl Report {
    /// Whether every scenario run passed every checker.
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.passed)
    }

    /// The report as Markdown: summary table, per-run details, recovery
    /// times.
    pub fn to_markdown(&self) -> String {
        markdown::render(self)
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Plain structs, strings and numbers: serializing cannot fail.
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
    }

    /// Writes `chaos-report.md` and `chaos-report.json` into `dir`, creating
    /// it if needed.
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("chaos-report.md"), self.to_markdown())?;
        std::fs::write(dir.join("chaos-report.json"), self.to_json())
    }
}
