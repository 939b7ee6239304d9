//! The client oracle: a run the cluster acknowledged is never lost, and no
//! run appears that nobody submitted.
//!
//! An acknowledgement means the run's creation was committed, so every
//! acknowledged run id must be among the finals, whatever faults came in
//! between. A submission whose answer was lost (`Unknown`) may or may not
//! have created a run, so it can explain one run nobody acknowledged; more
//! such runs than unknown answers means the cluster invented work. Refused
//! submissions are expected under faults and only noted.

use std::collections::BTreeMap;

use super::{when, Verdict};
use crate::history::{History, SubmitOutcome};

/// The checker's name in verdicts and reports.
pub const NAME: &str = "acks";

/// Checks [that acknowledged runs survive](self); `checked` counts
/// submissions plus final runs.
pub fn check(history: &History) -> Verdict {
    let mut verdict = Verdict::new(NAME);
    let mut acked: BTreeMap<&str, &str> = BTreeMap::new();
    let mut unknown = 0;
    for submission in &history.submissions {
        verdict.checked += 1;
        let at = when(history, submission.at);
        let name = &submission.name;
        match &submission.outcome {
            SubmitOutcome::Acked { run_id } => {
                if let Some(other) = acked.insert(run_id, name).filter(|other| *other != name) {
                    verdict.violation(format!(
                        "run {run_id} was acknowledged to two submissions, {other} and {name} \
                         (the second at {at})"
                    ));
                }
                if history.final_run(run_id).is_none() {
                    verdict.violation(format!(
                        "submission {name} was acknowledged as run {run_id} at {at} but the run \
                         is missing from the finals"
                    ));
                }
            }
            SubmitOutcome::Refused { status, body } => verdict.note(format!(
                "submission {name} was refused at {at} with {status}: {}",
                body.trim()
            )),
            SubmitOutcome::Unknown { error } => {
                unknown += 1;
                verdict.note(format!(
                    "submission {name} got no answer at {at}: {}",
                    error.trim()
                ));
            }
        }
    }
    verdict.checked += history.finals.len();
    let strays: Vec<&str> = history
        .finals
        .iter()
        .map(|run| run.id.as_str())
        .filter(|id| !acked.contains_key(id))
        .collect();
    if strays.len() > unknown {
        for id in &strays {
            verdict.violation(format!(
                "run {id} appeared but was never submitted: no submission acknowledged it and \
                 {unknown} unanswered submissions cannot explain {} such runs",
                strays.len()
            ));
        }
    } else if !strays.is_empty() {
        verdict.note(format!(
            "runs {} were never acknowledged; {unknown} unanswered submissions explain them",
            strays.join(", ")
        ));
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::fixtures;
    use crate::history::Submission;

    fn submission(name: &str, outcome: SubmitOutcome) -> Submission {
        Submission {
            at: 1_200,
            name: name.into(),
            outcome,
        }
    }

    #[test]
    fn acknowledged_runs_in_the_finals_pass() {
        let mut history = fixtures::healthy();
        history.submissions.push(submission(
            "late",
            SubmitOutcome::Refused {
                status: 503,
                body: "no leader".into(),
            },
        ));
        let verdict = check(&history);
        assert!(verdict.passed, "{:?}", verdict.violations);
        assert_eq!(verdict.checked, 3);
        assert_eq!(
            verdict.notes,
            ["submission late was refused at t+0.200s with 503: no leader"]
        );
    }

    #[test]
    fn a_lost_run_fails() {
        let mut history = fixtures::healthy();
        history.submissions.push(submission(
            "second",
            SubmitOutcome::Acked {
                run_id: "r2".into(),
            },
        ));
        let verdict = check(&history);
        assert_eq!(
            verdict.violations,
            [
                "submission second was acknowledged as run r2 at t+0.200s but the run is missing \
              from the finals"
            ]
        );
    }

    #[test]
    fn a_stray_run_fails_unless_an_unknown_answer_explains_it() {
        let mut history = fixtures::healthy();
        let mut stray = fixtures::completed_run();
        stray.id = "r9".into();
        history.finals.push(stray);
        let verdict = check(&history);
        assert!(!verdict.passed);
        assert!(verdict.violations[0].starts_with("run r9 appeared but was never submitted"));

        history.submissions.push(submission(
            "retry",
            SubmitOutcome::Unknown {
                error: "timed out".into(),
            },
        ));
        let verdict = check(&history);
        assert!(verdict.passed, "{:?}", verdict.violations);
    }
}
