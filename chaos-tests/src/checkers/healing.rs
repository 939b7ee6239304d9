//! Invariant 4's liveness half: once the faults stop, every run finishes,
//! and finishes well, within the scenario's deadline.
//!
//! The safety checkers pass on a cluster that does nothing, so this one
//! closes the gap: the runner records when every acknowledged run had ended,
//! and the workload is built to succeed without faults, so anything but
//! `completed` means a fault left damage behind (a task failed because the
//! faults used up its retries, a lease never came back, ...).

use super::{when, Verdict};
use crate::history::History;

/// The checker's name in verdicts and reports.
pub const NAME: &str = "healing";

/// Checks [that runs finish once faults stop](self); `checked` counts the
/// final runs plus the deadline itself.
pub fn check(history: &History) -> Verdict {
    let mut verdict = Verdict::new(NAME);
    let heal = &history.heal;
    let deadline = heal.faults_stopped_at + heal.deadline_ms;
    verdict.checked = history.finals.len() + 1;
    match heal.all_ended_at {
        None => verdict.violation(format!(
            "not every run had ended {} ms after the faults stopped at {}",
            heal.deadline_ms,
            when(history, heal.faults_stopped_at)
        )),
        Some(ended) if ended > deadline => verdict.violation(format!(
            "the runs ended at {}, {} ms after the faults stopped at {}; the deadline was {} ms",
            when(history, ended),
            ended.saturating_sub(heal.faults_stopped_at),
            when(history, heal.faults_stopped_at),
            heal.deadline_ms
        )),
        Some(ended) => verdict.note(format!(
            "the runs had ended {} ms after the faults stopped",
            ended.saturating_sub(heal.faults_stopped_at)
        )),
    }
    for run in history
        .finals
        .iter()
        .filter(|run| run.status != "completed")
    {
        let tasks: Vec<String> = run
            .tasks
            .iter()
            .filter(|t| t.state != "completed")
            .map(|t| match t.reason.as_deref() {
                Some(reason) => format!("{} {} ({reason})", t.id, t.state),
                None => format!("{} {}", t.id, t.state),
            })
            .collect();
        verdict.violation(format!(
            "run {} finished {} instead of completed: {}",
            run.id,
            run.status,
            tasks.join("; ")
        ));
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::fixtures;

    #[test]
    fn runs_completed_in_time_pass() {
        let verdict = check(&fixtures::healthy());
        assert!(verdict.passed, "{:?}", verdict.violations);
        assert_eq!(
            verdict.notes,
            ["the runs had ended 600 ms after the faults stopped"]
        );
    }

    #[test]
    fn runs_that_never_end_fail() {
        let mut history = fixtures::healthy();
        history.heal.all_ended_at = None;
        let verdict = check(&history);
        assert_eq!(
            verdict.violations,
            ["not every run had ended 10000 ms after the faults stopped at t+2.000s"]
        );
    }

    #[test]
    fn runs_that_end_late_fail() {
        let mut history = fixtures::healthy();
        history.heal.all_ended_at = Some(14_000);
        let verdict = check(&history);
        assert!(verdict.violations[0].starts_with("the runs ended at t+13.000s, 11000 ms after"));
    }

    #[test]
    fn a_failed_run_fails() {
        let mut history = fixtures::healthy();
        let run = &mut history.finals[0];
        run.status = "failed".into();
        run.tasks[1].state = "failed".into();
        run.tasks[1].reason = Some("retries exhausted".into());
        let verdict = check(&history);
        assert_eq!(
            verdict.violations,
            ["run r1 finished failed instead of completed: b failed (retries exhausted)"]
        );
    }
}
